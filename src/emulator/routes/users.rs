//! `/users/me*`: the caller, its shares with roles, and its quota.

use axum::Json;
use axum::extract::State;
use rusqlite::OptionalExtension;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::auth::{Caller, member_role};
use crate::emulator::db;
use crate::emulator::error::ApiResult;
use crate::emulator::extract::{Qs, check_limit, check_offset};

/// `GET /users/me`.
pub async fn me(caller: Caller) -> Json<Value> {
    Json(json!({
        "id": caller.user_id, "email": caller.email, "name": caller.name,
        "display_name": caller.display_name, "tenant_id": caller.tenant_id,
        "partner_id": null, "groups": caller.groups,
        "scopes": caller.scopes.clone().unwrap_or_default(),
        "is_admin": caller.is_admin,
        "admin_role": if caller.is_admin { Some("tenant_admin") } else { None },
    }))
}

/// Paging query.
#[derive(Debug, Deserialize)]
pub struct Paging {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /users/me/shares`: shares where the caller holds a role.
pub async fn my_shares(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<Paging>,
) -> ApiResult<Json<Value>> {
    let limit = check_limit(q.limit, 50, 100)?;
    let offset = check_offset(q.offset)?;
    let conn = st.db();
    let all = db::query_shares(
        &conn,
        "s.tenant_id = ?1 AND s.is_deleted = 0",
        &[&caller.tenant_id],
    )?;
    let mut items = Vec::new();
    for s in all {
        if let Some(role) = member_role(&conn, &caller, &s.id)? {
            items.push(json!({
                "id": s.id, "name": s.name, "type": s.share_type, "role": role.as_str(),
                "owner_id": s.owner_id, "quota_bytes": s.quota_bytes,
                "used_bytes": db::share_used(&conn, &s.id)?, "created_at": s.created_at,
            }));
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

/// `GET /users/me/quota`.
pub async fn my_quota(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let used = db::user_used(&conn, &caller.user_id)?;
    let quota: Option<i64> = conn
        .query_row(
            "SELECT quota_bytes FROM users WHERE id = ?1",
            [&caller.user_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    #[allow(clippy::cast_precision_loss)] // display percentage only
    let percent = match quota {
        Some(q) if q > 0 => (used as f64 / q as f64) * 100.0,
        _ => 0.0,
    };
    Ok(Json(json!({
        "user_id": caller.user_id, "used_bytes": used, "quota_bytes": quota,
        "percent_used": percent,
    })))
}
