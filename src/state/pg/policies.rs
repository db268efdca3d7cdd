//! Bucket policies on PostgreSQL.

use super::super::StateError;
use super::super::policies::{BucketPolicy, POLICY_COLUMNS};
use super::PgBackend;

pub(in crate::state) async fn put_bucket_policy(
    db: &PgBackend,
    p: &BucketPolicy,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO bucket_policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (resource_id) DO UPDATE SET share_id = EXCLUDED.share_id, \
             policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, \
             updated_at = EXCLUDED.updated_at"
        ))
        .await?;
    conn.execute(
        &stmt,
        &[
            &p.resource_id,
            &p.share_id,
            &p.policy,
            &p.updated_by,
            &p.updated_at,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn get_bucket_policy(
    db: &PgBackend,
    resource_id: &str,
) -> Result<Option<BucketPolicy>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {POLICY_COLUMNS} FROM bucket_policies WHERE resource_id = $1"
        ))
        .await?;
    let Some(r) = conn.query_opt(&stmt, &[&resource_id]).await? else {
        return Ok(None);
    };
    Ok(Some(BucketPolicy {
        resource_id: r.try_get(0)?,
        share_id: r.try_get(1)?,
        policy: r.try_get(2)?,
        updated_by: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    }))
}

pub(in crate::state) async fn delete_bucket_policy(
    db: &PgBackend,
    resource_id: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM bucket_policies WHERE resource_id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&resource_id]).await? > 0)
}
