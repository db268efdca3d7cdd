//! One instance alone on PostgreSQL trusts its caches without a check per request, as on SQLite.
//!
//! Membership is kept with session advisory locks on a connection of the instance's own
//! (`state/membership.rs`): every running instance holds the member lock shared, and the solo
//! lock shared; an instance that finds no other member takes the solo lock exclusively, which
//! no other instance can then take shared. A newcomer holds the member lock, so the solo
//! instance sees it at its next poll ([`POLL`]), stops trusting its caches unchecked and releases
//! the exclusive lock; only then does the newcomer get the solo lock shared, and it publishes
//! nothing (it is not ready) until [`JOIN`] after that. Every answer of a poll is trusted for
//! [`VALID`] after it was asked, never longer, so an instance that lost the database (its locks
//! are released with its connection) stops trusting its caches before a newcomer's first write,
//! and a member that lost its locks stops publishing before an instance that then finds itself
//! alone starts trusting its caches ([`SETTLE`] after taking the exclusive lock, after applying
//! every change recorded meanwhile). `docs/operations.md` § Several instances.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Store, StoreError, StoreResult};
use crate::state::{MemberLock, StateError};

/// How often membership is polled.
pub(super) const POLL: Duration = Duration::from_millis(200);
/// How long a poll's answer is trusted, from when it was asked.
const VALID: Duration = Duration::from_secs(1);
/// From taking the solo lock shared to publishing changes: longer than [`VALID`], so that an
/// instance that was alone until its connection dropped trusts its caches no more by then.
const JOIN: Duration = Duration::from_millis(1500);
/// From taking the solo lock exclusively to trusting caches unchecked: [`VALID`] plus time for
/// a publication started by an instance that just left to commit.
const SETTLE: Duration = Duration::from_secs(3);
/// How long a write waits to be a member again (after the database connection was lost).
const PUBLISH_WAIT: Duration = Duration::from_secs(10);
/// How long a starting instance waits to be a member before it serves anyway.
const START_WAIT: Duration = Duration::from_secs(30);

/// This instance's membership as its task last saw it.
#[derive(Default)]
pub(super) struct Solo {
    /// Set once the membership task runs (the gateway's; not in a bare store).
    joined: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default, Clone, Copy)]
struct State {
    /// The membership connection the locks below were taken on.
    epoch: Option<u64>,
    member: bool,
    shared: bool,
    exclusive: bool,
    /// Since when the solo lock (either way) is held on this connection.
    held_since: Option<Instant>,
    exclusive_since: Option<Instant>,
    /// Until when the last poll's answer is trusted.
    valid_until: Option<Instant>,
    /// Caches are trusted without a check.
    solo: bool,
}

impl Solo {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state());
    }

    /// Whether this instance is alone on the database and need not check its caches.
    pub(super) fn skips_checks(&self) -> bool {
        let s = *self.state();
        s.solo && s.valid_until.is_some_and(|v| Instant::now() < v)
    }

    fn may_publish(&self) -> bool {
        let s = *self.state();
        let now = Instant::now();
        (s.shared || s.exclusive)
            && s.held_since.is_some_and(|t| t + JOIN <= now)
            && s.valid_until.is_some_and(|v| now < v)
    }

    /// The database could not be asked: nothing is trusted until it can be again.
    fn lost(&self) {
        self.update(|s| {
            s.solo = false;
            s.valid_until = None;
        });
    }
}

impl Store {
    /// On PostgreSQL with caching on: starts this instance's membership task and waits until
    /// it may publish changes (at most [`START_WAIT`], then it starts anyway and writes wait).
    pub async fn join_cluster(&self) {
        if !self.coherent_cluster() {
            return;
        }
        let solo = &self.inner.solo;
        solo.joined.store(true, Ordering::SeqCst);
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let store = Store { inner };
                let go_on = store.membership_poll().await;
                let alone = i64::from(store.inner.solo.skips_checks());
                store
                    .inner
                    .cache
                    .stats()
                    .alone
                    .store(alone, Ordering::Relaxed);
                if !go_on {
                    return;
                }
                drop(store);
                tokio::time::sleep(POLL).await;
            }
        });
        let deadline = Instant::now() + START_WAIT;
        while !solo.may_publish() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !solo.may_publish() {
            tracing::warn!(
                "not yet a member of the cluster on the state database after 30 s; serving anyway, writes wait"
            );
        }
    }

    /// Before publishing a change: this instance must be a member (see the module docs).
    pub(super) async fn until_member(&self) -> StoreResult<()> {
        let solo = &self.inner.solo;
        if !solo.joined.load(Ordering::SeqCst) || solo.may_publish() {
            return Ok(());
        }
        let deadline = Instant::now() + PUBLISH_WAIT;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if solo.may_publish() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "this gateway instance is not a member of the cluster on the state database (it lost its connection); the change was made but not published".into(),
        ))
    }

    /// One poll of the membership task; false once the cluster was left (shutdown).
    async fn membership_poll(&self) -> bool {
        let solo = &self.inner.solo;
        let asked = Instant::now();
        let (others, epoch) = match self.inner.db.other_members().await {
            Ok(Some(answer)) => answer,
            Ok(None) => {
                solo.lost();
                return false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cluster membership: the state database does not answer; checking every cached read");
                solo.lost();
                return true;
            }
        };
        solo.update(|s| {
            if s.epoch != Some(epoch) {
                *s = State {
                    epoch: Some(epoch),
                    ..State::default()
                };
            }
        });
        match self.membership_locks(asked, others, epoch).await {
            Ok(()) => solo.update(|s| {
                if s.epoch == Some(epoch) {
                    s.valid_until = Some(asked + VALID);
                }
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cluster membership: taking or releasing a lock failed");
                solo.lost();
            }
        }
        self.maybe_go_solo(epoch).await;
        true
    }

    /// Takes the locks this instance lacks on connection `epoch`, and gives up or takes the
    /// exclusive solo lock as `others` says.
    async fn membership_locks(
        &self,
        asked: Instant,
        others: bool,
        epoch: u64,
    ) -> Result<(), StateError> {
        let db = &self.inner.db;
        let solo = &self.inner.solo;
        let granted = |answer: Option<(bool, u64)>| answer == Some((true, epoch));
        let s = *solo.state();
        if !s.member && granted(db.try_member_lock(MemberLock::Member).await?) {
            solo.update(|s| s.member = true);
        }
        if !s.shared && !s.exclusive {
            if granted(db.try_member_lock(MemberLock::SoloShared).await?) {
                solo.update(|s| {
                    s.shared = true;
                    s.held_since = Some(asked);
                });
            } else {
                tracing::debug!("cluster membership: waiting for the instance that was alone");
            }
        } else if s.exclusive && others {
            // Stop trusting caches before another instance can take the lock.
            solo.update(|s| {
                s.solo = false;
                s.exclusive_since = None;
            });
            db.release_member_lock(MemberLock::SoloExclusive, epoch)
                .await?;
            solo.update(|s| s.exclusive = false);
            tracing::info!(
                "cluster membership: another instance joined; checking the state database before trusting caches"
            );
        } else if s.shared
            && !s.exclusive
            && !others
            && granted(db.try_member_lock(MemberLock::SoloExclusive).await?)
        {
            solo.update(|s| {
                s.exclusive = true;
                s.exclusive_since = Some(asked);
            });
        }
        Ok(())
    }

    /// [`SETTLE`] after taking the exclusive lock: applies every change recorded meanwhile,
    /// then trusts caches without a check.
    async fn maybe_go_solo(&self, epoch: u64) {
        let solo = &self.inner.solo;
        let s = *solo.state();
        let settled = s
            .exclusive_since
            .is_some_and(|t| t + SETTLE <= Instant::now());
        if s.solo || !s.exclusive || !settled || s.epoch != Some(epoch) {
            return;
        }
        self.catch_up(self.inner.cache.remote_keys()).await;
        let mut now_solo = false;
        solo.update(|s| {
            if s.exclusive && s.epoch == Some(epoch) && s.valid_until.is_some() {
                s.solo = true;
                now_solo = true;
            }
        });
        if now_solo {
            tracing::info!(
                "cluster membership: the only instance on the state database; caches are trusted without a check"
            );
        }
    }
}
