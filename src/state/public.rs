//! Public links: the ScaiDrive external links the gateway made for S3 public access (an
//! AllUsers READ grant), with the bucket and key they serve and the credential anonymous
//! requests act for. Kept in the state database so every instance of a cluster serves them.

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::params;

use super::credentials::{parse_time, time_text};
use super::{Backend, StateDb, StateError, pg};

/// One gateway-made external link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicLink {
    /// ScaiDrive's link id (`lnk_…`).
    pub link_id: String,
    /// The bucket name as its creator addressed it (anonymous requests use the same).
    pub bucket: String,
    /// The object key (`object`), or the key prefix the link covers (`""`: the whole bucket).
    pub key: String,
    /// One object's link (its ACL); otherwise a bucket's or a prefix's.
    pub object: bool,
    /// Anonymous ListObjects of the bucket under `key` is served.
    pub list: bool,
    /// Anonymous GET/HEAD of the objects under `key` (or of the object `key`) is served.
    pub read: bool,
    pub share_id: String,
    /// `file`, `folder` or `share`.
    pub resource_type: String,
    pub resource_id: String,
    /// The access key whose ScaiDrive token anonymous requests use.
    pub access_key_id: String,
    /// Its ScaiDrive user.
    pub principal: String,
    /// When it was made (seconds).
    pub created_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "link_id, bucket, key, object, list, read, share_id, \
     resource_type, resource_id, access_key_id, principal, created_at";

/// A row with its time column not yet parsed.
pub(super) type RawLink = (PublicLink, String);

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawLink> {
    Ok((
        PublicLink {
            link_id: row.get(0)?,
            bucket: row.get(1)?,
            key: row.get(2)?,
            object: row.get::<_, i64>(3)? != 0,
            list: row.get::<_, i64>(4)? != 0,
            read: row.get::<_, i64>(5)? != 0,
            share_id: row.get(6)?,
            resource_type: row.get(7)?,
            resource_id: row.get(8)?,
            access_key_id: row.get(9)?,
            principal: row.get(10)?,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        },
        row.get(11)?,
    ))
}

/// Parses the time column read by [`from_row`].
pub(super) fn finish(row: RawLink) -> Result<PublicLink, StateError> {
    let (mut l, created_at) = row;
    l.created_at = parse_time("public_links.created_at", &created_at)?;
    Ok(l)
}

impl StateDb {
    /// Records a link the gateway made.
    pub async fn put_public_link(&self, link: &PublicLink) -> Result<(), StateError> {
        let mut l = link.clone();
        l.created_at = l.created_at.trunc_subsecs(0);
        let sqlite = match &self.backend {
            Backend::Sqlite(db) => db,
            Backend::Postgres(p) => return pg::put_public_link(p, &l).await,
        };
        sqlite
            .call(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT OR REPLACE INTO public_links ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                    ),
                    params![
                        l.link_id,
                        l.bucket,
                        l.key,
                        i64::from(l.object),
                        i64::from(l.list),
                        i64::from(l.read),
                        l.share_id,
                        l.resource_type,
                        l.resource_id,
                        l.access_key_id,
                        l.principal,
                        time_text(&l.created_at),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    /// The links recorded for a bucket name, oldest first.
    pub async fn public_links(&self, bucket: &str) -> Result<Vec<PublicLink>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(db) => db,
            Backend::Postgres(p) => return pg::public_links(p, bucket).await,
        };
        let bucket = bucket.to_owned();
        sqlite
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM public_links WHERE bucket = ?1 \
                     ORDER BY created_at, link_id"
                ))?;
                let rows = stmt
                    .query_map([bucket], from_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter().map(finish).collect()
            })
            .await
    }

    /// Forgets a link (made private, or found revoked in ScaiDrive). `true` when it was there.
    pub async fn delete_public_link(&self, link_id: &str) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(db) => db,
            Backend::Postgres(p) => return pg::delete_public_link(p, link_id).await,
        };
        let id = link_id.to_owned();
        sqlite
            .call(move |conn| {
                Ok(conn.execute("DELETE FROM public_links WHERE link_id = ?1", [id])? > 0)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::state::testdb::Target;

    fn link(id: &str, bucket: &str, key: &str, object: bool) -> PublicLink {
        PublicLink {
            link_id: id.to_owned(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            object,
            list: !object,
            read: object,
            share_id: "shr_1".to_owned(),
            resource_type: if object { "file" } else { "folder" }.to_owned(),
            resource_id: "fil_1".to_owned(),
            access_key_id: "AKIA1".to_owned(),
            principal: "usr_1".to_owned(),
            created_at: Utc::now().trunc_subsecs(0),
        }
    }

    both_backends! {
        public_links_round_trip_by_bucket_on => public_links_round_trip_by_bucket;
    }

    async fn public_links_round_trip_by_bucket(target: Target) {
        let db = target.open().await;
        let a = link("lnk_a", "photos", "cat.jpg", true);
        let b = link("lnk_b", "photos", "", false);
        let c = link("lnk_c", "other", "x", true);
        for l in [&a, &b, &c] {
            db.put_public_link(l).await.unwrap();
        }
        let mut got = db.public_links("photos").await.unwrap();
        got.sort_by(|x, y| x.link_id.cmp(&y.link_id));
        assert_eq!(got, vec![a.clone(), b.clone()]);
        assert!(db.delete_public_link("lnk_a").await.unwrap());
        assert!(!db.delete_public_link("lnk_a").await.unwrap());
        assert_eq!(db.public_links("photos").await.unwrap(), vec![b]);
        assert_eq!(db.public_links("none").await.unwrap(), vec![]);
    }
}
