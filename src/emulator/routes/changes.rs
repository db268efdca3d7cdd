//! `/sync/changes`: the per-share change feed with an integer cursor.

use axum::Json;
use axum::extract::State;
use rusqlite::params;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::auth::{Caller, Perm, share_access};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::{Qs, check_limit};

/// Query of `GET /sync/changes`.
#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    share_id: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /sync/changes`: entries after `cursor`, oldest first; no cursor = the current head.
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<ChangesQuery>,
) -> ApiResult<Json<Value>> {
    let share_id = q
        .share_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("share_id query parameter is required".into()))?;
    let limit = check_limit(q.limit, 1000, 5000)?;
    let conn = st.db();
    share_access(&conn, &caller, &share_id, Perm::Read)?;
    let Some(cursor) = q.cursor.filter(|c| !c.is_empty()) else {
        let head: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
            r.get(0)
        })?;
        return Ok(Json(
            json!({"changes": [], "cursor": head, "has_more": false,
                              "share_id": share_id}),
        ));
    };
    let cursor: i64 = cursor
        .parse()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid cursor: {cursor}")))?;
    let mut stmt = conn.prepare(
        "SELECT seq, id, tenant_id, share_id, resource_type, resource_id, change_type, \
         changed_by, changed_at, old_path, new_path, version_id, metadata FROM changes \
         WHERE share_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![share_id, cursor, limit + 1], |r| {
        let meta: String = r.get(12)?;
        Ok((
            r.get::<_, i64>(0)?,
            json!({
                "id": r.get::<_, String>(1)?, "tenant_id": r.get::<_, String>(2)?,
                "share_id": r.get::<_, String>(3)?, "resource_type": r.get::<_, String>(4)?,
                "resource_id": r.get::<_, String>(5)?, "change_type": r.get::<_, String>(6)?,
                "changed_by": r.get::<_, String>(7)?, "changed_at": r.get::<_, String>(8)?,
                "old_path": r.get::<_, Option<String>>(9)?,
                "new_path": r.get::<_, Option<String>>(10)?,
                "version_id": r.get::<_, Option<String>>(11)?,
                "metadata": serde_json::from_str::<Value>(&meta).unwrap_or_else(|_| json!({})),
            }),
        ))
    })?;
    let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = entries.last().map_or(cursor, |(seq, _)| *seq);
    let changes: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    Ok(Json(
        json!({"changes": changes, "cursor": next, "has_more": has_more,
                   "share_id": share_id}),
    ))
}
