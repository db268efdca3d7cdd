//! `/folders`: read, list children, create, rename/restore, delete, move.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::auth::{
    Caller, Perm, container_access, folder_access, resolve_parent, share_access, visible_share,
};
use crate::emulator::db::{self, Change, new_id, now_iso};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::{JsonBody, Qs};

/// `GET /folders/{id}`.
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let (folder, share) = folder_access(&conn, &caller, &id, Perm::Read, false)?;
    Ok(Json(db::folder_json(&conn, &share.tenant_id, &folder)?))
}

/// `GET /folders/{id}/children` query.
#[derive(Debug, Deserialize)]
pub struct ChildrenQuery {
    share_id: Option<String>,
    #[serde(default)]
    include_deleted: bool,
}

/// `GET /folders/{id or root}/children`: folders first, then files, each by name bytes.
pub async fn children(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Qs(q): Qs<ChildrenQuery>,
) -> ApiResult<Json<Value>> {
    let share_id = q
        .share_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("share_id query parameter is required".into()))?;
    let conn = st.db();
    visible_share(&conn, &caller, &share_id)?;
    let parent = if id == "root" {
        None
    } else {
        let f = db::load_folder(&conn, &id)?
            .filter(|f| f.share_id == share_id)
            .ok_or_else(|| ApiError::not_found("folder", &id))?;
        if f.is_deleted && !q.include_deleted {
            return Err(ApiError::Gone(format!("folder {id} is deleted")));
        }
        Some(f.id)
    };
    // READ on the folder lists every child (NTFS "list folder"); reading a child needs READ
    // on the child itself.
    container_access(&conn, &caller, &share_id, parent.as_deref(), Perm::Read)?;
    let deleted_filter = if q.include_deleted {
        ""
    } else {
        " AND is_deleted = 0"
    };
    let mut items = Vec::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT id, name, is_deleted FROM folders WHERE share_id = ?1 AND parent_id IS ?2\
         {deleted_filter} ORDER BY name"
    ))?;
    let rows = stmt.query_map(params![share_id, parent], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    for row in rows {
        let (fid, name, deleted) = row?;
        let mut item = json!({"id": fid, "name": name, "type": "folder"});
        if q.include_deleted {
            item["is_deleted"] = json!(deleted);
        }
        items.push(item);
    }
    let files_filter = if q.include_deleted {
        ""
    } else {
        " AND f.is_deleted = 0"
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT f.id, f.name, v.size, f.mime_type, f.modified_at, f.is_deleted FROM files f \
         JOIN versions v ON v.file_id = f.id AND v.version_number = \
         (SELECT MAX(version_number) FROM versions WHERE file_id = f.id) \
         WHERE f.share_id = ?1 AND f.folder_id IS ?2{files_filter} ORDER BY f.name"
    ))?;
    let rows = stmt.query_map(params![share_id, parent], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, bool>(5)?,
        ))
    })?;
    for row in rows {
        let (fid, name, size, mime, modified, deleted) = row?;
        let mut item = json!({"id": fid, "name": name, "type": "file", "size": size,
                              "mime_type": mime, "modified_at": modified});
        if q.include_deleted {
            item["is_deleted"] = json!(deleted);
        }
        items.push(item);
    }
    let path = db::folder_path(&conn, parent.as_deref())?;
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let total = items.len();
    Ok(Json(json!({"items": items, "path": path, "total": total})))
}

/// `POST /folders` body.
#[derive(Debug, Deserialize)]
pub struct CreateFolder {
    share_id: String,
    name: String,
    parent_id: Option<String>,
}

/// `POST /folders`.
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateFolder>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    db::validate_name(&body.name, "name")?;
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let share = visible_share(&tx, &caller, &body.share_id)?;
    let parent = resolve_parent(&tx, &share.id, body.parent_id.as_deref())?;
    container_access(&tx, &caller, &share.id, parent.as_deref(), Perm::Create)?;
    db::ensure_name_free(&tx, &share.id, parent.as_deref(), &body.name, None)?;
    let id = new_id("fld");
    let now = now_iso();
    tx.execute(
        "INSERT INTO folders (id, share_id, parent_id, name, owner_id, created_by, created_at, \
         modified_at, is_deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6, 0)",
        params![id, share.id, parent, body.name, caller.user_id, now],
    )?;
    let path = db::folder_path(&tx, Some(&id))?;
    Change::new(
        &share.tenant_id,
        &share.id,
        "folder",
        &id,
        "created",
        &caller.user_id,
    )
    .paths(None, Some(&path))
    .record(&tx)?;
    let folder = db::load_folder(&tx, &id)?.ok_or_else(|| ApiError::not_found("folder", &id))?;
    let out = db::folder_json(&tx, &share.tenant_id, &folder)?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Every folder (root included, first) and file of a subtree.
fn subtree(conn: &Connection, root: &str) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
    let mut folders = vec![root.to_string()];
    folders.extend(db::descendant_folders(conn, root)?);
    let files = db::files_in(conn, &folders)?;
    Ok((folders, files))
}

/// Current paths of every item of a subtree.
fn subtree_paths(
    conn: &Connection,
    folders: &[String],
    files: &[String],
) -> rusqlite::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for f in folders {
        out.insert(f.clone(), db::folder_path(conn, Some(f))?);
    }
    for f in files {
        let (folder, name): (Option<String>, String) = conn.query_row(
            "SELECT folder_id, name FROM files WHERE id = ?1",
            [f],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        out.insert(f.clone(), db::child_path(conn, folder.as_deref(), &name)?);
    }
    Ok(out)
}

/// `PATCH /folders/{id}` body.
#[derive(Debug, Deserialize)]
pub struct PatchFolder {
    name: Option<String>,
    restore: Option<bool>,
}

/// `PATCH /folders/{id}`: restore and/or rename (renames every descendant's path).
pub async fn patch(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchFolder>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = &body.name {
        db::validate_name(name, "name")?;
    }
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let restore = body.restore == Some(true);
    let (folder, share) = folder_access(&tx, &caller, &id, Perm::Write, restore)?;
    let now = now_iso();
    if restore && folder.is_deleted {
        if let Some(parent) = &folder.parent_id
            && db::load_folder(&tx, parent)?.is_some_and(|p| p.is_deleted)
        {
            return Err(ApiError::Conflict(
                "cannot restore: the parent folder is deleted".into(),
            ));
        }
        let op: Option<String> =
            tx.query_row("SELECT deleted_op FROM folders WHERE id = ?1", [&id], |r| {
                r.get(0)
            })?;
        let op = op.unwrap_or_default();
        let (folders, files) = subtree(&tx, &id)?;
        let paths = subtree_paths(&tx, &folders, &files)?;
        for (kind, table, ids) in [("folder", "folders", &folders), ("file", "files", &files)] {
            for rid in ids {
                let n = tx.execute(
                    &format!(
                        "UPDATE {table} SET is_deleted = 0, deleted_op = NULL, modified_at = ?1 \
                         WHERE id = ?2 AND is_deleted = 1 AND (deleted_op = ?3 OR id = ?4)"
                    ),
                    params![now, rid, op, id],
                )?;
                if n > 0 {
                    let p = paths.get(rid).map(String::as_str);
                    Change::new(
                        &share.tenant_id,
                        &share.id,
                        kind,
                        rid,
                        "created",
                        &caller.user_id,
                    )
                    .paths(None, p)
                    .meta(json!({"restored": true}))
                    .record(&tx)?;
                }
            }
        }
    }
    if let Some(name) = &body.name
        && *name != folder.name
    {
        db::ensure_name_free(&tx, &share.id, folder.parent_id.as_deref(), name, Some(&id))?;
        let (folders, files) = subtree(&tx, &id)?;
        let before = subtree_paths(&tx, &folders, &files)?;
        tx.execute(
            "UPDATE folders SET name = ?1, modified_at = ?2 WHERE id = ?3",
            params![name, now, id],
        )?;
        let after = subtree_paths(&tx, &folders, &files)?;
        for (kind, ids) in [("folder", &folders), ("file", &files)] {
            for rid in ids {
                Change::new(
                    &share.tenant_id,
                    &share.id,
                    kind,
                    rid,
                    "renamed",
                    &caller.user_id,
                )
                .paths(
                    before.get(rid).map(String::as_str),
                    after.get(rid).map(String::as_str),
                )
                .meta(json!({"folder_id": id, "name": name}))
                .record(&tx)?;
            }
        }
    }
    let folder = db::load_folder(&tx, &id)?.ok_or_else(|| ApiError::not_found("folder", &id))?;
    let out = db::folder_json(&tx, &share.tenant_id, &folder)?;
    tx.commit()?;
    Ok(Json(out))
}

/// `?permanent=` query.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    pub permanent: bool,
}

/// `DELETE /folders/{id}`: recursive soft delete, or permanent removal of the subtree.
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Qs(q): Qs<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (folder, share) = folder_access(&tx, &caller, &id, Perm::Delete, q.permanent)?;
    let (folders, files) = subtree(&tx, &folder.id)?;
    let paths = subtree_paths(&tx, &folders, &files)?;
    let now = now_iso();
    if q.permanent {
        let mut shas = Vec::new();
        for f in &files {
            let mut stmt = tx.prepare("SELECT DISTINCT sha256 FROM versions WHERE file_id = ?1")?;
            let rows = stmt.query_map([f], |r| r.get::<_, String>(0))?;
            for r in rows {
                shas.push(r?);
            }
            tx.execute("DELETE FROM versions WHERE file_id = ?1", [f])?;
            tx.execute("DELETE FROM files WHERE id = ?1", [f])?;
        }
        for f in folders.iter().rev() {
            tx.execute("DELETE FROM folders WHERE id = ?1", [f])?;
        }
        for (kind, ids) in [("folder", &folders), ("file", &files)] {
            for rid in ids {
                Change::new(
                    &share.tenant_id,
                    &share.id,
                    kind,
                    rid,
                    "deleted",
                    &caller.user_id,
                )
                .paths(paths.get(rid).map(String::as_str), None)
                .meta(json!({"permanent": true}))
                .record(&tx)?;
            }
        }
        tx.commit()?;
        shas.sort();
        shas.dedup();
        for sha in shas {
            st.blobs.collect(&conn, &sha)?;
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let op = ulid::Ulid::new().to_string();
    for (kind, table, ids) in [("folder", "folders", &folders), ("file", "files", &files)] {
        for rid in ids {
            let n = tx.execute(
                &format!(
                    "UPDATE {table} SET is_deleted = 1, deleted_op = ?1, modified_at = ?2 \
                     WHERE id = ?3 AND is_deleted = 0"
                ),
                params![op, now, rid],
            )?;
            if n > 0 {
                Change::new(
                    &share.tenant_id,
                    &share.id,
                    kind,
                    rid,
                    "deleted",
                    &caller.user_id,
                )
                .paths(paths.get(rid).map(String::as_str), None)
                .meta(json!({"permanent": false}))
                .record(&tx)?;
            }
        }
    }
    tx.commit()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move/copy target: exactly one of the two fields.
#[derive(Debug, Deserialize)]
pub struct Target {
    pub target_folder_id: Option<String>,
    pub target_share_id: Option<String>,
    pub name: Option<String>,
}

/// Resolves a move/copy target to (share, parent folder), checking CREATE on it.
pub fn resolve_target(
    conn: &Connection,
    caller: &Caller,
    t: &Target,
) -> ApiResult<(db::ShareRow, Option<String>)> {
    match (&t.target_folder_id, &t.target_share_id) {
        (Some(fid), None) => {
            let (folder, share) = folder_access(conn, caller, fid, Perm::Create, false)?;
            Ok((share, Some(folder.id)))
        }
        (None, Some(sid)) => {
            let (share, _) = share_access(conn, caller, sid, Perm::Create)?;
            Ok((share, None))
        }
        _ => Err(ApiError::invalid(
            "target_folder_id",
            "exactly one of target_folder_id and target_share_id is required",
        )),
    }
}

/// `POST /folders/{id}/move`.
pub async fn move_folder(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Target>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = &body.name {
        db::validate_name(name, "name")?;
    }
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (folder, src_share) = folder_access(&tx, &caller, &id, Perm::Delete, false)?;
    let (dst_share, dst_parent) = resolve_target(&tx, &caller, &body)?;
    let (folders, files) = subtree(&tx, &folder.id)?;
    if let Some(p) = &dst_parent
        && folders.contains(p)
    {
        return Err(ApiError::BadRequest(
            "cannot move a folder into itself or one of its descendants".into(),
        ));
    }
    let name = body.name.clone().unwrap_or_else(|| folder.name.clone());
    db::ensure_name_free(&tx, &dst_share.id, dst_parent.as_deref(), &name, Some(&id))?;
    let before = subtree_paths(&tx, &folders, &files)?;
    let now = now_iso();
    tx.execute(
        "UPDATE folders SET share_id = ?1, parent_id = ?2, name = ?3, modified_at = ?4 WHERE id = ?5",
        params![dst_share.id, dst_parent, name, now, id],
    )?;
    if dst_share.id != src_share.id {
        for f in &folders {
            tx.execute(
                "UPDATE folders SET share_id = ?1 WHERE id = ?2",
                params![dst_share.id, f],
            )?;
            tx.execute(
                "UPDATE acl_entries SET share_id = ?1 \
                 WHERE resource_type = 'folder' AND resource_id = ?2",
                params![dst_share.id, f],
            )?;
        }
        for f in &files {
            tx.execute(
                "UPDATE files SET share_id = ?1 WHERE id = ?2",
                params![dst_share.id, f],
            )?;
            tx.execute(
                "UPDATE acl_entries SET share_id = ?1 \
                 WHERE resource_type = 'file' AND resource_id = ?2",
                params![dst_share.id, f],
            )?;
        }
    }
    let after = subtree_paths(&tx, &folders, &files)?;
    let cross = dst_share.id != src_share.id;
    for (kind, ids) in [("folder", &folders), ("file", &files)] {
        for rid in ids {
            let old = before.get(rid).map(String::as_str);
            let new = after.get(rid).map(String::as_str);
            let meta = json!({"from_share_id": src_share.id, "to_share_id": dst_share.id});
            if cross {
                Change::new(
                    &src_share.tenant_id,
                    &src_share.id,
                    kind,
                    rid,
                    "moved",
                    &caller.user_id,
                )
                .paths(old, None)
                .meta(meta.clone())
                .record(&tx)?;
                Change::new(
                    &dst_share.tenant_id,
                    &dst_share.id,
                    kind,
                    rid,
                    "moved",
                    &caller.user_id,
                )
                .paths(None, new)
                .meta(meta)
                .record(&tx)?;
            } else {
                Change::new(
                    &src_share.tenant_id,
                    &src_share.id,
                    kind,
                    rid,
                    "moved",
                    &caller.user_id,
                )
                .paths(old, new)
                .meta(meta)
                .record(&tx)?;
            }
        }
    }
    let folder = db::load_folder(&tx, &id)?.ok_or_else(|| ApiError::not_found("folder", &id))?;
    let out = db::folder_json(&tx, &dst_share.tenant_id, &folder)?;
    tx.commit()?;
    Ok(Json(out))
}
