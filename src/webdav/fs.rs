//! The per-request filesystem dav-server drives: `/` lists the user's shares under their
//! collection names; below, each share's folder tree through the store.
//!
//! One [`ScaiFs`] is built per request (it carries the session and what the request's headers
//! say: method, destination, `X-OC-Mtime`, `Content-Type`, `OC-Checksum`), so it can apply
//! request-level decisions dav-server's trait cannot express: a collection DELETE is one
//! upstream call, and a MOVE or COPY onto an existing file becomes a new version of it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult,
    FsStream, OpenOptions, ReadDirMeta,
};
use futures::FutureExt as _;
use futures::StreamExt as _;
use http::{Method, StatusCode};

use super::file::{Handle, Reader, SpoolWriter, StreamWriter, Target};
use super::meta::{self, Entry, Meta};
use super::pending::Pending;
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::state::ObjectAttrs;
use crate::store::{self as st, FileInfo, FolderRef, Need, ShareInfo, Store, StoreError};

mod deadprops;

pub(crate) use deadprops::{checksums_xml, mtime_value};

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
    dir: Vec<String>,
    listing: Arc<st::Listing>,
    pub attrs: HashMap<String, ObjectAttrs>,
}

/// What the listing memo says about one path.
enum Memo {
    /// The path is not an entry of the listed collection: look it up.
    Unknown,
    File(FileInfo, Option<ObjectAttrs>),
    Folder(Option<ObjectAttrs>),
}

impl ReqCtx {
    fn note_content_type(&self, segs: Vec<String>, meta: &Meta) {
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

    fn memo(&self, segs: &[String]) -> Memo {
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
            Some(st::Entry::File(f)) => Memo::File(f.clone(), l.attrs.get(&f.id).cloned()),
            Some(st::Entry::Folder(f)) => Memo::Folder(l.attrs.get(&f.id).cloned()),
            None => Memo::Unknown,
        }
    }
}

/// The filesystem of one request.
#[derive(Clone)]
pub(crate) struct ScaiFs(pub Arc<ReqCtx>);

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

fn set_unavailable(ctx: &ReqCtx, retry: Option<std::time::Duration>) {
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

pub(crate) enum Loc {
    Root,
    Share(ShareInfo),
    Item { share: ShareInfo, path: ObjectPath },
}

/// What a path names now.
enum Found {
    Folder(FolderRef, st::FolderInfo),
    File(FolderRef, FileInfo),
    Pending(meta::Meta),
}

fn folder_attrs_key(f: &st::FolderInfo) -> FileInfo {
    // Folder dead properties live in the attribute table under the folder id, size 0 and no
    // modified_at, which always validates.
    FileInfo {
        id: f.id.clone(),
        name: f.name.clone(),
        size: 0,
        mime_type: None,
        modified_at: None,
    }
}

impl ScaiFs {
    fn ctx(&self) -> &ReqCtx {
        &self.0
    }

    fn err(&self, op: &str, e: &StoreError) -> FsError {
        fs_error(&self.0, op, e)
    }

    pub(crate) fn locate_segments(&self, segs: &[String]) -> FsResult<Loc> {
        let Some((first, rest)) = segs.split_first() else {
            return Ok(Loc::Root);
        };
        let share = self
            .ctx()
            .shares
            .get(first)
            .cloned()
            .ok_or(FsError::NotFound)?;
        if rest.is_empty() {
            return Ok(Loc::Share(share));
        }
        let path = ObjectPath::from_segments(rest.to_vec(), false).map_err(|e| match e {
            crate::namespace::NameError::Reserved => FsError::Forbidden,
            _ => FsError::NotFound,
        })?;
        Ok(Loc::Item { share, path })
    }

    fn locate(&self, path: &DavPath) -> FsResult<Loc> {
        let segs = segments(path).ok_or(FsError::NotFound)?;
        self.locate_segments(&segs)
    }

    async fn find(&self, share: &ShareInfo, path: &ObjectPath) -> FsResult<Option<Found>> {
        let ctx = self.ctx();
        match ctx.store.resolve(&ctx.session, &share.id, path, true).await {
            Ok(Some(r)) => Ok(Some(match r.entry {
                st::Entry::Folder(f) => Found::Folder(r.parent, f),
                st::Entry::File(f) => Found::File(r.parent, f),
            })),
            Ok(None) => Ok(ctx.pending.get(&share.id, path).map(|p| {
                let mtime = p.client_mtime.as_deref().and_then(meta::parse_mtime);
                Found::Pending(Meta::pending_empty(p.created, mtime))
            })),
            Err(e) => Err(self.err("resolve", &e)),
        }
    }

    pub(crate) async fn meta_of(&self, loc: &Loc) -> FsResult<Meta> {
        match loc {
            Loc::Root => Ok(Meta::dir(None, 0, None)),
            Loc::Share(s) => Ok(Meta::dir(
                s.created_at.as_ref().map(meta::system_time),
                s.used_bytes.unwrap_or(0),
                Some(format!("{}-share", s.id)),
            )),
            Loc::Item { share, path } => {
                if path.name().is_some_and(is_junk) {
                    // Junk is discarded when written, so its DELETE succeeds (`remove_file`);
                    // dav-server looks the path up first.
                    if self.ctx().method == Method::DELETE {
                        return Ok(Meta::pending_empty(std::time::SystemTime::now(), None));
                    }
                    return Err(FsError::NotFound);
                }
                match self.find(share, path).await? {
                    Some(Found::Folder(_, f)) => Ok(Meta::dir(None, 0, Some(f.id))),
                    Some(Found::File(parent, f)) => {
                        if !self.may_read(&parent, &f, Need::Attributes).await? {
                            // Reads answer 403 as ScaiDrive does; other methods (a DELETE
                            // or MOVE the caller may be allowed) see the listed facts only.
                            return match self.reads() {
                                true => Err(FsError::Forbidden),
                                false => Ok(Meta::file(&f, None)),
                            };
                        }
                        let attrs = self
                            .ctx()
                            .store
                            .attrs_of(&f)
                            .await
                            .map_err(|e| self.err("attrs", &e))?;
                        Ok(Meta::file(&f, attrs.as_ref()))
                    }
                    Some(Found::Pending(m)) => Ok(m),
                    None => Err(FsError::NotFound),
                }
            }
        }
    }

    /// A write may go on to ScaiDrive: the share role allows it, or (checked before the request
    /// reached dav-server) ScaiDrive ACL entries do.
    fn writable(&self, share: &ShareInfo) -> FsResult<()> {
        if share.can_write() || self.ctx().acl_writable.contains(&share.id) {
            Ok(())
        } else {
            Err(FsError::Forbidden)
        }
    }

    /// Whether this request only reads (GET, HEAD, PROPFIND).
    fn reads(&self) -> bool {
        let m = &self.ctx().method;
        *m == Method::GET || *m == Method::HEAD || m.as_str() == "PROPFIND"
    }

    /// Whether the principal may read `f` of `parent` (see `store/access.rs`).
    async fn may_read(&self, parent: &FolderRef, f: &FileInfo, need: Need) -> FsResult<bool> {
        let entry = st::Entry::File(f.clone());
        match self
            .ctx()
            .store
            .check_read(&self.ctx().session, parent, &entry, need)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::AccessDenied(_)) => Ok(false),
            Err(e) => Err(self.err("access", &e)),
        }
    }

    /// In a DELETE, or in a MOVE/COPY for the destination tree, dav-server walks the tree to
    /// delete it entry by entry; an empty listing makes it delete the collection in one call.
    fn walk_is_delete(&self, segs: &[String]) -> bool {
        let ctx = self.ctx();
        if ctx.method == Method::DELETE {
            return true;
        }
        let is_copymove = ctx.method.as_str() == "MOVE" || ctx.method.as_str() == "COPY";
        match &ctx.destination {
            Some(dest) if is_copymove => segs.starts_with(dest),
            _ => false,
        }
    }

    pub(crate) async fn list(&self, loc: &Loc, segs: &[String]) -> FsResult<Vec<Entry>> {
        let ctx = self.ctx();
        match loc {
            Loc::Root => Ok(ctx
                .shares
                .iter()
                .map(|(name, s)| Entry {
                    name: name.clone(),
                    id: None,
                    meta: Meta::dir(
                        s.created_at.as_ref().map(meta::system_time),
                        s.used_bytes.unwrap_or(0),
                        Some(format!("{}-share", s.id)),
                    ),
                })
                .collect()),
            Loc::Share(_) | Loc::Item { .. } => {
                if self.walk_is_delete(segs) {
                    return Ok(Vec::new());
                }
                let (share, dir): (&ShareInfo, &[String]) = match loc {
                    Loc::Share(s) => (s, &[]),
                    Loc::Item { share, path } => (share, path.segments()),
                    Loc::Root => return Ok(Vec::new()),
                };
                let folder = ctx
                    .store
                    .resolve_folder(&ctx.session, &share.id, dir)
                    .await
                    .map_err(|e| self.err("list", &e))?
                    .ok_or(FsError::NotFound)?;
                let listing = ctx
                    .store
                    .list(&ctx.session, &folder)
                    .await
                    .map_err(|e| self.err("list", &e))?;
                let propfind = ctx.method.as_str() == "PROPFIND";
                // Folders carry dead properties only; look them up when a PROPFIND asks.
                let folder_keys: Vec<FileInfo> = match propfind {
                    true => listing
                        .entries
                        .iter()
                        .filter_map(|e| match e {
                            st::Entry::Folder(f) => Some(folder_attrs_key(f)),
                            st::Entry::File(_) => None,
                        })
                        .collect(),
                    false => Vec::new(),
                };
                let files: Vec<&FileInfo> = listing
                    .entries
                    .iter()
                    .filter_map(|e| match e {
                        st::Entry::File(f) => Some(f),
                        st::Entry::Folder(_) => None,
                    })
                    .chain(folder_keys.iter())
                    .collect();
                // One state-DB query for the whole folder, no upstream call per entry.
                let mut attrs = ctx
                    .store
                    .attrs_for(&files)
                    .await
                    .map_err(|e| self.err("attrs", &e))?;
                // What the state DB keeps is served only with READ on the entry; without it
                // the entry shows what ScaiDrive's listing shows (see `store/access.rs`).
                let kept: Vec<&st::Entry> = listing
                    .entries
                    .iter()
                    .filter(|e| attrs.contains_key(e.id()))
                    .collect();
                if !kept.is_empty() {
                    let denied = ctx
                        .store
                        .unreadable(&ctx.session, &listing, &kept, Need::Attributes)
                        .await
                        .map_err(|e| self.err("access", &e))?;
                    attrs.retain(|id, _| !denied.contains(id));
                }
                let mut out: Vec<Entry> = listing
                    .entries
                    .iter()
                    .filter(|e| !is_junk(e.name()))
                    .map(|e| match e {
                        st::Entry::Folder(f) => Entry {
                            name: f.name.clone(),
                            id: Some(f.id.clone()),
                            meta: Meta::dir(None, 0, Some(f.id.clone())),
                        },
                        st::Entry::File(f) => Entry {
                            name: f.name.clone(),
                            id: Some(f.id.clone()),
                            meta: Meta::file(f, attrs.get(&f.id)),
                        },
                    })
                    .collect();
                for (name, p) in ctx.pending.in_folder(&share.id, dir) {
                    if listing.get(&name).is_none() {
                        let mtime = p.client_mtime.as_deref().and_then(meta::parse_mtime);
                        out.push(Entry {
                            name,
                            id: None,
                            meta: Meta::pending_empty(p.created, mtime),
                        });
                    }
                }
                if propfind && let Ok(mut listed) = ctx.listed.lock() {
                    *listed = Some(Listed {
                        dir: segs.to_vec(),
                        listing,
                        attrs,
                    });
                }
                Ok(out)
            }
        }
    }

    async fn do_open(&self, dav_path: &DavPath, oo: OpenOptions) -> FsResult<Handle> {
        let loc = self.locate(dav_path)?;
        let Loc::Item { share, path } = loc else {
            return Err(FsError::Forbidden);
        };
        let ctx = &self.0;
        let junk = path.name().is_some_and(is_junk);
        if !oo.write {
            if junk {
                return Err(FsError::NotFound);
            }
            return match self.find(&share, &path).await? {
                Some(Found::File(parent, f)) => {
                    // Refused here, before dav-server sends an answer head.
                    if !self.may_read(&parent, &f, Need::Content).await? {
                        return Err(FsError::Forbidden);
                    }
                    let attrs = ctx
                        .store
                        .attrs_of(&f)
                        .await
                        .map_err(|e| self.err("attrs", &e))?;
                    let meta = Meta::file(&f, attrs.as_ref());
                    if let Some(segs) = segments(dav_path) {
                        ctx.note_content_type(segs, &meta);
                    }
                    Ok(Handle::Read(Reader {
                        ctx: Arc::clone(ctx),
                        meta,
                        file: Some(f),
                        pos: 0,
                        body: std::sync::Mutex::new(None),
                        leftover: Bytes::new(),
                    }))
                }
                Some(Found::Pending(m)) => Ok(Handle::Read(Reader {
                    ctx: Arc::clone(ctx),
                    meta: m,
                    file: None,
                    pos: 0,
                    body: std::sync::Mutex::new(None),
                    leftover: Bytes::new(),
                })),
                Some(Found::Folder(..)) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            };
        }
        self.writable(&share)?;
        if junk {
            // OS junk is accepted and discarded (docs/webdav.md).
            return Ok(Handle::Sink);
        }
        let parent = ctx
            .store
            .resolve_folder(&ctx.session, &share.id, path.parent_segments())
            .await
            .map_err(|e| self.err("open", &e))?;
        if parent.is_none() {
            return Err(FsError::NotFound);
        }
        let found = self.find(&share, &path).await?;
        let (exists, was_pending) = match &found {
            Some(Found::Folder(..)) => return Err(FsError::Forbidden),
            Some(Found::File(..)) => (true, false),
            Some(Found::Pending(_)) => (false, true),
            None => (false, false),
        };
        if (exists || was_pending) && oo.create_new {
            return Err(FsError::Exists);
        }
        if !(exists || was_pending || oo.create || oo.create_new) {
            return Err(FsError::NotFound);
        }
        let target = Target {
            share_id: share.id.clone(),
            path,
            exists,
            was_pending,
        };
        if !oo.truncate {
            // LOCK on an unmapped URL: an empty resource (pending); or an existing file kept.
            if !exists && !was_pending {
                ctx.pending
                    .add(
                        &ctx.store,
                        &ctx.session,
                        &target.share_id,
                        &target.path,
                        ctx.oc_mtime.clone(),
                    )
                    .await
                    .map_err(|e| fs_error(ctx, "creating an empty file", &e))?;
            }
            return Ok(Handle::Empty {
                ctx: Arc::clone(ctx),
                target: Target {
                    was_pending: true,
                    ..target
                },
                len: 0,
            });
        }
        match oo.size {
            Some(0) if !exists => Ok(Handle::Empty {
                ctx: Arc::clone(ctx),
                target,
                len: 0,
            }),
            Some(size) => Ok(Handle::Stream(StreamWriter::start(
                Arc::clone(ctx),
                target,
                size,
            ))),
            None => Ok(Handle::Spool(
                SpoolWriter::create(Arc::clone(ctx), target).await?,
            )),
        }
    }

    /// Makes `to` (an existing file) a new version with the content of file `from`.
    async fn replace_with(
        &self,
        from: &FileInfo,
        to_share: &ShareInfo,
        to_path: &ObjectPath,
    ) -> FsResult<()> {
        let ctx = self.ctx();
        let attrs = ctx
            .store
            .attrs_of(from)
            .await
            .map_err(|e| self.err("attrs", &e))?
            .unwrap_or_default();
        let dl = ctx
            .store
            .read(&ctx.session, &from.id, None, None)
            .await
            .map_err(|e| self.err("read", &e))?;
        let body = dl
            .body
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
            .boxed();
        let req = st::WriteRequest {
            share_id: to_share.id.clone(),
            path: to_path.clone(),
            size: from.size,
            content_type: attrs.content_type.clone().or(from.mime_type.clone()),
            body,
            create_parents: false,
            attrs: ObjectAttrs {
                etag: String::new(),
                ..attrs
            },
            content_md5: None,
        };
        ctx.store
            .write(&ctx.session, req)
            .await
            .map_err(|e| self.err("replace", &e))?;
        Ok(())
    }

    fn take_deferred(&self, segs: &[String]) -> bool {
        match self.ctx().deferred_delete.lock() {
            Ok(mut d) if d.as_deref() == Some(segs) => {
                *d = None;
                true
            }
            _ => false,
        }
    }

    async fn copy_or_move(&self, from: &DavPath, to: &DavPath, is_move: bool) -> FsResult<()> {
        let ctx = &self.0;
        let from_segs = segments(from).ok_or(FsError::NotFound)?;
        let to_segs = segments(to).ok_or(FsError::NotFound)?;
        let (
            Loc::Item {
                share: fs,
                path: fp,
            },
            Loc::Item {
                share: ts,
                path: tp,
            },
        ) = (
            self.locate_segments(&from_segs)?,
            self.locate_segments(&to_segs)?,
        )
        else {
            return Err(FsError::Forbidden);
        };
        self.writable(&ts)?;
        if is_move {
            self.writable(&fs)?;
        }
        if tp.name().is_some_and(is_junk) {
            return Ok(());
        }
        // A pending empty source is created first (it has nothing upstream to move yet).
        ctx.pending
            .materialize(&ctx.store, &ctx.session, &fs.id, &fp)
            .await;
        let deferred = self.take_deferred(&to_segs);
        let source = self.find(&fs, &fp).await?.ok_or(FsError::NotFound)?;
        let dest = self.find(&ts, &tp).await?;
        if let Some(Found::Pending(_)) = dest {
            ctx.pending.remove(&ts.id, &tp);
        }
        let dest_parent = ctx
            .store
            .resolve_folder(&ctx.session, &ts.id, tp.parent_segments())
            .await
            .map_err(|e| self.err("resolve", &e))?
            .ok_or(FsError::NotFound)?;
        let name = tp.name().ok_or(FsError::Forbidden)?.to_owned();
        match (source, dest) {
            (Found::File(from_parent, f), Some(Found::File(_, _))) => {
                // Safe-save: the destination keeps its history and gets a new version.
                self.replace_with(&f, &ts, &tp).await?;
                if is_move {
                    self.trash_file(&from_parent, &f).await?;
                }
                Ok(())
            }
            (source, Some(Found::File(dp, d))) if deferred => {
                // A folder onto a file: the file goes first.
                self.trash_file(&dp, &d).await?;
                self.move_or_copy_new(source, &dest_parent, &name, is_move)
                    .await
            }
            (_, Some(Found::File(..) | Found::Folder(..))) => Err(FsError::Exists),
            (source, _) => {
                self.move_or_copy_new(source, &dest_parent, &name, is_move)
                    .await
            }
        }
    }

    async fn move_or_copy_new(
        &self,
        source: Found,
        dest: &FolderRef,
        name: &str,
        is_move: bool,
    ) -> FsResult<()> {
        let ctx = self.ctx();
        let res = match (source, is_move) {
            (Found::File(from, f), true) => ctx
                .store
                .move_file(&ctx.session, &f, &from, dest, name)
                .await
                .map(drop),
            (Found::File(_, f), false) => ctx
                .store
                .copy_file(&ctx.session, &f, dest, name, None)
                .await
                .map(drop),
            (Found::Folder(from, f), true) => {
                ctx.store
                    .move_folder(&ctx.session, &f.id, &from, dest, name, &f.name)
                    .await
            }
            // dav-server copies collections itself (create_dir + copy per file).
            (Found::Folder(..), false) | (Found::Pending(_), _) => return Err(FsError::Forbidden),
        };
        res.map_err(|e| self.err(if is_move { "move" } else { "copy" }, &e))
    }
}

impl ScaiFs {
    /// Deletes a file (to the trash under a fresh name: see [`st::trash_name`]).
    async fn trash_file(&self, parent: &FolderRef, f: &FileInfo) -> FsResult<()> {
        let ctx = self.ctx();
        ctx.store
            .delete_file(&ctx.session, parent, f)
            .await
            .map_err(|e| self.err("delete", &e))
    }

    /// Deletes a folder (one call; to the trash under a fresh name).
    async fn trash_folder(&self, parent: &FolderRef, f: &st::FolderInfo) -> FsResult<()> {
        let ctx = self.ctx();
        ctx.store
            .delete_folder(&ctx.session, parent, f)
            .await
            .map_err(|e| self.err("delete", &e))
    }
}

impl DavFileSystem for ScaiFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move { Ok(Box::new(self.do_open(path, options).await?) as Box<dyn DavFile>) }.boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let loc = self.locate_segments(&segs)?;
            let entries = self.list(&loc, &segs).await?;
            let memoized = self
                .ctx()
                .listed
                .lock()
                .is_ok_and(|l| l.as_ref().is_some_and(|l| l.dir == segs));
            if !memoized {
                for e in &entries {
                    let mut child = segs.clone();
                    child.push(e.name.clone());
                    self.ctx().note_content_type(child, &e.meta);
                }
            }
            let stream = futures::stream::iter(
                entries
                    .into_iter()
                    .map(|e| Ok(Box::new(e) as Box<dyn DavDirEntry>)),
            );
            Ok(Box::pin(stream) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let loc = self.locate_segments(&segs)?;
            let meta = self.meta_of(&loc).await?;
            self.ctx().note_content_type(segs, &meta);
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let ctx = self.ctx();
            let loc = self.locate(path)?;
            let (share, path) = match loc {
                Loc::Item { share, path } => (share, path),
                _ => return Err(FsError::Exists),
            };
            self.writable(&share)?;
            if self.find(&share, &path).await?.is_some() {
                return Err(FsError::Exists);
            }
            let parent = ctx
                .store
                .resolve_folder(&ctx.session, &share.id, path.parent_segments())
                .await
                .map_err(|e| self.err("mkcol", &e))?
                .ok_or(FsError::NotFound)?;
            let name = path.name().ok_or(FsError::Forbidden)?;
            ctx.store
                .create_folder_in(&ctx.session, &parent, name)
                .await
                .map_err(|e| self.err("mkcol", &e))?;
            Ok(())
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let Loc::Item { share, path } = self.locate(path)? else {
                return Err(FsError::Forbidden);
            };
            self.writable(&share)?;
            match self.find(&share, &path).await? {
                Some(Found::Folder(parent, f)) => self.trash_folder(&parent, &f).await,
                Some(_) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let ctx = self.ctx();
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let Loc::Item { share, path } = self.locate_segments(&segs)? else {
                return Err(FsError::Forbidden);
            };
            self.writable(&share)?;
            if path.name().is_some_and(is_junk) {
                return Ok(());
            }
            let is_copymove = ctx.method.as_str() == "MOVE" || ctx.method.as_str() == "COPY";
            if is_copymove && ctx.destination.as_deref() == Some(segs.as_slice()) {
                // Overwrite of the destination: decided in rename/copy (new version).
                if let Ok(mut d) = ctx.deferred_delete.lock() {
                    *d = Some(segs);
                }
                return Ok(());
            }
            match self.find(&share, &path).await? {
                Some(Found::File(parent, f)) => self.trash_file(&parent, &f).await,
                Some(Found::Pending(_)) => {
                    ctx.pending.remove(&share.id, &path);
                    Ok(())
                }
                Some(Found::Folder(..)) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        self.copy_or_move(from, to, true).boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        self.copy_or_move(from, to, false).boxed()
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(futures::future::ready(true))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        self.patch_dead_props(path, patch).boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        self.dead_props(path, do_content).boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        self.dead_prop(path, prop).boxed()
    }

    fn get_quota(&'_ self) -> FsFuture<'_, (u64, Option<u64>)> {
        async move {
            let ctx = self.ctx();
            let loc = self.locate_segments(&ctx.path)?;
            let share = match &loc {
                Loc::Root => return Err(FsError::NotImplemented),
                Loc::Share(s) | Loc::Item { share: s, .. } => s.clone(),
            };
            let used = share.used_bytes.unwrap_or(0);
            let Some(quota) = share.quota_bytes else {
                return Ok((used, None));
            };
            // dav-server reports `used` as this resource's length and `available` as
            // total − length; pick the total so available is the share's free space.
            let len = match &loc {
                Loc::Share(_) => used,
                _ => self.meta_of(&loc).await.map(|m| m.len).unwrap_or(0),
            };
            Ok((used, Some(quota.saturating_sub(used).saturating_add(len))))
        }
        .boxed()
    }
}
