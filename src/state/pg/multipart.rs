//! The multipart index on PostgreSQL.

use super::super::StateError;
use super::super::multipart::{
    MultipartPart, MultipartUpload, PartLocation, UPLOAD_COLUMNS, to_i64,
};
use super::{PgBackend, to_u64};

fn read_upload(r: &tokio_postgres::Row) -> Result<MultipartUpload, StateError> {
    Ok(MultipartUpload {
        upload_id: r.try_get(0)?,
        access_key_id: r.try_get(1)?,
        principal: r.try_get(2)?,
        bucket: r.try_get(3)?,
        key: r.try_get(4)?,
        created_at: r.try_get(5)?,
        attrs: r.try_get(6)?,
    })
}

fn part_number(n: u32) -> Result<i32, StateError> {
    i32::try_from(n).map_err(|_| StateError::BadValue {
        column: "multipart_parts.part_number",
        message: format!("{n} is out of range"),
    })
}

pub(in crate::state) async fn create_upload(
    db: &PgBackend,
    u: &MultipartUpload,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO multipart_uploads ({UPLOAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .await?;
    conn.execute(
        &stmt,
        &[
            &u.upload_id,
            &u.access_key_id,
            &u.principal,
            &u.bucket,
            &u.key,
            &u.created_at,
            &u.attrs,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn get_upload(
    db: &PgBackend,
    upload_id: &str,
) -> Result<Option<MultipartUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = $1"
        ))
        .await?;
    conn.query_opt(&stmt, &[&upload_id])
        .await?
        .map(|r| read_upload(&r))
        .transpose()
}

pub(in crate::state) async fn list_uploads(
    db: &PgBackend,
    principal: &str,
    bucket: &str,
) -> Result<Vec<MultipartUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE principal = $1 AND bucket = $2 \
             ORDER BY key, created_at, upload_id"
        ))
        .await?;
    conn.query(&stmt, &[&principal, &bucket])
        .await?
        .iter()
        .map(read_upload)
        .collect()
}

pub(in crate::state) async fn uploads_created_before(
    db: &PgBackend,
    cutoff: &str,
) -> Result<Vec<MultipartUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE created_at < $1"
        ))
        .await?;
    conn.query(&stmt, &[&cutoff])
        .await?
        .iter()
        .map(read_upload)
        .collect()
}

/// Upserts the part and returns where the part it replaced was kept, in one statement: the
/// row is locked first (`FOR UPDATE`), so of two retries of one part each sees the other's.
pub(in crate::state) async fn put_part(
    db: &PgBackend,
    upload_id: &str,
    part: &MultipartPart,
) -> Result<Option<PartLocation>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "WITH old AS (SELECT spool_path, file_id FROM multipart_parts \
             WHERE upload_id = $1 AND part_number = $2 FOR UPDATE), \
             new AS (INSERT INTO multipart_parts \
             (upload_id, part_number, size, etag, checksums, spool_path, created_at, file_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (upload_id, part_number) DO UPDATE SET size = EXCLUDED.size, \
             etag = EXCLUDED.etag, checksums = EXCLUDED.checksums, \
             spool_path = EXCLUDED.spool_path, created_at = EXCLUDED.created_at, \
             file_id = EXCLUDED.file_id RETURNING 1) \
             SELECT (SELECT spool_path FROM old), (SELECT file_id FROM old), \
             (SELECT count(*) FROM new)",
        )
        .await?;
    let row = conn
        .query_one(
            &stmt,
            &[
                &upload_id,
                &part_number(part.part_number)?,
                &to_i64(part.size),
                &part.etag,
                &part.checksums,
                &part.spool_path,
                &part.created_at,
                &part.file_id,
            ],
        )
        .await?;
    let path: Option<String> = row.try_get(0)?;
    let file_id: Option<String> = row.try_get(1)?;
    Ok(path.map(|p| (p, file_id)))
}

pub(in crate::state) async fn list_parts(
    db: &PgBackend,
    upload_id: &str,
) -> Result<Vec<MultipartPart>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT part_number, size, etag, checksums, spool_path, created_at, file_id \
             FROM multipart_parts WHERE upload_id = $1 ORDER BY part_number",
        )
        .await?;
    conn.query(&stmt, &[&upload_id])
        .await?
        .iter()
        .map(|r| {
            let n: i32 = r.try_get(0)?;
            Ok(MultipartPart {
                part_number: u32::try_from(n).map_err(|_| StateError::BadValue {
                    column: "multipart_parts.part_number",
                    message: "negative".into(),
                })?,
                size: to_u64("multipart_parts.size", r.try_get(1)?)?,
                etag: r.try_get(2)?,
                checksums: r.try_get(3)?,
                spool_path: r.try_get(4)?,
                created_at: r.try_get(5)?,
                file_id: r.try_get(6)?,
            })
        })
        .collect()
}

/// Deletes the upload; its parts go with it (`ON DELETE CASCADE`).
pub(in crate::state) async fn delete_upload(
    db: &PgBackend,
    upload_id: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM multipart_uploads WHERE upload_id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&upload_id]).await? > 0)
}
