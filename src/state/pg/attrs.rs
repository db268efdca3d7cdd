//! Object attributes on PostgreSQL.

use std::collections::HashMap;

use super::super::StateError;
use super::super::attrs::{COLUMNS, Row, StoredAttrs, decode, headers_json, json};
use super::PgBackend;

fn read_row(r: &tokio_postgres::Row) -> Result<Row, StateError> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
        r.try_get(9)?,
        r.try_get(10)?,
        r.try_get(11)?,
    ))
}

pub(in crate::state) async fn put_attrs(
    db: &PgBackend,
    entry: &StoredAttrs,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO object_attrs ({COLUMNS}, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (file_id) DO UPDATE SET size = EXCLUDED.size, \
             modified_at = EXCLUDED.modified_at, version_id = EXCLUDED.version_id, \
             sha256 = EXCLUDED.sha256, etag = EXCLUDED.etag, \
             content_type = EXCLUDED.content_type, headers = EXCLUDED.headers, \
             user_meta = EXCLUDED.user_meta, checksums = EXCLUDED.checksums, \
             client_mtime = EXCLUDED.client_mtime, dead_props = EXCLUDED.dead_props, \
             updated_at = EXCLUDED.updated_at"
        ))
        .await?;
    let a = &entry.attrs;
    let size = i64::try_from(entry.size).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().to_rfc3339();
    conn.execute(
        &stmt,
        &[
            &entry.file_id,
            &size,
            &entry.modified_at,
            &entry.version_id,
            &entry.sha256,
            &a.etag,
            &a.content_type,
            &headers_json(a),
            &json(&a.user_meta),
            &json(&a.checksums),
            &a.client_mtime,
            &json(&a.dead_props),
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// The entries of these ids, in one query (`= ANY($1)` walks the primary key).
pub(in crate::state) async fn load_attrs(
    db: &PgBackend,
    file_ids: &[String],
) -> Result<HashMap<String, StoredAttrs>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM object_attrs WHERE file_id = ANY($1)"
        ))
        .await?;
    let mut out = HashMap::with_capacity(file_ids.len());
    for row in conn.query(&stmt, &[&file_ids]).await? {
        let entry = decode(read_row(&row)?)?;
        out.insert(entry.file_id.clone(), entry);
    }
    Ok(out)
}

pub(in crate::state) async fn bind_attrs_modified_at(
    db: &PgBackend,
    file_id: &str,
    modified_at: &str,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "UPDATE object_attrs SET modified_at = $2 WHERE file_id = $1 AND modified_at IS NULL",
        )
        .await?;
    conn.execute(&stmt, &[&file_id, &modified_at]).await?;
    Ok(())
}

pub(in crate::state) async fn delete_attrs(
    db: &PgBackend,
    file_id: &str,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM object_attrs WHERE file_id = $1")
        .await?;
    conn.execute(&stmt, &[&file_id]).await?;
    Ok(())
}
