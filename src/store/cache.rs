//! The store's metadata caches (moka): the share list and folder listings, both keyed by
//! principal so that one user's view is never served to another.
//!
//! - A listing is trusted for at most `cache_ttl` after it was fetched from ScaiDrive, whatever
//!   the gateway wrote into it since (writes made elsewhere are seen through the change feed,
//!   and the TTL bounds them when the feed cannot be read).
//! - A write through the gateway **patches** the writer's cached listing of the folder it
//!   touched (the entry it created or replaced is inserted, a deleted one removed) instead of
//!   dropping it, so a client writing many files into one folder does not make the gateway
//!   list that folder again after every file. Other principals' listings of that folder are
//!   dropped (their view may differ by ACL; they fetch their own).
//! - Read-after-write must hold even when a listing is being fetched while a write happens: a
//!   fetch that started before the write may carry the old state. Every change bumps a
//!   generation per share under a lock, and patches are logged with their generation. A fetched
//!   listing whose generation moved on is cached only when every change since then was a patch
//!   of this principal (replayed onto the fetched listing) or concerned other folders; after a
//!   hard invalidation (folder moves and deletes, writes with an unclear outcome, changes seen
//!   in the feed) it is refused.
//! - With several instances on one PostgreSQL state database, each share also has a generation
//!   in the database that every instance's writes bump, recording what they changed (see
//!   `coherence.rs`). Per share the cache remembers the database generation its contents are
//!   coherent with (`remote`); the changes of other instances since are applied as the same
//!   patches and invalidations their writers made here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::{Entry, FolderRef, Listing, ShareInfo, StoreOptions};
use crate::metrics::CacheStats;
use crate::scaidrive::Timestamp;

/// Patches kept per share for fetches in flight; a fetch older than this many changes of its
/// share is not cached.
const PATCH_LOG: usize = 4096;

/// Key of a cached folder listing: whose view, which share, which folder (`None` = root).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingKey {
    pub principal: String,
    pub share_id: String,
    pub folder_id: Option<String>,
}

impl ListingKey {
    pub(crate) fn new(principal: &str, folder: &FolderRef) -> Self {
        Self {
            principal: principal.to_owned(),
            share_id: folder.share_id.clone(),
            folder_id: folder.folder_id.clone(),
        }
    }
}

/// A change the gateway itself made to one folder's entries.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum Patch {
    /// The entry (created or replaced) as the gateway knows it now.
    Upsert(Entry),
    /// The entry with this id is gone: the one of this name if it has this id, else the one
    /// with this id under any name (a delete renames an item to its trash name before it
    /// trashes it, and a listing fetched in between shows it so). An entry of this name with
    /// another id stays.
    Remove { name: String, id: String },
}

impl Listing {
    /// Applies a patch, keeping the entries sorted by name bytes.
    pub(crate) fn apply(&mut self, patch: &Patch) {
        // The key order no longer matches the entries; it is computed again on first use.
        self.key_order = std::sync::OnceLock::new();
        let find = |entries: &[Entry], name: &str| {
            entries.binary_search_by(|e| e.name().as_bytes().cmp(name.as_bytes()))
        };
        if let Patch::Upsert(Entry::File(f)) = patch {
            // The writer's own file: its attributes are what it sent (see `access.rs`).
            self.access.own(&f.id);
        }
        match patch {
            Patch::Upsert(entry) => match find(&self.entries, entry.name()) {
                Ok(i) => self.entries[i] = entry.clone(),
                Err(i) => self.entries.insert(i, entry.clone()),
            },
            Patch::Remove { name, id } => {
                let id_of = |e: &Entry| match e {
                    Entry::File(f) => f.id == *id,
                    Entry::Folder(f) => f.id == *id,
                };
                let at = match find(&self.entries, name) {
                    Ok(i) if id_of(&self.entries[i]) => Some(i),
                    // Under another name: a listing fetched while a delete had renamed the
                    // item to its trash name and not yet trashed it.
                    _ => self.entries.iter().position(id_of),
                };
                if let Some(i) = at {
                    self.entries.remove(i);
                }
            }
        }
    }
}

#[derive(Clone)]
struct Cached {
    listing: Arc<Listing>,
    /// When the fetch from ScaiDrive started (patches keep it).
    fetched: Instant,
}

struct LoggedPatch {
    generation: u64,
    principal: String,
    folder_id: Option<String>,
    patch: Patch,
}

#[derive(Default)]
struct ShareState {
    generation: u64,
    /// Generation of the last hard invalidation.
    invalidated: u64,
    patches: VecDeque<LoggedPatch>,
    /// Principals that have cached listings of this share (for exact per-folder invalidation).
    principals: HashSet<String>,
    /// The database generation of the share the cached listings are coherent with.
    remote: u64,
}

#[derive(Default)]
struct Generations {
    shares: u64,
    /// The database generation of the share list the cached share lists are coherent with.
    shares_remote: u64,
    listings: HashMap<String, ShareState>,
}

pub(crate) struct Caches {
    enabled: bool,
    ttl: Duration,
    shares: Cache<String, Arc<Vec<ShareInfo>>>,
    /// The same share lists by sha256 of the token they were fetched with: warm before the
    /// token check names the principal (fetched beside it), and for every credential of a
    /// token. Read only for a session whose token check passed.
    token_shares: Cache<[u8; 32], Arc<Vec<ShareInfo>>>,
    listings: Cache<ListingKey, Cached>,
    /// `modified_at` values the gateway estimated for files it wrote (the upload answer has
    /// none), by file id: they must never bind object attributes.
    provisional: Cache<String, Timestamp>,
    generations: Mutex<Generations>,
    stats: Arc<CacheStats>,
}

/// The generation a fetch started under; hand it back to `put_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation {
    value: u64,
    started: Instant,
}

impl Caches {
    pub fn new(opts: &StoreOptions) -> Self {
        Self {
            enabled: opts.cache_enabled,
            ttl: opts.cache_ttl,
            shares: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(opts.cache_ttl.max(Duration::from_millis(1)))
                .build(),
            token_shares: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(opts.cache_ttl.max(Duration::from_millis(1)))
                .build(),
            listings: Cache::builder()
                .max_capacity(opts.cache_capacity)
                .time_to_live(opts.cache_ttl.max(Duration::from_millis(1)))
                .support_invalidation_closures()
                .build(),
            provisional: Cache::builder()
                .max_capacity(opts.cache_capacity.saturating_mul(4))
                .time_to_live(opts.cache_ttl * 2 + Duration::from_secs(60))
                .build(),
            generations: Mutex::new(Generations::default()),
            stats: Arc::default(),
        }
    }

    /// Whether caching is on (`cache.enabled`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn gens(&self) -> MutexGuard<'_, Generations> {
        self.generations.lock().unwrap_or_else(|p| p.into_inner())
    }

    // --- share lists ---------------------------------------------------------------------

    pub fn shares(&self, principal: &str) -> Option<Arc<Vec<ShareInfo>>> {
        if !self.enabled {
            return None;
        }
        let found = self.shares.get(principal);
        self.stats.shares(found.is_some());
        found
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    pub fn shares_generation(&self) -> Generation {
        Generation {
            value: self.gens().shares,
            started: Instant::now(),
        }
    }

    pub fn put_shares(&self, principal: &str, since: Generation, v: Arc<Vec<ShareInfo>>) {
        if !self.enabled {
            return;
        }
        let gens = self.gens();
        if gens.shares == since.value {
            self.shares.insert(principal.to_owned(), v);
        }
    }

    /// The share list fetched with the token of sha256 `token`, if cached.
    pub fn token_shares(&self, token: &[u8; 32]) -> Option<Arc<Vec<ShareInfo>>> {
        if !self.enabled {
            return None;
        }
        self.token_shares.get(token)
    }

    /// Caches a share list fetched with the token of sha256 `token` since `since`.
    pub fn put_token_shares(&self, token: [u8; 32], since: Generation, v: Arc<Vec<ShareInfo>>) {
        if !self.enabled {
            return;
        }
        let gens = self.gens();
        if gens.shares == since.value {
            self.token_shares.insert(token, v);
        }
    }

    pub fn invalidate_shares(&self) {
        let mut gens = self.gens();
        self.invalidate_shares_locked(&mut gens);
    }

    fn invalidate_shares_locked(&self, gens: &mut Generations) {
        gens.shares += 1;
        self.shares.invalidate_all();
        self.token_shares.invalidate_all();
    }

    // --- folder listings -----------------------------------------------------------------

    pub fn listing(&self, key: &ListingKey) -> Option<Arc<Listing>> {
        if !self.enabled {
            return None;
        }
        let fresh = self
            .listings
            .get(key)
            .filter(|hit| hit.fetched.elapsed() < self.ttl)
            .map(|hit| hit.listing);
        self.stats.listings(fresh.is_some());
        fresh
    }

    pub fn listing_generation(&self, share_id: &str) -> Generation {
        let value = self
            .gens()
            .listings
            .get(share_id)
            .map_or(0, |s| s.generation);
        Generation {
            value,
            started: Instant::now(),
        }
    }

    /// Caches a listing fetched since `since`, replaying this principal's patches made while it
    /// was in flight; refuses it when anything else changed the share meanwhile.
    pub fn put_listing(&self, key: ListingKey, since: Generation, listing: Arc<Listing>) {
        if !self.enabled {
            return;
        }
        let mut gens = self.gens();
        let share = gens.listings.entry(key.share_id.clone()).or_default();
        let mut listing = listing;
        if share.generation != since.value {
            if share.invalidated > since.value
                || share
                    .patches
                    .front()
                    .is_none_or(|p| p.generation > since.value + 1)
            {
                return;
            }
            let mut replayed: Option<Listing> = None;
            for p in share
                .patches
                .iter()
                .filter(|p| p.generation > since.value && p.folder_id == key.folder_id)
            {
                if p.principal != key.principal {
                    return;
                }
                replayed
                    .get_or_insert_with(|| (*listing).clone())
                    .apply(&p.patch);
            }
            if let Some(l) = replayed {
                listing = Arc::new(l);
            }
        }
        share.principals.insert(key.principal.clone());
        self.listings.insert(
            key,
            Cached {
                listing,
                fetched: since.started,
            },
        );
    }

    /// Records a change the gateway made in `folder` on behalf of `principal`: patches that
    /// principal's cached listing in place and drops every other principal's listing of it.
    pub fn patch(&self, principal: &str, folder: &FolderRef, patch: Patch) {
        if !self.enabled {
            return;
        }
        let mut gens = self.gens();
        let share = gens.listings.entry(folder.share_id.clone()).or_default();
        share.generation += 1;
        let generation = share.generation;
        for other in share.principals.iter().filter(|p| *p != principal) {
            self.listings.invalidate(&ListingKey {
                principal: other.clone(),
                share_id: folder.share_id.clone(),
                folder_id: folder.folder_id.clone(),
            });
        }
        let key = ListingKey::new(principal, folder);
        if let Some(cached) = self.listings.get(&key) {
            if cached.fetched.elapsed() < self.ttl {
                let mut listing = (*cached.listing).clone();
                listing.apply(&patch);
                self.listings.insert(
                    key,
                    Cached {
                        listing: Arc::new(listing),
                        fetched: cached.fetched,
                    },
                );
            } else {
                self.listings.invalidate(&key);
            }
        }
        share.patches.push_back(LoggedPatch {
            generation,
            principal: principal.to_owned(),
            folder_id: folder.folder_id.clone(),
            patch,
        });
        while share.patches.len() > PATCH_LOG {
            share.patches.pop_front();
        }
    }

    /// Drops every principal's listing of one folder.
    pub fn invalidate_folder(&self, folder: &FolderRef) {
        let mut gens = self.gens();
        let share = gens.listings.entry(folder.share_id.clone()).or_default();
        share.generation += 1;
        share.invalidated = share.generation;
        share.patches.clear();
        for principal in &share.principals {
            self.listings.invalidate(&ListingKey {
                principal: principal.clone(),
                share_id: folder.share_id.clone(),
                folder_id: folder.folder_id.clone(),
            });
        }
    }

    /// The database generation of `key` (a share id, `""` the share list) the cache is
    /// coherent with: every change up to it is applied here (see `coherence.rs`).
    pub fn remote(&self, key: &str) -> u64 {
        let gens = self.gens();
        match key {
            "" => gens.shares_remote,
            share => gens.listings.get(share).map_or(0, |s| s.remote),
        }
    }

    /// Every key (`""`: the share list, or a share) with a generation known here.
    pub fn remote_keys(&self) -> Vec<String> {
        let gens = self.gens();
        std::iter::once(String::new())
            .chain(gens.listings.keys().cloned())
            .collect()
    }

    /// Records that every change of `key` up to `generation` is applied here.
    pub fn set_remote(&self, key: &str, generation: u64) {
        let mut gens = self.gens();
        let remote = match key {
            "" => &mut gens.shares_remote,
            share => &mut gens.listings.entry(share.to_owned()).or_default().remote,
        };
        *remote = (*remote).max(generation);
    }

    /// This instance's own change got `generation` (it is applied here already): when it is
    /// the next one, the cache is coherent with it without reading it back.
    pub fn own_remote(&self, key: &str, generation: u64) {
        let mut gens = self.gens();
        let remote = match key {
            "" => &mut gens.shares_remote,
            share => &mut gens.listings.entry(share.to_owned()).or_default().remote,
        };
        if generation == *remote + 1 {
            *remote = generation;
        }
    }

    /// Drops every principal's listings of a whole share.
    pub fn invalidate_share(&self, share_id: &str) {
        let mut gens = self.gens();
        self.invalidate_share_locked(&mut gens, share_id);
    }

    fn invalidate_share_locked(&self, gens: &mut Generations, share_id: &str) {
        let share = gens.listings.entry(share_id.to_owned()).or_default();
        share.generation += 1;
        share.invalidated = share.generation;
        share.patches.clear();
        let share = share_id.to_owned();
        if let Err(e) = self
            .listings
            .invalidate_entries_if(move |k, _| k.share_id == share)
        {
            tracing::warn!(error = %e, "listing invalidation failed; dropping all listings");
            self.listings.invalidate_all();
        }
    }

    // --- provisional modification times --------------------------------------------------

    pub fn set_provisional(&self, file_id: &str, t: Timestamp) {
        if self.enabled {
            self.provisional.insert(file_id.to_owned(), t);
        }
    }

    /// Forgets the estimate of a file; whether there was one (the gateway wrote the file
    /// moments ago).
    pub fn take_provisional(&self, file_id: &str) -> bool {
        self.enabled && self.provisional.remove(file_id).is_some()
    }

    /// Whether `t` is the gateway's own estimate for this file (not an upstream value).
    pub fn is_provisional(&self, file_id: &str, t: &Timestamp) -> bool {
        self.enabled && self.provisional.get(file_id).is_some_and(|p| &p == t)
    }
}

/// One fetch at a time per key: concurrent misses of the same listing (say, eight uploads into
/// one folder right after its listing expired) wait for the first fetch instead of each asking
/// ScaiDrive.
pub(crate) struct Gates<K> {
    gates: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for Gates<K> {
    fn default() -> Self {
        Self {
            gates: Mutex::new(HashMap::new()),
        }
    }
}

/// Held while fetching; dropping it lets the next waiter in (and forgets an idle gate).
pub(crate) struct GateGuard<'a, K: std::hash::Hash + Eq + Clone> {
    gates: &'a Gates<K>,
    key: K,
    gate: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl<K: std::hash::Hash + Eq + Clone> Gates<K> {
    pub(crate) async fn enter(&self, key: &K) -> GateGuard<'_, K> {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(gates.entry(key.clone()).or_default())
        };
        let held = Arc::clone(&gate).lock_owned().await;
        GateGuard {
            gates: self,
            key: key.clone(),
            gate,
            _held: held,
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Drop for GateGuard<'_, K> {
    fn drop(&mut self) {
        let mut gates = self.gates.gates.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference, `gate` and the held lock's: nobody else waits.
        if Arc::strong_count(&self.gate) <= 3 {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::{FileInfo, FolderInfo};

    fn file(id: &str, name: &str) -> Entry {
        Entry::File(Arc::new(FileInfo {
            id: id.into(),
            name: name.into(),
            size: 1,
            mime_type: None,
            modified_at: None,
        }))
    }

    fn names(l: &Listing) -> Vec<&str> {
        l.entries.iter().map(Entry::name).collect()
    }

    fn caches() -> Caches {
        Caches::new(&StoreOptions::default())
    }

    #[test]
    fn patches_keep_entries_sorted_and_remove_only_the_same_id() {
        let mut l = Listing::new(vec![file("1", "b")]);
        l.apply(&Patch::Upsert(file("2", "c")));
        l.apply(&Patch::Upsert(file("3", "a")));
        l.apply(&Patch::Upsert(Entry::Folder(Arc::new(FolderInfo {
            id: "4".into(),
            name: "bb".into(),
        }))));
        assert_eq!(names(&l), ["a", "b", "bb", "c"]);
        l.apply(&Patch::Remove {
            name: "b".into(),
            id: "other".into(),
        });
        assert_eq!(names(&l), ["a", "b", "bb", "c"]);
        l.apply(&Patch::Remove {
            name: "b".into(),
            id: "1".into(),
        });
        assert_eq!(names(&l), ["a", "bb", "c"]);
    }

    #[test]
    fn the_key_order_puts_folders_after_their_name_and_follows_patches() {
        let folder = |id: &str, name: &str| {
            Entry::Folder(Arc::new(FolderInfo {
                id: id.into(),
                name: name.into(),
            }))
        };
        let keys = |l: &Listing| -> Vec<String> {
            l.key_order()
                .iter()
                .map(|&i| l.entries[i].key_bytes().map(char::from).collect())
                .collect()
        };
        // By name: "a", "a-b", "a0"; by key: "a-b", "a/", "a0".
        let mut l = Listing::new(vec![folder("1", "a"), file("2", "a-b"), file("3", "a0")]);
        assert_eq!(keys(&l), ["a-b", "a/", "a0"]);
        l.apply(&Patch::Upsert(file("4", "a.")));
        l.apply(&Patch::Upsert(folder("5", "a-")));
        assert_eq!(keys(&l), ["a-/", "a-b", "a.", "a/", "a0"]);
        l.apply(&Patch::Remove {
            name: "a".into(),
            id: "1".into(),
        });
        assert_eq!(keys(&l), ["a-/", "a-b", "a.", "a0"]);
    }

    #[test]
    fn a_write_patches_the_writers_listing_and_drops_other_principals() {
        let c = caches();
        let folder = FolderRef::root("shr");
        for who in ["alice", "bob"] {
            let g = c.listing_generation("shr");
            c.put_listing(
                ListingKey::new(who, &folder),
                g,
                Arc::new(Listing::default()),
            );
        }
        c.patch("alice", &folder, Patch::Upsert(file("1", "x")));
        let alice = c.listing(&ListingKey::new("alice", &folder)).unwrap();
        assert_eq!(names(&alice), ["x"]);
        assert!(c.listing(&ListingKey::new("bob", &folder)).is_none());
    }

    #[test]
    fn a_fetch_in_flight_during_own_writes_is_cached_with_them_replayed() {
        let c = caches();
        let folder = FolderRef::root("shr");
        let key = ListingKey::new("alice", &folder);
        let g = c.listing_generation("shr");
        c.patch("alice", &folder, Patch::Upsert(file("1", "x")));
        c.patch(
            "alice",
            &FolderRef {
                share_id: "shr".into(),
                folder_id: Some("elsewhere".into()),
            },
            Patch::Upsert(file("2", "y")),
        );
        // The fetch answered without the write.
        c.put_listing(key.clone(), g, Arc::new(Listing::default()));
        assert_eq!(names(&c.listing(&key).unwrap()), ["x"]);
    }

    #[test]
    fn a_fetch_that_saw_a_deleted_file_under_its_trash_name_is_cached_without_it() {
        let c = caches();
        let folder = FolderRef::root("shr");
        let key = ListingKey::new("alice", &folder);
        let g = c.listing_generation("shr");
        // The delete renamed `f3.txt` (id 1) to its trash name, the fetch listed the folder
        // then, and the delete's trash call and patch came after.
        c.patch(
            "alice",
            &folder,
            Patch::Remove {
                name: "f3.txt".into(),
                id: "1".into(),
            },
        );
        let fetched = Listing::new(vec![
            file("2", "f2.txt"),
            file("1", "f3.txt (deleted 20261205T231813.365Z)"),
        ]);
        c.put_listing(key.clone(), g, Arc::new(fetched));
        assert_eq!(names(&c.listing(&key).unwrap()), ["f2.txt"]);
    }

    #[test]
    fn a_rename_replayed_onto_a_fetch_that_saw_the_new_name_keeps_one_entry() {
        let mut l = Listing::new(vec![file("1", "b"), file("2", "c")]);
        l.apply(&Patch::Remove {
            name: "a".into(),
            id: "1".into(),
        });
        l.apply(&Patch::Upsert(file("1", "b")));
        assert_eq!(names(&l), ["b", "c"]);
    }

    #[test]
    fn a_fetch_in_flight_during_an_invalidation_or_anothers_write_is_refused() {
        let c = caches();
        let folder = FolderRef::root("shr");
        let key = ListingKey::new("alice", &folder);
        let g = c.listing_generation("shr");
        c.patch("bob", &folder, Patch::Upsert(file("1", "x")));
        c.put_listing(key.clone(), g, Arc::new(Listing::default()));
        assert!(c.listing(&key).is_none());
        let g = c.listing_generation("shr");
        c.invalidate_folder(&FolderRef {
            share_id: "shr".into(),
            folder_id: Some("elsewhere".into()),
        });
        c.put_listing(key.clone(), g, Arc::new(Listing::default()));
        assert!(c.listing(&key).is_none());
        let g = c.listing_generation("shr");
        c.put_listing(key.clone(), g, Arc::new(Listing::default()));
        assert!(c.listing(&key).is_some());
    }

    #[test]
    fn the_remote_generation_moves_on_with_applied_and_next_own_changes_only() {
        let c = caches();
        assert_eq!(c.remote("shr"), 0);
        c.set_remote("shr", 3);
        c.set_remote("shr", 2);
        assert_eq!(c.remote("shr"), 3);
        // The next generation is this instance's own: nothing to read back.
        c.own_remote("shr", 4);
        assert_eq!(c.remote("shr"), 4);
        // Another instance's change came in between: read it (and this one) next time.
        c.own_remote("shr", 6);
        assert_eq!(c.remote("shr"), 4);
        c.own_remote("", 1);
        assert_eq!((c.remote(""), c.remote("other")), (1, 0));
    }

    #[tokio::test]
    async fn idle_gates_are_forgotten() {
        let gates: Gates<u32> = Gates::default();
        let first = gates.enter(&1).await;
        let waiter = tokio::spawn({
            let gate = gates.gates.lock().unwrap().get(&1).cloned().unwrap();
            async move { drop(gate.lock_owned().await) }
        });
        drop(first);
        waiter.await.unwrap();
        drop(gates.enter(&1).await);
        assert!(gates.gates.lock().unwrap().is_empty());
    }

    #[test]
    fn nothing_is_cached_when_caching_is_off() {
        let c = Caches::new(&StoreOptions {
            cache_enabled: false,
            ..StoreOptions::default()
        });
        let folder = FolderRef::root("shr");
        let key = ListingKey::new("alice", &folder);
        let g = c.listing_generation("shr");
        c.put_listing(key.clone(), g, Arc::new(Listing::default()));
        assert!(c.listing(&key).is_none());
        c.put_shares("alice", c.shares_generation(), Arc::new(Vec::new()));
        assert!(c.shares("alice").is_none());
    }
}
