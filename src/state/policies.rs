//! Bucket policies (PutBucketPolicy), one per bucket, keyed by the ScaiDrive id of the
//! resource that is the bucket (the share in `share` mode, the folder in `folders` mode), so a
//! bucket deleted and made again under the same name does not inherit the old policy. Every
//! instance reads them from here on every request.

use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// A stored bucket policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPolicy {
    /// ScaiDrive id of the share or folder that is the bucket.
    pub resource_id: String,
    /// The share it lives in.
    pub share_id: String,
    /// The policy document as the client sent it (GetBucketPolicy answers it unchanged).
    pub policy: String,
    /// ScaiDrive user id of who put it.
    pub updated_by: String,
    /// RFC 3339 UTC, seconds.
    pub updated_at: String,
}

pub(super) const POLICY_COLUMNS: &str = "resource_id, share_id, policy, updated_by, updated_at";

impl StateDb {
    /// Stores (or replaces) the policy of a bucket.
    pub async fn put_bucket_policy(&self, p: &BucketPolicy) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(db) => return pg::put_bucket_policy(db, p).await,
        };
        let p = p.clone();
        sqlite
            .call(move |c| {
                c.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO bucket_policies ({POLICY_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5)"
                ))?
                .execute(params![
                    p.resource_id,
                    p.share_id,
                    p.policy,
                    p.updated_by,
                    p.updated_at
                ])?;
                Ok(())
            })
            .await
    }

    /// The policy of the bucket that is resource `resource_id`, if it has one.
    pub async fn get_bucket_policy(
        &self,
        resource_id: &str,
    ) -> Result<Option<BucketPolicy>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(db) => return pg::get_bucket_policy(db, resource_id).await,
        };
        let id = resource_id.to_owned();
        sqlite
            .call(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {POLICY_COLUMNS} FROM bucket_policies WHERE resource_id = ?1"
                ))?
                .query_row(params![id], |r| {
                    Ok(BucketPolicy {
                        resource_id: r.get(0)?,
                        share_id: r.get(1)?,
                        policy: r.get(2)?,
                        updated_by: r.get(3)?,
                        updated_at: r.get(4)?,
                    })
                })
                .optional()?)
            })
            .await
    }

    /// Removes the policy of a bucket; true when there was one.
    pub async fn delete_bucket_policy(&self, resource_id: &str) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(db) => return pg::delete_bucket_policy(db, resource_id).await,
        };
        let id = resource_id.to_owned();
        sqlite
            .call(move |c| {
                Ok(
                    c.prepare_cached("DELETE FROM bucket_policies WHERE resource_id = ?1")?
                        .execute(params![id])?
                        > 0,
                )
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::testdb::Target;

    both_backends! {
        a_policy_is_stored_replaced_and_deleted => stored_replaced_deleted;
    }

    async fn stored_replaced_deleted(target: Target) {
        let db = target.open().await;
        assert_eq!(db.get_bucket_policy("fld_1").await.unwrap(), None);
        let mut p = BucketPolicy {
            resource_id: "fld_1".into(),
            share_id: "shr_1".into(),
            policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            updated_by: "usr_a".into(),
            updated_at: "2026-12-05T13:00:00Z".into(),
        };
        db.put_bucket_policy(&p).await.unwrap();
        assert_eq!(
            db.get_bucket_policy("fld_1").await.unwrap(),
            Some(p.clone())
        );
        p.policy = "{}".into();
        db.put_bucket_policy(&p).await.unwrap();
        assert_eq!(db.get_bucket_policy("fld_1").await.unwrap(), Some(p));
        assert!(db.delete_bucket_policy("fld_1").await.unwrap());
        assert!(!db.delete_bucket_policy("fld_1").await.unwrap());
        assert_eq!(db.get_bucket_policy("fld_1").await.unwrap(), None);
    }
}
