//! Completed multipart uploads, kept a while after CompleteMultipartUpload so that a retried
//! Complete (a client whose first answer was lost), through any instance, gets the first
//! answer, and AbortMultipartUpload answers NoSuchUpload.

use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// A completed upload and the answer its Complete gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedUpload {
    pub upload_id: String,
    /// ScaiDrive user id of the initiator.
    pub principal: String,
    pub bucket: String,
    pub key: String,
    /// The object's ETag, unquoted.
    pub etag: String,
    pub version_id: Option<String>,
    /// Digest of the part list the object was made of (a retry must name the same parts).
    pub parts_digest: String,
    /// JSON owned by the front end (checksums of the answer).
    pub result: String,
    /// RFC 3339 UTC, milliseconds.
    pub completed_at: String,
}

pub(super) const COMPLETED_COLUMNS: &str =
    "upload_id, principal, bucket, key, etag, version_id, parts_digest, result, completed_at";

fn read_completed(r: &rusqlite::Row<'_>) -> rusqlite::Result<CompletedUpload> {
    Ok(CompletedUpload {
        upload_id: r.get(0)?,
        principal: r.get(1)?,
        bucket: r.get(2)?,
        key: r.get(3)?,
        etag: r.get(4)?,
        version_id: r.get(5)?,
        parts_digest: r.get(6)?,
        result: r.get(7)?,
        completed_at: r.get(8)?,
    })
}

impl StateDb {
    /// Records a completed upload and forgets the upload and its parts, in one transaction;
    /// records completed before `expired_before` (RFC 3339) are dropped on the way. True when
    /// the upload still existed.
    pub async fn finish_upload(
        &self,
        done: CompletedUpload,
        expired_before: &str,
    ) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::finish_upload(p, &done, expired_before).await,
        };
        let cutoff = expired_before.to_owned();
        sqlite
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "DELETE FROM multipart_completed WHERE completed_at < ?1",
                    params![cutoff],
                )?;
                tx.execute(
                    &format!(
                        "INSERT OR REPLACE INTO multipart_completed ({COMPLETED_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                    ),
                    params![
                        done.upload_id,
                        done.principal,
                        done.bucket,
                        done.key,
                        done.etag,
                        done.version_id,
                        done.parts_digest,
                        done.result,
                        done.completed_at
                    ],
                )?;
                tx.execute(
                    "DELETE FROM multipart_parts WHERE upload_id = ?1",
                    params![done.upload_id],
                )?;
                let n = tx.execute(
                    "DELETE FROM multipart_uploads WHERE upload_id = ?1",
                    params![done.upload_id],
                )?;
                tx.commit()?;
                Ok(n > 0)
            })
            .await
    }

    /// The completed upload, if it completed at or after `not_before` (RFC 3339).
    pub async fn get_completed(
        &self,
        upload_id: &str,
        not_before: &str,
    ) -> Result<Option<CompletedUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::get_completed(p, upload_id, not_before).await,
        };
        let (id, cutoff) = (upload_id.to_owned(), not_before.to_owned());
        sqlite
            .call(move |c| {
                Ok(c.query_row(
                    &format!(
                        "SELECT {COMPLETED_COLUMNS} FROM multipart_completed \
                         WHERE upload_id = ?1 AND completed_at >= ?2"
                    ),
                    params![id, cutoff],
                    read_completed,
                )
                .optional()?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::MultipartUpload;

    fn done(id: &str, at: &str) -> CompletedUpload {
        CompletedUpload {
            upload_id: id.into(),
            principal: "usr_1".into(),
            bucket: "b".into(),
            key: "k".into(),
            etag: "abc-2".into(),
            version_id: Some("ver_1".into()),
            parts_digest: "d".into(),
            result: "{}".into(),
            completed_at: at.into(),
        }
    }

    both_backends! {
        finishing_an_upload_keeps_its_answer_until_it_expires_on =>
            finishing_an_upload_keeps_its_answer_until_it_expires;
    }

    async fn finishing_an_upload_keeps_its_answer_until_it_expires(
        target: crate::state::testdb::Target,
    ) {
        let db = target.open().await;
        db.create_upload(MultipartUpload {
            upload_id: "u1".into(),
            access_key_id: "AK".into(),
            principal: "usr_1".into(),
            bucket: "b".into(),
            key: "k".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            attrs: "{}".into(),
        })
        .await
        .unwrap();
        let old = "2026-01-01T00:00:00.000Z";
        assert!(!db.finish_upload(done("u0", old), old).await.unwrap());
        let at = "2026-01-01T01:00:00.000Z";
        assert!(db.finish_upload(done("u1", at), old).await.unwrap());
        assert!(db.get_upload("u1").await.unwrap().is_none());
        assert_eq!(
            db.get_completed("u1", old).await.unwrap(),
            Some(done("u1", at))
        );
        assert!(
            db.get_completed("u1", "2026-01-01T02:00:00.000Z")
                .await
                .unwrap()
                .is_none()
        );
        // Finishing another upload later drops the expired record.
        assert!(db.get_completed("u0", old).await.unwrap().is_some());
        db.finish_upload(done("u2", at), at).await.unwrap();
        assert!(db.get_completed("u0", "").await.unwrap().is_none());
        assert!(db.get_completed("u1", "").await.unwrap().is_some());
    }
}
