//! What requests read of a bucket's settings in the state DB — its policy and its public-link
//! records — kept in memory per bucket for the cache TTL, and coherent across instances like
//! every other cache of a share. A request checks the bucket's share (`coherence.rs`, once per
//! request) before it trusts what is kept here; a policy or public link put or deleted through
//! any instance publishes a change of its share that drops what every other instance keeps of
//! the share's buckets. So the settings of a write acknowledged before a request arrived are the
//! ones that request applies, without a state-DB read per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::coherence::ShareChange;
use super::{Store, StoreResult};
use crate::auth::Session;
use crate::state::{BucketPolicy, PublicLink, StateError};

/// What is known of one setting of buckets (by key: a resource id or a bucket name).
pub(super) struct Kept<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
    /// Bumped on every drop: a read that started before a drop is not kept.
    epoch: AtomicU64,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            epoch: AtomicU64::new(0),
        }
    }
}

struct Entry<T> {
    share_id: String,
    at: Instant,
    value: T,
}

impl<T: Clone> Kept<T> {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets what is kept of buckets in `share_id` (`None`: of every share).
    pub(super) fn drop_share(&self, share_id: Option<&str>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries();
        match share_id {
            Some(id) => entries.retain(|_, k| k.share_id != id),
            None => entries.clear(),
        }
    }
}

/// The bucket settings kept in memory.
#[derive(Default)]
pub(super) struct BucketSettings {
    /// Policies by the bucket's resource id.
    policies: Kept<Option<Arc<BucketPolicy>>>,
    /// Public-link records by bucket name.
    public_links: Kept<Arc<Vec<PublicLink>>>,
}

impl BucketSettings {
    /// Forgets what is kept of buckets in `share_id` (`None`: of every share).
    pub(super) fn drop_share(&self, share_id: Option<&str>) {
        self.policies.drop_share(share_id);
        self.public_links.drop_share(share_id);
    }
}

impl Store {
    /// `key`'s value in `kept` when this request's check of `share_id` found it current, else
    /// `read` (kept unless something was dropped meanwhile).
    async fn kept_or_read<T, F>(
        &self,
        s: &Session,
        kept: &Kept<T>,
        share_id: &str,
        key: &str,
        read: F,
    ) -> Result<T, StateError>
    where
        T: Clone,
        F: Future<Output = Result<T, StateError>>,
    {
        if !self.inner.cache.enabled() {
            return read.await;
        }
        self.sync_share(s, share_id).await;
        let ttl = self.inner.opts.cache_ttl;
        if let Some(k) = kept.entries().get(key)
            && k.share_id == share_id
            && k.at.elapsed() < ttl
        {
            return Ok(k.value.clone());
        }
        let epoch = kept.epoch.load(Ordering::SeqCst);
        let at = Instant::now();
        let value = read.await?;
        let mut entries = kept.entries();
        if kept.epoch.load(Ordering::SeqCst) == epoch {
            let capacity = usize::try_from(self.inner.opts.cache_capacity).unwrap_or(usize::MAX);
            if entries.len() >= capacity.max(1) {
                entries.clear();
            }
            entries.insert(
                key.to_owned(),
                Entry {
                    share_id: share_id.to_owned(),
                    at,
                    value: value.clone(),
                },
            );
        }
        Ok(value)
    }

    /// The policy of the bucket that is resource `resource_id` in share `share_id`, if it has
    /// one: from memory when this request's check of the share found it current, else read.
    pub async fn bucket_policy(
        &self,
        s: &Session,
        share_id: &str,
        resource_id: &str,
    ) -> Result<Option<Arc<BucketPolicy>>, StateError> {
        let db = &self.inner.db;
        let read = async { Ok(db.get_bucket_policy(resource_id).await?.map(Arc::new)) };
        let kept = &self.inner.bucket_settings.policies;
        self.kept_or_read(s, kept, share_id, resource_id, read)
            .await
    }

    /// Stores a bucket policy and tells every instance (this one included) to read it afresh.
    pub async fn put_bucket_policy(&self, policy: &BucketPolicy) -> StoreResult<()> {
        self.inner
            .db
            .put_bucket_policy(policy)
            .await
            .map_err(super::error::db_error)?;
        self.settings_changed(&policy.share_id).await
    }

    /// Deletes the policy of the bucket that is `resource_id` in `share_id` (nothing when it has
    /// none) and tells every instance.
    pub async fn delete_bucket_policy(&self, share_id: &str, resource_id: &str) -> StoreResult<()> {
        self.inner
            .db
            .delete_bucket_policy(resource_id)
            .await
            .map_err(super::error::db_error)?;
        self.settings_changed(share_id).await
    }

    /// The public-link records of bucket `bucket` (whose share is `share_id` for this caller):
    /// from memory when this request's check of the share found them current, else read.
    /// Records of the name made under another share are among them, as in the state DB.
    pub async fn public_links(
        &self,
        s: &Session,
        share_id: &str,
        bucket: &str,
    ) -> Result<Arc<Vec<PublicLink>>, StateError> {
        let db = &self.inner.db;
        let read = async { Ok(Arc::new(db.public_links(bucket).await?)) };
        let kept = &self.inner.bucket_settings.public_links;
        self.kept_or_read(s, kept, share_id, bucket, read).await
    }

    /// Records a public link and tells every instance.
    pub async fn put_public_link(&self, link: &PublicLink) -> Result<(), StateError> {
        self.inner.db.put_public_link(link).await?;
        self.public_links_changed(&link.share_id).await;
        Ok(())
    }

    /// Forgets a public-link record and tells every instance; whether there was one.
    pub async fn delete_public_link(&self, link: &PublicLink) -> Result<bool, StateError> {
        let deleted = self.inner.db.delete_public_link(&link.link_id).await?;
        self.public_links_changed(&link.share_id).await;
        Ok(deleted)
    }

    /// A link record changed in the state DB: published like a policy's change. Every request
    /// that reads the records without a session reads the state DB, so a failure to publish only
    /// delays other instances' signed requests until the TTL (logged).
    async fn public_links_changed(&self, share_id: &str) {
        let change = ShareChange::anonymous().drop_bucket_settings();
        self.apply_and_publish_or_log(share_id, change).await;
    }

    async fn settings_changed(&self, share_id: &str) -> StoreResult<()> {
        self.apply_and_publish(share_id, ShareChange::anonymous().drop_bucket_settings())
            .await
    }
}
