//! Delete markers from ScaiDrive's trash. A file deleted to the trash is, in S3's terms, a
//! delete marker (version id `dm.<file id>[.<trash name stamp>]`) over one noncurrent version
//! (`tv.<file id>`: ScaiDrive answers 410 for a trashed file's own version list and content, so
//! its earlier versions cannot be listed one by one). Both ids come from ScaiDrive alone (the
//! file id and the stamp of the name the gateway gave it before the trash call), so every
//! instance derives the same ones without state, and they never look like ScaiDrive's own
//! `ver_…` ids. See `docs/mapping.md` § Versions and the trash.

use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

use super::error::store_error;
use super::list::{ListParams, common_prefix};
use super::{BucketRef, Gateway, timestamp};
use crate::auth::Session;
use crate::scaidrive::Item;
use crate::store::{ChainLink, FileInfo, FolderRef, TrashRef, Trashed, opaque_etag, original_name};

const MARKER: &str = "dm.";
const TRASHED: &str = "tv.";

/// The delete marker's version id of a trashed file.
pub(crate) fn marker_id(at: &TrashRef) -> String {
    match &at.stamp {
        Some(stamp) => {
            let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
            format!("{MARKER}{}.{digits}", at.file_id)
        }
        None => format!("{MARKER}{}", at.file_id),
    }
}

/// The version id of a trashed file's content.
pub(crate) fn trashed_version_id(file_id: &str) -> String {
    format!("{TRASHED}{file_id}")
}

/// What a version id names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VersionRef<'a> {
    /// A delete marker: the trashed file's id.
    Marker(&'a str),
    /// A trashed file's content.
    Trashed(&'a str),
    /// A ScaiDrive version (or `null`).
    Live,
}

pub(crate) fn parse(version_id: &str) -> VersionRef<'_> {
    if let Some(rest) = version_id.strip_prefix(MARKER) {
        let id = match rest.rsplit_once('.') {
            Some((id, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                id
            }
            _ => rest,
        };
        VersionRef::Marker(id)
    } else if let Some(id) = version_id.strip_prefix(TRASHED) {
        VersionRef::Trashed(id)
    } else {
        VersionRef::Live
    }
}

/// The trashed files that had `key`, oldest deletion first.
pub(crate) async fn trashed_for_key(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
) -> S3Result<Vec<Trashed>> {
    let path = bucket.path(key)?;
    let Some(name) = path.name() else {
        return Ok(Vec::new());
    };
    if path.is_dir() {
        return Ok(Vec::new());
    }
    let dirs = path
        .parent_segments()
        .get(bucket.base.len()..)
        .unwrap_or_default();
    gw.store()
        .trashed_of(s, &bucket.share_id, &bucket.base, dirs, name)
        .await
        .map_err(store_error)
}

/// The trashed file of `key` whose marker is `version_id`.
pub(crate) async fn find_marker(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    version_id: &str,
) -> S3Result<Option<Trashed>> {
    Ok(trashed_for_key(gw, s, bucket, key)
        .await?
        .into_iter()
        .find(|t| marker_id(&t.at) == version_id))
}

/// The trashed file of `key` with id `file_id`.
pub(crate) async fn find_trashed(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    file_id: &str,
) -> S3Result<Option<Trashed>> {
    Ok(trashed_for_key(gw, s, bucket, key)
        .await?
        .into_iter()
        .find(|t| t.at.file_id == file_id))
}

/// `x-amz-delete-marker: true` (and the marker's version id) on an error answer.
pub(crate) fn with_marker_headers(mut e: S3Error, version_id: &str) -> S3Error {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", v);
    }
    e.set_headers(headers);
    e
}

/// GET/HEAD of a delete marker's version id: 405, as S3 answers.
pub(crate) fn marker_not_readable(version_id: &str) -> S3Error {
    with_marker_headers(
        s3_error!(
            MethodNotAllowed,
            "The specified method is not allowed against this resource: the version is a delete marker"
        ),
        version_id,
    )
}

/// The trashed file's content as a noncurrent version (its time: when it went to the trash;
/// the listing of a trashed file no longer carries the time of its content).
pub(crate) fn trashed_version(t: &Trashed, key: String, owner: &Owner) -> ObjectVersion {
    let probe = FileInfo {
        id: t.file.id.clone(),
        name: t.file.name.clone(),
        size: t.file.size,
        mime_type: None,
        modified_at: t.file.modified_at,
    };
    ObjectVersion {
        key: Some(key),
        e_tag: Some(super::etag(&opaque_etag(&probe))),
        size: i64::try_from(t.file.size).ok(),
        last_modified: t.deleted_at.as_ref().map(timestamp),
        is_latest: Some(false),
        version_id: Some(trashed_version_id(&t.file.id)),
        owner: Some(owner.clone()),
        storage_class: Some(ObjectVersionStorageClass::from_static(
            ObjectVersionStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// The trashed file as its delete marker.
pub(crate) fn marker_entry(
    t: &Trashed,
    key: String,
    latest: bool,
    owner: &Owner,
) -> DeleteMarkerEntry {
    DeleteMarkerEntry {
        key: Some(key),
        version_id: Some(marker_id(&t.at)),
        is_latest: Some(latest),
        last_modified: t.deleted_at.as_ref().map(timestamp),
        owner: Some(owner.clone()),
    }
}

/// What the trash holds for a listing of versions.
#[derive(Default)]
pub(crate) struct TrashPage {
    /// Trashed files by key, in key order, oldest deletion first.
    pub files: Vec<(String, Trashed)>,
    /// Common prefixes that only trashed items have.
    pub prefixes: Vec<String>,
}

/// Collects the trashed files a ListObjectVersions page covers: keys matching the prefix,
/// after the key marker and up to `upper` (the last key of a truncated page). One listing with
/// `include_deleted` per folder, live or trashed, that can hold such keys; with the delimiter
/// `/` only the prefix's own folders.
pub(crate) async fn collect(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    p: &ListParams,
    upper: Option<&str>,
) -> S3Result<TrashPage> {
    let store = gw.store();
    let mut out = TrashPage::default();
    let start: Vec<String> = match p.prefix.rfind('/') {
        Some(i) => p.prefix[..i].split('/').map(str::to_owned).collect(),
        None => Vec::new(),
    };
    if start.iter().any(String::is_empty) {
        return Ok(out);
    }
    let root_key = if start.is_empty() {
        String::new()
    } else {
        format!("{}/", start.join("/"))
    };
    let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let after = p.after.as_deref().filter(|a| !a.is_empty());
    let in_range = |k: &str| after.is_none_or(|a| k > a) && upper.is_none_or(|u| k <= u);
    let roots = store
        .folders_named(s, &bucket.share_id, &bucket.base, &start)
        .await
        .map_err(store_error)?;
    let mut stack: Vec<(FolderRef, Vec<ChainLink>, String)> = roots
        .into_iter()
        .map(|(f, chain)| (f, chain, root_key.clone()))
        .collect();
    while let Some((folder, chain, prefix_key)) = stack.pop() {
        let listing = match store.list_with_trash(s, &folder).await {
            Ok(l) => l,
            // Gone meanwhile, or not readable by this user: nothing of it to list.
            Err(
                crate::store::StoreError::NotFound
                | crate::store::StoreError::Gone
                | crate::store::StoreError::AccessDenied(_),
            ) => continue,
            Err(e) => return Err(store_error(e)),
        };
        let in_trash = chain.last().is_some_and(|l| l.deleted);
        for item in &listing.items {
            match item {
                Item::File(_) => {
                    let Some((name, t)) = Trashed::from_item(item, &folder, &chain, in_trash)
                    else {
                        continue;
                    };
                    let key = format!("{prefix_key}{name}");
                    if !key.starts_with(&p.prefix) {
                        continue;
                    }
                    if let Some(cp) = delimiter.and_then(|d| common_prefix(&key, &p.prefix, d)) {
                        if in_range(&cp) {
                            out.prefixes.push(cp);
                        }
                        continue;
                    }
                    if in_range(&key) {
                        out.files.push((key, t));
                    }
                }
                Item::Folder(f) => {
                    let (name, _) = original_name(&f.name);
                    let key = format!("{prefix_key}{name}/");
                    if !(key.starts_with(&p.prefix) || p.prefix.starts_with(&key)) {
                        continue;
                    }
                    if after.is_some_and(|a| key.as_str() < a && !a.starts_with(&key))
                        || upper.is_some_and(|u| key.as_str() > u)
                    {
                        continue;
                    }
                    let deleted = f.is_deleted || in_trash;
                    if delimiter == Some("/")
                        && let Some(cp) = common_prefix(&key, &p.prefix, "/")
                    {
                        // A live folder's prefix comes from the object listing; a trashed
                        // one holds what was deleted under it.
                        if deleted && in_range(&cp) {
                            out.prefixes.push(cp);
                        }
                        continue;
                    }
                    let mut chain = chain.clone();
                    chain.push(ChainLink {
                        parent: folder.clone(),
                        id: f.id.clone(),
                        name: f.name.clone(),
                        original: name.to_owned(),
                        deleted,
                    });
                    stack.push((
                        FolderRef {
                            share_id: bucket.share_id.clone(),
                            folder_id: Some(f.id.clone()),
                        },
                        chain,
                        key,
                    ));
                }
            }
        }
    }
    out.files
        .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.deleted_at.cmp(&b.1.deleted_at)));
    out.prefixes.sort();
    out.prefixes.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_ids_round_trip_and_never_look_like_scaidrive_versions() {
        let at = TrashRef {
            file_id: "fil_01J3K".into(),
            stamp: Some("20261205T083310.123Z".into()),
        };
        let id = marker_id(&at);
        assert_eq!(id, "dm.fil_01J3K.20261205083310123");
        assert_eq!(parse(&id), VersionRef::Marker("fil_01J3K"));
        let bare = marker_id(&TrashRef {
            file_id: "fil_01J3K".into(),
            stamp: None,
        });
        assert_eq!(bare, "dm.fil_01J3K");
        assert_eq!(parse(&bare), VersionRef::Marker("fil_01J3K"));
        assert_eq!(parse("tv.fil_9"), VersionRef::Trashed("fil_9"));
        assert_eq!(parse("ver_01J4Q"), VersionRef::Live);
        assert_eq!(parse("null"), VersionRef::Live);
    }

    #[test]
    fn trash_names_give_back_the_old_name_and_the_time() {
        let (name, stamp) = original_name("report.txt (deleted 20261205T083310.123Z)");
        assert_eq!(name, "report.txt");
        assert_eq!(stamp, Some("20261205T083310.123Z"));
        assert_eq!(original_name("report.txt"), ("report.txt", None));
        assert_eq!(
            original_name("x (deleted yesterday)"),
            ("x (deleted yesterday)", None)
        );
        let t = crate::store::trash_name("a b.txt");
        assert_eq!(original_name(&t).0, "a b.txt");
    }
}
