//! Object attributes kept in memory, by file id (`None`: nothing stored for the file).
//!
//! A listing asks for every file of a folder at once, and most files have no entry (they were
//! written elsewhere), so a cold listing of 10,000 files puts 10,000 absences here and a warm
//! one looks 10,000 ids up. Both are done under one lock per batch, on two plain hash maps:
//! entries are made in `young`; when it is full, or older than the TTL, it becomes `old` (and
//! the old `old` is dropped), a hit in `old` moves back to `young`. At most `capacity` entries
//! are kept, an entry not used since `young` last turned over goes first, and each lives at
//! most `ttl` since it was stored. Expired entries are dropped within two TTLs of any use, so
//! what a burst of writes or listings left behind does not stay in memory.
//!
//! A reader that missed and loads from the database must never put back a value older than a
//! write made meanwhile through the same handle. SQLite: every change updates the cache while
//! holding the one connection, which serializes it with readers. PostgreSQL (a pool, operations
//! in parallel): a writer applies its committed write and bumps `epoch` under the lock, and a
//! reader fills the cache only while `epoch` is the one it saw before its query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::attrs::StoredAttrs;

/// Entries stored per taking of the lock when a batch is filled in, so that one large listing
/// does not hold up the requests around it for long.
const FILL_CHUNK: usize = 1024;

#[derive(Clone)]
pub(crate) struct AttrsCache {
    inner: Arc<Mutex<Entries>>,
}

/// The entries, and the epoch of the last write applied (see the module).
pub(crate) struct Entries {
    epoch: u64,
    young: HashMap<String, Slot>,
    old: HashMap<String, Slot>,
    /// Entries `young` holds before it becomes `old`.
    half: usize,
    /// When `young` was started: it becomes `old` once the TTL has passed since.
    young_since: Instant,
    ttl: Duration,
}

struct Slot {
    value: Option<Arc<StoredAttrs>>,
    at: Instant,
}

impl Entries {
    /// Stores what the database holds for `id` now.
    pub(crate) fn insert(&mut self, id: String, value: Option<StoredAttrs>) {
        let now = Instant::now();
        self.turn_over_if_due(now);
        self.store(id, value.map(Arc::new), now, now);
    }

    pub(crate) fn invalidate(&mut self, id: &str) {
        self.young.remove(id);
        self.old.remove(id);
    }

    pub(crate) fn invalidate_all(&mut self) {
        self.young = HashMap::new();
        self.old = HashMap::new();
    }

    /// `young` becomes `old`, and what `old` held is dropped.
    fn turn_over(&mut self, now: Instant) {
        self.old = std::mem::take(&mut self.young);
        self.young_since = now;
    }

    /// Turns over once the TTL has passed since `young` was started: everything `old` holds
    /// then was stored before that start, so it has expired.
    fn turn_over_if_due(&mut self, now: Instant) {
        if now.saturating_duration_since(self.young_since) >= self.ttl {
            self.turn_over(now);
        }
    }

    /// Stores `value` (stored at `at`) in `young` at `now`.
    fn store(&mut self, id: String, value: Option<Arc<StoredAttrs>>, at: Instant, now: Instant) {
        self.old.remove(&id);
        if self.young.len() >= self.half && !self.young.contains_key(&id) {
            self.turn_over(now);
        }
        self.young.insert(id, Slot { value, at });
    }

    /// `Some(value)` when `id` is known and younger than the TTL.
    fn lookup(&mut self, id: &str, now: Instant) -> Option<Option<Arc<StoredAttrs>>> {
        let fresh = |s: &Slot| now.saturating_duration_since(s.at) < self.ttl;
        if let Some(slot) = self.young.get(id) {
            return fresh(slot).then(|| slot.value.clone());
        }
        let (key, slot) = self.old.remove_entry(id)?;
        if !fresh(&slot) {
            return None;
        }
        let value = slot.value.clone();
        self.store(key, slot.value, slot.at, now);
        Some(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

impl AttrsCache {
    /// Keeps at most `capacity` entries, each for at most `ttl`.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Entries {
                epoch: 0,
                young: HashMap::new(),
                old: HashMap::new(),
                half: (capacity / 2).max(1),
                young_since: Instant::now(),
                ttl,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a committed write and moves the epoch on (PostgreSQL).
    pub(crate) fn write(&self, f: impl FnOnce(&mut Entries)) {
        let mut e = self.lock();
        f(&mut e);
        e.epoch = e.epoch.wrapping_add(1);
    }

    /// Applies a change made while holding the SQLite connection (already serialized with
    /// readers: no epoch).
    pub(crate) fn apply(&self, f: impl FnOnce(&mut Entries)) {
        f(&mut self.lock());
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// The entries known for `ids` (absences left out), and the ids not known.
    pub(crate) fn get_many(&self, ids: Vec<String>) -> (HashMap<String, StoredAttrs>, Vec<String>) {
        let now = Instant::now();
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        let mut e = self.lock();
        e.turn_over_if_due(now);
        for id in ids {
            match e.lookup(&id, now) {
                Some(Some(v)) => {
                    found.insert(id, StoredAttrs::clone(&v));
                }
                Some(None) => {}
                None => missing.push(id),
            }
        }
        (found, missing)
    }

    /// Stores what a read of `ids` found (an absence for the ids not in `found`). With
    /// `if_epoch`, only while the epoch is still that one (a write committed since may be newer
    /// than the read): the rest of the batch is then left out.
    pub(crate) fn fill(
        &self,
        ids: Vec<String>,
        found: &HashMap<String, StoredAttrs>,
        if_epoch: Option<u64>,
    ) {
        let now = Instant::now();
        let mut ids = ids.into_iter().peekable();
        while ids.peek().is_some() {
            let mut e = self.lock();
            if if_epoch.is_some_and(|seen| seen != e.epoch) {
                return;
            }
            e.turn_over_if_due(now);
            for id in ids.by_ref().take(FILL_CHUNK) {
                let value = found.get(&id).cloned().map(Arc::new);
                e.store(id, value, now, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::ObjectAttrs;

    fn entry(id: &str, etag: &str) -> StoredAttrs {
        StoredAttrs {
            file_id: id.into(),
            size: 1,
            modified_at: None,
            version_id: None,
            sha256: None,
            attrs: ObjectAttrs {
                etag: etag.into(),
                ..Default::default()
            },
        }
    }

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("fil_{i}")).collect()
    }

    #[test]
    fn a_filled_batch_answers_hits_and_absences_and_asks_only_for_the_rest() {
        let c = AttrsCache::new(Duration::from_secs(60), 100);
        let found = HashMap::from([("fil_1".to_owned(), entry("fil_1", "e1"))]);
        c.fill(ids(0..3), &found, None);
        let (got, missing) = c.get_many(ids(0..5));
        assert_eq!(got.len(), 1);
        assert_eq!(got["fil_1"].attrs.etag, "e1");
        assert_eq!(missing, ids(3..5));
    }

    #[test]
    fn it_keeps_at_most_its_capacity_and_the_entries_used_since_the_last_turnover() {
        let c = AttrsCache::new(Duration::from_secs(60), 100);
        // 0..50 fill `young`; the next entry turns it over.
        c.fill(ids(0..60), &HashMap::new(), None);
        // fil_0 is used again (back to `young`), fil_1 is not; at the next turnover fil_1 goes.
        assert!(c.get_many(ids(0..1)).1.is_empty());
        c.fill(ids(60..110), &HashMap::new(), None);
        assert!(c.lock().len() <= 100, "{}", c.lock().len());
        assert!(c.get_many(ids(0..1)).1.is_empty());
        assert_eq!(c.get_many(ids(1..2)).1, ids(1..2));
        c.fill(ids(1000..11_000), &HashMap::new(), None);
        assert!(c.lock().len() <= 100, "{}", c.lock().len());
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_asked_for_again() {
        let c = AttrsCache::new(Duration::from_millis(30), 100);
        c.apply(|e| e.insert("fil_1".into(), Some(entry("fil_1", "e1"))));
        assert!(c.get_many(ids(1..2)).1.is_empty());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get_many(ids(1..2)).1, ids(1..2));
    }

    #[test]
    fn expired_entries_are_dropped_after_two_ttls_of_use() {
        let c = AttrsCache::new(Duration::from_millis(40), 1000);
        c.fill(ids(0..50), &HashMap::new(), None);
        std::thread::sleep(Duration::from_millis(50));
        // Turns `young` over: the 50 are now `old`, still held.
        c.apply(|e| e.insert("fil_100".into(), None));
        assert_eq!(c.lock().len(), 51);
        std::thread::sleep(Duration::from_millis(50));
        // And again: they are gone (fil_100, expired too, is `old` now).
        assert_eq!(c.get_many(ids(200..201)).1, ids(200..201));
        assert_eq!(c.lock().len(), 1);
    }

    #[test]
    fn a_read_older_than_a_write_is_not_put_back() {
        let c = AttrsCache::new(Duration::from_secs(60), 100);
        let seen = c.epoch();
        // The write commits while the read is under way...
        c.write(|e| e.insert("fil_1".into(), Some(entry("fil_1", "new"))));
        // ...and the read, which found the old value, comes back.
        let stale = HashMap::from([("fil_1".to_owned(), entry("fil_1", "old"))]);
        c.fill(ids(1..3), &stale, Some(seen));
        let (got, missing) = c.get_many(ids(1..3));
        assert_eq!(got["fil_1"].attrs.etag, "new");
        assert_eq!(missing, ids(2..3));
        // A read that saw the current epoch fills in.
        c.fill(ids(2..3), &HashMap::new(), Some(c.epoch()));
        assert!(c.get_many(ids(2..3)).1.is_empty());
    }

    #[test]
    fn invalidation_forgets_entries_in_either_generation() {
        let c = AttrsCache::new(Duration::from_secs(60), 4);
        c.fill(ids(0..3), &HashMap::new(), None);
        c.write(|e| e.invalidate("fil_0"));
        assert_eq!(c.get_many(ids(0..1)).1, ids(0..1));
        c.write(Entries::invalidate_all);
        assert_eq!(c.get_many(ids(0..3)).1, ids(0..3));
    }
}
