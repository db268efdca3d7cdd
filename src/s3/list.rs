//! ListObjects (v1, marker) and ListObjectsV2 (continuation token, start-after), over folder
//! listings plus the state DB (never one upstream call per listed file).
//!
//! Keys are produced in S3 order by a depth-first walk in which a folder sorts as its name
//! followed by `/`. With delimiter `/` a folder becomes a common prefix without being opened,
//! so a delimited listing costs one folder listing; without a delimiter (or with a prefix that
//! does not end on `/`) the walk descends, pruning folders outside the prefix or before the
//! marker.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::error::store_error;
use super::{BucketRef, Gateway, timestamp};
use crate::auth::Session;
use crate::state::ObjectAttrs;
use crate::store::{Entry, FileInfo, FolderRef, Listing, Need, Store, StoreError, reported_time};

/// Default and largest page size.
const MAX_KEYS: usize = 1000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub prefix: String,
    /// `None` or empty: no delimiter.
    pub delimiter: Option<String>,
    /// List keys strictly after this one.
    pub after: Option<String>,
    pub max_keys: usize,
}

/// One listed object.
#[derive(Debug, Clone)]
pub(crate) struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<Timestamp>,
    /// The file (None for a directory marker).
    pub file: Option<FileInfo>,
}

/// One entry of a page.
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    Object(ListedObject),
    Prefix(String),
}

impl Listed {
    fn key(&self) -> &str {
        match self {
            Listed::Object(o) => &o.key,
            Listed::Prefix(p) => p,
        }
    }
}

/// A page of results.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub items: Vec<Listed>,
    pub truncated: bool,
}

impl Page {
    /// The key or prefix to continue after.
    pub fn last_key(&self) -> Option<&str> {
        self.items.last().map(Listed::key)
    }
}

/// A node of the walk: a file, or a folder (with a trailing `/` in its key), with its
/// attributes (a folder's: its directory marker).
enum Node {
    File(FileInfo, Option<ObjectAttrs>),
    Folder(FolderRef, Option<ObjectAttrs>),
}

/// Compares `key_prefix` + `name` (+ `/` for a folder) with `target`, without building the key.
fn cmp_key(key_prefix: &str, e: &Entry, target: &str) -> std::cmp::Ordering {
    key_prefix.bytes().chain(e.key_bytes()).cmp(target.bytes())
}

/// The entries of one folder still to walk, in S3 key order. Keys and nodes are made only as
/// the walk reaches them, and attributes are looked up in batches of what the page can still
/// take: a page costs its own size, not the folder's.
struct Level {
    /// The folder's listing; `listing.key_order()` is the walk's order.
    listing: Arc<Listing>,
    /// Position in the key order.
    pos: usize,
    share_id: String,
    key_prefix: String,
    /// Attributes of the batch being walked, by id.
    attrs: HashMap<String, ObjectAttrs>,
    /// How many entries from `pos` on are in the batch.
    ready: usize,
}

impl Level {
    /// The next node and its key; its attributes come with the next `batch` entries' in one
    /// state-DB query.
    async fn next(
        &mut self,
        store: &Store,
        s: &Session,
        batch: usize,
    ) -> S3Result<Option<(String, Node)>> {
        let order = self.listing.key_order();
        let Some(&i) = order.get(self.pos) else {
            return Ok(None);
        };
        if self.ready == 0 {
            let n = batch.clamp(1, order.len() - self.pos);
            let batch = &order[self.pos..self.pos + n];
            // Files are looked up as listed; folders by a probe for their directory marker.
            let markers: Vec<FileInfo> = batch
                .iter()
                .filter_map(|&j| match self.listing.entries.get(j)? {
                    Entry::Folder(f) => Some(marker_probe(&f.id)),
                    Entry::File(_) => None,
                })
                .collect();
            let refs: Vec<&FileInfo> = batch
                .iter()
                .filter_map(|&j| match self.listing.entries.get(j)? {
                    Entry::File(f) => Some(&**f),
                    Entry::Folder(_) => None,
                })
                .chain(&markers)
                .collect();
            self.attrs = store.attrs_for(&refs).await.map_err(store_error)?;
            // Attributes the state DB keeps are served only with READ on the entry; without
            // it the entry is listed as ScaiDrive's listing shows it (see `store/access.rs`).
            let kept: Vec<&Entry> = batch
                .iter()
                .filter_map(|&j| self.listing.entries.get(j))
                .filter(|e| self.attrs.contains_key(e.id()))
                .collect();
            if !kept.is_empty() {
                let denied = store
                    .unreadable(s, &self.listing, &kept, Need::Attributes)
                    .await
                    .map_err(store_error)?;
                self.attrs.retain(|id, _| !denied.contains(id));
            }
            self.ready = n;
        }
        self.ready -= 1;
        self.pos += 1;
        let Some(entry) = self.listing.entries.get(i) else {
            return Ok(None);
        };
        Ok(Some(match entry {
            Entry::File(f) => (
                format!("{}{}", self.key_prefix, f.name),
                Node::File(FileInfo::clone(f), self.attrs.remove(&f.id)),
            ),
            Entry::Folder(f) => (
                format!("{}{}/", self.key_prefix, f.name),
                Node::Folder(
                    FolderRef {
                        share_id: self.share_id.clone(),
                        folder_id: Some(f.id.clone()),
                    },
                    self.attrs.remove(&f.id),
                ),
            ),
        }))
    }
}

/// The common prefix `key` rolls up to, if the delimiter occurs after the prefix.
pub(crate) fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(format!("{prefix}{}", &rest[..at + delimiter.len()]))
}

/// Whether nothing under folder key `folder` (ending in `/`) can come after `after`.
fn folder_before(folder: &str, after: Option<&str>) -> bool {
    match after {
        Some(a) => folder < a && !a.starts_with(folder),
        None => false,
    }
}

/// A pseudo file entry for a folder, to look up its directory-marker attributes.
pub(crate) fn marker_probe(folder_id: &str) -> FileInfo {
    FileInfo {
        id: folder_id.to_owned(),
        name: String::new(),
        size: 0,
        mime_type: None,
        modified_at: None,
    }
}

/// A folder to walk, starting at the first key the walk would not skip anyway (before the
/// prefix or the marker: a later page does not go over the earlier pages' entries again).
async fn load(
    store: &Store,
    s: &Session,
    folder: &FolderRef,
    key_prefix: &str,
    p: &ListParams,
) -> S3Result<Level> {
    let listing = store.list(s, folder).await.map_err(store_error)?;
    let entries = &listing.entries;
    let order = listing.key_order();
    let after = p.after.as_deref().filter(|a| !a.is_empty());
    let mut pos = 0;
    for bound in [Some(p.prefix.as_str()), after].into_iter().flatten() {
        // The first key at or past the bound; a folder just before it that contains the bound
        // (its key is a prefix of it) still has keys past it.
        let mut at = order.partition_point(|&i| cmp_key(key_prefix, &entries[i], bound).is_lt());
        if let Some(&i) = at.checked_sub(1).and_then(|j| order.get(j))
            && let Entry::Folder(f) = &entries[i]
            && bound.starts_with(&format!("{key_prefix}{}/", f.name))
        {
            at -= 1;
        }
        pos = pos.max(at);
    }
    Ok(Level {
        pos,
        share_id: folder.share_id.clone(),
        key_prefix: key_prefix.to_owned(),
        attrs: HashMap::new(),
        ready: 0,
        listing,
    })
}

/// The creation time recorded for a directory marker.
fn marker_time(a: &ObjectAttrs) -> Option<Timestamp> {
    a.client_mtime
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| timestamp(&t.with_timezone(&chrono::Utc)))
}

/// Collects a page: the walk described in the module docs.
pub(crate) async fn walk(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    p: &ListParams,
) -> S3Result<Page> {
    let store = gw.store();
    let mut page = Page::default();
    if p.max_keys == 0 {
        return Ok(page);
    }
    // One allocation for the page instead of a chain of copies as it grows.
    page.items.reserve(p.max_keys.min(MAX_KEYS));
    let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let after = p.after.as_deref().filter(|a| !a.is_empty());
    // Start in the deepest folder the prefix names.
    let start: Vec<String> = match p.prefix.rfind('/') {
        Some(i) => p.prefix[..i].split('/').map(str::to_owned).collect(),
        None => Vec::new(),
    };
    if start.iter().any(String::is_empty) {
        return Ok(page);
    }
    let mut segments = bucket.base.clone();
    segments.extend(start.iter().cloned());
    let root = match store.resolve_folder(s, &bucket.share_id, &segments).await {
        Ok(Some(f)) => f,
        Ok(None) | Err(StoreError::Conflict(_)) => return Ok(page),
        Err(e) => return Err(store_error(e)),
    };
    let root_key = if start.is_empty() {
        String::new()
    } else {
        format!("{}/", start.join("/"))
    };
    let mut stack = vec![load(store, s, &root, &root_key, p).await?];
    // Attribute lookups go in batches of what the page can still take (and one to spare, to
    // tell whether it is truncated).
    // The prefix names a folder exactly: its own directory marker comes first.
    if !root_key.is_empty()
        && root_key == p.prefix
        && after.is_none_or(|a| root_key.as_str() > a)
        && let Some(id) = root.folder_id.as_deref()
        && let Some(m) = store
            .attrs_of(&marker_probe(id))
            .await
            .map_err(store_error)?
    {
        page.items.push(Listed::Object(ListedObject {
            key: root_key.clone(),
            size: 0,
            etag: m.etag.clone(),
            last_modified: marker_time(&m),
            file: None,
        }));
    }

    // Adds an entry; false once the page is full (and marks it truncated).
    let push = |page: &mut Page, item: Listed| -> bool {
        if let (Listed::Prefix(new), Some(Listed::Prefix(last))) = (&item, page.items.last())
            && new == last
        {
            return true;
        }
        if page.items.len() >= p.max_keys {
            page.truncated = true;
            return false;
        }
        page.items.push(item);
        true
    };
    let after_ok = |key: &str| after.is_none_or(|a| key > a);

    while let Some(level) = stack.last_mut() {
        let batch = p.max_keys.saturating_sub(page.items.len()) + 1;
        let Some((key, node)) = level.next(store, s, batch).await? else {
            stack.pop();
            continue;
        };
        match node {
            Node::File(file, attrs) => {
                if !key.starts_with(&p.prefix) {
                    continue;
                }
                if let Some(cp) = delimiter.and_then(|d| common_prefix(&key, &p.prefix, d)) {
                    if after_ok(&cp) && !push(&mut page, Listed::Prefix(cp)) {
                        break;
                    }
                    continue;
                }
                if !after_ok(&key) {
                    continue;
                }
                let item = ListedObject {
                    etag: Store::etag(&file, attrs.as_ref()),
                    size: file.size,
                    last_modified: file
                        .modified_at
                        .as_ref()
                        .map(reported_time)
                        .as_ref()
                        .map(timestamp),
                    key,
                    file: Some(file),
                };
                if !push(&mut page, Listed::Object(item)) {
                    break;
                }
            }
            Node::Folder(sub, marker) => {
                if !(key.starts_with(&p.prefix) || p.prefix.starts_with(&key)) {
                    continue;
                }
                if folder_before(&key, after) {
                    continue;
                }
                if delimiter == Some("/")
                    && let Some(cp) = common_prefix(&key, &p.prefix, "/")
                {
                    if after_ok(&cp) && !push(&mut page, Listed::Prefix(cp)) {
                        break;
                    }
                    continue;
                }
                if let Some(m) = marker
                    && key.starts_with(&p.prefix)
                    && after_ok(&key)
                {
                    let item = match delimiter.and_then(|d| common_prefix(&key, &p.prefix, d)) {
                        Some(cp) => Listed::Prefix(cp),
                        None => Listed::Object(ListedObject {
                            key: key.clone(),
                            size: 0,
                            etag: m.etag.clone(),
                            last_modified: marker_time(&m),
                            file: None,
                        }),
                    };
                    if !push(&mut page, item) {
                        break;
                    }
                }
                stack.push(load(store, s, &sub, &key, p).await?);
            }
        }
    }
    Ok(page)
}

/// Characters percent-encoded with `encoding-type=url`: all but unreserved ones and `/`.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Encodes a key for the response when the client asked for `encoding-type=url`.
pub(crate) fn encode_key(key: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(key, KEY_ENCODE).to_string()
    } else {
        key.to_owned()
    }
}

fn wants_url(e: Option<&EncodingType>) -> bool {
    e.is_some_and(|e| e.as_str().eq_ignore_ascii_case(EncodingType::URL))
}

fn page_size(max_keys: Option<i32>) -> S3Result<usize> {
    match max_keys {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

/// A key as the response carries it; the key itself (no copy) unless it must be encoded.
fn response_key(key: String, url: bool) -> String {
    if url { encode_key(&key, true) } else { key }
}

/// The page's entries as S3 objects and common prefixes, moved out of the page (a page holds
/// up to 1,000 keys: no second copy of each).
fn contents(
    items: Vec<Listed>,
    url: bool,
    owner: Option<&Owner>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut objects = Vec::with_capacity(items.len());
    let mut prefixes = Vec::new();
    for item in items {
        match item {
            Listed::Object(o) => objects.push(Object {
                key: Some(response_key(o.key, url)),
                size: i64::try_from(o.size).ok(),
                e_tag: Some(ETag::Strong(o.etag)),
                last_modified: o.last_modified,
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                owner: owner.cloned(),
                ..Default::default()
            }),
            Listed::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(response_key(p, url)),
            }),
        }
    }
    (objects, prefixes)
}

/// `allow-unordered=true` (a Ceph extension) is honoured trivially, since listings are always in
/// order, but like Ceph it cannot be combined with a delimiter.
fn check_unordered(uri: &http::Uri, delimiter: Option<&str>) -> S3Result<()> {
    let unordered = uri.query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.eq_ignore_ascii_case("allow-unordered=true"))
    });
    if unordered && delimiter.is_some_and(|d| !d.is_empty()) {
        return Err(s3_error!(
            InvalidArgument,
            "allow-unordered cannot be used with a delimiter"
        ));
    }
    Ok(())
}

pub(super) async fn list_objects_as(
    gw: &Gateway,
    s: &Session,
    uri: &http::Uri,
    input: ListObjectsInput,
) -> S3Result<S3Response<ListObjectsOutput>> {
    check_unordered(uri, input.delimiter.as_deref())?;
    let bucket = gw.bucket(s, &input.bucket).await?;
    let params = ListParams {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        after: input.marker.clone(),
        max_keys: page_size(input.max_keys)?,
    };
    let page = walk(gw, s, &bucket, &params).await?;
    let url = wants_url(input.encoding_type.as_ref());
    let next_marker = page
        .truncated
        .then(|| page.last_key().map(|k| encode_key(k, url)))
        .flatten();
    let (objects, prefixes) = contents(page.items, url, Some(&gw.owner(s).await));
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        // v1 echoes the prefix as given even with `encoding-type=url` (S3 does; botocore
        // decodes every other v1 field but not this one).
        prefix: Some(params.prefix.clone()),
        marker: Some(encode_key(params.after.as_deref().unwrap_or_default(), url)),
        max_keys: input.max_keys.or(Some(1000)),
        is_truncated: Some(page.truncated),
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        delimiter: input
            .delimiter
            .filter(|d| !d.is_empty())
            .map(|d| encode_key(&d, url)),
        next_marker,
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

pub(super) async fn list_objects_v2_as(
    gw: &Gateway,
    s: &Session,
    uri: &http::Uri,
    input: ListObjectsV2Input,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    check_unordered(uri, input.delimiter.as_deref())?;
    let bucket = gw.bucket(s, &input.bucket).await?;
    let after = match input.continuation_token.as_deref() {
        Some(t) => Some(
            B64URL
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?,
        ),
        None => input.start_after.clone(),
    };
    let params = ListParams {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        after,
        max_keys: page_size(input.max_keys)?,
    };
    let page = walk(gw, s, &bucket, &params).await?;
    let url = wants_url(input.encoding_type.as_ref());
    let owner = match input.fetch_owner {
        Some(true) => Some(gw.owner(s).await),
        _ => None,
    };
    let next = page
        .truncated
        .then(|| page.last_key().map(|k| B64URL.encode(k)))
        .flatten();
    let key_count = i32::try_from(page.items.len()).ok();
    let (objects, prefixes) = contents(page.items, url, owner.as_ref());
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(encode_key(&params.prefix, url)),
        max_keys: input.max_keys.or(Some(1000)),
        key_count,
        continuation_token: input.continuation_token,
        is_truncated: Some(page.truncated),
        next_continuation_token: next,
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        delimiter: input
            .delimiter
            .filter(|d| !d.is_empty())
            .map(|d| encode_key(&d, url)),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(|k| encode_key(&k, url)),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_roll_up_to_the_first_delimiter_after_the_prefix() {
        assert_eq!(common_prefix("a/b/c", "", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("a-b-c", "a", "-").as_deref(), Some("a-"));
        assert_eq!(common_prefix("x/y", "a", "/"), None);
        assert_eq!(
            common_prefix("photos/2024/", "photos/20", "/").as_deref(),
            Some("photos/2024/")
        );
    }

    #[test]
    fn folders_wholly_before_the_marker_are_skipped() {
        assert!(folder_before("a/", Some("b")));
        assert!(!folder_before("a/", Some("a/x")));
        assert!(!folder_before("b/", Some("a")));
        assert!(!folder_before("a/", None));
        // "a-b" sorts before "a/": the folder is after it.
        assert!(!folder_before("a/", Some("a-b")));
    }

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved_characters() {
        assert_eq!(encode_key("a b/c+d&é", true), "a%20b/c%2Bd%26%C3%A9");
        assert_eq!(encode_key("a b", false), "a b");
        assert_eq!(encode_key("x-y_z.~", true), "x-y_z.~");
    }

    #[test]
    fn negative_page_sizes_are_refused_and_large_ones_capped() {
        assert!(page_size(Some(-1)).is_err());
        assert_eq!(page_size(Some(5000)).ok(), Some(1000));
        assert_eq!(page_size(None).ok(), Some(1000));
        assert_eq!(page_size(Some(0)).ok(), Some(0));
    }
}
