//! Nextcloud chunked uploads over WebDAV on PostgreSQL.

use super::super::StateError;
use super::super::webdav_uploads::{
    CHUNK_COLUMNS, ChunkedUpload, UPLOAD_COLUMNS, UploadChunk, chunk_of, to_i64, upload_of,
};
use super::PgBackend;

fn read_upload(r: &tokio_postgres::Row) -> Result<ChunkedUpload, StateError> {
    Ok(upload_of(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
    ))
}

fn read_chunk(r: &tokio_postgres::Row) -> Result<UploadChunk, StateError> {
    Ok(chunk_of(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
    ))
}

pub(in crate::state) async fn put_chunked_upload(
    db: &PgBackend,
    u: &ChunkedUpload,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO webdav_uploads ({UPLOAD_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (principal, upload) DO UPDATE SET \
             destination = EXCLUDED.destination, total_length = EXCLUDED.total_length, \
             session_id = EXCLUDED.session_id, chunk_size = EXCLUDED.chunk_size, \
             replace_file_id = EXCLUDED.replace_file_id, updated_at = EXCLUDED.updated_at"
        ))
        .await?;
    conn.execute(
        &stmt,
        &[
            &u.principal,
            &u.upload,
            &u.destination,
            &u.total_length.map(to_i64),
            &u.session_id,
            &to_i64(u.chunk_size),
            &u.replace_file_id,
            &u.created_at,
            &u.updated_at,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn get_chunked_upload(
    db: &PgBackend,
    principal: &str,
    upload: &str,
) -> Result<Option<ChunkedUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads WHERE principal = $1 AND upload = $2"
        ))
        .await?;
    conn.query_opt(&stmt, &[&principal, &upload])
        .await?
        .map(|r| read_upload(&r))
        .transpose()
}

/// Deletes the upload; its chunks go with it (`ON DELETE CASCADE`).
pub(in crate::state) async fn delete_chunked_upload(
    db: &PgBackend,
    principal: &str,
    upload: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM webdav_uploads WHERE principal = $1 AND upload = $2")
        .await?;
    Ok(conn.execute(&stmt, &[&principal, &upload]).await? > 0)
}

pub(in crate::state) async fn put_upload_chunk(
    db: &PgBackend,
    principal: &str,
    upload: &str,
    chunk: &UploadChunk,
) -> Result<(), StateError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    tx.execute(
        &format!(
            "INSERT INTO webdav_upload_chunks (principal, upload, {CHUNK_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (principal, upload, name) DO UPDATE SET \
             byte_offset = EXCLUDED.byte_offset, size = EXCLUDED.size, \
             created_at = EXCLUDED.created_at, staged = EXCLUDED.staged"
        ),
        &[
            &principal,
            &upload,
            &chunk.name,
            &chunk.offset.map(to_i64),
            &to_i64(chunk.size),
            &chunk.created_at,
            &chunk.staged,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE webdav_uploads SET updated_at = $3 WHERE principal = $1 AND upload = $2",
        &[&principal, &upload, &chunk.created_at],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(in crate::state) async fn delete_upload_chunk(
    db: &PgBackend,
    principal: &str,
    upload: &str,
    name: &str,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "DELETE FROM webdav_upload_chunks WHERE principal = $1 AND upload = $2 AND name = $3",
        )
        .await?;
    conn.execute(&stmt, &[&principal, &upload, &name]).await?;
    Ok(())
}

pub(in crate::state) async fn upload_chunks(
    db: &PgBackend,
    principal: &str,
    upload: &str,
) -> Result<Vec<UploadChunk>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {CHUNK_COLUMNS} FROM webdav_upload_chunks \
             WHERE principal = $1 AND upload = $2 ORDER BY name"
        ))
        .await?;
    conn.query(&stmt, &[&principal, &upload])
        .await?
        .iter()
        .map(read_chunk)
        .collect()
}

pub(in crate::state) async fn chunked_uploads_idle_since(
    db: &PgBackend,
    cutoff: &str,
) -> Result<Vec<ChunkedUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads WHERE updated_at < $1"
        ))
        .await?;
    conn.query(&stmt, &[&cutoff])
        .await?
        .iter()
        .map(read_upload)
        .collect()
}

pub(in crate::state) async fn chunked_uploads_of(
    db: &PgBackend,
    principal: &str,
) -> Result<Vec<ChunkedUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads WHERE principal = $1 ORDER BY upload"
        ))
        .await?;
    conn.query(&stmt, &[&principal])
        .await?
        .iter()
        .map(read_upload)
        .collect()
}
