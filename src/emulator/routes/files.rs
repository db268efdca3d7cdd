//! `/files`: metadata, streamed content with Range, multipart upload, rename/move/restore,
//! delete, copy, versions.

use std::io::SeekFrom;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::folders::{DeleteQuery, Target, resolve_target};
use crate::emulator::auth::{
    Caller, Perm, container_access, file_access, resolve_parent, visible_share,
};
use crate::emulator::db::{self, Change, new_id, now_iso, to_i64, to_u64};
use crate::emulator::error::{ApiError, ApiResult, FieldError};
use crate::emulator::extract::{JsonBody, Qs};
use crate::emulator::{AppState, faults};

/// `GET /files/{id}`.
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let (file, _) = file_access(&conn, &caller, &id, Perm::Read, false)?;
    Ok(Json(db::file_json(&conn, &file)?))
}

/// `?version=N`.
#[derive(Debug, Deserialize)]
pub struct ContentQuery {
    version: Option<i64>,
}

/// Parses a single `bytes=` range against `size`: `Ok(None)` = serve everything
/// (absent, malformed or multi-range header), `Err` = 416.
pub fn parse_range(header: Option<&str>, size: u64) -> ApiResult<Option<(u64, u64)>> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsat = Err(ApiError::RangeNotSatisfiable(size));
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return unsat;
        }
        return Ok(Some((size.saturating_sub(n), size - 1)));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        None
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => Some(e),
            _ => return Ok(None),
        }
    };
    if start >= size {
        return unsat;
    }
    Ok(Some((start, end.map_or(size - 1, |e| e.min(size - 1)))))
}

/// `Content-Disposition` with an ASCII fallback and `filename*` for non-ASCII names.
fn content_disposition(name: &str) -> String {
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_ascii() && ascii == name {
        format!("attachment; filename=\"{ascii}\"")
    } else {
        format!(
            "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
            utf8_percent_encode(name, ATTR)
        )
    }
}

/// Wraps a body stream so it fails after `limit` bytes (fault injection: cut connection).
fn cut_after<S>(inner: S, limit: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    futures::stream::unfold(
        (inner, 0u64, false),
        move |(mut s, sent, done)| async move {
            if done {
                return None;
            }
            if sent >= limit {
                // Pending first, so hyper flushes the headers and the bytes sent so far.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let err = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault injection: reset_after_bytes",
                );
                return Some((Err(err), (s, sent, true)));
            }
            match s.next().await {
                None => None,
                Some(Err(e)) => Some((Err(e), (s, sent, true))),
                Some(Ok(mut b)) => {
                    let room = usize::try_from(limit - sent).unwrap_or(usize::MAX);
                    if b.len() > room {
                        b.truncate(room);
                    }
                    let n = b.len() as u64;
                    Some((Ok(b), (s, sent + n, false)))
                }
            }
        },
    )
}

/// `GET /files/{id}/content`: streams from disk; single ranges → 206.
pub async fn content(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Qs(q): Qs<ContentQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (file, size, std_file) = {
        let conn = st.db();
        let (file, _) = file_access(&conn, &caller, &id, Perm::Read, false)?;
        let (size, sha) = match q.version {
            None => (file.size, file.sha256.clone()),
            Some(n) => conn
                .query_row(
                    "SELECT size, sha256 FROM versions WHERE file_id = ?1 AND version_number = ?2",
                    params![id, n],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?
                .ok_or_else(|| ApiError::NotFound(format!("version {n} of file {id} not found")))?,
        };
        // Opened under the lock so a concurrent purge cannot remove it first.
        let f = std::fs::File::open(st.blobs.blob_path(&sha))?;
        (file, to_u64(size), f)
    };
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    )?;
    let mut f = tokio::fs::File::from_std(std_file);
    let (start, len) = match range {
        Some((a, b)) => (a, b - a + 1),
        None => (0, size),
    };
    if start > 0 {
        f.seek(SeekFrom::Start(start)).await?;
    }
    let stream = ReaderStream::with_capacity(f.take(len), 64 * 1024);
    let body = match faults::take_reset(&st) {
        Some(limit) => Body::from_stream(cut_after(stream, limit)),
        None => Body::from_stream(stream),
    };
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    let ctype = HeaderValue::from_str(&file.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ctype);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some((a, b)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{size}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// MIME type from the part's Content-Type unless generic, else from the extension.
pub fn pick_mime(declared: Option<&str>, name: &str) -> String {
    match declared {
        Some(c) if !c.is_empty() && c != "application/octet-stream" => c.to_string(),
        _ => mime_guess::from_path(name)
            .first_or_octet_stream()
            .essence_str()
            .to_string(),
    }
}

fn multipart_err(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::BadRequest(format!("invalid multipart body: {}", e.body_text()))
}

/// `POST /files`: multipart upload, spooled to disk while hashed; never overwrites.
pub async fn upload(
    State(st): State<AppState>,
    caller: Caller,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut mp = mp.map_err(|e| {
        ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: format!("multipart/form-data body required: {}", e.body_text()),
            kind: "value_error".into(),
        }])
    })?;
    let max = {
        let conn = st.db();
        db::load_tenant(&conn, &caller.tenant_id)?.max_file_size_bytes
    };
    let max = to_u64(max);
    let mut share_id = None;
    let mut folder_id = None;
    let mut name = None;
    let mut file = None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_err)? {
        let field_name = field.name().unwrap_or_default().to_string();
        match field_name.as_str() {
            "share_id" => share_id = Some(field.text().await.map_err(multipart_err)?),
            "folder_id" => folder_id = Some(field.text().await.map_err(multipart_err)?),
            "name" => name = Some(field.text().await.map_err(multipart_err)?),
            "file" => {
                if file.is_some() {
                    return Err(ApiError::invalid("file", "only one file part is allowed"));
                }
                let filename = field.file_name().map(str::to_string);
                let ctype = field.content_type().map(str::to_string);
                let mut spool = st.blobs.spool().await?;
                while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
                    spool.write(&chunk).await?;
                    if spool.len() > max {
                        return Err(ApiError::PayloadTooLarge(format!(
                            "PAYLOAD_TOO_LARGE: file exceeds the maximum file size of {max} bytes"
                        )));
                    }
                }
                file = Some((spool.seal().await?, filename, ctype));
            }
            _ => while field.chunk().await.map_err(multipart_err)?.is_some() {},
        }
    }
    let share_id = share_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing("share_id"))?;
    let (sealed, filename, ctype) = file.ok_or_else(|| ApiError::missing("file"))?;
    let name = name
        .filter(|n| !n.is_empty())
        .or(filename)
        .ok_or_else(|| ApiError::missing("name"))?;
    db::validate_name(&name, "name")?;
    let mime = pick_mime(ctype.as_deref(), &name);
    let folder_id = folder_id.filter(|f| !f.is_empty());

    let mut conn = st.db();
    let tx = conn.transaction()?;
    let share = visible_share(&tx, &caller, &share_id)?;
    let parent = resolve_parent(&tx, &share.id, folder_id.as_deref())?;
    container_access(&tx, &caller, &share.id, parent.as_deref(), Perm::Create)?;
    let tenant = db::load_tenant(&tx, &share.tenant_id)?;
    db::check_file_size(&tenant, sealed.size)?;
    db::ensure_name_free(&tx, &share.id, parent.as_deref(), &name, None)?;
    db::check_quota(&tx, &share, &caller.user_id, sealed.size)?;
    let fid = new_id("fil");
    let vid = new_id("ver");
    let now = now_iso();
    tx.execute(
        "INSERT INTO files (id, share_id, folder_id, name, mime_type, owner_id, created_by, \
         modified_by, created_at, modified_at, is_deleted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?7, 0)",
        params![fid, share.id, parent, name, mime, caller.user_id, now],
    )?;
    tx.execute(
        "INSERT INTO versions (id, file_id, version_number, size, sha256, created_by, created_at) \
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)",
        params![
            vid,
            fid,
            to_i64(sealed.size),
            sealed.sha256,
            caller.user_id,
            now
        ],
    )?;
    let path = db::child_path(&tx, parent.as_deref(), &name)?;
    Change::new(
        &share.tenant_id,
        &share.id,
        "file",
        &fid,
        "created",
        &caller.user_id,
    )
    .paths(None, Some(&path))
    .version(&vid)
    .meta(json!({"size": sealed.size, "checksum_sha256": sealed.sha256}))
    .record(&tx)?;
    let out = json!({"id": fid, "name": name, "size": sealed.size, "version_id": vid,
                     "checksum_sha256": sealed.sha256});
    st.blobs.commit(sealed)?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `PATCH /files/{id}` body.
#[derive(Debug, Deserialize)]
pub struct PatchFile {
    name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    folder_id: Option<Option<String>>,
    restore: Option<bool>,
}

/// `PATCH /files/{id}`: restore, rename, move within the share.
pub async fn patch(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchFile>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = &body.name {
        db::validate_name(name, "name")?;
    }
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let restore = body.restore == Some(true);
    let (file, share) = file_access(&tx, &caller, &id, Perm::Write, restore)?;
    let now = now_iso();
    let old_path = db::child_path(&tx, file.folder_id.as_deref(), &file.name)?;
    if restore && file.is_deleted {
        if let Some(parent) = &file.folder_id
            && db::load_folder(&tx, parent)?.is_some_and(|p| p.is_deleted)
        {
            return Err(ApiError::Conflict(
                "cannot restore: the parent folder is deleted".into(),
            ));
        }
        tx.execute(
            "UPDATE files SET is_deleted = 0, deleted_op = NULL, modified_at = ?1 WHERE id = ?2",
            params![now, id],
        )?;
        Change::new(
            &share.tenant_id,
            &share.id,
            "file",
            &id,
            "created",
            &caller.user_id,
        )
        .paths(None, Some(&old_path))
        .version(&file.version_id)
        .meta(json!({"restored": true}))
        .record(&tx)?;
    }
    let new_parent = match &body.folder_id {
        None => file.folder_id.clone(),
        Some(f) => resolve_parent(&tx, &share.id, f.as_deref())?,
    };
    let new_name = body.name.clone().unwrap_or_else(|| file.name.clone());
    let moved = new_parent != file.folder_id;
    let renamed = new_name != file.name;
    if moved {
        container_access(&tx, &caller, &share.id, new_parent.as_deref(), Perm::Create)?;
    }
    if moved || renamed {
        db::ensure_name_free(&tx, &share.id, new_parent.as_deref(), &new_name, Some(&id))?;
        tx.execute(
            "UPDATE files SET folder_id = ?1, name = ?2, modified_at = ?3, modified_by = ?4 \
             WHERE id = ?5",
            params![new_parent, new_name, now, caller.user_id, id],
        )?;
        let new_path = db::child_path(&tx, new_parent.as_deref(), &new_name)?;
        let kind = if moved { "moved" } else { "renamed" };
        Change::new(
            &share.tenant_id,
            &share.id,
            "file",
            &id,
            kind,
            &caller.user_id,
        )
        .paths(Some(&old_path), Some(&new_path))
        .meta(json!({"name": new_name, "folder_id": new_parent}))
        .record(&tx)?;
    }
    let file = db::load_file(&tx, &id)?.ok_or_else(|| ApiError::not_found("file", &id))?;
    let out = db::file_json(&tx, &file)?;
    tx.commit()?;
    Ok(Json(out))
}

/// `DELETE /files/{id}`: soft delete (trash) or permanent removal of every version.
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Qs(q): Qs<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (file, share) = file_access(&tx, &caller, &id, Perm::Delete, q.permanent)?;
    let path = db::child_path(&tx, file.folder_id.as_deref(), &file.name)?;
    let now = now_iso();
    if q.permanent {
        let shas: Vec<String> = {
            let mut stmt = tx.prepare("SELECT DISTINCT sha256 FROM versions WHERE file_id = ?1")?;
            stmt.query_map([&id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        tx.execute("DELETE FROM versions WHERE file_id = ?1", [&id])?;
        tx.execute("DELETE FROM files WHERE id = ?1", [&id])?;
        Change::new(
            &share.tenant_id,
            &share.id,
            "file",
            &id,
            "deleted",
            &caller.user_id,
        )
        .paths(Some(&path), None)
        .meta(json!({"permanent": true}))
        .record(&tx)?;
        tx.commit()?;
        for sha in shas {
            st.blobs.collect(&conn, &sha)?;
        }
    } else {
        tx.execute(
            "UPDATE files SET is_deleted = 1, deleted_op = ?1, modified_at = ?2 WHERE id = ?3",
            params![ulid::Ulid::new().to_string(), now, id],
        )?;
        Change::new(
            &share.tenant_id,
            &share.id,
            "file",
            &id,
            "deleted",
            &caller.user_id,
        )
        .paths(Some(&path), None)
        .meta(json!({"permanent": false}))
        .record(&tx)?;
        tx.commit()?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /files/{id}/copy`: a new file with one version of the same content.
pub async fn copy(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Target>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if let Some(name) = &body.name {
        db::validate_name(name, "name")?;
    }
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (src, _) = file_access(&tx, &caller, &id, Perm::Read, false)?;
    let (share, parent) = resolve_target(&tx, &caller, &body)?;
    let name = body.name.clone().unwrap_or_else(|| src.name.clone());
    db::ensure_name_free(&tx, &share.id, parent.as_deref(), &name, None)?;
    db::check_quota(&tx, &share, &caller.user_id, to_u64(src.size))?;
    let fid = new_id("fil");
    let vid = new_id("ver");
    let now = now_iso();
    tx.execute(
        "INSERT INTO files (id, share_id, folder_id, name, mime_type, owner_id, created_by, \
         modified_by, created_at, modified_at, is_deleted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?7, 0)",
        params![
            fid,
            share.id,
            parent,
            name,
            src.mime_type,
            caller.user_id,
            now
        ],
    )?;
    tx.execute(
        "INSERT INTO versions (id, file_id, version_number, size, sha256, created_by, created_at) \
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)",
        params![vid, fid, src.size, src.sha256, caller.user_id, now],
    )?;
    let path = db::child_path(&tx, parent.as_deref(), &name)?;
    Change::new(
        &share.tenant_id,
        &share.id,
        "file",
        &fid,
        "created",
        &caller.user_id,
    )
    .paths(None, Some(&path))
    .version(&vid)
    .meta(json!({"copied_from": id}))
    .record(&tx)?;
    let file = db::load_file(&tx, &fid)?.ok_or_else(|| ApiError::not_found("file", &fid))?;
    let out = db::file_json(&tx, &file)?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `POST /files/{id}/move`.
pub async fn move_file(
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
    let (file, src_share) = file_access(&tx, &caller, &id, Perm::Delete, false)?;
    let (dst_share, parent) = resolve_target(&tx, &caller, &body)?;
    let name = body.name.clone().unwrap_or_else(|| file.name.clone());
    db::ensure_name_free(&tx, &dst_share.id, parent.as_deref(), &name, Some(&id))?;
    let cross = dst_share.id != src_share.id;
    if cross {
        db::check_quota(&tx, &dst_share, &caller.user_id, to_u64(file.size))?;
    }
    let old_path = db::child_path(&tx, file.folder_id.as_deref(), &file.name)?;
    tx.execute(
        "UPDATE files SET share_id = ?1, folder_id = ?2, name = ?3, modified_at = ?4, \
         modified_by = ?5 WHERE id = ?6",
        params![dst_share.id, parent, name, now_iso(), caller.user_id, id],
    )?;
    // The file's own ACL entries move with it.
    tx.execute(
        "UPDATE acl_entries SET share_id = ?1 WHERE resource_type = 'file' AND resource_id = ?2",
        params![dst_share.id, id],
    )?;
    let new_path = db::child_path(&tx, parent.as_deref(), &name)?;
    let meta = json!({"from_share_id": src_share.id, "to_share_id": dst_share.id});
    if cross {
        Change::new(
            &src_share.tenant_id,
            &src_share.id,
            "file",
            &id,
            "moved",
            &caller.user_id,
        )
        .paths(Some(&old_path), None)
        .meta(meta.clone())
        .record(&tx)?;
        Change::new(
            &dst_share.tenant_id,
            &dst_share.id,
            "file",
            &id,
            "moved",
            &caller.user_id,
        )
        .paths(None, Some(&new_path))
        .meta(meta)
        .record(&tx)?;
    } else {
        Change::new(
            &src_share.tenant_id,
            &src_share.id,
            "file",
            &id,
            "moved",
            &caller.user_id,
        )
        .paths(Some(&old_path), Some(&new_path))
        .meta(meta)
        .record(&tx)?;
    }
    let file = db::load_file(&tx, &id)?.ok_or_else(|| ApiError::not_found("file", &id))?;
    let out = db::file_json(&tx, &file)?;
    tx.commit()?;
    Ok(Json(out))
}

/// `GET /files/{id}/versions`: newest first.
pub async fn versions(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    file_access(&conn, &caller, &id, Perm::Read, false)?;
    let mut stmt = conn.prepare(
        "SELECT id, version_number, size, sha256, created_by, created_at FROM versions \
         WHERE file_id = ?1 ORDER BY version_number DESC",
    )?;
    let items = stmt
        .query_map([&id], |r| {
            Ok(json!({
                "id": r.get::<_, String>(0)?, "version_number": r.get::<_, i64>(1)?,
                "size": r.get::<_, i64>(2)?, "checksum_sha256": r.get::<_, String>(3)?,
                "created_by": r.get::<_, String>(4)?, "created_at": r.get::<_, String>(5)?,
            }))
        })?
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    let total = items.len();
    Ok(Json(json!({"versions": items, "total": total})))
}

/// `POST /files/{id}/versions/{n}/restore`: a new version with version `n`'s content.
pub async fn restore_version(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let n: i64 = n
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid version number: {n}")))?;
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let (file, share) = file_access(&tx, &caller, &id, Perm::Write, false)?;
    let (size, sha): (i64, String) = tx
        .query_row(
            "SELECT size, sha256 FROM versions WHERE file_id = ?1 AND version_number = ?2",
            params![id, n],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("version {n} of file {id} not found")))?;
    db::check_quota(&tx, &share, &caller.user_id, to_u64(size))?;
    let vid = new_id("ver");
    let version = file.version + 1;
    let now = now_iso();
    tx.execute(
        "INSERT INTO versions (id, file_id, version_number, size, sha256, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![vid, id, version, size, sha, caller.user_id, now],
    )?;
    tx.execute(
        "UPDATE files SET modified_at = ?1, modified_by = ?2 WHERE id = ?3",
        params![now, caller.user_id, id],
    )?;
    let path = db::child_path(&tx, file.folder_id.as_deref(), &file.name)?;
    Change::new(
        &share.tenant_id,
        &share.id,
        "file",
        &id,
        "updated",
        &caller.user_id,
    )
    .paths(Some(&path), Some(&path))
    .version(&vid)
    .meta(json!({"restored_from_version": n, "version": version}))
    .record(&tx)?;
    tx.commit()?;
    Ok(Json(
        json!({"id": id, "restored_from_version": n, "version": version,
                   "version_id": vid}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_rfc_9110() {
        assert_eq!(parse_range(Some("bytes=0-3"), 10).ok(), Some(Some((0, 3))));
        assert_eq!(parse_range(Some("bytes=4-"), 10).ok(), Some(Some((4, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10).ok(), Some(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=-30"), 10).ok(), Some(Some((0, 9))));
        assert_eq!(
            parse_range(Some("bytes=5-100"), 10).ok(),
            Some(Some((5, 9)))
        );
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10).ok(), Some(None));
        assert_eq!(parse_range(Some("items=0-1"), 10).ok(), Some(None));
        assert!(parse_range(Some("bytes=10-"), 10).is_err());
        assert!(parse_range(Some("bytes=-0"), 10).is_err());
        assert!(parse_range(Some("bytes=0-"), 0).is_err());
    }

    #[test]
    fn disposition_escapes_non_ascii_names() {
        assert_eq!(
            content_disposition("a.txt"),
            "attachment; filename=\"a.txt\""
        );
        assert_eq!(
            content_disposition("é \"x\".txt"),
            "attachment; filename=\"_ _x_.txt\"; filename*=UTF-8''%C3%A9%20%22x%22.txt"
        );
    }
}
