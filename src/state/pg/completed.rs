//! Completed multipart uploads on PostgreSQL.

use super::super::StateError;
use super::super::completed::{COMPLETED_COLUMNS, CompletedUpload};
use super::PgBackend;

fn read_completed(r: &tokio_postgres::Row) -> Result<CompletedUpload, StateError> {
    Ok(CompletedUpload {
        upload_id: r.try_get(0)?,
        principal: r.try_get(1)?,
        bucket: r.try_get(2)?,
        key: r.try_get(3)?,
        etag: r.try_get(4)?,
        version_id: r.try_get(5)?,
        parts_digest: r.try_get(6)?,
        result: r.try_get(7)?,
        completed_at: r.try_get(8)?,
    })
}

/// Records the completed upload and deletes the upload (its parts go with it, `ON DELETE
/// CASCADE`) and expired records, in one transaction.
pub(in crate::state) async fn finish_upload(
    db: &PgBackend,
    done: &CompletedUpload,
    expired_before: &str,
) -> Result<bool, StateError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    tx.execute(
        "DELETE FROM multipart_completed WHERE completed_at < $1",
        &[&expired_before],
    )
    .await?;
    tx.execute(
        &format!(
            "INSERT INTO multipart_completed ({COMPLETED_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (upload_id) DO UPDATE SET principal = EXCLUDED.principal, \
             bucket = EXCLUDED.bucket, key = EXCLUDED.key, etag = EXCLUDED.etag, \
             version_id = EXCLUDED.version_id, parts_digest = EXCLUDED.parts_digest, \
             result = EXCLUDED.result, completed_at = EXCLUDED.completed_at"
        ),
        &[
            &done.upload_id,
            &done.principal,
            &done.bucket,
            &done.key,
            &done.etag,
            &done.version_id,
            &done.parts_digest,
            &done.result,
            &done.completed_at,
        ],
    )
    .await?;
    let n = tx
        .execute(
            "DELETE FROM multipart_uploads WHERE upload_id = $1",
            &[&done.upload_id],
        )
        .await?;
    tx.commit().await?;
    Ok(n > 0)
}

pub(in crate::state) async fn get_completed(
    db: &PgBackend,
    upload_id: &str,
    not_before: &str,
) -> Result<Option<CompletedUpload>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COMPLETED_COLUMNS} FROM multipart_completed \
             WHERE upload_id = $1 AND completed_at >= $2"
        ))
        .await?;
    conn.query_opt(&stmt, &[&upload_id, &not_before])
        .await?
        .map(|r| read_completed(&r))
        .transpose()
}
