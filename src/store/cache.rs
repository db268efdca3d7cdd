//! The store's metadata caches (moka): the share list and folder listings, both keyed by
//! principal so that one user's view is never served to another.
//!
//! Read-after-write must hold even when a listing is being fetched while a write happens: a
//! fetch that started before the write may carry the old state. Every invalidation therefore
//! bumps a generation (per share for listings, one for share lists) under a lock, and a fetched
//! value is cached only if the generation it started under is still current, checked under the
//! same lock. An insert either happens before the invalidation (and is removed by it) or is
//! refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use moka::sync::Cache;

use super::{FolderRef, Listing, ShareInfo, StoreOptions};
use crate::metrics::CacheStats;

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

#[derive(Default)]
struct Generations {
    shares: u64,
    listings: HashMap<String, u64>,
}

pub(crate) struct Caches {
    shares: Cache<String, Arc<Vec<ShareInfo>>>,
    listings: Cache<ListingKey, Arc<Listing>>,
    generations: Mutex<Generations>,
    stats: Arc<CacheStats>,
}

/// The generation a fetch started under; hand it back to `put_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

impl Caches {
    pub fn new(opts: &StoreOptions) -> Self {
        Self {
            shares: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(opts.cache_ttl)
                .build(),
            listings: Cache::builder()
                .max_capacity(opts.cache_capacity)
                .time_to_live(opts.cache_ttl)
                .support_invalidation_closures()
                .build(),
            generations: Mutex::new(Generations::default()),
            stats: Arc::default(),
        }
    }

    fn gens(&self) -> MutexGuard<'_, Generations> {
        self.generations.lock().unwrap_or_else(|p| p.into_inner())
    }

    // --- share lists ---------------------------------------------------------------------

    pub fn shares(&self, principal: &str) -> Option<Arc<Vec<ShareInfo>>> {
        let found = self.shares.get(principal);
        self.stats.shares(found.is_some());
        found
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    pub fn shares_generation(&self) -> Generation {
        Generation(self.gens().shares)
    }

    pub fn put_shares(&self, principal: &str, since: Generation, v: Arc<Vec<ShareInfo>>) {
        let gens = self.gens();
        if gens.shares == since.0 {
            self.shares.insert(principal.to_owned(), v);
        }
    }

    pub fn invalidate_shares(&self) {
        let mut gens = self.gens();
        gens.shares += 1;
        self.shares.invalidate_all();
    }

    // --- folder listings -----------------------------------------------------------------

    pub fn listing(&self, key: &ListingKey) -> Option<Arc<Listing>> {
        let found = self.listings.get(key);
        self.stats.listings(found.is_some());
        found
    }

    pub fn listing_generation(&self, share_id: &str) -> Generation {
        Generation(self.gens().listings.get(share_id).copied().unwrap_or(0))
    }

    pub fn put_listing(&self, key: ListingKey, since: Generation, v: Arc<Listing>) {
        let gens = self.gens();
        if gens.listings.get(&key.share_id).copied().unwrap_or(0) == since.0 {
            self.listings.insert(key, v);
        }
    }

    /// Drops every principal's listing of one folder.
    pub fn invalidate_folder(&self, folder: &FolderRef) {
        let mut gens = self.gens();
        *gens.listings.entry(folder.share_id.clone()).or_insert(0) += 1;
        let share = folder.share_id.clone();
        let id = folder.folder_id.clone();
        self.invalidate_listings(move |k| k.share_id == share && k.folder_id == id);
    }

    /// Drops every principal's listings of a whole share.
    pub fn invalidate_share(&self, share_id: &str) {
        let mut gens = self.gens();
        *gens.listings.entry(share_id.to_owned()).or_insert(0) += 1;
        let share = share_id.to_owned();
        self.invalidate_listings(move |k| k.share_id == share);
    }

    fn invalidate_listings(&self, pred: impl Fn(&ListingKey) -> bool + Send + Sync + 'static) {
        if let Err(e) = self.listings.invalidate_entries_if(move |k, _| pred(k)) {
            tracing::warn!(error = %e, "listing invalidation failed; dropping all listings");
            self.listings.invalidate_all();
        }
    }
}
