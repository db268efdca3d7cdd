//! Following ScaiDrive's change feed (`/sync/changes`) for the shares in use, so that writes made
//! elsewhere (web UI, sync clients, another gateway) drop the cached listings of their share
//! within about one poll interval, long before the cache TTL would.
//!
//! One follower task per share, started by the first listing of that share and using the token
//! of the session that listed it. It stops when ScaiDrive refuses that token for the share, or
//! when the store is dropped.
//!
//! The gateway's own writes show up in the feed too. Their effect is already in the cache (the
//! writer's listing was patched), so each write registers the feed entries it will cause
//! ([`OwnChanges`]); a poll whose entries are all such is not a reason to drop anything. Any
//! other entry drops the share's cached listings. A write registers its entries only once
//! ScaiDrive has answered, so a poll can see an entry a moment before it is registered: while
//! the gateway is writing into a share (or finished within the last interval), an entry not
//! (yet) known is given one more poll before it counts as foreign. Writes made elsewhere are
//! therefore seen within one interval, or two while the gateway itself writes into the share.
//!
//! A poll is one attempt bounded by [`poll_timeout`], not retried by the client's policy: the
//! loop is the retry, so a hanging ScaiDrive delays the feed by a few intervals, not minutes.
//!
//! With several instances on one PostgreSQL state database, each share's feed is followed by one
//! instance at a time: the follower polls only while it holds the share's cluster lock (a session
//! advisory lock, see `state/coherence.rs`); the others try to take it every few seconds while
//! they use the share, so a leader that stops or dies is replaced within seconds. The leader
//! fans what it sees out by bumping the share's generation, which every instance checks before
//! it trusts its cache. A new leader drops and publishes the share first, since changes between
//! the old leader's last poll and its own first one are not in its feed. Writes through the
//! other instances are recorded with their generation (see `coherence.rs`): the leader reads
//! them before each poll and registers their entries as the gateway's own, with the same grace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use std::time::Instant;

use crate::auth::Session;
use crate::scaidrive::{Change, ChangeType, Cursor, ErrorKind, ResourceType, Token};
use crate::state::ClusterLease;

use super::coherence::ShareChange;
use super::{Inner, Store};

/// The running followers, by share id.
#[derive(Default)]
pub(crate) struct Followers {
    running: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Followers {
    /// Starts following `share_id` unless a follower runs already.
    pub(crate) fn ensure(&self, inner: &Arc<Inner>, s: &Session, share_id: &str, every: Duration) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(share_id).is_some_and(|h| !h.is_finished()) {
            return;
        }
        let task = tokio::spawn(follow(
            Arc::downgrade(inner),
            s.token().clone(),
            share_id.to_owned(),
            every,
        ));
        running.insert(share_id.to_owned(), task);
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        let running = self.running.get_mut().unwrap_or_else(|p| p.into_inner());
        for (_, task) in running.drain() {
            task.abort();
        }
    }
}

/// How long a registered own change waits for its feed entry.
const OWN_CHANGE_LIFETIME: Duration = Duration::from_secs(300);

struct Expected {
    /// Feed entries still expected for the resource.
    count: u32,
    /// The version the write created, when known: an entry naming another version is not ours.
    version_id: Option<String>,
    at: Instant,
}

/// Feed entries the gateway's own writes will cause, by (share id, resource id).
#[derive(Default)]
pub(crate) struct OwnChanges {
    expected: Mutex<Expectations>,
    /// Per share: writes in flight, and when the last one ended.
    activity: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Expected feed entries by (share id, resource id), and when the expired ones were last
/// dropped (a sweep looks at every entry, so it runs at most once per [`EXPECT_SWEEP`], not on
/// every write).
#[derive(Default)]
struct Expectations {
    by_resource: HashMap<(String, String), Expected>,
    swept: Option<Instant>,
}

/// How often expired expectations are dropped.
const EXPECT_SWEEP: Duration = Duration::from_secs(1);

/// A write in flight in a share (see [`OwnChanges::busy`]).
pub(crate) struct Busy<'a> {
    own: &'a OwnChanges,
    share_id: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut act = self.own.activity.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, at)) = act.get_mut(&self.share_id) {
            *n = n.saturating_sub(1);
            *at = Instant::now();
        }
    }
}

impl OwnChanges {
    /// Marks a write in flight in `share_id` until the guard is dropped.
    pub(crate) fn busy(&self, share_id: &str) -> Busy<'_> {
        let mut act = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        let slot = act
            .entry(share_id.to_owned())
            .or_insert((0, Instant::now()));
        slot.0 += 1;
        slot.1 = Instant::now();
        Busy {
            own: self,
            share_id: share_id.to_owned(),
        }
    }

    /// Marks a write into `share_id` that just ended elsewhere (another instance's, read from
    /// the state DB): its feed entries get the same grace as this instance's own.
    pub(crate) fn touch(&self, share_id: &str) {
        let mut act = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        let slot = act
            .entry(share_id.to_owned())
            .or_insert((0, Instant::now()));
        slot.1 = Instant::now();
    }

    /// Whether the gateway writes into the share now or did within `within`.
    fn recently_active(&self, share_id: &str, within: Duration) -> bool {
        let act = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        act.get(share_id)
            .is_some_and(|(n, at)| *n > 0 || at.elapsed() < within)
    }

    /// Registers `count` entries for `resource_id` in `share_id` (a new version: its id).
    pub(crate) fn expect(
        &self,
        share_id: &str,
        resource_id: &str,
        count: u32,
        version_id: Option<String>,
    ) {
        let mut expected = self.expected.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if expected
            .swept
            .is_none_or(|at| now.duration_since(at) >= EXPECT_SWEEP)
        {
            expected
                .by_resource
                .retain(|_, e| now.duration_since(e.at) < OWN_CHANGE_LIFETIME);
            expected.swept = Some(now);
        }
        let slot = expected
            .by_resource
            .entry((share_id.to_owned(), resource_id.to_owned()))
            .or_insert(Expected {
                count: 0,
                version_id: None,
                at: now,
            });
        slot.count = slot.count.saturating_add(count);
        slot.at = now;
        if version_id.is_some() {
            slot.version_id = version_id;
        }
    }

    /// Whether this entry is one the gateway caused (consuming the expectation).
    fn consume(&self, share_id: &str, change: &Change) -> bool {
        let mut expected = self.expected.lock().unwrap_or_else(|p| p.into_inner());
        let map = &mut expected.by_resource;
        let key = (share_id.to_owned(), change.resource_id.clone());
        let Some(e) = map.get_mut(&key) else {
            return false;
        };
        if e.at.elapsed() >= OWN_CHANGE_LIFETIME {
            map.remove(&key);
            return false;
        }
        if let (Some(want), Some(seen)) = (&e.version_id, &change.version_id)
            && want != seen
        {
            return false;
        }
        e.count = e.count.saturating_sub(1);
        if e.count == 0 {
            map.remove(&key);
        }
        true
    }
}

/// A file the gateway wrote moments ago keeps attributes not yet bound to ScaiDrive's
/// `modified_at` (the upload answer has none; the next listing binds them). When a change made
/// elsewhere touches such a file first, those attributes may no longer describe it: drop them
/// (the file gets the opaque ETag), so they never bind to someone else's content. A rename or
/// move (the file's own, or the `renamed`/`moved` entries a folder's rename or move writes for
/// everything inside it) keeps the content, and the attributes with it.
async fn forget_overwritten_attrs(inner: &Inner, foreign: &[Change]) {
    for c in foreign {
        if c.resource_type == ResourceType::File
            && !matches!(c.change_type, ChangeType::Renamed | ChangeType::Moved)
            && inner.cache.take_provisional(&c.resource_id)
        {
            tracing::debug!(file = %c.resource_id, "changed elsewhere right after a write; dropping its attributes");
            if let Err(e) = inner.db.delete_attrs(&c.resource_id).await {
                tracing::warn!(error = %e, "could not drop object attributes");
            }
        }
    }
}

/// How long one poll may take in all: a poll that hangs (a stuck connection, an overloaded
/// ScaiDrive) is abandoned and the next one made, instead of being retried by the client's
/// policy, each attempt up to the request timeout (that stalled the feed for minutes).
fn poll_timeout(every: Duration) -> Duration {
    (every * 2).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// The pause before the next poll: the interval, doubled after each failure up to four times
/// the interval (each failure drops the share's cached listings, so this bounds staleness too).
fn poll_delay(every: Duration, failures: u32) -> Duration {
    every * 2u32.pow(failures.min(2))
}

/// How often an instance that does not lead a share's feed tries to take it over.
fn leader_retry(every: Duration) -> Duration {
    every.clamp(Duration::from_millis(200), Duration::from_secs(3))
}

/// Leadership of one share's feed, kept while the follower runs.
struct Leadership {
    lease: Option<ClusterLease>,
    name: String,
}

impl Leadership {
    /// Whether this instance leads the share now, taking the lead when it is free. On taking
    /// it over, drops and publishes the share (see the module text).
    async fn lead(&mut self, inner: &Arc<Inner>, share_id: &str) -> bool {
        let db = &inner.db;
        if let Some(lease) = &self.lease {
            if db.holds_cluster_lock(lease).await {
                return true;
            }
            self.lease = None;
            self.count(inner, -1);
            tracing::info!(share = %share_id, "lost the lead of the change feed");
        }
        match db.try_cluster_lock(&self.name).await {
            Ok(Some(lease)) => {
                self.lease = Some(lease);
                self.count(inner, 1);
                if db.is_shared() {
                    tracing::info!(share = %share_id, "leading the change feed");
                    let store = Store {
                        inner: Arc::clone(inner),
                    };
                    store
                        .apply_and_publish_or_log(share_id, ShareChange::anonymous().drop_share())
                        .await;
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(share = %share_id, error = %e, "cannot take the lead of the change feed");
                false
            }
        }
    }

    fn count(&self, inner: &Inner, delta: i64) {
        inner
            .cache
            .stats()
            .feeds_led
            .fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
    }

    async fn release(&mut self, inner: &Inner) {
        if let Some(lease) = self.lease.take() {
            self.count(inner, -1);
            inner.db.release_cluster_lock(lease).await;
        }
    }
}

async fn follow(store: Weak<Inner>, token: Token, share_id: String, every: Duration) {
    let mut cursor: Option<Cursor> = None;
    let mut failures = 0u32;
    // Entries not recognised as the gateway's own during its writes: one more poll to match.
    let mut deferred: Vec<Change> = Vec::new();
    let mut leadership = Leadership {
        lease: None,
        name: format!("feed {share_id}"),
    };
    loop {
        let Some(inner) = store.upgrade() else {
            return;
        };
        if !leadership.lead(&inner, &share_id).await {
            // Another instance follows this feed; start afresh when taking over.
            cursor = None;
            deferred.clear();
            drop(inner);
            tokio::time::sleep(leader_retry(every)).await;
            continue;
        }
        // Other instances' writes are recorded in the state DB: known before the poll, their
        // entries are theirs, not foreign.
        Store {
            inner: Arc::clone(&inner),
        }
        .catch_up(vec![share_id.clone()])
        .await;
        let page = inner
            .client
            .poll_changes(
                &token,
                &share_id,
                cursor.as_ref(),
                Some(1000),
                poll_timeout(every),
            )
            .await;
        let more = match page {
            Ok(page) => {
                failures = 0;
                if cursor.is_some() && !(page.changes.is_empty() && deferred.is_empty()) {
                    let own = &inner.own_changes;
                    // Every entry is checked, so that each own one is consumed once.
                    let mut foreign: Vec<Change> = std::mem::take(&mut deferred)
                        .into_iter()
                        .filter(|c| !own.consume(&share_id, c))
                        .collect();
                    let busy = own.recently_active(&share_id, every);
                    for c in page.changes {
                        if own.consume(&share_id, &c) {
                            continue;
                        }
                        if busy {
                            deferred.push(c);
                        } else {
                            foreign.push(c);
                        }
                    }
                    forget_overwritten_attrs(&inner, &foreign).await;
                    let foreign = foreign.len();
                    if foreign > 0 {
                        tracing::debug!(
                            share = %share_id,
                            deferred = deferred.len(),
                            foreign,
                            "changes upstream; dropping cached listings of the share"
                        );
                        // Other instances learn it from the share's generation.
                        Store {
                            inner: Arc::clone(&inner),
                        }
                        .apply_and_publish_or_log(&share_id, ShareChange::anonymous().drop_share())
                        .await;
                    }
                }
                cursor = Some(page.cursor);
                page.has_more
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Unauthorized | ErrorKind::Forbidden | ErrorKind::NotFound
                ) =>
            {
                tracing::debug!(share = %share_id, error = %e, "stopped following the change feed");
                leadership.release(&inner).await;
                return;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(share = %share_id, error = %e, "change feed poll failed");
                // The cache TTL still bounds staleness; a failing feed must not hide writes
                // for longer, so drop the share's listings after a failure.
                deferred.clear();
                Store {
                    inner: Arc::clone(&inner),
                }
                .apply_and_publish_or_log(&share_id, ShareChange::anonymous().drop_share())
                .await;
                false
            }
        };
        drop(inner);
        if !more {
            tokio::time::sleep(poll_delay(every, failures)).await;
        }
    }
}
