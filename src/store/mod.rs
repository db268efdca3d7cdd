//! The protocol-neutral file store both front ends call: shares, path resolution through cached
//! folder listings, streamed reads and writes, folders, delete, copy, rename, versions.
//!
//! Everything is done on behalf of a [`Session`]; caches are keyed by its principal, so one
//! user's view is never served to another. Every write updates or drops what it touched before
//! it returns (read-after-write through the gateway is strong); see `cache.rs`.

mod access;
mod attrs;
mod cache;
mod chunk_budget;
mod chunked;
mod coherence;
mod delete;
mod error;
mod feed;
mod folder_dates;
mod links;
pub mod md5;
mod policies;
pub mod progress;
mod rounds;
mod solo;
mod staging;
mod streamed;
mod trash;
mod versions;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::scaidrive::{
    ByteRange, Client, Download, ErrorKind, File, Item, MyShare, Target, Timestamp, Token, Version,
};
use crate::state::{ObjectAttrs, StateDb};

pub use access::Need;
pub use attrs::opaque_etag;
pub use cache::ListingKey;
use cache::Patch;
pub use chunked::OpenedSession;
use coherence::ShareChange;
pub use delete::{DeletedItem, INTENT_GRACE, Recovered, trash_name, trash_stamp};
pub use error::{StoreError, StoreResult};
pub use folder_dates::FolderDates;
pub use streamed::{FEED_WINDOW, Finished, PendingCreate};
pub use trash::{ChainLink, TrashListing, TrashRef, Trashed, is_deleted, original_name};
pub(crate) use write::io_error;
pub use write::{BodyAbort, BodyStream, WriteRequest, Written};

pub use crate::scaidrive::SINGLE_POST_LIMIT;

/// Tunables of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Cache share lists and folder listings at all. Off: every lookup asks ScaiDrive.
    pub cache_enabled: bool,
    /// How long a folder listing or the share list is trusted without a write through this
    /// gateway (writes made elsewhere become visible within this bound).
    pub cache_ttl: Duration,
    /// Most folder listings kept.
    pub cache_capacity: u64,
    /// Delete permanently instead of moving to ScaiDrive's trash.
    pub permanent_delete: bool,
    /// New files at least this large go through an upload session (chunked, retried per chunk)
    /// instead of one streamed multipart `POST /files`. Default: ScaiDrive's documented limit of
    /// one `POST /files` request (5 GB, `max_file_size_bytes` 5368709120), so every new file
    /// the API takes in one request goes in one request (see `docs/mapping.md`).
    pub session_threshold: u64,
    /// Chunk size for upload sessions (a power of two, 64 KiB – 4 MiB).
    pub chunk_size: u64,
    /// Chunks of one upload in flight at once (memory: `chunk_size` × this).
    pub parallel_chunks: usize,
    /// Bytes of upload-session chunks in flight at once across all uploads
    /// (`chunk_budget.rs`).
    pub chunk_memory: u64,
    /// Poll ScaiDrive's change feed of every share in use this often, dropping the share's
    /// cached listings when something changed upstream; `None` = rely on the TTL alone.
    pub change_feed_interval: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_enabled: true,
            cache_ttl: Duration::from_secs(5),
            cache_capacity: 10_000,
            permanent_delete: false,
            session_threshold: SINGLE_POST_LIMIT,
            chunk_size: 4 << 20,
            parallel_chunks: 3,
            chunk_memory: 16 << 20,
            change_feed_interval: Some(Duration::from_secs(2)),
        }
    }
}

impl StoreOptions {
    /// The store's options from `[cache]` and `[upstream]`.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            cache_enabled: cfg.cache.enabled,
            cache_ttl: Duration::from_secs(cfg.cache.ttl_secs),
            cache_capacity: cfg.cache.capacity,
            permanent_delete: cfg.upstream.permanent_delete,
            session_threshold: cfg.upstream.session_threshold_bytes,
            chunk_size: cfg.upstream.chunk_size_bytes,
            parallel_chunks: cfg.upstream.parallel_chunks,
            chunk_memory: cfg.upstream.chunk_memory_bytes,
            change_feed_interval: (cfg.cache.change_feed_interval_ms > 0)
                .then(|| Duration::from_millis(cfg.cache.change_feed_interval_ms)),
        }
    }
}

/// A share the user can see, with their role in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareInfo {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub quota_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub created_at: Option<Timestamp>,
}

impl ShareInfo {
    /// Whether the role allows writes (contributor, admin, owner).
    pub fn can_write(&self) -> bool {
        matches!(
            self.role.as_deref(),
            Some("contributor" | "admin" | "owner")
        )
    }
}

impl From<MyShare> for ShareInfo {
    fn from(s: MyShare) -> Self {
        Self {
            id: s.id,
            name: s.name,
            role: s.role,
            quota_bytes: s.quota_bytes,
            used_bytes: s.used_bytes,
            created_at: s.created_at,
        }
    }
}

/// A folder as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderInfo {
    pub id: String,
    pub name: String,
}

/// A file as listed: what a folder listing carries, nothing more (no per-file call).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub mime_type: Option<String>,
    pub modified_at: Option<Timestamp>,
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Entry {
    Folder(Arc<FolderInfo>),
    File(Arc<FileInfo>),
}

impl Entry {
    /// The entry's name in its folder.
    pub fn name(&self) -> &str {
        match self {
            Entry::Folder(f) => &f.name,
            Entry::File(f) => &f.name,
        }
    }

    /// The entry's ScaiDrive id.
    pub fn id(&self) -> &str {
        match self {
            Entry::Folder(f) => &f.id,
            Entry::File(f) => &f.id,
        }
    }

    /// The entry's name as it sorts in S3 keys: a folder's followed by `/`.
    pub(crate) fn key_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let slash = matches!(self, Entry::Folder(_)).then_some(b'/');
        self.name().bytes().chain(slash)
    }
}

/// A folder's entries, sorted by name bytes.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Indexes into `entries` in S3 key order (a folder sorts as its name and `/`), computed
    /// once per listing on first use, so that every page of a cached listing reuses it.
    key_order: std::sync::OnceLock<Vec<usize>>,
    /// This principal's READ on the entries, as far as known (see `access.rs`).
    pub(crate) access: access::Known,
}

impl Listing {
    fn from_items(items: Vec<Item>) -> Self {
        let mut entries: Vec<Entry> = items
            .into_iter()
            .filter_map(|item| match item {
                Item::Folder(f) if !f.is_deleted => Some(Entry::Folder(Arc::new(FolderInfo {
                    id: f.id,
                    name: f.name,
                }))),
                Item::File(f) if !f.is_deleted => Some(Entry::File(Arc::new(FileInfo {
                    id: f.id,
                    name: f.name,
                    size: f.size,
                    mime_type: f.mime_type,
                    modified_at: f.modified_at,
                }))),
                _ => None,
            })
            .collect();
        entries.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        Self::new(entries)
    }

    /// A listing of these entries, which must be sorted by name bytes.
    pub(crate) fn new(entries: Vec<Entry>) -> Self {
        Self {
            entries,
            key_order: std::sync::OnceLock::new(),
            access: access::Known::default(),
        }
    }

    /// Indexes into `entries` in S3 key order, where a folder sorts as its name followed by
    /// `/`. Computed on first use and kept with the listing.
    pub(crate) fn key_order(&self) -> &[usize] {
        self.key_order.get_or_init(|| {
            let entries = &self.entries;
            let mut order: Vec<usize> = (0..entries.len()).collect();
            // Sorted by name already; only folders (name + `/`) may move, so the stable sort
            // finds runs that are already in order.
            order.sort_by(|&a, &b| entries[a].key_bytes().cmp(entries[b].key_bytes()));
            order
        })
    }

    /// The entry with exactly this name.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.name().as_bytes().cmp(name.as_bytes()))
            .ok()
            .and_then(|i| self.entries.get(i))
    }
}

/// The listing without the multipart staging folder, which is never shown at a share root
/// (the change feed may patch it into a cached root listing: it is taken out again here).
fn without_staging(folder: &FolderRef, listing: Arc<Listing>) -> Arc<Listing> {
    let staging = crate::namespace::STAGING_FOLDER;
    if folder.folder_id.is_some() || listing.get(staging).is_none() {
        return listing;
    }
    let entries = listing
        .entries
        .iter()
        .filter(|e| e.name() != staging)
        .cloned()
        .collect();
    Arc::new(Listing::new(entries))
}

/// Where a folder is: a share and a folder in it (`None` = the share root).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderRef {
    pub share_id: String,
    pub folder_id: Option<String>,
}

impl FolderRef {
    /// The root of a share.
    pub fn root(share_id: impl Into<String>) -> Self {
        Self {
            share_id: share_id.into(),
            folder_id: None,
        }
    }

    fn target(&self) -> Target {
        match &self.folder_id {
            Some(id) => Target::Folder(id.clone()),
            None => Target::ShareRoot(self.share_id.clone()),
        }
    }
}

/// A resolved path: the entry and the folder that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub parent: FolderRef,
    pub entry: Entry,
}

/// sha256 of a token: the key of what is cached by token.
fn token_key(t: &Token) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(t.expose().as_bytes()).into()
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    db: StateDb,
    opts: StoreOptions,
    cache: cache::Caches,
    followers: feed::Followers,
    own_changes: feed::OwnChanges,
    /// One listing fetch at a time per listing key, one share-list fetch per principal.
    listing_fetches: cache::Gates<ListingKey>,
    share_fetches: cache::Gates<[u8; 32]>,
    /// Folder creations one at a time, so that concurrent writers into a new folder create it
    /// once (the others find it in the patched listing).
    creating_folders: tokio::sync::Mutex<()>,
    coherence: coherence::Coherence,
    /// Bucket policies and public-link records kept in memory (`policies.rs`).
    bucket_settings: policies::BucketSettings,
    /// This instance's membership of the cluster (`solo.rs`).
    solo: solo::Solo,
    /// Folder timestamps asked of ScaiDrive (`folder_dates.rs`).
    folder_dates: folder_dates::DatesMemo,
    /// Memory for upload-session chunks in flight (`chunk_budget.rs`).
    chunk_budget: chunk_budget::ChunkBudget,
}

impl Store {
    /// A store over `client`, keeping object attributes in `db`.
    pub fn new(client: Client, db: StateDb, opts: StoreOptions) -> Self {
        let cache = cache::Caches::new(&opts);
        let folder_dates =
            folder_dates::DatesMemo::new(opts.cache_enabled, opts.cache_ttl, opts.cache_capacity);
        let chunk_budget =
            chunk_budget::ChunkBudget::new(opts.chunk_memory, Arc::clone(cache.stats()));
        Self {
            inner: Arc::new(Inner {
                client,
                db,
                opts,
                cache,
                followers: feed::Followers::default(),
                own_changes: feed::OwnChanges::default(),
                listing_fetches: cache::Gates::default(),
                share_fetches: cache::Gates::default(),
                creating_folders: tokio::sync::Mutex::new(()),
                coherence: coherence::Coherence::default(),
                bucket_settings: policies::BucketSettings::default(),
                solo: solo::Solo::default(),
                folder_dates,
                chunk_budget,
            }),
        }
    }

    /// The ScaiDrive client underneath.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The state database (object attributes, multipart index, locks).
    pub fn db(&self) -> &StateDb {
        &self.inner.db
    }

    /// Hits and misses of the metadata caches.
    pub fn cache_stats(&self) -> Arc<crate::metrics::CacheStats> {
        Arc::clone(self.inner.cache.stats())
    }

    /// The options in force.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.opts
    }

    // ---------------------------------------------------------------------------------------
    // Shares

    /// The shares this user can see (cached per principal, and by token: see
    /// [`Store::prefetch_shares`]).
    pub async fn shares(&self, s: &Session) -> StoreResult<Arc<Vec<ShareInfo>>> {
        self.sync_shares(s).await;
        let cache = &self.inner.cache;
        if let Some(hit) = cache.shares(s.principal()) {
            return Ok(hit);
        }
        let since = cache.shares_generation();
        let shares = self.token_shares(s.token()).await?;
        cache.put_shares(s.principal(), since, Arc::clone(&shares));
        Ok(shares)
    }

    /// The share list `GET /users/me/shares` gives `token`: cached by token, fetched once at a
    /// time per token.
    async fn token_shares(&self, token: &Token) -> StoreResult<Arc<Vec<ShareInfo>>> {
        let cache = &self.inner.cache;
        let key = token_key(token);
        if let Some(hit) = cache.token_shares(&key) {
            return Ok(hit);
        }
        let _gate = match cache.enabled() {
            true => Some(self.inner.share_fetches.enter(&key).await),
            false => None,
        };
        if let Some(hit) = cache.token_shares(&key) {
            return Ok(hit);
        }
        let since = cache.shares_generation();
        let shares = self.inner.client.my_shares(token).await?;
        let shares = Arc::new(shares.into_iter().map(ShareInfo::from).collect::<Vec<_>>());
        cache.put_token_shares(key, since, Arc::clone(&shares));
        Ok(shares)
    }

    /// Starts fetching the share list of `token` in the background while its token check is
    /// still in flight, so that the request after the check finds it (or its fetch under way)
    /// instead of asking only then. Nothing is served from it before a session with this token
    /// exists: [`Store::shares`] reads it only for a session, made after the check passed.
    pub fn prefetch_shares(&self, token: &Token) {
        if !self.inner.cache.enabled() || self.inner.cache.token_shares(&token_key(token)).is_some()
        {
            return;
        }
        let store = self.clone();
        let token = token.clone();
        tokio::spawn(async move {
            if let Err(e) = store.token_shares(&token).await {
                tracing::debug!(error = %e, "share list prefetch failed");
            }
        });
    }

    /// The share with this id, if the user can see it: one of its shares, or (uncached) a
    /// share it reaches only through ACL entries (`GET /shares/{id}`; no role then).
    pub async fn share(&self, s: &Session, share_id: &str) -> StoreResult<ShareInfo> {
        if let Some(sh) = self.shares(s).await?.iter().find(|sh| sh.id == share_id) {
            return Ok(sh.clone());
        }
        match self.inner.client.get_share(s.token(), share_id).await {
            Ok(sh) => Ok(ShareInfo {
                id: sh.id,
                name: sh.name,
                role: None,
                quota_bytes: sh.quota_bytes,
                used_bytes: sh.used_bytes,
                created_at: sh.created_at,
            }),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) => {
                Err(StoreError::NoSuchShare)
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Listing and resolution

    /// The entries of a folder (cached per principal).
    pub async fn list(&self, s: &Session, folder: &FolderRef) -> StoreResult<Arc<Listing>> {
        if let Some(every) = self.inner.opts.change_feed_interval
            && self.inner.cache.enabled()
        {
            self.inner
                .followers
                .ensure(&self.inner, s, &folder.share_id, every);
        }
        self.sync_share(s, &folder.share_id).await;
        let cache = &self.inner.cache;
        let key = ListingKey::new(s.principal(), folder);
        if let Some(hit) = cache.listing(&key) {
            return Ok(without_staging(folder, hit));
        }
        let _gate = match cache.enabled() {
            true => Some(self.inner.listing_fetches.enter(&key).await),
            false => None,
        };
        if let Some(hit) = cache.listing(&key) {
            return Ok(without_staging(folder, hit));
        }
        let since = cache.listing_generation(&folder.share_id);
        let listing = self
            .inner
            .client
            .list_children(s.token(), &folder.share_id, folder.folder_id.as_deref())
            .await?;
        let listing = without_staging(folder, Arc::new(Listing::from_items(listing.items)));
        cache.put_listing(key, since, Arc::clone(&listing));
        Ok(listing)
    }

    /// Walks a folder chain from the share root. `Ok(None)` when a segment is missing;
    /// `Conflict` when a segment names a file.
    pub async fn resolve_folder(
        &self,
        s: &Session,
        share_id: &str,
        segments: &[String],
    ) -> StoreResult<Option<FolderRef>> {
        let mut here = FolderRef::root(share_id);
        for name in segments {
            let listing = self.list(s, &here).await?;
            match listing.get(name) {
                Some(Entry::Folder(f)) => here.folder_id = Some(f.id.clone()),
                Some(Entry::File(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "'{name}' is a file, not a folder"
                    )));
                }
                None => return Ok(None),
            }
        }
        Ok(Some(here))
    }

    /// Resolves a path to its entry. `Ok(None)` when it does not exist. A path ending in `/`
    /// only matches a folder; one without only matches a file, unless `either` is set.
    pub async fn resolve(
        &self,
        s: &Session,
        share_id: &str,
        path: &ObjectPath,
        either: bool,
    ) -> StoreResult<Option<Resolved>> {
        let Some(name) = path.name() else {
            return Ok(None);
        };
        let parent = match self
            .resolve_folder(s, share_id, path.parent_segments())
            .await
        {
            Ok(Some(p)) => p,
            Ok(None) | Err(StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let listing = self.list(s, &parent).await?;
        let entry = match listing.get(name) {
            Some(e) => e.clone(),
            None => return Ok(None),
        };
        let kind_matches = either || matches!(entry, Entry::Folder(_)) == path.is_dir();
        Ok(kind_matches.then_some(Resolved { parent, entry }))
    }

    /// Makes sure the folder chain exists, creating missing folders (like `mkdir -p`).
    pub async fn ensure_folder(
        &self,
        s: &Session,
        share_id: &str,
        segments: &[String],
    ) -> StoreResult<FolderRef> {
        let mut here = FolderRef::root(share_id);
        for name in segments {
            let listing = self.list(s, &here).await?;
            here.folder_id = Some(match listing.get(name) {
                Some(Entry::Folder(f)) => f.id.clone(),
                Some(Entry::File(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "'{name}' is a file, so it cannot hold other entries"
                    )));
                }
                None => {
                    let _one = self.inner.creating_folders.lock().await;
                    // Another writer may have created it while this one waited, here or
                    // through another instance.
                    self.recheck_share(share_id).await;
                    match self.list(s, &here).await?.get(name) {
                        Some(Entry::Folder(f)) => f.id.clone(),
                        _ => self.create_folder_in(s, &here, name).await?.id,
                    }
                }
            });
        }
        Ok(here)
    }

    /// Creates folder `name` in `parent`; an existing folder of that name is returned as is
    /// (a concurrent creator won).
    pub async fn create_folder_in(
        &self,
        s: &Session,
        parent: &FolderRef,
        name: &str,
    ) -> StoreResult<FolderInfo> {
        crate::namespace::validate_segment(name)?;
        let _busy = self.inner.own_changes.busy(&parent.share_id);
        let created = self
            .inner
            .client
            .create_folder(
                s.token(),
                &parent.share_id,
                parent.folder_id.as_deref(),
                name,
            )
            .await;
        match created {
            Ok(f) => {
                self.remember_folder_dates(s, &f);
                let info = FolderInfo {
                    id: f.id,
                    name: f.name,
                };
                let change = ShareChange::by(s)
                    .expect(&info.id, 1, None)
                    .patch(parent, Patch::Upsert(Entry::Folder(Arc::new(info.clone()))));
                self.apply_and_publish(&parent.share_id, change).await?;
                Ok(info)
            }
            Err(e) if e.kind() == crate::scaidrive::ErrorKind::Conflict => {
                // Most often another instance created it a moment ago and has published it.
                self.recheck_share(&parent.share_id).await;
                if let Some(Entry::Folder(f)) = self.list(s, parent).await?.get(name) {
                    return Ok(FolderInfo::clone(f));
                }
                self.invalidate_folder(parent).await;
                match self.list(s, parent).await?.get(name) {
                    Some(Entry::Folder(f)) => Ok(FolderInfo::clone(f)),
                    _ => Err(StoreError::Conflict(format!(
                        "a file named '{name}' already exists"
                    ))),
                }
            }
            Err(e) => {
                self.invalidate_folder(parent).await;
                Err(e.into())
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reads

    /// Full file metadata (one upstream call; used where a listing is not enough).
    pub async fn file(&self, s: &Session, file_id: &str) -> StoreResult<File> {
        Ok(self.inner.client.get_file(s.token(), file_id).await?)
    }

    /// Streams a file's content, or a range of it, or an older version.
    pub async fn read(
        &self,
        s: &Session,
        file_id: &str,
        version: Option<u64>,
        range: Option<ByteRange>,
    ) -> StoreResult<Download> {
        self.inner
            .client
            .download(s.token(), file_id, version, range)
            .await
            .map_err(|e| match (e.kind(), e.total_size()) {
                (crate::scaidrive::ErrorKind::RangeNotSatisfiable, size) => {
                    StoreError::RangeNotSatisfiable { size }
                }
                _ => e.into(),
            })
    }

    /// A file's versions, newest first.
    pub async fn versions(&self, s: &Session, file_id: &str) -> StoreResult<Vec<Version>> {
        Ok(self.inner.client.list_versions(s.token(), file_id).await?)
    }

    // ---------------------------------------------------------------------------------------
    // Copies, moves (deletes: delete.rs)

    /// Server-side copy of a file into `dest` as `name` (the name must be free there). The copy
    /// gets `attrs`, or, when `None`, the source's valid attributes.
    pub async fn copy_file(
        &self,
        s: &Session,
        file: &FileInfo,
        dest: &FolderRef,
        name: &str,
        attrs: Option<ObjectAttrs>,
    ) -> StoreResult<File> {
        crate::namespace::validate_segment(name)?;
        let attrs = match attrs {
            Some(a) => Some(a),
            None => self.attrs_of(file).await?,
        };
        let _busy = self.inner.own_changes.busy(&dest.share_id);
        let res = self
            .inner
            .client
            .copy_file(s.token(), &file.id, &dest.target(), Some(name))
            .await;
        let copy = match res {
            Ok(copy) => copy,
            Err(e) => {
                self.invalidate_folder(dest).await;
                return Err(e.into());
            }
        };
        let change = ShareChange::by(s)
            .expect(&copy.id, 1, copy.version_id.clone())
            .patch(dest, Patch::Upsert(file_entry(&copy)))
            .attrs(&copy.id);
        self.apply_here(&dest.share_id, &change, false);
        self.rebind_attrs(attrs, &copy).await;
        self.publish(&dest.share_id, change).await?;
        Ok(copy)
    }

    /// Moves and/or renames a file (the name must be free at the destination). Its attributes
    /// follow it.
    pub async fn move_file(
        &self,
        s: &Session,
        file: &FileInfo,
        from: &FolderRef,
        dest: &FolderRef,
        name: &str,
    ) -> StoreResult<File> {
        crate::namespace::validate_segment(name)?;
        let attrs = self.attrs_of(file).await?;
        let client = &self.inner.client;
        let _busy = (
            self.inner.own_changes.busy(&from.share_id),
            self.inner.own_changes.busy(&dest.share_id),
        );
        let res = if from == dest {
            let patch = crate::scaidrive::FilePatch {
                name: Some(name.to_owned()),
                ..Default::default()
            };
            client.update_file(s.token(), &file.id, &patch).await
        } else {
            client
                .move_file(s.token(), &file.id, &dest.target(), Some(name))
                .await
        };
        let moved = match res {
            Ok(moved) => moved,
            Err(e) => {
                self.invalidate_folder(from).await;
                self.invalidate_folder(dest).await;
                return Err(e.into());
            }
        };
        let removed = Patch::Remove {
            name: file.name.clone(),
            id: file.id.clone(),
        };
        let added = Patch::Upsert(file_entry(&moved));
        let out = ShareChange::by(s)
            .expect(&file.id, 1, None)
            .patch(from, removed)
            .attrs(&file.id);
        if dest.share_id == from.share_id {
            let change = out.patch(dest, added);
            self.apply_here(&from.share_id, &change, false);
            self.rebind_attrs(attrs, &moved).await;
            self.publish(&from.share_id, change).await?;
        } else {
            let into = ShareChange::by(s)
                .expect(&file.id, 1, None)
                .patch(dest, added)
                .attrs(&moved.id);
            self.apply_here(&from.share_id, &out, false);
            self.apply_here(&dest.share_id, &into, false);
            self.rebind_attrs(attrs, &moved).await;
            self.publish(&from.share_id, out).await?;
            self.publish(&dest.share_id, into).await?;
        }
        Ok(moved)
    }

    /// Moves and/or renames a folder (the name must be free at the destination).
    pub async fn move_folder(
        &self,
        s: &Session,
        folder_id: &str,
        from: &FolderRef,
        dest: &FolderRef,
        name: &str,
        current_name: &str,
    ) -> StoreResult<()> {
        crate::namespace::validate_segment(name)?;
        let client = &self.inner.client;
        let mut result = Ok(());
        if from != dest {
            result = client
                .move_folder(s.token(), folder_id, &dest.target())
                .await
                .map(drop);
        }
        if result.is_ok() && name != current_name {
            result = client
                .rename_folder(s.token(), folder_id, name)
                .await
                .map(drop);
        }
        self.forget_folder_dates(folder_id);
        self.invalidate_share(&from.share_id).await;
        self.invalidate_share(&dest.share_id).await;
        result.map_err(StoreError::from)
    }

    // ---------------------------------------------------------------------------------------
    // Invalidation

    /// Forgets every user's cached listing of this folder.
    pub async fn invalidate_folder(&self, folder: &FolderRef) {
        let change = ShareChange::anonymous().drop_folder(folder);
        self.apply_and_publish_or_log(&folder.share_id, change)
            .await;
    }

    /// Forgets every user's cached listings of a share (after a folder-level change).
    pub async fn invalidate_share(&self, share_id: &str) {
        let change = ShareChange::anonymous().drop_share();
        self.apply_and_publish_or_log(share_id, change).await;
    }

    /// Tells the change-feed follower that `count` entries for `resource_id` are the gateway's
    /// own (already reflected in the cache).
    fn expect_changes(
        &self,
        share_id: &str,
        resource_id: &str,
        count: u32,
        version_id: Option<String>,
    ) {
        if self.inner.cache.enabled() && self.inner.opts.change_feed_interval.is_some() {
            self.inner
                .own_changes
                .expect(share_id, resource_id, count, version_id);
        }
    }

    /// Marks a write in flight in a share, for the change-feed follower (see `feed.rs`).
    pub(crate) fn busy(&self, share_id: &str) -> feed::Busy<'_> {
        self.inner.own_changes.busy(share_id)
    }

    /// After a file write in `parent`: on success the writer's cached listing gets the entry
    /// (with a provisional `modified_at`, as the upload answer carries none) and the change is
    /// returned, to be published once the write is complete; on failure the folder's listings
    /// are dropped here (the outcome upstream may be unclear).
    pub(crate) fn after_file_write(
        &self,
        s: &Session,
        parent: &FolderRef,
        name: &str,
        declared_type: Option<&str>,
        result: &StoreResult<Written>,
    ) -> Option<ShareChange> {
        let w = match result {
            Ok(w) => w,
            Err(_) => {
                self.inner.cache.invalidate_folder(parent);
                return None;
            }
        };
        let now = chrono::Utc::now();
        let modified = now - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
        let mime_type = match declared_type {
            Some(t) if !t.is_empty() && t != "application/octet-stream" => t.to_owned(),
            _ => mime_guess::from_path(name)
                .first_or_octet_stream()
                .essence_str()
                .to_owned(),
        };
        let change = ShareChange::by(s)
            .expect(&w.file_id, 1, w.version_id.clone())
            .provisional(&w.file_id, modified)
            .patch(
                parent,
                Patch::Upsert(Entry::File(Arc::new(FileInfo {
                    id: w.file_id.clone(),
                    name: name.to_owned(),
                    size: w.size,
                    mime_type: Some(mime_type),
                    modified_at: Some(modified),
                }))),
            )
            .attrs(&w.file_id);
        self.apply_here(&parent.share_id, &change, false);
        Some(change)
    }

    /// Whether a file's listed `modified_at` is the gateway's own estimate (see
    /// [`after_file_write`](Self::after_file_write)), which must not bind object attributes.
    pub(crate) fn is_provisional(&self, file: &FileInfo) -> bool {
        file.modified_at
            .as_ref()
            .is_some_and(|t| self.inner.cache.is_provisional(&file.id, t))
    }
}

/// A listing entry for a file ScaiDrive answered with.
fn file_entry(f: &File) -> Entry {
    Entry::File(Arc::new(FileInfo {
        id: f.id.clone(),
        name: f.name.clone(),
        size: f.size,
        mime_type: f.mime_type.clone(),
        modified_at: f.modified_at,
    }))
}

/// The modification time to report to clients for an upstream timestamp. ScaiDrive gives second
/// precision, truncated: the change happened within the second that follows. Both front ends
/// report the end of that second, so that a client comparing its local file's mtime with the
/// object's (aws s3 sync) never sees an object it just wrote as older than its source.
pub fn reported_time(t: &Timestamp) -> Timestamp {
    if t.timestamp_subsec_nanos() == 0 {
        *t + chrono::Duration::seconds(1)
    } else {
        *t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_time_is_the_end_of_a_truncated_second() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-04-20T10:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok();
        let t = t.as_ref().map(reported_time).map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2026-04-20T10:00:01+00:00"));
        let precise = chrono::DateTime::parse_from_rfc3339("2026-04-20T10:00:00.250Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok();
        assert_eq!(precise.as_ref().map(reported_time), precise);
    }

    #[test]
    fn options_follow_cache_and_upstream_config() {
        let mut cfg = crate::config::Config::default();
        let opts = StoreOptions::from_config(&cfg);
        assert_eq!(opts.cache_ttl, Duration::from_secs(5));
        assert_eq!(opts.change_feed_interval, Some(Duration::from_secs(2)));
        assert_eq!(opts.session_threshold, SINGLE_POST_LIMIT);
        cfg.cache.enabled = false;
        cfg.cache.change_feed_interval_ms = 0;
        cfg.upstream.chunk_size_bytes = 1 << 20;
        cfg.upstream.parallel_chunks = 5;
        cfg.upstream.permanent_delete = true;
        let opts = StoreOptions::from_config(&cfg);
        assert!(!opts.cache_enabled);
        assert_eq!(opts.change_feed_interval, None);
        assert_eq!(opts.chunk_size, 1 << 20);
        assert_eq!(opts.parallel_chunks, 5);
        assert!(opts.permanent_delete);
    }
}
