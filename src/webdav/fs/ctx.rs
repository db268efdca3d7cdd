//! What one request's filesystem knows ([`ReqCtx`]), the mapping of store failures to
//! dav-server's kinds, and path segments.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use dav_server::davpath::DavPath;
use dav_server::fs::FsError;
use http::Method;

use crate::auth::Session;
use crate::state::ObjectAttrs;
use crate::store::{self as st, FileInfo, ShareInfo, Store, StoreError};
use crate::webdav::meta::{self, Meta};
use crate::webdav::pending::Pending;

/// What one request's filesystem knows.
pub(crate) struct ReqCtx {
    pub store: Store,
    pub session: Session,
    /// Collection name → share.
    pub shares: BTreeMap<String, ShareInfo>,
    /// Shares the user's role may only read, where ScaiDrive ACL entries allow the write this
    /// request makes (asked before dav-server ran).
    pub acl_writable: std::collections::BTreeSet<String>,
    pub method: Method,
    /// Decoded segments of the request path and of `Destination`.
    pub path: Vec<String>,
    pub destination: Option<Vec<String>>,
    pub oc_mtime: Option<String>,
    pub content_type: Option<String>,
    pub pending: Pending,
    pub staging: PathBuf,
    /// A destination file whose delete dav-server asked for before a MOVE/COPY onto it: kept,
    /// so the MOVE/COPY can make a new version of it.
    pub deferred_delete: Mutex<Option<Vec<String>>>,
    /// The last upstream failure was ScaiDrive being unavailable or rate limiting (the front
    /// end turns dav-server's 500 into 503).
    pub unavailable: Mutex<Option<Option<std::time::Duration>>>,
    /// ScaiDrive refused the session's token (expired or revoked): the front end answers 401.
    pub token_refused: std::sync::atomic::AtomicBool,
    /// Media types of the files this request looked at, by path segments: the front end puts
    /// them in `getcontenttype` and `Content-Type` instead of dav-server's extension guess.
    pub content_types: Mutex<BTreeMap<Vec<String>, String>>,
    /// The collection a PROPFIND listed, kept for the request: dav-server asks for the dead
    /// properties and the content type of every entry one by one, and these come from the
    /// listing and its one state-DB query instead of a lookup per entry.
    pub listed: Mutex<Option<Listed>>,
}

/// One listed collection and the valid attributes of its entries (files and folders), by id.
pub(crate) struct Listed {
    pub(super) dir: Vec<String>,
    pub(super) listing: Arc<st::Listing>,
    pub attrs: HashMap<String, ObjectAttrs>,
}

/// What the listing memo says about one path.
pub(super) enum Memo {
    /// The path is not an entry of the listed collection: look it up.
    Unknown,
    File(FileInfo, Option<ObjectAttrs>),
    Folder(Option<ObjectAttrs>),
}

impl ReqCtx {
    pub(super) fn note_content_type(&self, segs: Vec<String>, meta: &Meta) {
        if let (false, Some(ct)) = (meta.dir, meta.content_type.as_ref())
            && let Ok(mut map) = self.content_types.lock()
        {
            map.insert(segs, ct.clone());
        }
    }

    /// The media type noted for the file at `segs`.
    pub fn content_type_of(&self, segs: &[String]) -> Option<String> {
        if let Memo::File(f, attrs) = self.memo(segs) {
            return meta::content_type(&f, attrs.as_ref());
        }
        self.content_types.lock().ok()?.get(segs).cloned()
    }

    pub(super) fn memo(&self, segs: &[String]) -> Memo {
        let Some((name, parent)) = segs.split_last() else {
            return Memo::Unknown;
        };
        let Ok(listed) = self.listed.lock() else {
            return Memo::Unknown;
        };
        let Some(l) = listed.as_ref().filter(|l| l.dir == parent) else {
            return Memo::Unknown;
        };
        if is_junk(name) {
            return Memo::Unknown;
        }
        match l.listing.get(name) {
            Some(st::Entry::File(f)) => Memo::File(FileInfo::clone(f), l.attrs.get(&f.id).cloned()),
            Some(st::Entry::Folder(f)) => Memo::Folder(l.attrs.get(&f.id).cloned()),
            None => Memo::Unknown,
        }
    }
}

/// Logs a store failure and maps it to dav-server's detail-less kinds.
pub(crate) fn fs_error(ctx: &ReqCtx, op: &str, e: &StoreError) -> FsError {
    match e {
        StoreError::NotFound | StoreError::NoSuchShare | StoreError::Gone => {
            tracing::debug!(op, error = %e, "not found");
            FsError::NotFound
        }
        StoreError::AccessDenied(_) => {
            tracing::info!(op, error = %e, "refused by ScaiDrive");
            FsError::Forbidden
        }
        StoreError::Unauthorized(_) => {
            tracing::info!(op, error = %e, "token refused by ScaiDrive");
            ctx.token_refused
                .store(true, std::sync::atomic::Ordering::Relaxed);
            FsError::Forbidden
        }
        StoreError::Conflict(_) | StoreError::NotEmpty => {
            tracing::info!(op, error = %e, "conflict");
            FsError::Exists
        }
        StoreError::InvalidName(_) | StoreError::Invalid(_) => {
            tracing::info!(op, error = %e, "invalid");
            FsError::Forbidden
        }
        StoreError::TooLarge => FsError::TooLarge,
        StoreError::QuotaExceeded(_) => FsError::InsufficientStorage,
        StoreError::SlowDown { retry_after } => {
            tracing::warn!(op, "rate limited by ScaiDrive");
            set_unavailable(ctx, *retry_after);
            FsError::GeneralFailure
        }
        StoreError::Unavailable(_) => {
            tracing::warn!(op, error = %e, "ScaiDrive unavailable");
            set_unavailable(ctx, None);
            FsError::GeneralFailure
        }
        StoreError::RangeNotSatisfiable { .. }
        | StoreError::BadDigest
        | StoreError::ContentSha256Mismatch
        | StoreError::IncompleteBody
        | StoreError::Internal(_) => {
            tracing::warn!(op, error = %e, "store operation failed");
            FsError::GeneralFailure
        }
    }
}

pub(super) fn set_unavailable(ctx: &ReqCtx, retry: Option<std::time::Duration>) {
    if let Ok(mut u) = ctx.unavailable.lock() {
        *u = Some(retry);
    }
}

/// Decoded, non-empty segments of a DAV path (`None` when not UTF-8).
pub(crate) fn segments(path: &DavPath) -> Option<Vec<String>> {
    let raw = std::str::from_utf8(path.as_bytes()).ok()?;
    Some(
        raw.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Names that operating systems litter shares with (see `docs/webdav.md`).
pub(crate) fn is_junk(name: &str) -> bool {
    name.starts_with("._")
        || name == ".DS_Store"
        || name.eq_ignore_ascii_case("Thumbs.db")
        || name.eq_ignore_ascii_case("desktop.ini")
}
