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
    let stmt = conn.prepare_cached(&upsert_sql("")).await?;
    let a = &entry.attrs;
    let size = i64::try_from(entry.size).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().to_rfc3339();
    let (headers, meta, sums, props) = (
        headers_json(a),
        json(&a.user_meta),
        json(&a.checksums),
        json(&a.dead_props),
    );
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
            &headers,
            &meta,
            &sums,
            &a.client_mtime,
            &props,
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// The upsert of one entry ($1–$13), followed by `tail`.
fn upsert_sql(tail: &str) -> String {
    format!(
        "INSERT INTO object_attrs ({COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (file_id) DO UPDATE SET size = EXCLUDED.size, \
         modified_at = EXCLUDED.modified_at, version_id = EXCLUDED.version_id, \
         sha256 = EXCLUDED.sha256, etag = EXCLUDED.etag, \
         content_type = EXCLUDED.content_type, headers = EXCLUDED.headers, \
         user_meta = EXCLUDED.user_meta, checksums = EXCLUDED.checksums, \
         client_mtime = EXCLUDED.client_mtime, dead_props = EXCLUDED.dead_props, \
         updated_at = EXCLUDED.updated_at{tail}"
    )
}

/// [`put_attrs`] and [`bump_share_generation`](super::bump_share_generation) of `key` with
/// `change` as one statement (one round trip, one transaction: no instance sees the generation
/// without the entry); the new generation.
pub(in crate::state) async fn put_attrs_and_bump(
    db: &PgBackend,
    entry: &StoredAttrs,
    key: &str,
    change: &str,
) -> Result<i64, StateError> {
    let conn = db.conn().await?;
    let sql = format!(
        "WITH a AS ({} RETURNING 1), \
         g AS (INSERT INTO share_generations (share_id, generation) VALUES ($14, 1) \
               ON CONFLICT (share_id) DO UPDATE \
               SET generation = share_generations.generation + 1 RETURNING generation) \
         INSERT INTO share_changes (share_id, generation, change) \
         SELECT $14, generation, $15 FROM g, (SELECT count(*) FROM a) AS written \
         RETURNING generation",
        upsert_sql("")
    );
    let stmt = conn.prepare_cached(&sql).await?;
    let a = &entry.attrs;
    let size = i64::try_from(entry.size).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().to_rfc3339();
    let (headers, meta, sums, props) = (
        headers_json(a),
        json(&a.user_meta),
        json(&a.checksums),
        json(&a.dead_props),
    );
    let row = conn
        .query_one(
            &stmt,
            &[
                &entry.file_id,
                &size,
                &entry.modified_at,
                &entry.version_id,
                &entry.sha256,
                &a.etag,
                &a.content_type,
                &headers,
                &meta,
                &sums,
                &a.client_mtime,
                &props,
                &now,
                &key,
                &change,
            ],
        )
        .await?;
    let generation: i64 = row.try_get(0)?;
    super::cluster::prune_changes(&conn, key, generation).await?;
    Ok(generation)
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
