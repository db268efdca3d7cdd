//! Coherence between instances sharing one PostgreSQL state database.
//!
//! Every write through the gateway describes what it did to the cache as a [`ShareChange`]
//! (listing patches, folders or shares dropped, attributes changed, feed entries to expect),
//! applies it here ([`Store::apply_here`]) and, after ScaiDrive answered and before the client is
//! answered, bumps its share's generation in the database with the change recorded under the new
//! generation ([`Store::publish`]). Before a request trusts anything cached of a share, it reads
//! what changed since the generation this instance has applied ([`Store::sync_share`]): one
//! query per request for the share list and every share the request touches, answering no rows
//! when nothing changed. Changes of other instances are applied exactly as their writer applied
//! them (a PUT elsewhere patches the listing here instead of dropping it); only when records are
//! missing (this instance fell more than the kept records behind) is the share dropped.
//!
//! A write acknowledged by one instance is therefore seen by every request another instance
//! starts afterwards, without extra calls to ScaiDrive. On SQLite (one instance) nothing here
//! touches the database.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::cache::Patch;
use super::rounds::Rounds;
use super::{FolderRef, Store, StoreError, StoreResult};
use crate::auth::Session;
use crate::scaidrive::Timestamp;
use crate::state::{ShareNews, StoredAttrs};

/// The generation key of the share list (created or deleted shares).
const SHARE_LIST: &str = "";

/// This instance's side of coherence.
pub(super) struct Coherence {
    /// Marks this instance's records (already applied here when they are read back).
    origin: u64,
    /// One application of news at a time, so that each record is applied once.
    applying: Mutex<()>,
    /// Checks shared by concurrent requests (`rounds.rs`).
    rounds: Arc<Rounds>,
}

impl Default for Coherence {
    fn default() -> Self {
        Self {
            origin: rand::random(),
            applying: Mutex::new(()),
            rounds: Arc::default(),
        }
    }
}

/// A feed entry a change will cause: (resource id, entries, version id).
type Expected = (String, u32, Option<String>);

/// What one write changed in one share, as the cache sees it: applied by the writer at once and
/// by every other instance when it reads the record.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ShareChange {
    #[serde(rename = "o", default)]
    origin: u64,
    /// On whose behalf (listings are per principal).
    #[serde(rename = "p", default)]
    principal: String,
    /// Patches of one folder each (`None` = the share root).
    #[serde(rename = "u", default, skip_serializing_if = "Vec::is_empty")]
    patches: Vec<(Option<String>, Patch)>,
    /// Folders whose listings every principal drops.
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    folders: Vec<Option<String>>,
    /// Every listing of the share is dropped (and, for the share list, every share list).
    #[serde(rename = "s", default, skip_serializing_if = "std::ops::Not::not")]
    share: bool,
    /// Feed entries the change causes (for the instance following the share's feed).
    #[serde(rename = "e", default, skip_serializing_if = "Vec::is_empty")]
    expected: Vec<Expected>,
    /// Files whose object attributes changed.
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    attrs: Vec<String>,
    /// Files whose listed `modified_at` is the writer's estimate.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    provisional: Vec<(String, Timestamp)>,
    /// A bucket policy or public-link record of the share changed (`policies.rs`).
    #[serde(rename = "b", default, skip_serializing_if = "std::ops::Not::not")]
    bucket_settings: bool,
}

impl ShareChange {
    /// A change made on behalf of the caller of `s`.
    pub(crate) fn by(s: &Session) -> Self {
        Self {
            principal: s.principal().to_owned(),
            ..Self::default()
        }
    }

    /// A change of no one's in particular (feed, invalidations).
    pub(crate) fn anonymous() -> Self {
        Self::default()
    }

    /// The principal's listing of `folder` gets `patch`; other principals' are dropped.
    pub(crate) fn patch(mut self, folder: &FolderRef, patch: Patch) -> Self {
        self.patches.push((folder.folder_id.clone(), patch));
        self
    }

    /// Every principal's listing of `folder` is dropped.
    pub(crate) fn drop_folder(mut self, folder: &FolderRef) -> Self {
        self.folders.push(folder.folder_id.clone());
        self
    }

    /// Every listing of the share is dropped.
    pub(crate) fn drop_share(mut self) -> Self {
        self.share = true;
        self
    }

    /// `count` feed entries for `resource_id` (of a new version: `version_id`) are this change's.
    pub(crate) fn expect(
        mut self,
        resource_id: &str,
        count: u32,
        version_id: Option<String>,
    ) -> Self {
        self.expected
            .push((resource_id.to_owned(), count, version_id));
        self
    }

    /// A bucket policy or public-link record of the share was put or deleted.
    pub(crate) fn drop_bucket_settings(mut self) -> Self {
        self.bucket_settings = true;
        self
    }

    /// The file's object attributes changed.
    pub(crate) fn attrs(mut self, file_id: &str) -> Self {
        self.attrs.push(file_id.to_owned());
        self
    }

    /// The file's listed `modified_at` is the writer's estimate `t`.
    pub(crate) fn provisional(mut self, file_id: &str, t: Timestamp) -> Self {
        self.provisional.push((file_id.to_owned(), t));
        self
    }
}

impl Store {
    /// Whether caches are checked against the state DB (PostgreSQL, caching on).
    pub(super) fn coherent_cluster(&self) -> bool {
        self.inner.cache.enabled() && self.inner.db.is_shared()
    }

    /// Applies `change` of `share_id` to this instance's cache: a change of this instance's
    /// own, or one read from another instance (`elsewhere`: its attributes are dropped from
    /// memory, and the feed follower gives unknown entries a poll's grace, as while writing).
    pub(crate) fn apply_here(&self, share_id: &str, change: &ShareChange, elsewhere: bool) {
        let cache = &self.inner.cache;
        if share_id == SHARE_LIST {
            cache.invalidate_shares();
            return;
        }
        for (id, t) in &change.provisional {
            cache.set_provisional(id, *t);
        }
        for (folder_id, patch) in &change.patches {
            let folder = FolderRef {
                share_id: share_id.to_owned(),
                folder_id: folder_id.clone(),
            };
            cache.patch(&change.principal, &folder, patch.clone());
        }
        for folder_id in &change.folders {
            cache.invalidate_folder(&FolderRef {
                share_id: share_id.to_owned(),
                folder_id: folder_id.clone(),
            });
        }
        if change.share {
            cache.invalidate_share(share_id);
        }
        if change.share || change.bucket_settings {
            self.inner.bucket_settings.drop_share(Some(share_id));
        }
        for (id, count, version_id) in &change.expected {
            self.expect_changes(share_id, id, *count, version_id.clone());
        }
        if elsewhere {
            for id in &change.attrs {
                self.inner.db.forget_cached_attr(id);
            }
            if change.share {
                self.inner.db.forget_cached_attrs();
            }
            self.inner.own_changes.touch(share_id);
        }
    }

    /// Before trusting what is cached of `share_id` in this request: applies what other
    /// instances changed in it (and in the share list) since, once per request.
    pub(crate) async fn sync_share(&self, s: &Session, share_id: &str) {
        if !self.coherent_cluster() || self.inner.solo.skips_checks() {
            return;
        }
        let mut keys = Vec::with_capacity(2);
        for key in [SHARE_LIST, share_id] {
            if s.check_once(key) {
                keys.push(key.to_owned());
            }
        }
        self.check(keys).await;
    }

    /// Applies what other instances changed in `share_id` now, even when this request checked
    /// it already: before a write that another instance may have made meanwhile (creating a
    /// folder), so that it is found instead of made twice.
    pub(crate) async fn recheck_share(&self, share_id: &str) {
        if self.coherent_cluster() {
            self.check(vec![share_id.to_owned()]).await;
        }
    }

    /// The same before trusting the caller's cached share list: also checks every share in
    /// it, so the rest of the request (which uses one of them) reads nothing more.
    pub(crate) async fn sync_shares(&self, s: &Session) {
        if !self.coherent_cluster() || self.inner.solo.skips_checks() || !s.check_once(SHARE_LIST) {
            return;
        }
        let mut keys = vec![SHARE_LIST.to_owned()];
        if let Some(shares) = self.inner.cache.shares(s.principal()) {
            for sh in shares.iter().take(MAX_SHARES_PER_CHECK) {
                if s.check_once(&sh.id) {
                    keys.push(sh.id.clone());
                }
            }
        }
        self.check(keys).await;
    }

    /// [`catch_up`](Self::catch_up) with `keys` in the next round shared with the other
    /// requests asking meanwhile (`rounds.rs`: a round already under way does not serve it).
    async fn check(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let store = self.clone();
        self.inner
            .coherence
            .rounds
            .join(keys, move |keys| {
                let store = store.clone();
                async move {
                    // The round runs in a task of its own that others wait for: a panic in it
                    // must neither leave them waiting nor let them trust what was not checked.
                    let read = AssertUnwindSafe(store.catch_up(keys.clone())).catch_unwind();
                    if read.await.is_err() {
                        tracing::error!(
                            "checking the share generations panicked; not using the cache"
                        );
                        for key in &keys {
                            store.drop_all_of(key);
                        }
                    }
                }
            })
            .await;
    }

    /// Reads and applies what changed in `keys` since the generations applied here (the feed
    /// leader calls it before each poll, so other instances' writes are known as theirs).
    pub(crate) async fn catch_up(&self, keys: Vec<String>) {
        if keys.is_empty() || !self.coherent_cluster() {
            return;
        }
        let cache = &self.inner.cache;
        let known: Vec<(String, u64)> = keys
            .into_iter()
            .map(|k| {
                let g = cache.remote(&k);
                (k, g)
            })
            .collect();
        match self.inner.db.share_news(&known).await {
            Ok(news) => {
                for n in news {
                    self.apply_news(n);
                }
            }
            Err(e) => {
                // Unknown: nothing cached of these may be trusted; fetch afresh.
                tracing::warn!(error = %e, "cannot read the share generations; not using the cache");
                for (key, _) in &known {
                    self.drop_all_of(key);
                }
            }
        }
    }

    /// Applies the records of one share read from the database, each once.
    fn apply_news(&self, news: ShareNews) {
        let _applying = self
            .inner
            .coherence
            .applying
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let cache = &self.inner.cache;
        let key = news.share_id.as_str();
        let applied = cache.remote(key);
        if news.generation <= applied {
            return;
        }
        let stats = cache.stats();
        if !news.complete_since(applied) {
            // Further behind than the records kept (or a record unreadable below).
            self.drop_all_of(key);
        } else {
            let origin = self.inner.coherence.origin;
            for (generation, text) in news.changes.iter().filter(|(g, _)| *g > applied) {
                match serde_json::from_str::<ShareChange>(text) {
                    Ok(change) if change.origin == origin => {}
                    Ok(change) => {
                        self.apply_here(key, &change, true);
                        stats.remote_changes.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(share = %key, generation, error = %e, "unreadable change record; dropping the share's cache");
                        self.drop_all_of(key);
                        break;
                    }
                }
            }
        }
        cache.set_remote(key, news.generation);
    }

    /// Drops everything cached of `key` (a share, or the share list) and every attribute.
    fn drop_all_of(&self, key: &str) {
        let cache = &self.inner.cache;
        match key {
            SHARE_LIST => cache.invalidate_shares(),
            share => cache.invalidate_share(share),
        }
        self.inner.db.forget_cached_attrs();
        self.inner.bucket_settings.drop_share(match key {
            SHARE_LIST => None,
            share => Some(share),
        });
        cache
            .stats()
            .remote_invalidations
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Tells the other instances what this one changed in the share (its own cache has it
    /// already). A failure is an error of the write: it would not be seen elsewhere at once.
    pub(crate) async fn publish(&self, share_id: &str, change: ShareChange) -> StoreResult<()> {
        if !self.coherent_cluster() {
            return Ok(());
        }
        self.until_member().await?;
        let text = self.record(change)?;
        let now = self
            .inner
            .db
            .bump_share_generation(share_id, &text)
            .await
            .map_err(unpublished)?;
        self.inner.cache.own_remote(share_id, now);
        Ok(())
    }

    /// Stores a file's attributes and publishes `change` (which names the file), in one
    /// state-DB operation with PostgreSQL.
    pub(crate) async fn store_and_publish(
        &self,
        share_id: &str,
        entry: StoredAttrs,
        change: ShareChange,
    ) -> StoreResult<()> {
        if !self.coherent_cluster() {
            return self
                .inner
                .db
                .put_attrs(entry)
                .await
                .map_err(super::error::db_error);
        }
        self.until_member().await?;
        let text = self.record(change)?;
        let now = self
            .inner
            .db
            .put_attrs_and_bump(entry, share_id, &text)
            .await
            .map_err(unpublished)?;
        self.inner.cache.own_remote(share_id, now);
        Ok(())
    }

    /// The stored form of this instance's change.
    fn record(&self, mut change: ShareChange) -> StoreResult<String> {
        change.origin = self.inner.coherence.origin;
        serde_json::to_string(&change)
            .map_err(|e| StoreError::Internal(format!("cannot record a change: {e}")))
    }

    /// Applies `change` here and publishes it: for changes made while the write's outcome
    /// upstream is settled already.
    pub(crate) async fn apply_and_publish(
        &self,
        share_id: &str,
        change: ShareChange,
    ) -> StoreResult<()> {
        self.apply_here(share_id, &change, false);
        self.publish(share_id, change).await
    }

    /// [`apply_and_publish`](Self::apply_and_publish) where the write's answer does not depend
    /// on the publication (error paths, invalidations): a failure is logged.
    pub(crate) async fn apply_and_publish_or_log(&self, share_id: &str, change: ShareChange) {
        if let Err(e) = self.apply_and_publish(share_id, change).await {
            tracing::warn!(error = %e, share = %share_id, "publishing a change failed");
        }
    }

    /// After a share was created or deleted: drops every cached share list here and tells the
    /// other instances.
    pub async fn invalidate_shares(&self) -> StoreResult<()> {
        self.apply_and_publish(SHARE_LIST, ShareChange::anonymous().drop_share())
            .await
    }
}

fn unpublished(e: crate::state::StateError) -> StoreError {
    StoreError::Unavailable(format!(
        "the change was made but could not be published to other gateway instances: {e}"
    ))
}

/// Most shares of a cached share list checked along with the list itself.
const MAX_SHARES_PER_CHECK: usize = 64;
