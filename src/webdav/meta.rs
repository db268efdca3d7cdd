//! Metadata of collections and files as dav-server sees them (`DavMetaData`, `DavDirEntry`),
//! built from a folder listing plus the state DB only — never one upstream call per entry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dav_server::fs::{DavDirEntry, DavMetaData, FsError, FsFuture, FsResult};
use futures::FutureExt as _;

use crate::scaidrive::Timestamp;
use crate::state::ObjectAttrs;
use crate::store::{FileInfo, FolderDates, Store};

/// The ETag of an empty body (a pending empty file).
pub(crate) const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Type, size, times and ETag of one resource.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub dir: bool,
    pub len: u64,
    /// `None` when no real date is known (the property is then left out, never 1970).
    pub modified: Option<SystemTime>,
    pub created: Option<SystemTime>,
    /// Unquoted; dav-server adds the quotes.
    pub etag: Option<String>,
    /// The media type ScaiDrive (or the writing client) gave the file; `None` = dav-server's
    /// guess from the extension.
    pub content_type: Option<String>,
}

/// A media type fit for `Content-Type` and `getcontenttype`: `type/subtype` with optional
/// parameters, visible ASCII only (so it needs no escaping in a header and none in XML).
pub(crate) fn valid_media_type(v: &str) -> Option<String> {
    let v = v.trim();
    let (essence, _) = v.split_once(';').unwrap_or((v, ""));
    let (ty, sub) = essence.trim().split_once('/')?;
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let printable = v
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !b"<>&\"".contains(&b));
    (token(ty) && token(sub) && printable).then(|| v.to_owned())
}

pub(crate) fn system_time(t: &Timestamp) -> SystemTime {
    let ms = t.timestamp_millis();
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH
    }
}

/// Parses a client mtime as stored (RFC 3339).
pub(crate) fn parse_mtime(s: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| system_time(&t.with_timezone(&chrono::Utc)))
}

/// A file's media type: the one the writing client declared, else ScaiDrive's.
pub(crate) fn content_type(file: &FileInfo, attrs: Option<&ObjectAttrs>) -> Option<String> {
    attrs
        .and_then(|a| a.content_type.as_deref())
        .and_then(valid_media_type)
        .or_else(|| file.mime_type.as_deref().and_then(valid_media_type))
}

/// A folder's metadata from the dates ScaiDrive gave for it (none known: no date at all).
pub(crate) fn folder(dates: FolderDates, id: String) -> Meta {
    let modified = dates.modified_at.or(dates.created_at);
    Meta {
        created: dates.created_at.as_ref().map(system_time),
        ..Meta::dir(modified.as_ref().map(system_time), 0, Some(id))
    }
}

impl Meta {
    /// A collection (share root or folder).
    pub fn dir(modified: Option<SystemTime>, len: u64, etag: Option<String>) -> Self {
        Self {
            dir: true,
            len,
            modified,
            created: modified,
            etag,
            content_type: None,
        }
    }

    /// A file from its listing entry and its valid attributes.
    pub fn file(file: &FileInfo, attrs: Option<&ObjectAttrs>) -> Self {
        let upstream = file
            .modified_at
            .as_ref()
            .map(|t| system_time(&crate::store::reported_time(t)));
        let client = attrs
            .and_then(|a| a.client_mtime.as_deref())
            .and_then(parse_mtime);
        Self {
            dir: false,
            len: file.size,
            modified: client.or(upstream),
            created: upstream,
            etag: Some(Store::etag(file, attrs)),
            content_type: content_type(file, attrs),
        }
    }

    /// A zero-byte file not yet created upstream (see `pending.rs`).
    pub fn pending_empty(created: SystemTime, client_mtime: Option<SystemTime>) -> Self {
        Self {
            dir: false,
            len: 0,
            modified: Some(client_mtime.unwrap_or(created)),
            created: Some(created),
            etag: Some(EMPTY_MD5.to_owned()),
            content_type: None,
        }
    }
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.len
    }

    fn modified(&self) -> FsResult<SystemTime> {
        self.modified.ok_or(FsError::NotImplemented)
    }

    fn is_dir(&self) -> bool {
        self.dir
    }

    fn etag(&self) -> Option<String> {
        self.etag.clone()
    }

    fn created(&self) -> FsResult<SystemTime> {
        self.created
            .or(self.modified)
            .ok_or(FsError::NotImplemented)
    }
}

/// One entry of a collection listing, metadata included.
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub meta: Meta,
    /// The ScaiDrive id of a listed file or folder (its attributes' key).
    pub id: Option<String>,
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }

    fn metadata(&'_ self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        async move { Ok(meta) }.boxed()
    }
}
