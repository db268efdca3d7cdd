//! Per-bucket configuration documents the gateway keeps and applies itself (`bucket_configs`):
//! lifecycle rules, bucket tags and CORS rules, one S3 XML document per bucket and kind, with
//! the access key that put it (the lifecycle worker acts with that key's ScaiDrive token).
//! Every read goes to the database (no cache), so a put through one instance is seen by all at
//! once.

use std::fmt;

use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// What a document configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// `PutBucketLifecycleConfiguration`.
    Lifecycle,
    /// `PutBucketTagging`.
    Tagging,
    /// `PutBucketCors`.
    Cors,
}

impl ConfigKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifecycle => "lifecycle",
            Self::Tagging => "tagging",
            Self::Cors => "cors",
        }
    }
}

/// One stored document.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// The bucket: its share id, or `share id/folder name` in `folders` mode.
    pub scope: String,
    /// The bucket's name as the putter named it (CORS preflights, which carry no
    /// credentials, find the rules by name).
    pub bucket: String,
    pub kind: ConfigKind,
    /// The S3 XML document.
    pub document: String,
    /// The access key that put it.
    pub access_key_id: String,
    /// Its ScaiDrive user id.
    pub principal: String,
    /// When it was put, RFC 3339 UTC.
    pub updated_at: String,
}

impl fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketConfig")
            .field("scope", &self.scope)
            .field("bucket", &self.bucket)
            .field("kind", &self.kind)
            .field("document_len", &self.document.len())
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

pub(super) const COLUMNS: &str = "scope, document, access_key_id, principal, updated_at, bucket";

fn read(kind: ConfigKind) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<BucketConfig> {
    move |r| {
        Ok(BucketConfig {
            scope: r.get(0)?,
            kind,
            document: r.get(1)?,
            access_key_id: r.get(2)?,
            principal: r.get(3)?,
            updated_at: r.get(4)?,
            bucket: r.get(5)?,
        })
    }
}

impl StateDb {
    /// Stores (or replaces) the document of `config.kind` for `config.scope`.
    pub async fn put_bucket_config(&self, config: BucketConfig) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::put_bucket_config(p, &config).await,
        };
        sqlite
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO bucket_configs \
                     (scope, kind, document, access_key_id, principal, updated_at, bucket) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    config.scope,
                    config.kind.as_str(),
                    config.document,
                    config.access_key_id,
                    config.principal,
                    config.updated_at,
                    config.bucket,
                ])?;
                Ok(())
            })
            .await
    }

    /// The document of `kind` for `scope`, if one is stored.
    pub async fn get_bucket_config(
        &self,
        scope: &str,
        kind: ConfigKind,
    ) -> Result<Option<BucketConfig>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::get_bucket_config(p, scope, kind).await,
        };
        let scope = scope.to_owned();
        sqlite
            .call(move |conn| {
                Ok(conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM bucket_configs WHERE scope = ?1 AND kind = ?2"
                    ))?
                    .query_row(params![scope, kind.as_str()], read(kind))
                    .optional()?)
            })
            .await
    }

    /// The newest document of `kind` put for a bucket of this name (requests without
    /// credentials know only the name).
    pub async fn find_bucket_config(
        &self,
        bucket: &str,
        kind: ConfigKind,
    ) -> Result<Option<BucketConfig>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::find_bucket_config(p, bucket, kind).await,
        };
        let bucket = bucket.to_owned();
        sqlite
            .call(move |conn| {
                Ok(conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM bucket_configs WHERE bucket = ?1 AND kind = ?2 \
                         ORDER BY updated_at DESC, scope LIMIT 1"
                    ))?
                    .query_row(params![bucket, kind.as_str()], read(kind))
                    .optional()?)
            })
            .await
    }

    /// Removes the document of `kind` for `scope`; whether there was one.
    pub async fn delete_bucket_config(
        &self,
        scope: &str,
        kind: ConfigKind,
    ) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_bucket_config(p, scope, kind).await,
        };
        let scope = scope.to_owned();
        sqlite
            .call(move |conn| {
                let n = conn
                    .prepare_cached("DELETE FROM bucket_configs WHERE scope = ?1 AND kind = ?2")?
                    .execute(params![scope, kind.as_str()])?;
                Ok(n > 0)
            })
            .await
    }

    /// Every stored document of `kind`, by scope.
    pub async fn list_bucket_configs(
        &self,
        kind: ConfigKind,
    ) -> Result<Vec<BucketConfig>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::list_bucket_configs(p, kind).await,
        };
        sqlite
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM bucket_configs WHERE kind = ?1 ORDER BY scope"
                ))?;
                let rows = stmt.query_map(params![kind.as_str()], read(kind))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testdb::Target;
    use super::*;

    fn config(scope: &str, kind: ConfigKind, doc: &str) -> BucketConfig {
        BucketConfig {
            scope: scope.to_owned(),
            bucket: "b".to_owned(),
            kind,
            document: doc.to_owned(),
            access_key_id: "AKIA1".to_owned(),
            principal: "usr_1".to_owned(),
            updated_at: "2026-01-01T00:00:00.000Z".to_owned(),
        }
    }

    async fn configs_are_kept_per_scope_and_kind(target: Target) {
        let db = target.open().await;
        db.put_bucket_config(config("shr_1", ConfigKind::Lifecycle, "<a/>"))
            .await
            .unwrap();
        db.put_bucket_config(config("shr_1", ConfigKind::Cors, "<c/>"))
            .await
            .unwrap();
        db.put_bucket_config(config("shr_1/b", ConfigKind::Lifecycle, "<b/>"))
            .await
            .unwrap();
        // A second put replaces the first.
        db.put_bucket_config(config("shr_1", ConfigKind::Lifecycle, "<a2/>"))
            .await
            .unwrap();
        let by_name = db
            .find_bucket_config("b", ConfigKind::Cors)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (by_name.scope.as_str(), by_name.document.as_str()),
            ("shr_1", "<c/>")
        );
        assert!(
            db.find_bucket_config("nope", ConfigKind::Cors)
                .await
                .unwrap()
                .is_none()
        );
        // Another handle (another instance) sees them at once.
        let other = target.open().await;
        let got = other
            .get_bucket_config("shr_1", ConfigKind::Lifecycle)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.document, "<a2/>");
        assert!(
            other
                .get_bucket_config("shr_1", ConfigKind::Tagging)
                .await
                .unwrap()
                .is_none()
        );
        let all = other
            .list_bucket_configs(ConfigKind::Lifecycle)
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|c| c.scope.as_str()).collect::<Vec<_>>(),
            ["shr_1", "shr_1/b"]
        );
        assert!(
            other
                .delete_bucket_config("shr_1", ConfigKind::Lifecycle)
                .await
                .unwrap()
        );
        assert!(
            !db.delete_bucket_config("shr_1", ConfigKind::Lifecycle)
                .await
                .unwrap()
        );
        assert!(
            db.get_bucket_config("shr_1", ConfigKind::Cors)
                .await
                .unwrap()
                .is_some()
        );
    }

    both_backends! {
        bucket_configs_on => configs_are_kept_per_scope_and_kind;
    }
}
