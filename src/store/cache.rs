//! The store's metadata caches (moka): the share list and folder listings, both keyed by
//! principal so that one user's view is never served to another.

use std::sync::Arc;

use moka::future::Cache;

use super::{FolderRef, Listing, ShareInfo, StoreOptions};

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

pub(crate) struct Caches {
    pub shares: Cache<String, Arc<Vec<ShareInfo>>>,
    pub listings: Cache<ListingKey, Arc<Listing>>,
}

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
        }
    }

    /// Drops every principal's listing of one folder.
    pub fn invalidate_folder(&self, folder: &FolderRef) {
        let share = folder.share_id.clone();
        let id = folder.folder_id.clone();
        if let Err(e) = self
            .listings
            .invalidate_entries_if(move |k, _| k.share_id == share && k.folder_id == id)
        {
            tracing::warn!(error = %e, "listing invalidation failed; dropping all listings");
            self.listings.invalidate_all();
        }
    }

    /// Drops every principal's listings of a whole share.
    pub fn invalidate_share(&self, share_id: &str) {
        let share = share_id.to_owned();
        if let Err(e) = self
            .listings
            .invalidate_entries_if(move |k, _| k.share_id == share)
        {
            tracing::warn!(error = %e, "listing invalidation failed; dropping all listings");
            self.listings.invalidate_all();
        }
    }
}
