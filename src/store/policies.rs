//! Bucket policies as requests read them: kept in memory per bucket for the cache TTL, and
//! coherent across instances like every other cache of a share. A request checks the bucket's
//! share (`coherence.rs`, once per request) before it trusts a policy kept here; a policy put or
//! deleted through any instance publishes a change of its share that drops the share's
//! policies kept by every other instance. So the policy of a write acknowledged before a request
//! arrived is the one that request applies, without a state-DB read per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::coherence::ShareChange;
use super::{Store, StoreResult};
use crate::auth::Session;
use crate::state::{BucketPolicy, StateError};

/// What is known of the policies of buckets (by resource id).
#[derive(Default)]
pub(super) struct Policies {
    entries: Mutex<HashMap<String, Kept>>,
    /// Bumped on every drop: a read that started before a drop is not kept.
    epoch: AtomicU64,
}

struct Kept {
    share_id: String,
    at: Instant,
    policy: Option<Arc<BucketPolicy>>,
}

impl Policies {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the policies of buckets in `share_id` (`None`: of every share).
    pub(super) fn drop_share(&self, share_id: Option<&str>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries();
        match share_id {
            Some(id) => entries.retain(|_, k| k.share_id != id),
            None => entries.clear(),
        }
    }
}

impl Store {
    /// The policy of the bucket that is resource `resource_id` in share `share_id`, if it has
    /// one: from memory when this request's check of the share found it current, else read.
    pub async fn bucket_policy(
        &self,
        s: &Session,
        share_id: &str,
        resource_id: &str,
    ) -> Result<Option<Arc<BucketPolicy>>, StateError> {
        let db = &self.inner.db;
        if !self.inner.cache.enabled() {
            return Ok(db.get_bucket_policy(resource_id).await?.map(Arc::new));
        }
        self.sync_share(s, share_id).await;
        let policies = &self.inner.policies;
        let ttl = self.inner.opts.cache_ttl;
        if let Some(k) = policies.entries().get(resource_id)
            && k.share_id == share_id
            && k.at.elapsed() < ttl
        {
            return Ok(k.policy.clone());
        }
        let epoch = policies.epoch.load(Ordering::SeqCst);
        let at = Instant::now();
        let policy = db.get_bucket_policy(resource_id).await?.map(Arc::new);
        let mut entries = policies.entries();
        if policies.epoch.load(Ordering::SeqCst) == epoch {
            let capacity = usize::try_from(self.inner.opts.cache_capacity).unwrap_or(usize::MAX);
            if entries.len() >= capacity.max(1) {
                entries.clear();
            }
            entries.insert(
                resource_id.to_owned(),
                Kept {
                    share_id: share_id.to_owned(),
                    at,
                    policy: policy.clone(),
                },
            );
        }
        Ok(policy)
    }

    /// Stores a bucket policy and tells every instance (this one included) to read it afresh.
    pub async fn put_bucket_policy(&self, policy: &BucketPolicy) -> StoreResult<()> {
        self.inner
            .db
            .put_bucket_policy(policy)
            .await
            .map_err(super::error::db_error)?;
        self.policies_changed(&policy.share_id).await
    }

    /// Deletes the policy of the bucket that is `resource_id` in `share_id` (nothing when it has
    /// none) and tells every instance.
    pub async fn delete_bucket_policy(&self, share_id: &str, resource_id: &str) -> StoreResult<()> {
        self.inner
            .db
            .delete_bucket_policy(resource_id)
            .await
            .map_err(super::error::db_error)?;
        self.policies_changed(share_id).await
    }

    async fn policies_changed(&self, share_id: &str) -> StoreResult<()> {
        self.apply_and_publish(share_id, ShareChange::anonymous().drop_policies())
            .await
    }
}
