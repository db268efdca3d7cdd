//! Object attributes: what ScaiDrive cannot hold for a file (ETag, Content-Type and other
//! standard headers, `x-amz-meta-*`, checksums, the client's mtime, WebDAV dead properties),
//! keyed by file id and valid only while the upstream file still has the size and
//! `modified_at` the entry was made for.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rusqlite::{params, params_from_iter};
use serde::{Deserialize, Serialize};

use super::attrs_cache::AttrsCache;
use super::{Backend, StateDb, StateError, pg};

/// Object attributes kept in memory at most (a listing of a 10,000-file folder keeps 10,000).
const ATTRS_CACHE_CAPACITY: usize = 200_000;

/// The attributes kept for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttrs {
    /// The ETag, without quotes (an MD5 hex, or `md5-N` for multipart).
    pub etag: String,
    /// `Content-Type` as the client sent it.
    pub content_type: Option<String>,
    /// Other standard headers (lower-case names): cache-control, content-disposition,
    /// content-encoding, content-language, expires.
    pub headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` (names lower-case, without the prefix).
    pub user_meta: BTreeMap<String, String>,
    /// Checksums by algorithm (`crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256`), base64.
    pub checksums: BTreeMap<String, String>,
    /// The client's modification time (RFC 3339), from rclone's `mtime` metadata, WebDAV
    /// `X-OC-Mtime` or PROPPATCH.
    pub client_mtime: Option<String>,
    /// WebDAV dead properties: `{namespace}name` → XML value.
    pub dead_props: BTreeMap<String, String>,
    /// The part sizes of an object written by a multipart upload, in part order (GET/HEAD
    /// `?partNumber=`); `None` for an object written whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_sizes: Option<Vec<u64>>,
}

/// A stored entry with what validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttrs {
    pub file_id: String,
    pub size: u64,
    /// Upstream `modified_at` (RFC 3339) the entry belongs to; `None` until first seen.
    pub modified_at: Option<String>,
    pub version_id: Option<String>,
    pub sha256: Option<String>,
    pub attrs: ObjectAttrs,
}

pub(super) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned())
}

/// The key under which the `headers` column also carries [`ObjectAttrs::part_sizes`] (a colon
/// cannot start a header name, so it meets no stored header). The schema stays as it is.
const PART_SIZES_KEY: &str = ":part-sizes";

/// The `headers` column: the stored headers and, for a multipart-written object, its part
/// sizes (comma-separated).
pub(super) fn headers_json(a: &ObjectAttrs) -> String {
    match &a.part_sizes {
        None => json(&a.headers),
        Some(sizes) => {
            let mut headers = a.headers.clone();
            let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
            headers.insert(PART_SIZES_KEY.to_owned(), list.join(","));
            json(&headers)
        }
    }
}

/// The `headers` column read back: the stored headers and the part sizes.
type SplitHeaders = (BTreeMap<String, String>, Option<Vec<u64>>);

/// The stored headers and the part sizes out of the `headers` column.
fn split_headers(text: &str) -> Result<SplitHeaders, StateError> {
    let mut headers: BTreeMap<String, String> = from_json("headers", text)?;
    let part_sizes = match headers.remove(PART_SIZES_KEY) {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|n| n.parse::<u64>())
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|e| StateError::BadValue {
                    column: "headers",
                    message: format!("part sizes: {e}"),
                })?,
        ),
    };
    Ok((headers, part_sizes))
}

fn from_json<T: for<'de> Deserialize<'de> + Default>(
    column: &'static str,
    text: &str,
) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::BadValue {
        column,
        message: e.to_string(),
    })
}

pub(super) type Row = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
);

pub(super) const COLUMNS: &str = "file_id, size, modified_at, version_id, sha256, etag, content_type, \
                       headers, user_meta, checksums, client_mtime, dead_props";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}

pub(super) fn decode(row: Row) -> Result<StoredAttrs, StateError> {
    let (file_id, size, modified_at, version_id, sha256, etag, content_type, h, m, c, mt, d) = row;
    let (headers, part_sizes) = split_headers(&h)?;
    Ok(StoredAttrs {
        file_id,
        size: u64::try_from(size).map_err(|_| StateError::BadValue {
            column: "size",
            message: "negative".into(),
        })?,
        modified_at,
        version_id,
        sha256,
        attrs: ObjectAttrs {
            etag,
            content_type,
            headers,
            part_sizes,
            user_meta: from_json("user_meta", &m)?,
            checksums: from_json("checksums", &c)?,
            client_mtime: mt,
            dead_props: from_json("dead_props", &d)?,
        },
    })
}

impl StateDb {
    /// Keeps attributes in memory for `ttl` (a hit costs no database round trip). Other
    /// processes sharing the database are seen once an entry expires.
    #[must_use]
    pub fn with_attrs_cache(mut self, ttl: Duration) -> Self {
        self.attrs = Some(AttrsCache::new(ttl, ATTRS_CACHE_CAPACITY));
        self
    }

    /// Stores (replaces) the attributes of a file.
    /// [`StateDb::put_attrs`] and [`StateDb::bump_share_generation`] of `key` with `change`, in
    /// one round trip and one transaction on PostgreSQL (the new generation); SQLite: the entry
    /// only, and 0.
    pub async fn put_attrs_and_bump(
        &self,
        entry: StoredAttrs,
        key: &str,
        change: &str,
    ) -> Result<u64, StateError> {
        let Backend::Postgres(p) = &self.backend else {
            self.put_attrs(entry).await?;
            return Ok(0);
        };
        let generation = pg::put_attrs_and_bump(p, &entry, key, change).await?;
        if let Some(c) = &self.attrs {
            c.write(|m| m.insert(entry.file_id.clone(), Some(entry)));
        }
        u64::try_from(generation).map_err(|_| StateError::BadValue {
            column: "generation",
            message: "negative".into(),
        })
    }

    pub async fn put_attrs(&self, entry: StoredAttrs) -> Result<(), StateError> {
        let cache = self.attrs.clone();
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                pg::put_attrs(p, &entry).await?;
                if let Some(c) = cache {
                    c.write(|m| m.insert(entry.file_id.clone(), Some(entry)));
                }
                return Ok(());
            }
        };
        sqlite
            .call(move |conn| {
                let a = &entry.attrs;
                conn.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO object_attrs ({COLUMNS}, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ))?
                .execute(params![
                    entry.file_id,
                    i64::try_from(entry.size).unwrap_or(i64::MAX),
                    entry.modified_at,
                    entry.version_id,
                    entry.sha256,
                    a.etag,
                    a.content_type,
                    headers_json(a),
                    json(&a.user_meta),
                    json(&a.checksums),
                    a.client_mtime,
                    json(&a.dead_props),
                    chrono::Utc::now().to_rfc3339(),
                ])?;
                if let Some(c) = cache {
                    c.apply(|m| m.insert(entry.file_id.clone(), Some(entry)));
                }
                Ok(())
            })
            .await
    }

    /// The stored attributes of one file.
    pub async fn get_attrs(&self, file_id: &str) -> Result<Option<StoredAttrs>, StateError> {
        Ok(self
            .get_attrs_many(vec![file_id.to_owned()])
            .await?
            .remove(file_id))
    }

    /// The stored attributes of many files in one query (listings never query per entry);
    /// from memory for the ids the attribute cache holds.
    pub async fn get_attrs_many(
        &self,
        file_ids: Vec<String>,
    ) -> Result<HashMap<String, StoredAttrs>, StateError> {
        let (mut out, missing) = match &self.attrs {
            Some(c) => c.get_many(file_ids),
            None => (HashMap::new(), file_ids),
        };
        if missing.is_empty() {
            return Ok(out);
        }
        out.extend(self.load_attrs(missing).await?);
        Ok(out)
    }

    /// The stored attributes of these files, read from the database (and cached again).
    pub async fn get_attrs_fresh(
        &self,
        file_ids: Vec<String>,
    ) -> Result<HashMap<String, StoredAttrs>, StateError> {
        if file_ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.load_attrs(file_ids).await
    }

    async fn load_attrs(
        &self,
        file_ids: Vec<String>,
    ) -> Result<HashMap<String, StoredAttrs>, StateError> {
        let cache = self.attrs.clone();
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                let before = cache.as_ref().map(AttrsCache::epoch);
                let out = pg::load_attrs(p, &file_ids).await?;
                if let (Some(c), Some(before)) = (cache, before) {
                    c.fill(file_ids, &out, Some(before));
                }
                return Ok(out);
            }
        };
        sqlite
            .call(move |conn| {
                let mut out = HashMap::new();
                // Per kind of id (`fil_`, `fld_`: a listing asks for files and folder markers),
                // first one range scan between the smallest and largest id, bounded to a few rows
                // per id asked: ids are ULIDs, so the files of one folder tend to be close, and a
                // listing of files written elsewhere (no entries) costs one index seek instead of
                // an `IN` list SQLite must first sort into a temporary index.
                let mut kinds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for id in &file_ids {
                    let kind = id.find('_').map_or("", |i| &id[..=i]);
                    kinds.entry(kind).or_default().push(id);
                }
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM object_attrs WHERE file_id BETWEEN ?1 AND ?2 \
                 ORDER BY file_id LIMIT ?3"
                ))?;
                let mut crowded: Vec<&str> = Vec::new();
                for ids in kinds.into_values() {
                    let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else {
                        continue;
                    };
                    let bound = ids.len().saturating_mul(2).saturating_add(16);
                    let rows = stmt
                        .query_map(
                            params![lo, hi, i64::try_from(bound).unwrap_or(i64::MAX)],
                            read_row,
                        )?
                        .collect::<Result<Vec<Row>, _>>()?;
                    if rows.len() >= bound {
                        // Too many other entries in between: look these ids up.
                        crowded.extend(ids);
                        continue;
                    }
                    if rows.is_empty() {
                        continue;
                    }
                    let wanted: std::collections::HashSet<&str> = ids.into_iter().collect();
                    for row in rows {
                        if wanted.contains(row.0.as_str()) {
                            let entry = decode(row)?;
                            out.insert(entry.file_id.clone(), entry);
                        }
                    }
                }
                // SQLite's default limit on bound parameters is 32766; stay well below.
                for chunk in crowded.chunks(500) {
                    let marks = vec!["?"; chunk.len()].join(",");
                    let mut stmt = conn.prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM object_attrs WHERE file_id IN ({marks})"
                    ))?;
                    let rows = stmt.query_map(params_from_iter(chunk.iter()), read_row)?;
                    for row in rows {
                        let entry = decode(row?)?;
                        out.insert(entry.file_id.clone(), entry);
                    }
                }
                if let Some(c) = cache {
                    c.fill(file_ids, &out, None);
                }
                Ok(out)
            })
            .await
    }

    /// Binds an entry written through the gateway to the upstream `modified_at` first seen for
    /// it (only while it is still unbound).
    pub async fn bind_attrs_modified_at(
        &self,
        file_id: &str,
        modified_at: &str,
    ) -> Result<(), StateError> {
        let id = file_id.to_owned();
        let m = modified_at.to_owned();
        let cache = self.attrs.clone();
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                pg::bind_attrs_modified_at(p, file_id, modified_at).await?;
                if let Some(c) = cache {
                    c.write(|m| m.invalidate(&id));
                }
                return Ok(());
            }
        };
        sqlite.call(move |conn| {
            conn.prepare_cached(
                "UPDATE object_attrs SET modified_at = ?2 WHERE file_id = ?1 AND modified_at IS NULL",
            )?
            .execute(params![id, m])?;
            if let Some(c) = cache {
                c.apply(|m| m.invalidate(&id));
            }
            Ok(())
        })
        .await
    }

    /// Forgets the attributes of a file (deleted, or overwritten elsewhere).
    pub async fn delete_attrs(&self, file_id: &str) -> Result<(), StateError> {
        let id = file_id.to_owned();
        let cache = self.attrs.clone();
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                pg::delete_attrs(p, file_id).await?;
                if let Some(c) = cache {
                    c.write(|m| m.insert(id, None));
                }
                return Ok(());
            }
        };
        sqlite
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM object_attrs WHERE file_id = ?1")?
                    .execute(params![id])?;
                if let Some(c) = cache {
                    c.apply(|m| m.insert(id, None));
                }
                Ok(())
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
        attrs_round_trip_and_bind_once_on => attrs_round_trip_and_bind_once;
        the_attribute_cache_follows_its_own_writes_and_rereads_on_demand_on =>
            the_attribute_cache_follows_its_own_writes_and_rereads_on_demand;
        many_attrs_are_found_by_range_and_among_crowded_neighbours_on =>
            many_attrs_are_found_by_range_and_among_crowded_neighbours;
    }

    async fn attrs_round_trip_and_bind_once(target: Target) {
        let db = target.open().await;
        let mut attrs = ObjectAttrs {
            etag: "0123".into(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        attrs.user_meta.insert("mtime".into(), "1700000000".into());
        attrs
            .headers
            .insert("cache-control".into(), "no-cache".into());
        // A multipart object's part sizes ride in the headers column and come back apart.
        attrs.part_sizes = Some(vec![5_242_880, 4]);
        db.put_attrs(StoredAttrs {
            file_id: "fil_1".into(),
            size: 5,
            modified_at: None,
            version_id: Some("ver_1".into()),
            sha256: None,
            attrs: attrs.clone(),
        })
        .await
        .unwrap();
        db.bind_attrs_modified_at("fil_1", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        db.bind_attrs_modified_at("fil_1", "2027-01-01T00:00:00Z")
            .await
            .unwrap();
        let got = db.get_attrs("fil_1").await.unwrap().unwrap();
        assert_eq!(got.modified_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(got.attrs, attrs);
        let many = db
            .get_attrs_many(vec!["fil_1".into(), "fil_2".into()])
            .await
            .unwrap();
        assert_eq!(many.len(), 1);
        db.delete_attrs("fil_1").await.unwrap();
        assert!(db.get_attrs("fil_1").await.unwrap().is_none());
    }

    async fn the_attribute_cache_follows_its_own_writes_and_rereads_on_demand(target: Target) {
        let a = target
            .open()
            .await
            .with_attrs_cache(Duration::from_secs(600));
        // Another process on the same database.
        let b = target.open().await;
        let entry = |etag: &str| StoredAttrs {
            file_id: "fil_1".into(),
            size: 1,
            modified_at: Some("2026-01-01T00:00:00Z".into()),
            version_id: None,
            sha256: None,
            attrs: ObjectAttrs {
                etag: etag.into(),
                ..Default::default()
            },
        };
        let etag_in =
            |m: HashMap<String, StoredAttrs>| m.get("fil_1").map(|e| e.attrs.etag.clone());

        assert!(a.get_attrs("fil_1").await.unwrap().is_none());
        b.put_attrs(entry("b1")).await.unwrap();
        // The absence is remembered (no database read) until asked for fresh...
        assert!(a.get_attrs("fil_1").await.unwrap().is_none());
        let fresh = a.get_attrs_fresh(vec!["fil_1".into()]).await.unwrap();
        assert_eq!(etag_in(fresh).as_deref(), Some("b1"));
        // ...which is remembered in turn.
        let many = a.get_attrs_many(vec!["fil_1".into()]).await.unwrap();
        assert_eq!(etag_in(many).as_deref(), Some("b1"));

        // This handle's own writes are seen at once, by it and in the database.
        a.put_attrs(entry("a1")).await.unwrap();
        assert_eq!(
            a.get_attrs("fil_1").await.unwrap().unwrap().attrs.etag,
            "a1"
        );
        assert_eq!(
            b.get_attrs("fil_1").await.unwrap().unwrap().attrs.etag,
            "a1"
        );
        a.delete_attrs("fil_1").await.unwrap();
        assert!(a.get_attrs("fil_1").await.unwrap().is_none());
        assert!(b.get_attrs("fil_1").await.unwrap().is_none());

        // Binding goes to the database and is read back from it.
        let mut unbound = entry("a2");
        unbound.modified_at = None;
        a.put_attrs(unbound).await.unwrap();
        a.bind_attrs_modified_at("fil_1", "2027-01-01T00:00:00Z")
            .await
            .unwrap();
        let got = a.get_attrs("fil_1").await.unwrap().unwrap();
        assert_eq!(got.modified_at.as_deref(), Some("2027-01-01T00:00:00Z"));
    }

    async fn many_attrs_are_found_by_range_and_among_crowded_neighbours(target: Target) {
        let db = target.open().await;
        let entry = |id: String| StoredAttrs {
            file_id: id.clone(),
            size: 1,
            modified_at: None,
            version_id: None,
            sha256: None,
            attrs: ObjectAttrs {
                etag: id,
                ..Default::default()
            },
        };
        // 100 files with entries, one folder marker, and (for the crowded case) 300 entries of
        // other files whose ids lie between the ones asked for.
        for i in 0..100 {
            db.put_attrs(entry(format!("fil_{:04}", i * 10)))
                .await
                .unwrap();
        }
        db.put_attrs(entry("fld_1".into())).await.unwrap();
        let asked = |ids: &[String]| {
            let mut ids = ids.to_vec();
            ids.extend([
                "fil_9999".into(),
                "fld_1".into(),
                "fld_2".into(),
                "x".into(),
            ]);
            ids
        };
        let even: Vec<String> = (0..100)
            .step_by(2)
            .map(|i| format!("fil_{:04}", i * 10))
            .collect();
        let check = |got: &HashMap<String, StoredAttrs>| {
            assert_eq!(got.len(), even.len() + 1, "{:?}", got.keys());
            assert!(even.iter().all(|id| got[id].attrs.etag == *id));
            assert_eq!(got["fld_1"].attrs.etag, "fld_1");
        };
        check(&db.get_attrs_many(asked(&even)).await.unwrap());
        for i in 0..300 {
            db.put_attrs(entry(format!("fil_{:04}", i * 3 + 1)))
                .await
                .unwrap();
        }
        check(&db.get_attrs_many(asked(&even)).await.unwrap());
    }
}
