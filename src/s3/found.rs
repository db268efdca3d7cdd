//! Finding an object by key (and version): a file, an older version of one, or a directory
//! marker, with its stored attributes; shared by Get/Head, copy, tagging and ACLs.

use s3s::{S3Error, S3Result, s3_error};

use super::BucketRef;
use super::Gateway;
use super::error::store_error;
use super::list::marker_probe;
use crate::auth::Session;
use crate::scaidrive::Timestamp as UpTime;
use crate::state::ObjectAttrs;
use crate::store::{Entry, FileInfo, Need, Store, opaque_etag, reported_time};

/// An object as found: a file (current or older version) or a directory marker.
pub(crate) struct Found {
    pub file: Option<FileInfo>,
    pub attrs: Option<ObjectAttrs>,
    pub etag: String,
    pub size: u64,
    pub modified: Option<UpTime>,
    /// Set when a version was asked for: (version number, `ver_…` id).
    pub version: Option<(u64, String)>,
    /// The version id to answer in `x-amz-version-id`: the one asked for, else the current
    /// one when the state DB knows it (files written through the gateway).
    pub version_id: Option<String>,
}

impl Found {
    pub(crate) fn content_type(&self) -> Option<String> {
        self.attrs
            .as_ref()
            .and_then(|a| a.content_type.clone())
            .or_else(|| self.file.as_ref().and_then(|f| f.mime_type.clone()))
    }
}

fn no_such_version() -> S3Error {
    s3_error!(NoSuchVersion, "The specified version does not exist.")
}

/// A trashed file's content: ScaiDrive serves no content of a file in its trash (410).
pub(crate) fn trashed_not_readable() -> S3Error {
    s3_error!(
        InvalidObjectState,
        "This version is in ScaiDrive's trash, which serves no content: delete the key's delete \
         marker (its version id) to restore the object, then read it"
    )
}

fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// Finds an object by key (and version).
pub(crate) async fn find(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Found> {
    let store = gw.store();
    let path = bucket.path(key)?;
    match version_id.map(super::markers::parse) {
        Some(super::markers::VersionRef::Marker(_)) => {
            let v = version_id.unwrap_or_default();
            return Err(
                match super::markers::find_marker(gw, s, bucket, key, v).await? {
                    Some(_) => super::markers::marker_not_readable(v),
                    None => no_such_version(),
                },
            );
        }
        Some(super::markers::VersionRef::Trashed(id)) => {
            return Err(
                match super::markers::find_trashed(gw, s, bucket, key, id).await? {
                    Some(_) => trashed_not_readable(),
                    None => no_such_version(),
                },
            );
        }
        Some(super::markers::VersionRef::Live) | None => {}
    }
    let resolved = store
        .resolve(s, &bucket.share_id, &path, false)
        .await
        .map_err(store_error)?
        .ok_or_else(no_such_key)?;
    let version_id = version_id.filter(|v| *v != "null");
    match &resolved.entry {
        Entry::Folder(f) => {
            if version_id.is_some() {
                return Err(s3_error!(NoSuchVersion));
            }
            let attrs = store
                .attrs_of(&marker_probe(&f.id))
                .await
                .map_err(store_error)?
                .ok_or_else(no_such_key)?;
            // A marker's attributes need READ on its folder, as a file's on the file.
            store
                .check_read(s, &resolved.parent, &resolved.entry, Need::Attributes)
                .await
                .map_err(store_error)?;
            let modified = attrs
                .client_mtime
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
            Ok(Found {
                file: None,
                etag: attrs.etag.clone(),
                attrs: Some(attrs),
                size: 0,
                modified,
                version: None,
                version_id: None,
            })
        }
        Entry::File(file) => {
            // READ on the folder lists the name; anything more needs READ on the file.
            store
                .check_read(s, &resolved.parent, &resolved.entry, Need::Attributes)
                .await
                .map_err(store_error)?;
            let file = file.clone();
            let (attrs, current) = store
                .attrs_and_version_of(&file)
                .await
                .map_err(store_error)?;
            let mut found = Found {
                etag: Store::etag(&file, attrs.as_ref()),
                size: file.size,
                modified: file.modified_at.as_ref().map(reported_time),
                attrs,
                version: None,
                version_id: current,
                file: Some(FileInfo::clone(&file)),
            };
            if let Some(v) = version_id {
                let versions = store.versions(s, &file.id).await.map_err(store_error)?;
                let (i, ver) = versions
                    .iter()
                    .enumerate()
                    .find(|(_, x)| x.id == v)
                    .ok_or_else(|| {
                        s3_error!(NoSuchVersion, "The specified version does not exist.")
                    })?;
                found.version = Some((ver.version_number, ver.id.clone()));
                found.version_id = Some(ver.id.clone());
                if i > 0 {
                    // An older version: its own size and time, an opaque ETag, no attributes.
                    let probe = FileInfo {
                        id: ver.id.clone(),
                        name: file.name.clone(),
                        size: ver.size,
                        mime_type: file.mime_type.clone(),
                        modified_at: ver.created_at,
                    };
                    found.etag = opaque_etag(&probe);
                    found.size = ver.size;
                    found.modified = ver.created_at.as_ref().map(reported_time);
                    found.attrs = None;
                }
            }
            Ok(found)
        }
    }
}
