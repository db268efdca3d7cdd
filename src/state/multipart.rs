//! The S3 multipart index: uploads in progress and their parts (spooled on disk or staged as
//! ScaiDrive files by the S3 front end), so ListParts / ListMultipartUploads and Complete work
//! across restarts and instances.

use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub access_key_id: String,
    /// ScaiDrive user id of the initiator.
    pub principal: String,
    pub bucket: String,
    pub key: String,
    /// RFC 3339.
    pub created_at: String,
    /// JSON owned by the front end (object attributes, checksum algorithm).
    pub attrs: String,
}

/// A stored part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartPart {
    pub part_number: u32,
    pub size: u64,
    /// MD5 hex of the part.
    pub etag: String,
    /// JSON: algorithm → base64 value.
    pub checksums: String,
    /// The local spool file (empty when the part is staged in ScaiDrive).
    pub spool_path: String,
    /// RFC 3339.
    pub created_at: String,
    /// The ScaiDrive staging file holding the part (`None`: the part is in `spool_path`).
    pub file_id: Option<String>,
}

/// Where a replaced part was kept: (spool path, staging file id).
pub type PartLocation = (String, Option<String>);

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn read_upload(r: &rusqlite::Row<'_>) -> rusqlite::Result<MultipartUpload> {
    Ok(MultipartUpload {
        upload_id: r.get(0)?,
        access_key_id: r.get(1)?,
        principal: r.get(2)?,
        bucket: r.get(3)?,
        key: r.get(4)?,
        created_at: r.get(5)?,
        attrs: r.get(6)?,
    })
}

pub(super) const UPLOAD_COLUMNS: &str =
    "upload_id, access_key_id, principal, bucket, key, created_at, attrs";

impl StateDb {
    /// Records a new upload.
    pub async fn create_upload(&self, u: MultipartUpload) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::create_upload(p, &u).await,
        };
        sqlite.call(move |c| {
            c.execute(
                &format!("INSERT INTO multipart_uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![u.upload_id, u.access_key_id, u.principal, u.bucket, u.key, u.created_at, u.attrs],
            )?;
            Ok(())
        })
        .await
    }

    /// One upload.
    pub async fn get_upload(&self, upload_id: &str) -> Result<Option<MultipartUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::get_upload(p, upload_id).await,
        };
        let id = upload_id.to_owned();
        sqlite
            .call(move |c| {
                Ok(c.query_row(
                    &format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?1"),
                    params![id],
                    read_upload,
                )
                .optional()?)
            })
            .await
    }

    /// A user's uploads in a bucket, by key then creation time.
    pub async fn list_uploads(
        &self,
        principal: &str,
        bucket: &str,
    ) -> Result<Vec<MultipartUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::list_uploads(p, principal, bucket).await,
        };
        let (p, b) = (principal.to_owned(), bucket.to_owned());
        sqlite.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE principal = ?1 AND bucket = ?2 \
                 ORDER BY key, created_at, upload_id"
            ))?;
            let rows = stmt.query_map(params![p, b], read_upload)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Uploads created before `cutoff` (RFC 3339), for clean-up.
    pub async fn uploads_created_before(
        &self,
        cutoff: &str,
    ) -> Result<Vec<MultipartUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::uploads_created_before(p, cutoff).await,
        };
        let cutoff = cutoff.to_owned();
        sqlite
            .call(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE created_at < ?1"
                ))?;
                let rows = stmt.query_map(params![cutoff], read_upload)?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// Records (or replaces, for a retried part) a part; returns where the part it replaced
    /// was kept.
    pub async fn put_part(
        &self,
        upload_id: &str,
        part: MultipartPart,
    ) -> Result<Option<PartLocation>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::put_part(p, upload_id, &part).await,
        };
        let id = upload_id.to_owned();
        sqlite.call(move |c| {
            let tx = c.transaction()?;
            let old: Option<PartLocation> = tx
                .query_row(
                    "SELECT spool_path, file_id FROM multipart_parts WHERE upload_id = ?1 AND part_number = ?2",
                    params![id, part.part_number],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO multipart_parts \
                 (upload_id, part_number, size, etag, checksums, spool_path, created_at, file_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    part.part_number,
                    to_i64(part.size),
                    part.etag,
                    part.checksums,
                    part.spool_path,
                    part.created_at,
                    part.file_id
                ],
            )?;
            tx.commit()?;
            Ok(old)
        })
        .await
    }

    /// The parts of an upload, by part number.
    pub async fn list_parts(&self, upload_id: &str) -> Result<Vec<MultipartPart>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::list_parts(p, upload_id).await,
        };
        let id = upload_id.to_owned();
        sqlite
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT part_number, size, etag, checksums, spool_path, created_at, file_id \
                 FROM multipart_parts WHERE upload_id = ?1 ORDER BY part_number",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    let size: i64 = r.get(1)?;
                    Ok(MultipartPart {
                        part_number: r.get(0)?,
                        size: u64::try_from(size).unwrap_or(0),
                        etag: r.get(2)?,
                        checksums: r.get(3)?,
                        spool_path: r.get(4)?,
                        created_at: r.get(5)?,
                        file_id: r.get(6)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// Forgets an upload and its parts; true when it existed.
    pub async fn delete_upload(&self, upload_id: &str) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_upload(p, upload_id).await,
        };
        let id = upload_id.to_owned();
        sqlite
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "DELETE FROM multipart_parts WHERE upload_id = ?1",
                    params![id],
                )?;
                let n = tx.execute(
                    "DELETE FROM multipart_uploads WHERE upload_id = ?1",
                    params![id],
                )?;
                tx.commit()?;
                Ok(n > 0)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn upload(id: &str, created: &str) -> MultipartUpload {
        MultipartUpload {
            upload_id: id.into(),
            access_key_id: "AK".into(),
            principal: "usr_1".into(),
            bucket: "b".into(),
            key: "k".into(),
            created_at: created.into(),
            attrs: "{}".into(),
        }
    }

    fn part(n: u32, path: &str) -> MultipartPart {
        MultipartPart {
            part_number: n,
            size: 5,
            etag: "e".into(),
            checksums: "{}".into(),
            spool_path: path.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            file_id: None,
        }
    }

    both_backends! {
        uploads_and_parts_survive_reopening_and_retries_replace_parts_on =>
            uploads_and_parts_survive_reopening_and_retries_replace_parts;
    }

    async fn uploads_and_parts_survive_reopening_and_retries_replace_parts(
        target: crate::state::testdb::Target,
    ) {
        let db = target.open().await;
        db.create_upload(upload("u1", "2026-01-01T00:00:00Z"))
            .await
            .unwrap();
        db.create_upload(upload("u2", "2026-03-01T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(db.put_part("u1", part(2, "/a")).await.unwrap(), None);
        assert_eq!(db.put_part("u1", part(1, "/b")).await.unwrap(), None);
        assert_eq!(
            db.put_part("u1", part(2, "/c")).await.unwrap(),
            Some(("/a".to_owned(), None))
        );
        let staged = MultipartPart {
            spool_path: String::new(),
            file_id: Some("fil_3".into()),
            ..part(3, "")
        };
        assert_eq!(db.put_part("u1", staged.clone()).await.unwrap(), None);
        assert_eq!(
            db.put_part("u1", part(3, "/d")).await.unwrap(),
            Some((String::new(), Some("fil_3".to_owned())))
        );
        assert_eq!(
            db.put_part("u1", staged).await.unwrap(),
            Some(("/d".to_owned(), None))
        );
        drop(db);
        let db = target.open().await;
        let parts = db.list_parts("u1").await.unwrap();
        assert_eq!(
            parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(parts[1].spool_path, "/c");
        assert_eq!(parts[2].file_id.as_deref(), Some("fil_3"));
        assert_eq!(db.list_uploads("usr_1", "b").await.unwrap().len(), 2);
        let old = db
            .uploads_created_before("2026-02-01T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(old.len(), 1);
        assert!(db.delete_upload("u1").await.unwrap());
        assert!(!db.delete_upload("u1").await.unwrap());
        assert!(db.list_parts("u1").await.unwrap().is_empty());
        assert!(db.get_upload("u2").await.unwrap().is_some());
    }
}
