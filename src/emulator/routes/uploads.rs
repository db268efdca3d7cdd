//! `/uploads`: resumable upload sessions with chunk files on disk, completion and expiry.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::files::pick_mime;
use crate::emulator::AppState;
use crate::emulator::auth::{
    Caller, Perm, container_access, file_access, resolve_parent, visible_share,
};
use crate::emulator::blobs::{BlobStore, Sealed, Spool};
use crate::emulator::db::{self, Change, fmt_ms, new_id, now_iso, now_ms, to_i64, to_u64};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::JsonBody;

/// `max_upload_chunk_size_bytes` advertised by `/config`.
pub const MAX_CHUNK_LIMIT: u64 = 5_242_880;
const MIN_CHUNK: u64 = 65_536;
const DEFAULT_CHUNK: u64 = 4_194_304;

/// `POST /uploads` body.
#[derive(Debug, Deserialize)]
pub struct CreateSession {
    share_id: String,
    file_name: String,
    file_size: u64,
    folder_id: Option<String>,
    chunk_size: Option<u64>,
    mime_type: Option<String>,
    checksum_sha256: Option<String>,
    replace_file_id: Option<String>,
}

struct Session {
    id: String,
    share_id: String,
    folder_id: Option<String>,
    file_name: String,
    file_size: u64,
    chunk_size: u64,
    total_chunks: u64,
    mime_type: Option<String>,
    checksum: Option<String>,
    replace_file_id: Option<String>,
    status: String,
    file_id: Option<String>,
    expires_at_ms: i64,
}

fn ttl_ms(st: &AppState) -> i64 {
    i64::try_from(st.upload_ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

fn load_session(conn: &Connection, caller: &Caller, sid: &str) -> ApiResult<Session> {
    conn.query_row(
        "SELECT id, share_id, folder_id, file_name, file_size, chunk_size, total_chunks, \
         mime_type, checksum_sha256, replace_file_id, status, file_id, expires_at_ms \
         FROM upload_sessions WHERE id = ?1 AND user_id = ?2",
        params![sid, caller.user_id],
        |r| {
            Ok(Session {
                id: r.get(0)?,
                share_id: r.get(1)?,
                folder_id: r.get(2)?,
                file_name: r.get(3)?,
                file_size: to_u64(r.get(4)?),
                chunk_size: to_u64(r.get(5)?),
                total_chunks: to_u64(r.get(6)?),
                mime_type: r.get(7)?,
                checksum: r.get(8)?,
                replace_file_id: r.get(9)?,
                status: r.get(10)?,
                file_id: r.get(11)?,
                expires_at_ms: r.get(12)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("upload session", sid))
}

/// Marks a session expired and deletes its chunks.
fn expire(conn: &Connection, blobs: &BlobStore, sid: &str) -> ApiResult<()> {
    conn.execute(
        "UPDATE upload_sessions SET status = 'expired' WHERE id = ?1",
        [sid],
    )?;
    conn.execute("DELETE FROM upload_chunks WHERE session_id = ?1", [sid])?;
    let dir = blobs.session_dir(sid);
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}

/// 410 for expired sessions (expiring them on the way).
fn check_live(conn: &Connection, blobs: &BlobStore, s: &Session) -> ApiResult<()> {
    if s.status == "expired" {
        return Err(ApiError::Gone(format!(
            "upload session {} has expired",
            s.id
        )));
    }
    if s.expires_at_ms <= now_ms() {
        expire(conn, blobs, &s.id)?;
        return Err(ApiError::Gone(format!(
            "upload session {} has expired",
            s.id
        )));
    }
    Ok(())
}

/// 410 unless the session is live and pending.
fn check_pending(conn: &Connection, blobs: &BlobStore, s: &Session) -> ApiResult<()> {
    check_live(conn, blobs, s)?;
    if s.status != "pending" {
        return Err(ApiError::Gone(format!(
            "upload session {} is already completed",
            s.id
        )));
    }
    Ok(())
}

fn touch(conn: &Connection, st: &AppState, sid: &str) -> rusqlite::Result<i64> {
    let exp = now_ms().saturating_add(ttl_ms(st));
    conn.execute(
        "UPDATE upload_sessions SET expires_at_ms = ?1 WHERE id = ?2",
        params![exp, sid],
    )?;
    Ok(exp)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `POST /uploads`.
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let chunk = body.chunk_size.unwrap_or(DEFAULT_CHUNK);
    if !chunk.is_power_of_two() || !(MIN_CHUNK..=MAX_CHUNK_LIMIT).contains(&chunk) {
        return Err(ApiError::invalid(
            "chunk_size",
            "chunk_size must be a power of two between 65536 and 4194304",
        ));
    }
    db::validate_name(&body.file_name, "file_name")?;
    if let Some(c) = &body.checksum_sha256
        && !is_sha256_hex(c)
    {
        return Err(ApiError::invalid(
            "checksum_sha256",
            "must be 64 hexadecimal characters",
        ));
    }
    let conn = st.db();
    let share = visible_share(&conn, &caller, &body.share_id)?;
    let parent = resolve_parent(&conn, &share.id, body.folder_id.as_deref())?;
    match &body.replace_file_id {
        // A new version needs WRITE on the file; a new file CREATE on its folder.
        Some(rid) if db::load_file(&conn, rid)?.is_some() => {
            file_access(&conn, &caller, rid, Perm::Write, false)?;
        }
        Some(_) => {}
        None => container_access(&conn, &caller, &share.id, parent.as_deref(), Perm::Create)?,
    }
    let tenant = db::load_tenant(&conn, &share.tenant_id)?;
    db::check_file_size(&tenant, body.file_size)?;
    db::check_quota(&conn, &share, &caller.user_id, body.file_size)?;
    match &body.replace_file_id {
        Some(rid) => {
            let ok = db::load_file(&conn, rid)?.is_some_and(|f| {
                !f.is_deleted
                    && f.share_id == share.id
                    && f.folder_id == parent
                    && f.name == body.file_name
            });
            if !ok {
                return Err(ApiError::invalid(
                    "replace_file_id",
                    "must name a live file with this file_name in this share and folder",
                ));
            }
        }
        None => db::ensure_name_free(&conn, &share.id, parent.as_deref(), &body.file_name, None)?,
    }
    let total = body.file_size.div_ceil(chunk);
    let sid = new_id("ups");
    let exp = now_ms().saturating_add(ttl_ms(&st));
    conn.execute(
        "INSERT INTO upload_sessions (id, share_id, folder_id, file_name, file_size, chunk_size, \
         total_chunks, mime_type, checksum_sha256, replace_file_id, user_id, status, file_id, \
         expires_at_ms, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending', NULL, ?12, ?13)",
        params![
            sid,
            share.id,
            parent,
            body.file_name,
            to_i64(body.file_size),
            to_i64(chunk),
            to_i64(total),
            body.mime_type,
            body.checksum_sha256
                .as_ref()
                .map(|c| c.to_ascii_lowercase()),
            body.replace_file_id,
            caller.user_id,
            exp,
            now_iso()
        ],
    )?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"session_id": sid, "chunk_size": chunk, "total_chunks": total,
                    "expires_at": fmt_ms(exp)}),
        ),
    ))
}

fn received(conn: &Connection, sid: &str) -> rusqlite::Result<Vec<(u64, u64)>> {
    let mut stmt =
        conn.prepare("SELECT idx, size FROM upload_chunks WHERE session_id = ?1 ORDER BY idx")?;
    let rows = stmt.query_map([sid], |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))))?;
    rows.collect()
}

/// `GET /uploads/{sid}`.
pub async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let s = load_session(&conn, &caller, &sid)?;
    check_live(&conn, &st.blobs, &s)?;
    let chunks = received(&conn, &sid)?;
    let idx: Vec<u64> = chunks.iter().map(|c| c.0).collect();
    let bytes: u64 = chunks.iter().map(|c| c.1).sum();
    Ok(Json(json!({
        "session_id": s.id, "status": s.status, "file_name": s.file_name,
        "file_size": s.file_size, "chunk_size": s.chunk_size, "total_chunks": s.total_chunks,
        "received_chunks": idx, "bytes_received": bytes,
        "expires_at": fmt_ms(s.expires_at_ms), "file_id": s.file_id,
    })))
}

/// `PUT /uploads/{sid}/chunks/{i}`: raw bytes streamed to the session's directory.
pub async fn put_chunk(
    State(st): State<AppState>,
    caller: Caller,
    Path((sid, i)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let i: u64 = i
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid chunk index: {i}")))?;
    let expected = {
        let conn = st.db();
        let s = load_session(&conn, &caller, &sid)?;
        check_pending(&conn, &st.blobs, &s)?;
        if i >= s.total_chunks {
            return Err(ApiError::BadRequest(format!(
                "chunk index {i} out of range (total_chunks {})",
                s.total_chunks
            )));
        }
        touch(&conn, &st, &sid)?;
        if i + 1 == s.total_chunks {
            s.file_size - s.chunk_size * (s.total_chunks - 1)
        } else {
            s.chunk_size
        }
    };
    let dir = st.blobs.session_dir(&sid);
    tokio::fs::create_dir_all(&dir).await?;
    let mut spool = Spool::create(&dir).await?;
    let mut stream = body.into_data_stream();
    let wrong_size = || ApiError::BadRequest(format!("chunk {i} must be exactly {expected} bytes"));
    while let Some(part) = stream.next().await {
        let part =
            part.map_err(|e| ApiError::BadRequest(format!("could not read chunk body: {e}")))?;
        if spool.len() + part.len() as u64 > expected {
            return Err(wrong_size());
        }
        spool.write(&part).await?;
    }
    if spool.len() != expected {
        return Err(wrong_size());
    }
    let sealed = spool.seal().await?;
    if let Some(want) = headers.get("x-chunk-sha256").and_then(|v| v.to_str().ok())
        && !want.trim().eq_ignore_ascii_case(&sealed.sha256)
    {
        return Err(ApiError::BadRequest(format!(
            "CHECKSUM_MISMATCH: chunk {i} has SHA-256 {}, header says {want}",
            sealed.sha256
        )));
    }
    let sha = sealed.sha256.clone();
    let size = sealed.size;
    let conn = st.db();
    let s = load_session(&conn, &caller, &sid)?;
    check_pending(&conn, &st.blobs, &s)?;
    sealed.persist_to(&dir.join(i.to_string()))?;
    conn.execute(
        "INSERT INTO upload_chunks (session_id, idx, size, sha256) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(session_id, idx) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256",
        params![sid, to_i64(i), to_i64(size), sha],
    )?;
    touch(&conn, &st, &sid)?;
    Ok(Json(
        json!({"chunk_index": i, "size": size, "checksum_sha256": sha}),
    ))
}

/// `POST /uploads/{sid}/complete`: concatenates the chunks into a blob and creates the file
/// (or a new version of `replace_file_id`).
pub async fn complete(
    State(st): State<AppState>,
    caller: Caller,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = {
        let conn = st.db();
        let s = load_session(&conn, &caller, &sid)?;
        check_pending(&conn, &st.blobs, &s)?;
        let have: BTreeSet<u64> = received(&conn, &sid)?.into_iter().map(|c| c.0).collect();
        let missing: Vec<u64> = (0..s.total_chunks).filter(|i| !have.contains(i)).collect();
        if !missing.is_empty() {
            return Err(ApiError::Conflict(format!("missing chunks: {missing:?}")));
        }
        touch(&conn, &st, &sid)?;
        s
    };
    let dir = st.blobs.session_dir(&sid);
    let mut spool = st.blobs.spool().await?;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..s.total_chunks {
        let mut f = tokio::fs::File::open(dir.join(i.to_string())).await?;
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            spool.write(buf.get(..n).unwrap_or_default()).await?;
        }
    }
    let sealed = spool.seal().await?;
    if sealed.size != s.file_size {
        return Err(ApiError::Conflict(format!(
            "assembled size {} differs from file_size {}",
            sealed.size, s.file_size
        )));
    }
    if let Some(want) = &s.checksum
        && !want.eq_ignore_ascii_case(&sealed.sha256)
    {
        return Err(ApiError::BadRequest(format!(
            "CHECKSUM_MISMATCH: assembled content has SHA-256 {}, expected {want}",
            sealed.sha256
        )));
    }

    let out = finish(&st, &caller, &sid, sealed)?;
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, session = %sid, "could not remove chunk directory");
    }
    Ok(Json(out))
}

/// The database half of `complete`: creates the file or version and commits the blob.
fn finish(st: &AppState, caller: &Caller, sid: &str, sealed: Sealed) -> ApiResult<Value> {
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let s = load_session(&tx, caller, sid)?;
    check_pending(&tx, &st.blobs, &s)?;
    let share = visible_share(&tx, caller, &s.share_id)?;
    match &s.replace_file_id {
        Some(rid) if db::load_file(&tx, rid)?.is_some_and(|f| !f.is_deleted) => {
            file_access(&tx, caller, rid, Perm::Write, false)?;
        }
        Some(_) => {}
        None => container_access(&tx, caller, &share.id, s.folder_id.as_deref(), Perm::Create)?,
    }
    let tenant = db::load_tenant(&tx, &share.tenant_id)?;
    db::check_file_size(&tenant, sealed.size)?;
    db::check_quota(&tx, &share, &caller.user_id, sealed.size)?;
    let now = now_iso();
    let vid = new_id("ver");
    let (fid, version) = match &s.replace_file_id {
        Some(rid) => {
            let file = db::load_file(&tx, rid)?
                .filter(|f| !f.is_deleted && f.share_id == share.id)
                .ok_or_else(|| {
                    ApiError::Conflict(format!("the file to replace ({rid}) no longer exists"))
                })?;
            let version = file.version + 1;
            tx.execute(
                "INSERT INTO versions (id, file_id, version_number, size, sha256, created_by, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    vid,
                    rid,
                    version,
                    to_i64(sealed.size),
                    sealed.sha256,
                    caller.user_id,
                    now
                ],
            )?;
            if let Some(m) = &s.mime_type {
                tx.execute(
                    "UPDATE files SET mime_type = ?1 WHERE id = ?2",
                    params![m, rid],
                )?;
            }
            tx.execute(
                "UPDATE files SET modified_at = ?1, modified_by = ?2 WHERE id = ?3",
                params![now, caller.user_id, rid],
            )?;
            let path = db::child_path(&tx, file.folder_id.as_deref(), &file.name)?;
            Change::new(
                &share.tenant_id,
                &share.id,
                "file",
                rid,
                "updated",
                &caller.user_id,
            )
            .paths(Some(&path), Some(&path))
            .version(&vid)
            .meta(
                json!({"size": sealed.size, "checksum_sha256": sealed.sha256,
                             "version": version}),
            )
            .record(&tx)?;
            (rid.clone(), version)
        }
        None => {
            let parent = resolve_parent(&tx, &share.id, s.folder_id.as_deref())?;
            db::ensure_name_free(&tx, &share.id, parent.as_deref(), &s.file_name, None)?;
            let fid = new_id("fil");
            let mime = pick_mime(s.mime_type.as_deref(), &s.file_name);
            tx.execute(
                "INSERT INTO files (id, share_id, folder_id, name, mime_type, owner_id, \
                 created_by, modified_by, created_at, modified_at, is_deleted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?7, 0)",
                params![
                    fid,
                    share.id,
                    parent,
                    s.file_name,
                    mime,
                    caller.user_id,
                    now
                ],
            )?;
            tx.execute(
                "INSERT INTO versions (id, file_id, version_number, size, sha256, created_by, \
                 created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)",
                params![
                    vid,
                    fid,
                    to_i64(sealed.size),
                    sealed.sha256,
                    caller.user_id,
                    now
                ],
            )?;
            let path = db::child_path(&tx, parent.as_deref(), &s.file_name)?;
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
            (fid, 1)
        }
    };
    tx.execute(
        "UPDATE upload_sessions SET status = 'completed', file_id = ?1 WHERE id = ?2",
        params![fid, sid],
    )?;
    tx.execute("DELETE FROM upload_chunks WHERE session_id = ?1", [sid])?;
    let out = json!({"file_id": fid, "id": fid, "name": s.file_name, "size": sealed.size,
                     "version": version, "version_id": vid, "checksum_sha256": sealed.sha256});
    st.blobs.commit(sealed)?;
    tx.commit()?;
    Ok(out)
}

/// Expires idle sessions and deletes their chunks.
pub fn sweep(st: &AppState) -> ApiResult<()> {
    let conn = st.db();
    let ids: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT id FROM upload_sessions WHERE status != 'expired' AND expires_at_ms <= ?1",
        )?;
        stmt.query_map([now_ms()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for id in ids {
        expire(&conn, &st.blobs, &id)?;
    }
    Ok(())
}

/// Runs [`sweep`] periodically (every TTL, at most every 30 s, at least every second).
pub async fn sweep_forever(st: AppState) {
    let every = st
        .upload_ttl
        .clamp(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sweep(&st) {
            tracing::warn!(error = %e, "upload session sweep failed");
        }
    }
}
