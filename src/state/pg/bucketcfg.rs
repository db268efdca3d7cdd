//! Per-bucket configuration documents on PostgreSQL.

use super::super::StateError;
use super::super::bucketcfg::{BucketConfig, COLUMNS, ConfigKind};
use super::PgBackend;

fn read(kind: ConfigKind, r: &tokio_postgres::Row) -> Result<BucketConfig, StateError> {
    Ok(BucketConfig {
        scope: r.try_get(0)?,
        kind,
        document: r.try_get(1)?,
        access_key_id: r.try_get(2)?,
        principal: r.try_get(3)?,
        updated_at: r.try_get(4)?,
        bucket: r.try_get(5)?,
    })
}

pub(in crate::state) async fn put_bucket_config(
    db: &PgBackend,
    c: &BucketConfig,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "INSERT INTO bucket_configs \
             (scope, kind, document, access_key_id, principal, updated_at, bucket) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (scope, kind) DO UPDATE SET document = EXCLUDED.document, \
             access_key_id = EXCLUDED.access_key_id, principal = EXCLUDED.principal, \
             updated_at = EXCLUDED.updated_at, bucket = EXCLUDED.bucket",
        )
        .await?;
    conn.execute(
        &stmt,
        &[
            &c.scope,
            &c.kind.as_str(),
            &c.document,
            &c.access_key_id,
            &c.principal,
            &c.updated_at,
            &c.bucket,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn get_bucket_config(
    db: &PgBackend,
    scope: &str,
    kind: ConfigKind,
) -> Result<Option<BucketConfig>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM bucket_configs WHERE scope = $1 AND kind = $2"
        ))
        .await?;
    match conn.query_opt(&stmt, &[&scope, &kind.as_str()]).await? {
        Some(r) => Ok(Some(read(kind, &r)?)),
        None => Ok(None),
    }
}

pub(in crate::state) async fn find_bucket_config(
    db: &PgBackend,
    bucket: &str,
    kind: ConfigKind,
) -> Result<Option<BucketConfig>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM bucket_configs WHERE bucket = $1 AND kind = $2 \
             ORDER BY updated_at DESC, scope LIMIT 1"
        ))
        .await?;
    match conn.query_opt(&stmt, &[&bucket, &kind.as_str()]).await? {
        Some(r) => Ok(Some(read(kind, &r)?)),
        None => Ok(None),
    }
}

pub(in crate::state) async fn delete_bucket_config(
    db: &PgBackend,
    scope: &str,
    kind: ConfigKind,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM bucket_configs WHERE scope = $1 AND kind = $2")
        .await?;
    Ok(conn.execute(&stmt, &[&scope, &kind.as_str()]).await? > 0)
}

pub(in crate::state) async fn list_bucket_configs(
    db: &PgBackend,
    kind: ConfigKind,
) -> Result<Vec<BucketConfig>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM bucket_configs WHERE kind = $1 ORDER BY scope"
        ))
        .await?;
    conn.query(&stmt, &[&kind.as_str()])
        .await?
        .iter()
        .map(|r| read(kind, r))
        .collect()
}
