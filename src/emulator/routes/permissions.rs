//! `/permissions`: checks, effective permissions, ACL entries and inheritance (§4.6).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::auth::{
    self, AceRow, Caller, Perm, Res, applicable_aces, bits, chain, effective, visible_share,
};
use crate::emulator::db::{self, new_id, now_iso};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::{JsonBody, Qs};

/// Resolves a `(resource_type, resource_id)` the caller can see to its share and inheritance
/// chain; 404 when it does not exist, is deleted, or its share is invisible.
fn locate(
    conn: &Connection,
    caller: &Caller,
    rtype: &str,
    rid: &str,
) -> ApiResult<(db::ShareRow, Vec<Res>)> {
    let (kind, share_id): (&'static str, Option<String>) = match rtype {
        "file" => (
            "file",
            db::load_file(conn, rid)?
                .filter(|f| !f.is_deleted)
                .map(|f| f.share_id),
        ),
        "folder" => (
            "folder",
            db::load_folder(conn, rid)?
                .filter(|f| !f.is_deleted)
                .map(|f| f.share_id),
        ),
        "share" => ("share", Some(rid.to_string())),
        other => {
            return Err(ApiError::BadRequest(format!(
                "resource_type must be file, folder or share, not '{other}'"
            )));
        }
    };
    let share_id = share_id.ok_or_else(|| ApiError::not_found(rtype, rid))?;
    let share =
        visible_share(conn, caller, &share_id).map_err(|_| ApiError::not_found(rtype, rid))?;
    let chain = chain(conn, &share.id, (kind, rid.to_string()))?;
    Ok((share, chain))
}

fn parse_perm(name: &str, field: &str) -> ApiResult<u32> {
    bits::parse(name).ok_or_else(|| {
        ApiError::invalid(
            field,
            "must be one of READ, WRITE, DELETE, CREATE, SHARE, MANAGE_PERMISSIONS",
        )
    })
}

/// `check` input, as query or body.
#[derive(Debug, Deserialize)]
pub struct CheckInput {
    resource_type: String,
    resource_id: String,
    permission: String,
}

fn check_one(conn: &Connection, caller: &Caller, c: &CheckInput) -> ApiResult<bool> {
    let bit = parse_perm(&c.permission, "permission")?;
    let (share, chain) = locate(conn, caller, &c.resource_type, &c.resource_id)?;
    let access = effective(conn, caller, &share.id, &chain)?;
    Ok(access.bits & bit != 0)
}

/// `GET /permissions/check`.
pub async fn check_get(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<CheckInput>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    Ok(Json(json!({"allowed": check_one(&conn, &caller, &q)?})))
}

/// `POST /permissions/check`.
pub async fn check_post(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<CheckInput>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    Ok(Json(json!({"allowed": check_one(&conn, &caller, &b)?})))
}

/// `POST /permissions/check/batch` body.
#[derive(Debug, Deserialize)]
pub struct BatchInput {
    checks: Vec<CheckInput>,
}

/// `POST /permissions/check/batch`: up to 100 checks; an invisible resource answers
/// `allowed: false` rather than failing the batch.
pub async fn check_batch(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<BatchInput>,
) -> ApiResult<Json<Value>> {
    if b.checks.len() > 100 {
        return Err(ApiError::invalid("checks", "at most 100 checks per batch"));
    }
    let conn = st.db();
    let mut results = Vec::with_capacity(b.checks.len());
    for c in &b.checks {
        parse_perm(&c.permission, "permission")?;
        let allowed = match check_one(&conn, &caller, c) {
            Ok(a) => a,
            Err(ApiError::NotFound(_) | ApiError::BadRequest(_)) => false,
            Err(e) => return Err(e),
        };
        results.push(
            json!({"resource_type": c.resource_type, "resource_id": c.resource_id,
                            "permission": c.permission, "allowed": allowed}),
        );
    }
    Ok(Json(json!({"results": results})))
}

/// `GET /permissions/effective` query.
#[derive(Debug, Deserialize)]
pub struct EffectiveQuery {
    resource_type: String,
    resource_id: String,
}

/// `GET /permissions/effective`.
pub async fn effective_get(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<EffectiveQuery>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let (share, chain) = locate(&conn, &caller, &q.resource_type, &q.resource_id)?;
    let b = effective(&conn, &caller, &share.id, &chain)?.bits;
    Ok(Json(json!({
        "can_read": b & bits::READ != 0,
        "can_write": b & bits::WRITE != 0,
        "can_delete": b & bits::DELETE != 0,
        "can_create": b & bits::CREATE != 0,
        "can_share": b & bits::SHARE != 0,
        "can_manage_permissions": b & bits::MANAGE_PERMISSIONS != 0,
    })))
}

/// Like [`locate`], then 403 without MANAGE_PERMISSIONS on the resource.
fn manage(
    conn: &Connection,
    caller: &Caller,
    rtype: &str,
    rid: &str,
) -> ApiResult<(db::ShareRow, Vec<Res>)> {
    let (share, chain) = locate(conn, caller, rtype, rid)?;
    let access = effective(conn, caller, &share.id, &chain)?;
    auth::require(caller, access, Perm::Manage, &format!("{rtype}/{rid}"))?;
    Ok((share, chain))
}

fn ace_json(res: &Res, ace: &AceRow, inherited: bool) -> Value {
    let mut v = json!({
        "id": ace.id, "principal_type": ace.principal_type, "principal_id": ace.principal_id,
        "permissions": ace.permissions, "ace_type": ace.ace_type,
        "inherit_to_children": ace.inherit_to_children, "inherited": inherited,
    });
    if inherited {
        v["inherited_from"] = json!({"resource_type": res.0, "resource_id": res.1});
    }
    v
}

/// `GET /permissions/acl/{resource_type}/{resource_id}`: explicit entries first, then the
/// inherited ones (`inherited: true`, with `inherited_from`).
pub async fn acl_get(
    State(st): State<AppState>,
    caller: Caller,
    Path((rtype, rid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let (_, chain) = manage(&conn, &caller, &rtype, &rid)?;
    let entries: Vec<Value> = applicable_aces(&conn, &chain)?
        .iter()
        .map(|(res, ace)| ace_json(res, ace, *res != chain[0]))
        .collect();
    Ok(Json(json!({
        "resource_type": rtype, "resource_id": rid,
        "inherit_from_parent": auth::inherits(&conn, &chain[0])?,
        "entries": entries,
    })))
}

/// `POST /permissions/acl/...` body.
#[derive(Debug, Deserialize)]
pub struct NewAce {
    principal_type: String,
    principal_id: Option<String>,
    permissions: Vec<String>,
    ace_type: String,
    #[serde(default = "yes")]
    inherit_to_children: bool,
}

fn yes() -> bool {
    true
}

/// Validates a principal: a user or group of the caller's tenant, or `everyone`.
fn principal(
    conn: &Connection,
    caller: &Caller,
    ptype: &str,
    pid: Option<&str>,
) -> ApiResult<String> {
    let exists = |sql: &str, id: &str| -> ApiResult<bool> {
        Ok(conn
            .query_row(sql, params![id, caller.tenant_id], |_| Ok(()))
            .optional()?
            .is_some())
    };
    match (ptype, pid) {
        ("everyone", None | Some("everyone")) => Ok("everyone".into()),
        ("user", Some(id))
            if exists("SELECT 1 FROM users WHERE id = ?1 AND tenant_id = ?2", id)? =>
        {
            Ok(id.to_string())
        }
        ("group", Some(id))
            if exists("SELECT 1 FROM groups_ WHERE id = ?1 AND tenant_id = ?2", id)? =>
        {
            Ok(id.to_string())
        }
        ("user" | "group", _) => Err(ApiError::invalid(
            "principal_id",
            "unknown principal (or one of another tenant)",
        )),
        ("everyone", _) => Err(ApiError::invalid(
            "principal_id",
            "must be \"everyone\" or absent for principal_type everyone",
        )),
        _ => Err(ApiError::invalid(
            "principal_type",
            "must be user, group or everyone",
        )),
    }
}

fn check_ace_type(t: &str) -> ApiResult<()> {
    if t == "allow" || t == "deny" {
        Ok(())
    } else {
        Err(ApiError::invalid("ace_type", "must be allow or deny"))
    }
}

/// `POST /permissions/acl/{resource_type}/{resource_id}` → 201 with the entry. One entry per
/// (principal, ace_type): a second → 409.
pub async fn acl_add(
    State(st): State<AppState>,
    caller: Caller,
    Path((rtype, rid)): Path<(String, String)>,
    JsonBody(b): JsonBody<NewAce>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_ace_type(&b.ace_type)?;
    let mut mask = 0;
    for p in &b.permissions {
        mask |= parse_perm(p, "permissions")?;
    }
    if mask == 0 {
        return Err(ApiError::invalid("permissions", "at least one permission"));
    }
    let conn = st.db();
    let (share, chain) = manage(&conn, &caller, &rtype, &rid)?;
    let pid = principal(&conn, &caller, &b.principal_type, b.principal_id.as_deref())?;
    let id = new_id("ace");
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO acl_entries (id, share_id, resource_type, resource_id, \
         principal_type, principal_id, permissions, ace_type, inherit_to_children, created_by, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            share.id,
            chain[0].0,
            rid,
            b.principal_type,
            pid,
            mask,
            b.ace_type,
            b.inherit_to_children,
            caller.user_id,
            now_iso()
        ],
    )?;
    if inserted == 0 {
        return Err(ApiError::Conflict(format!(
            "an {} entry for {} {pid} already exists on {rtype}/{rid}",
            b.ace_type, b.principal_type
        )));
    }
    let ace = AceRow {
        id,
        principal_type: b.principal_type,
        principal_id: pid,
        permissions: mask,
        ace_type: b.ace_type,
        inherit_to_children: b.inherit_to_children,
    };
    Ok((StatusCode::CREATED, Json(ace_json(&chain[0], &ace, false))))
}

/// `DELETE /permissions/acl/...` body.
#[derive(Debug, Deserialize)]
pub struct DelAce {
    principal_type: String,
    principal_id: Option<String>,
    ace_type: String,
}

/// `DELETE /permissions/acl/{resource_type}/{resource_id}` → 204; no such entry → 404.
pub async fn acl_delete(
    State(st): State<AppState>,
    caller: Caller,
    Path((rtype, rid)): Path<(String, String)>,
    JsonBody(b): JsonBody<DelAce>,
) -> ApiResult<StatusCode> {
    check_ace_type(&b.ace_type)?;
    let conn = st.db();
    let (_, chain) = manage(&conn, &caller, &rtype, &rid)?;
    let pid = match b.principal_type.as_str() {
        "everyone" => "everyone".to_string(),
        _ => b
            .principal_id
            .clone()
            .ok_or_else(|| ApiError::missing("principal_id"))?,
    };
    let n = conn.execute(
        "DELETE FROM acl_entries WHERE resource_type = ?1 AND resource_id = ?2 \
         AND principal_type = ?3 AND principal_id = ?4 AND ace_type = ?5",
        params![chain[0].0, rid, b.principal_type, pid, b.ace_type],
    )?;
    if n == 0 {
        return Err(ApiError::NotFound(format!(
            "no {} entry for {} {pid} on {rtype}/{rid}",
            b.ace_type, b.principal_type
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT .../inheritance` body.
#[derive(Debug, Deserialize)]
pub struct Inheritance {
    inherit_from_parent: bool,
    #[serde(default)]
    copy_inherited: bool,
}

/// `PUT /permissions/acl/{resource_type}/{resource_id}/inheritance`. Turning inheritance off
/// with `copy_inherited` copies the entries inherited so far onto the resource (those it has
/// already for the same principal and type are kept). A share has no parent → 422.
pub async fn inheritance(
    State(st): State<AppState>,
    caller: Caller,
    Path((rtype, rid)): Path<(String, String)>,
    JsonBody(b): JsonBody<Inheritance>,
) -> ApiResult<Json<Value>> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (share, chain) = manage(&tx, &caller, &rtype, &rid)?;
    if chain[0].0 == "share" {
        return Err(ApiError::invalid(
            "inherit_from_parent",
            "a share has no parent to inherit from",
        ));
    }
    if !b.inherit_from_parent && b.copy_inherited {
        let now = now_iso();
        for (res, ace) in applicable_aces(&tx, &chain)? {
            if res == chain[0] {
                continue;
            }
            tx.execute(
                "INSERT OR IGNORE INTO acl_entries (id, share_id, resource_type, resource_id, \
                 principal_type, principal_id, permissions, ace_type, inherit_to_children, \
                 created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    new_id("ace"),
                    share.id,
                    chain[0].0,
                    rid,
                    ace.principal_type,
                    ace.principal_id,
                    ace.permissions,
                    ace.ace_type,
                    ace.inherit_to_children,
                    caller.user_id,
                    now
                ],
            )?;
        }
    }
    tx.execute(
        "INSERT INTO acl_inheritance (resource_type, resource_id, inherit_from_parent) \
         VALUES (?1, ?2, ?3) ON CONFLICT (resource_type, resource_id) \
         DO UPDATE SET inherit_from_parent = excluded.inherit_from_parent",
        params![chain[0].0, rid, b.inherit_from_parent],
    )?;
    tx.commit()?;
    Ok(Json(json!({"resource_type": rtype, "resource_id": rid,
                   "inherit_from_parent": b.inherit_from_parent})))
}
