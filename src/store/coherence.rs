//! Coherence between instances sharing one PostgreSQL state database: every write through the
//! gateway bumps its share's generation in the database after ScaiDrive answered and before the
//! client is answered ([`Store::publish`]); before cached listings (and the object attributes
//! kept in memory) of a share are trusted, the share's generation is read back
//! ([`Store::sync_share`]), one primary-key lookup, and a newer one drops them (see `cache.rs`).
//! A write acknowledged by one instance is therefore seen by every request another instance
//! starts afterwards. On SQLite (one instance) nothing here runs.

use std::sync::atomic::Ordering;

use super::{Store, StoreError, StoreResult};

/// The generation key of the share list (created or deleted shares).
const SHARE_LIST: &str = "";

impl Store {
    /// Whether caches are checked against the state DB (PostgreSQL, caching on).
    fn coherent_cluster(&self) -> bool {
        self.inner.cache.enabled() && self.inner.db.is_shared()
    }

    /// Reads the share's generation and drops what this instance caches of the share when
    /// another instance wrote into it since. Call before trusting a cached listing.
    pub(crate) async fn sync_share(&self, share_id: &str) {
        if self.coherent_cluster() {
            let seen = self.inner.db.share_generation(share_id).await;
            self.observed(share_id, seen);
        }
    }

    /// The same for the share list.
    pub(crate) async fn sync_shares(&self) {
        if self.coherent_cluster() {
            let seen = self.inner.db.share_generation(SHARE_LIST).await;
            self.observed(SHARE_LIST, seen);
        }
    }

    fn observed(&self, key: &str, seen: Result<u64, crate::state::StateError>) {
        let cache = &self.inner.cache;
        let dropped = match seen {
            Ok(seen) if key == SHARE_LIST => cache.observe_remote_shares(seen),
            Ok(seen) => cache.observe_remote(key, seen),
            Err(e) => {
                // Unknown: nothing cached may be trusted; fetch afresh.
                tracing::warn!(error = %e, "cannot read the share generation; not using the cache");
                match key {
                    SHARE_LIST => cache.invalidate_shares(),
                    share => cache.invalidate_share(share),
                }
                true
            }
        };
        if dropped {
            self.inner.db.forget_cached_attrs();
            cache
                .stats()
                .remote_invalidations
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Tells the other instances that this one changed the share (its own cache is up to date
    /// already). A failure is an error of the write: it would not be seen elsewhere at once.
    pub(crate) async fn publish(&self, share_id: &str) -> StoreResult<()> {
        if !self.coherent_cluster() {
            return Ok(());
        }
        let now = self
            .inner
            .db
            .bump_share_generation(share_id)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "the change was made but could not be published to other gateway \
                     instances: {e}"
                ))
            })?;
        let cache = &self.inner.cache;
        let dropped = match share_id {
            SHARE_LIST => cache.own_remote_shares_bump(now),
            share => cache.own_remote_bump(share, now),
        };
        if dropped {
            self.inner.db.forget_cached_attrs();
        }
        Ok(())
    }

    /// [`publish`](Self::publish) where the write's answer does not depend on it (error paths,
    /// invalidations): a failure is logged.
    pub(crate) async fn publish_or_log(&self, share_id: &str) {
        if let Err(e) = self.publish(share_id).await {
            tracing::warn!(error = %e, share = %share_id, "publishing a change failed");
        }
    }

    /// After a share was created or deleted: drops every cached share list here and tells the
    /// other instances.
    pub async fn invalidate_shares(&self) -> StoreResult<()> {
        self.inner.cache.invalidate_shares();
        self.publish(SHARE_LIST).await
    }
}
