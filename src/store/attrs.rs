//! Object attributes and ETags, the same for both front ends (design §5).
//!
//! A file written through the gateway has an entry in the state DB (ETag = MD5 of the body,
//! headers, user metadata, checksums, client mtime). The entry is trusted only while the
//! upstream file has the size and `modified_at` it was made for: the gateway writes it before
//! it knows the upstream `modified_at` (the upload answer does not carry it), so the first
//! listing that shows the file binds it. A file changed elsewhere no longer matches and gets
//! the opaque ETag instead.

use std::collections::HashMap;

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

use super::error::db_error;
use super::{FileInfo, Store, StoreResult};
use crate::scaidrive::Timestamp;
use crate::state::{ObjectAttrs, StoredAttrs};

/// The text form of an upstream timestamp used to validate entries.
pub(crate) fn stamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The ETag of a file no gateway wrote (or changed elsewhere since): stable for one upstream
/// version, derived from (file id, modified_at, size), and ending in `-1` so that SDKs do not
/// take it for an MD5 of the content.
///
/// Listings compute one per file and page, so this writes the time and the hex digits itself
/// (no allocation but the result); the value is the same as `stamp` and `hex::encode` give.
pub fn opaque_etag(file: &FileInfo) -> String {
    let mut h = Sha256::new();
    h.update(file.id.as_bytes());
    h.update([0]);
    if let Some(m) = &file.modified_at {
        let mut buf = [0u8; 20];
        match stamp_into(m, &mut buf) {
            Some(text) => h.update(text),
            None => h.update(stamp(m).as_bytes()),
        }
    }
    h.update([0]);
    h.update(file.size.to_le_bytes());
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(34);
    for b in &digest[..16] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push_str("-1");
    out
}

/// `stamp(t)` written into `buf` (`YYYY-MM-DDTHH:MM:SSZ`), for years 0–9999 outside leap
/// seconds; `None` otherwise (the caller falls back to `stamp`).
fn stamp_into<'a>(t: &Timestamp, buf: &'a mut [u8; 20]) -> Option<&'a [u8]> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    if t.nanosecond() >= 1_000_000_000 {
        return None;
    }
    let two = |v: u32| [b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8];
    let [y1, y2] = two(year / 100);
    let [y3, y4] = two(year);
    let [mo1, mo2] = two(t.month());
    let [d1, d2] = two(t.day());
    let [h1, h2] = two(t.hour());
    let [mi1, mi2] = two(t.minute());
    let [s1, s2] = two(t.second());
    *buf = [
        y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2,
        b'Z',
    ];
    Some(&buf[..])
}

impl Store {
    /// The valid attributes of these files, in one state-DB query. Entries written through the
    /// gateway and not yet bound are bound to the listing's `modified_at` here.
    pub async fn attrs_for(
        &self,
        files: &[&FileInfo],
    ) -> StoreResult<HashMap<String, ObjectAttrs>> {
        Ok(self
            .entries_for(files)
            .await?
            .into_iter()
            .map(|(id, e)| (id, e.attrs))
            .collect())
    }

    /// The valid state-DB entries of these files (attributes plus the upstream version id and
    /// checksum recorded by the write that made them), bound as [`Store::attrs_for`] says.
    async fn entries_for(&self, files: &[&FileInfo]) -> StoreResult<HashMap<String, StoredAttrs>> {
        let ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
        let mut stored = self.inner.db.get_attrs_many(ids).await.map_err(db_error)?;
        // An entry kept in memory that no longer matches the file may be out of date (another
        // instance sharing the database wrote the file since): read those again.
        let stale: Vec<String> = files
            .iter()
            .filter(|f| stored.get(&f.id).is_some_and(|e| !self.matches(f, e)))
            .map(|f| f.id.clone())
            .collect();
        if !stale.is_empty() {
            stored.extend(
                self.inner
                    .db
                    .get_attrs_fresh(stale)
                    .await
                    .map_err(db_error)?,
            );
        }
        let mut out = HashMap::with_capacity(stored.len());
        for file in files {
            let Some(entry) = stored.get(&file.id) else {
                continue;
            };
            if entry.size != file.size {
                continue;
            }
            // The gateway's own estimate right after a write validates nothing and binds nothing.
            if self.is_provisional(file) {
                out.insert(file.id.clone(), entry.clone());
                continue;
            }
            let listed = file.modified_at.as_ref().map(stamp);
            match (&entry.modified_at, &listed) {
                (Some(bound), Some(seen)) if bound == seen => {}
                (None, Some(seen)) => {
                    self.inner
                        .db
                        .bind_attrs_modified_at(&file.id, seen)
                        .await
                        .map_err(db_error)?;
                }
                (None, None) => {}
                _ => continue,
            }
            out.insert(file.id.clone(), entry.clone());
        }
        Ok(out)
    }

    /// Whether a stored entry may belong to the file as listed (the checks of
    /// [`Store::attrs_for`], binding aside).
    fn matches(&self, file: &FileInfo, entry: &StoredAttrs) -> bool {
        if entry.size != file.size {
            return false;
        }
        if self.is_provisional(file) {
            return true;
        }
        match (&entry.modified_at, &file.modified_at) {
            (Some(bound), Some(seen)) => *bound == stamp(seen),
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    /// The valid attributes of one file.
    pub async fn attrs_of(&self, file: &FileInfo) -> StoreResult<Option<ObjectAttrs>> {
        Ok(self.attrs_for(&[file]).await?.remove(&file.id))
    }

    /// The valid attributes of one file and the ScaiDrive version id (`ver_…`) of its current
    /// version when the gateway knows it without asking upstream: the file was written, copied
    /// or moved through the gateway and has not changed elsewhere since.
    pub async fn attrs_and_version_of(
        &self,
        file: &FileInfo,
    ) -> StoreResult<(Option<ObjectAttrs>, Option<String>)> {
        Ok(match self.entries_for(&[file]).await?.remove(&file.id) {
            Some(e) => (Some(e.attrs), e.version_id),
            None => (None, None),
        })
    }

    /// The ETag (unquoted) of a file: the stored one while valid, else the opaque one.
    pub fn etag(file: &FileInfo, attrs: Option<&ObjectAttrs>) -> String {
        match attrs {
            Some(a) if !a.etag.is_empty() => a.etag.clone(),
            _ => opaque_etag(file),
        }
    }

    /// Records attributes for a file of `share_id` as it is upstream now, and tells other
    /// instances (see `coherence.rs`).
    #[allow(clippy::too_many_arguments)] // reason: the stored entry's fields, named at call sites
    pub async fn record_attrs(
        &self,
        share_id: &str,
        file_id: &str,
        size: u64,
        modified_at: Option<&Timestamp>,
        version_id: Option<String>,
        sha256: Option<String>,
        attrs: ObjectAttrs,
    ) -> StoreResult<()> {
        let entry = StoredAttrs {
            file_id: file_id.to_owned(),
            size,
            modified_at: modified_at.map(stamp),
            version_id,
            sha256,
            attrs,
        };
        let change = super::coherence::ShareChange::anonymous().attrs(file_id);
        self.store_and_publish(share_id, entry, change).await
    }

    /// Updates only the attributes (metadata replaced in place, WebDAV PROPPATCH) of a file in
    /// `share_id` whose entry is valid now; a file without one gets an entry with its opaque ETag.
    pub async fn update_attrs(
        &self,
        share_id: &str,
        file: &FileInfo,
        change: impl FnOnce(&mut ObjectAttrs),
    ) -> StoreResult<ObjectAttrs> {
        let entry = self.entries_for(&[file]).await?.remove(&file.id);
        // The file's content is unchanged: keep what the entry knows about its version.
        let (version_id, sha256) = entry
            .as_ref()
            .map_or((None, None), |e| (e.version_id.clone(), e.sha256.clone()));
        let mut attrs = entry.map(|e| e.attrs).unwrap_or_else(|| ObjectAttrs {
            etag: opaque_etag(file),
            ..ObjectAttrs::default()
        });
        change(&mut attrs);
        // A provisional `modified_at` is not ScaiDrive's: leave the entry to be bound by the
        // next listing fetched from upstream.
        let modified_at = match self.is_provisional(file) {
            true => None,
            false => file.modified_at.as_ref(),
        };
        self.record_attrs(
            share_id,
            &file.id,
            file.size,
            modified_at,
            version_id,
            sha256,
            attrs.clone(),
        )
        .await?;
        Ok(attrs)
    }

    pub(crate) async fn forget_attrs(&self, file_id: &str) {
        if let Err(e) = self.inner.db.delete_attrs(file_id).await {
            tracing::warn!(error = %e, file_id, "could not drop object attributes");
        }
    }

    /// After a rename or move (which changes upstream `modified_at`), moves a valid entry to the
    /// new `modified_at`.
    pub(crate) async fn rebind_attrs(
        &self,
        before: Option<ObjectAttrs>,
        after: &crate::scaidrive::File,
    ) {
        if let Some(attrs) = before {
            let res = self
                .inner
                .db
                .put_attrs(StoredAttrs {
                    file_id: after.id.clone(),
                    size: after.size,
                    modified_at: after.modified_at.as_ref().map(stamp),
                    version_id: after.version_id.clone(),
                    sha256: after.checksum_sha256.clone(),
                    attrs,
                })
                .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "could not carry object attributes over a move");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The opaque ETag as first defined: it must never change for a given file version.
    fn reference(file: &FileInfo) -> String {
        let mut h = Sha256::new();
        h.update(file.id.as_bytes());
        h.update([0]);
        if let Some(m) = &file.modified_at {
            h.update(stamp(m).as_bytes());
        }
        h.update([0]);
        h.update(file.size.to_le_bytes());
        format!("{}-1", hex::encode(&h.finalize()[..16]))
    }

    #[test]
    fn opaque_etags_keep_their_values() {
        use chrono::{TimeZone, Timelike};
        let at = |y: i32, mo: u32, d: u32, h: u32, mi: u32, sec: u32, nano: u32| {
            chrono::Utc
                .with_ymd_and_hms(y, mo, d, h, mi, sec)
                .single()
                .and_then(|t| t.with_nanosecond(nano))
        };
        let times = [
            None,
            at(2026, 4, 20, 10, 0, 0, 0),
            at(2026, 4, 20, 10, 0, 0, 999_000_000),
            at(1970, 1, 1, 0, 0, 0, 0),
            at(999, 12, 31, 23, 59, 59, 0),
            at(9999, 12, 31, 23, 59, 59, 0),
            at(10000, 1, 1, 0, 0, 0, 0),
            at(-1, 6, 1, 12, 30, 45, 0),
            // A leap second.
            at(2016, 12, 31, 23, 59, 59, 1_500_000_000),
        ];
        assert!(times[1..].iter().all(Option::is_some));
        for modified_at in times {
            let file = FileInfo {
                id: "fil_01J3K".into(),
                name: "a".into(),
                size: 48293,
                mime_type: None,
                modified_at,
            };
            assert_eq!(opaque_etag(&file), reference(&file), "{modified_at:?}");
        }
        // One value pinned: the first 16 bytes of the SHA-256 of `fil_1`, NUL,
        // `2026-05-01T12:00:00Z`, NUL and 1 as a little-endian u64.
        let file = FileInfo {
            id: "fil_1".into(),
            name: "x".into(),
            size: 1,
            mime_type: None,
            modified_at: "2026-05-01T12:00:00Z".parse().ok(),
        };
        assert_eq!(opaque_etag(&file), "fdfbd66571325341866416b939ea66bd-1");
    }
}
