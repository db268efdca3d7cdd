//! Nextcloud chunked uploads over WebDAV: each upload collection (by user and name), the
//! ScaiDrive upload session it feeds, and the chunks it has received, so an upload continues
//! through any instance and after a restart (`webdav/chunked/`).

use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// An upload collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedUpload {
    /// ScaiDrive user id of the uploader.
    pub principal: String,
    /// The collection's name (`/remote.php/dav/uploads/<user>/<upload>`).
    pub upload: String,
    /// Target path below the WebDAV root, decoded segments joined by `/`, once known.
    pub destination: Option<String>,
    /// The file's length (`OC-Total-Length`), once known.
    pub total_length: Option<u64>,
    /// The ScaiDrive upload session, once created.
    pub session_id: Option<String>,
    /// Upstream chunk size (the session's, or the one it will ask for).
    pub chunk_size: u64,
    /// The file the session makes a new version of.
    pub replace_file_id: Option<String>,
    /// RFC 3339 UTC, milliseconds.
    pub created_at: String,
    /// RFC 3339 UTC, milliseconds: the last chunk or change.
    pub updated_at: String,
}

/// A chunk received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChunk {
    pub name: String,
    /// Where it starts in the file (`None`: not known until the chunks before it arrive).
    pub offset: Option<u64>,
    pub size: u64,
    /// RFC 3339 UTC, milliseconds.
    pub created_at: String,
    /// Where the chunk's held pieces live when they are kept in ScaiDrive (a JSON document
    /// owned by `webdav/chunked/`); `None`: on the local disk, or nothing held.
    pub staged: Option<String>,
}

pub(super) const UPLOAD_COLUMNS: &str = "principal, upload, destination, total_length, session_id, \
     chunk_size, replace_file_id, created_at, updated_at";
pub(super) const CHUNK_COLUMNS: &str = "name, byte_offset, size, created_at, staged";

fn to_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Builds an upload from its columns in [`UPLOAD_COLUMNS`] order.
#[allow(clippy::too_many_arguments)]
pub(super) fn upload_of(
    principal: String,
    upload: String,
    destination: Option<String>,
    total_length: Option<i64>,
    session_id: Option<String>,
    chunk_size: i64,
    replace_file_id: Option<String>,
    created_at: String,
    updated_at: String,
) -> ChunkedUpload {
    ChunkedUpload {
        principal,
        upload,
        destination,
        total_length: to_u64(total_length),
        session_id,
        chunk_size: u64::try_from(chunk_size).unwrap_or(0),
        replace_file_id,
        created_at,
        updated_at,
    }
}

pub(super) fn chunk_of(
    name: String,
    offset: Option<i64>,
    size: i64,
    created_at: String,
    staged: Option<String>,
) -> UploadChunk {
    UploadChunk {
        name,
        offset: to_u64(offset),
        size: u64::try_from(size).unwrap_or(0),
        created_at,
        staged,
    }
}

fn read_upload(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChunkedUpload> {
    Ok(upload_of(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn read_chunk(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadChunk> {
    Ok(chunk_of(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
    ))
}

impl StateDb {
    /// Creates or replaces an upload collection (its chunks stay).
    pub async fn put_chunked_upload(&self, u: &ChunkedUpload) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::put_chunked_upload(p, u).await,
        };
        let u = u.clone();
        sqlite
            .call(move |c| {
                c.execute(
                    &format!(
                        "INSERT INTO webdav_uploads ({UPLOAD_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                         ON CONFLICT (principal, upload) DO UPDATE SET \
                         destination = excluded.destination, \
                         total_length = excluded.total_length, \
                         session_id = excluded.session_id, chunk_size = excluded.chunk_size, \
                         replace_file_id = excluded.replace_file_id, \
                         updated_at = excluded.updated_at"
                    ),
                    params![
                        u.principal,
                        u.upload,
                        u.destination,
                        u.total_length.map(to_i64),
                        u.session_id,
                        to_i64(u.chunk_size),
                        u.replace_file_id,
                        u.created_at,
                        u.updated_at
                    ],
                )?;
                Ok(())
            })
            .await
    }

    /// The upload collection `upload` of `principal`.
    pub async fn get_chunked_upload(
        &self,
        principal: &str,
        upload: &str,
    ) -> Result<Option<ChunkedUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::get_chunked_upload(p, principal, upload).await,
        };
        let (p, u) = (principal.to_owned(), upload.to_owned());
        sqlite
            .call(move |c| {
                Ok(c.query_row(
                    &format!(
                        "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads \
                         WHERE principal = ?1 AND upload = ?2"
                    ),
                    params![p, u],
                    read_upload,
                )
                .optional()?)
            })
            .await
    }

    /// Forgets an upload collection and its chunks. True when it existed.
    pub async fn delete_chunked_upload(
        &self,
        principal: &str,
        upload: &str,
    ) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_chunked_upload(p, principal, upload).await,
        };
        let (p, u) = (principal.to_owned(), upload.to_owned());
        sqlite
            .call(move |c| {
                let n = c.execute(
                    "DELETE FROM webdav_uploads WHERE principal = ?1 AND upload = ?2",
                    params![p, u],
                )?;
                Ok(n > 0)
            })
            .await
    }

    /// Records a received chunk (a chunk of the same name is replaced) and marks the upload as
    /// active at `chunk.created_at`.
    pub async fn put_upload_chunk(
        &self,
        principal: &str,
        upload: &str,
        chunk: &UploadChunk,
    ) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::put_upload_chunk(p, principal, upload, chunk).await,
        };
        let (p, u, ch) = (principal.to_owned(), upload.to_owned(), chunk.clone());
        sqlite
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    &format!(
                        "INSERT OR REPLACE INTO webdav_upload_chunks \
                         (principal, upload, {CHUNK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    ),
                    params![
                        p,
                        u,
                        ch.name,
                        ch.offset.map(to_i64),
                        to_i64(ch.size),
                        ch.created_at,
                        ch.staged
                    ],
                )?;
                tx.execute(
                    "UPDATE webdav_uploads SET updated_at = ?3 WHERE principal = ?1 AND upload = ?2",
                    params![p, u, ch.created_at],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Forgets one chunk (its body failed).
    pub async fn delete_upload_chunk(
        &self,
        principal: &str,
        upload: &str,
        name: &str,
    ) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                return pg::delete_upload_chunk(p, principal, upload, name).await;
            }
        };
        let (p, u, n) = (principal.to_owned(), upload.to_owned(), name.to_owned());
        sqlite
            .call(move |c| {
                c.execute(
                    "DELETE FROM webdav_upload_chunks \
                     WHERE principal = ?1 AND upload = ?2 AND name = ?3",
                    params![p, u, n],
                )?;
                Ok(())
            })
            .await
    }

    /// The chunks an upload has received, by name.
    pub async fn upload_chunks(
        &self,
        principal: &str,
        upload: &str,
    ) -> Result<Vec<UploadChunk>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::upload_chunks(p, principal, upload).await,
        };
        let (p, u) = (principal.to_owned(), upload.to_owned());
        sqlite
            .call(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {CHUNK_COLUMNS} FROM webdav_upload_chunks \
                     WHERE principal = ?1 AND upload = ?2 ORDER BY name"
                ))?;
                let rows = stmt
                    .query_map(params![p, u], read_chunk)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
    }

    /// The upload collections of `principal`, by name.
    pub async fn chunked_uploads_of(
        &self,
        principal: &str,
    ) -> Result<Vec<ChunkedUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::chunked_uploads_of(p, principal).await,
        };
        let p = principal.to_owned();
        sqlite
            .call(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads WHERE principal = ?1 \
                     ORDER BY upload"
                ))?;
                let rows = stmt
                    .query_map(params![p], read_upload)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
    }

    /// Upload collections with no activity since `cutoff` (RFC 3339), for the sweeper.
    pub async fn chunked_uploads_idle_since(
        &self,
        cutoff: &str,
    ) -> Result<Vec<ChunkedUpload>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::chunked_uploads_idle_since(p, cutoff).await,
        };
        let cutoff = cutoff.to_owned();
        sqlite
            .call(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {UPLOAD_COLUMNS} FROM webdav_uploads WHERE updated_at < ?1"
                ))?;
                let rows = stmt
                    .query_map(params![cutoff], read_upload)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::state::testdb::Target;

    fn upload(name: &str, at: &str) -> ChunkedUpload {
        ChunkedUpload {
            principal: "usr_1".into(),
            upload: name.into(),
            destination: Some("Docs/big.bin".into()),
            total_length: Some(10 << 20),
            session_id: None,
            chunk_size: 4 << 20,
            replace_file_id: None,
            created_at: at.into(),
            updated_at: at.into(),
        }
    }

    fn chunk(name: &str, offset: Option<u64>, at: &str) -> UploadChunk {
        UploadChunk {
            name: name.into(),
            offset,
            size: 1 << 20,
            created_at: at.into(),
            staged: None,
        }
    }

    async fn round_trip(target: Target) {
        let db = target.open().await;
        let t0 = "2026-12-01T10:00:00.000Z";
        db.put_chunked_upload(&upload("u1", t0)).await.unwrap();
        db.put_chunked_upload(&upload("u2", t0)).await.unwrap();
        let mut u = db.get_chunked_upload("usr_1", "u1").await.unwrap().unwrap();
        assert_eq!(u, upload("u1", t0));
        assert!(
            db.get_chunked_upload("usr_2", "u1")
                .await
                .unwrap()
                .is_none()
        );

        u.session_id = Some("ses_1".into());
        db.put_chunked_upload(&u).await.unwrap();
        let t1 = "2026-12-01T11:00:00.000Z";
        db.put_upload_chunk("usr_1", "u1", &chunk("00002", None, t1))
            .await
            .unwrap();
        db.put_upload_chunk("usr_1", "u1", &chunk("00001", Some(0), t1))
            .await
            .unwrap();
        db.put_upload_chunk("usr_1", "u1", &chunk("00002", Some(1 << 20), t1))
            .await
            .unwrap();
        db.put_upload_chunk("usr_1", "u1", &chunk("00003", None, t1))
            .await
            .unwrap();
        db.delete_upload_chunk("usr_1", "u1", "00003")
            .await
            .unwrap();
        let chunks = db.upload_chunks("usr_1", "u1").await.unwrap();
        assert_eq!(
            chunks,
            vec![
                chunk("00001", Some(0), t1),
                chunk("00002", Some(1 << 20), t1)
            ]
        );
        let got = db.get_chunked_upload("usr_1", "u1").await.unwrap().unwrap();
        assert_eq!(got.session_id.as_deref(), Some("ses_1"));
        assert_eq!(got.updated_at, t1);

        let mine = db.chunked_uploads_of("usr_1").await.unwrap();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].upload, "u1");
        assert!(db.chunked_uploads_of("usr_2").await.unwrap().is_empty());
        let idle = db
            .chunked_uploads_idle_since("2026-12-01T10:30:00.000Z")
            .await
            .unwrap();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].upload, "u2");

        assert!(db.delete_chunked_upload("usr_1", "u1").await.unwrap());
        assert!(!db.delete_chunked_upload("usr_1", "u1").await.unwrap());
        assert!(db.upload_chunks("usr_1", "u1").await.unwrap().is_empty());
    }

    both_backends! {
        chunked_uploads_round_trip => round_trip;
    }
}
