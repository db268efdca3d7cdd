//! `/shares`: list, create, read, rename/describe, soft delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::params;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::auth::{Caller, Perm, member_role, share_access};
use crate::emulator::db::{self, Change, new_id, now_iso, record_change};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::{JsonBody, Qs, check_limit, check_offset};

/// `GET /shares` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    include_trashed: bool,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /shares`: every tenant share for a tenant admin, the caller's own otherwise.
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = check_limit(q.limit, 50, 100)?;
    let offset = check_offset(q.offset)?;
    let conn = st.db();
    let where_sql = if q.include_trashed {
        "s.tenant_id = ?1"
    } else {
        "s.tenant_id = ?1 AND s.is_deleted = 0"
    };
    let all = db::query_shares(&conn, where_sql, &[&caller.tenant_id])?;
    let mut items = Vec::new();
    for s in all {
        if caller.is_admin || member_role(&conn, &caller, &s.id)?.is_some() {
            items.push(db::share_json(&conn, &s)?);
        }
    }
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(50))
        .collect();
    Ok(Json(json!({"shares": page, "total": total})))
}

/// `POST /shares` body.
#[derive(Debug, Deserialize)]
pub struct CreateShare {
    name: String,
    share_type: String,
    owner_id: String,
    description: Option<String>,
    quota_bytes: Option<i64>,
}

/// `POST /shares`.
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateShare>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_write_scope()?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(ApiError::invalid("name", "name must be 1-255 bytes"));
    }
    if !matches!(body.share_type.as_str(), "central" | "personal" | "project") {
        return Err(ApiError::invalid(
            "share_type",
            "share_type must be one of central, personal, project",
        ));
    }
    if body.quota_bytes.is_some_and(|q| q < 0) {
        return Err(ApiError::invalid("quota_bytes", "must be >= 0"));
    }
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let owner = body.owner_id.as_str();
    let owner_is_user = owner.starts_with("usr_")
        && tx.query_row(
            "SELECT COUNT(*) FROM users WHERE id = ?1 AND tenant_id = ?2",
            params![owner, caller.tenant_id],
            |r| r.get::<_, i64>(0),
        )? > 0;
    let owner_is_group = owner.starts_with("grp_")
        && tx.query_row(
            "SELECT COUNT(*) FROM groups_ WHERE id = ?1 AND tenant_id = ?2",
            params![owner, caller.tenant_id],
            |r| r.get::<_, i64>(0),
        )? > 0;
    if !owner_is_user && !owner_is_group {
        return Err(ApiError::invalid("owner_id", "unknown user or group"));
    }
    let allowed =
        caller.is_admin || owner == caller.user_id || caller.groups.iter().any(|g| g == owner);
    if !allowed {
        return Err(ApiError::Forbidden(
            "Permission denied: cannot create a share for that owner".into(),
        ));
    }
    let id = new_id("shr");
    let now = now_iso();
    tx.execute(
        "INSERT INTO shares (id, tenant_id, name, description, share_type, owner_id, quota_bytes, \
         is_deleted, created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
        params![
            id,
            caller.tenant_id,
            name,
            body.description,
            body.share_type,
            owner,
            body.quota_bytes,
            now
        ],
    )?;
    if owner_is_group {
        tx.execute(
            "INSERT OR REPLACE INTO share_members (share_id, principal_id, role) \
             VALUES (?1, ?2, 'contributor')",
            params![id, owner],
        )?;
    } else if owner != caller.user_id {
        tx.execute(
            "INSERT OR REPLACE INTO share_members (share_id, principal_id, role) \
             VALUES (?1, ?2, 'owner')",
            params![id, owner],
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO share_members (share_id, principal_id, role) VALUES (?1, ?2, 'owner')",
        params![id, caller.user_id],
    )?;
    record_change(
        &tx,
        Change {
            tenant_id: &caller.tenant_id,
            share_id: &id,
            resource_type: "share",
            resource_id: &id,
            change_type: "created",
            changed_by: &caller.user_id,
            old_path: None,
            new_path: Some("/"),
            version_id: None,
            metadata: json!({"name": name}),
        },
    )?;
    let share = db::load_share(&tx, &id)?.ok_or_else(|| ApiError::not_found("share", &id))?;
    let out = db::share_json(&tx, &share)?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /shares/{id}`.
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let (share, _) = share_access(&conn, &caller, &id, Perm::Read)?;
    Ok(Json(db::share_json(&conn, &share)?))
}

/// `PATCH /shares/{id}` body.
#[derive(Debug, Deserialize)]
pub struct PatchShare {
    name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    description: Option<Option<String>>,
}

/// `PATCH /shares/{id}`.
pub async fn patch(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchShare>,
) -> ApiResult<Json<Value>> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (share, _) = share_access(&tx, &caller, &id, Perm::Manage)?;
    let now = now_iso();
    if let Some(name) = &body.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(ApiError::invalid("name", "name must be 1-255 bytes"));
        }
        tx.execute(
            "UPDATE shares SET name = ?1, modified_at = ?2 WHERE id = ?3",
            params![name, now, id],
        )?;
    }
    if let Some(desc) = &body.description {
        tx.execute(
            "UPDATE shares SET description = ?1, modified_at = ?2 WHERE id = ?3",
            params![desc, now, id],
        )?;
    }
    if body.name.is_some() || body.description.is_some() {
        record_change(
            &tx,
            Change {
                tenant_id: &share.tenant_id,
                share_id: &id,
                resource_type: "share",
                resource_id: &id,
                change_type: "updated",
                changed_by: &caller.user_id,
                old_path: None,
                new_path: None,
                version_id: None,
                metadata: json!({"name": body.name}),
            },
        )?;
    }
    let share = db::load_share(&tx, &id)?.ok_or_else(|| ApiError::not_found("share", &id))?;
    let out = db::share_json(&tx, &share)?;
    tx.commit()?;
    Ok(Json(out))
}

/// `DELETE /shares/{id}`: soft delete, owner only.
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (share, _) = share_access(&tx, &caller, &id, Perm::Owner)?;
    tx.execute(
        "UPDATE shares SET is_deleted = 1, modified_at = ?1 WHERE id = ?2",
        params![now_iso(), id],
    )?;
    record_change(
        &tx,
        Change {
            tenant_id: &share.tenant_id,
            share_id: &id,
            resource_type: "share",
            resource_id: &id,
            change_type: "deleted",
            changed_by: &caller.user_id,
            old_path: Some("/"),
            new_path: None,
            version_id: None,
            metadata: json!({}),
        },
    )?;
    tx.commit()?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /shares/search/principals` query.
#[derive(Debug, Deserialize)]
pub struct PrincipalQuery {
    q: Option<String>,
    principal_type: Option<String>,
    limit: Option<i64>,
}

/// `GET /shares/search/principals?q&principal_type&limit`: users and groups of the caller's
/// tenant whose email, name or display name contains `q` (case-insensitive), or whose id is
/// `q` (**inferred**). `q` must not be empty (stated ≥ 1 char); `limit` 1–50, default 20.
pub async fn search_principals(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<PrincipalQuery>,
) -> ApiResult<Json<Value>> {
    let limit = usize::try_from(check_limit(q.limit, 20, 50)?).unwrap_or(20);
    let needle =
        q.q.filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::BadRequest("q must be at least 1 character".into()))?;
    let kind = q.principal_type.as_deref();
    if !matches!(kind, None | Some("user") | Some("group")) {
        return Err(ApiError::BadRequest(
            "principal_type must be user or group".into(),
        ));
    }
    let lower = needle.to_lowercase();
    let conn = st.db();
    let mut users = Vec::new();
    if kind != Some("group") {
        let mut stmt = conn.prepare(
            "SELECT id, email, name, display_name FROM users WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([&caller.tenant_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (id, email, name, display) = row?;
            let hit = id == needle
                || [&email, &name, &display]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&lower));
            if hit && users.len() < limit {
                users.push(json!({"id": id, "email": email, "name": name,
                                  "display_name": display}));
            }
        }
    }
    let mut groups = Vec::new();
    if kind != Some("user") {
        let mut stmt =
            conn.prepare("SELECT id, name FROM groups_ WHERE tenant_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([&caller.tenant_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, name) = row?;
            if (id == needle || name.to_lowercase().contains(&lower)) && groups.len() < limit {
                groups.push(json!({"id": id, "name": name}));
            }
        }
    }
    Ok(Json(json!({"users": users, "groups": groups})))
}
