//! When each long-lived access key was last used, recorded cheaply: uses are noted in memory,
//! and a key's time is written to the state database at most once per [`FLUSH_EVERY`] (its
//! first use after a start is written at once). A use noted within the last interval reaches
//! the database with the key's next write, or with any other key's: the stored time is at most
//! about a minute behind while keys are in use, and one interval behind after the last use
//! before a stop.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// The longest time between two writes of one key's last use.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Entry {
    /// The latest use.
    last: DateTime<Utc>,
    /// When `last` was last written (`None`: never since the start).
    written: Option<Instant>,
    /// A use not written yet.
    dirty: bool,
}

/// The in-memory log of key uses.
#[derive(Debug, Default)]
pub(super) struct UseLog {
    keys: Mutex<HashMap<String, Entry>>,
}

impl UseLog {
    /// Notes a use of `access_key_id` at `now`; answers the uses due to be written (this key's
    /// and any other's whose interval has passed), or nothing.
    pub(super) fn note(
        &self,
        access_key_id: &str,
        now: DateTime<Utc>,
        at: Instant,
    ) -> Vec<(String, DateTime<Utc>)> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let entry = keys.entry(access_key_id.to_owned()).or_insert(Entry {
            last: now,
            written: None,
            dirty: true,
        });
        entry.last = entry.last.max(now);
        entry.dirty = true;
        let due = |e: &Entry| {
            e.dirty
                && e.written
                    .is_none_or(|w| at.duration_since(w) >= FLUSH_EVERY)
        };
        if !due(entry) {
            return Vec::new();
        }
        let mut batch = Vec::new();
        for (id, e) in keys.iter_mut() {
            if due(e) {
                e.written = Some(at);
                e.dirty = false;
                batch.push((id.clone(), e.last));
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_written_at_first_use_then_at_most_once_a_minute() {
        let log = UseLog::default();
        let t0 = Instant::now();
        let now = Utc::now();
        assert_eq!(log.note("A", now, t0), vec![("A".to_owned(), now)]);
        // Within the minute: remembered, not written.
        let later = now + chrono::Duration::seconds(10);
        assert!(
            log.note("A", later, t0 + Duration::from_secs(10))
                .is_empty()
        );
        // B's first use is written, and carries nothing of A (its minute has not passed).
        assert_eq!(
            log.note("B", later, t0 + Duration::from_secs(10)),
            vec![("B".to_owned(), later)]
        );
        // After the minute, B's use also writes A's pending time.
        let end = now + chrono::Duration::seconds(75);
        let mut batch = log.note("B", end, t0 + Duration::from_secs(75));
        batch.sort();
        assert_eq!(batch, vec![("A".to_owned(), later), ("B".to_owned(), end)]);
        // Nothing is pending now.
        assert!(log.note("A", end, t0 + Duration::from_secs(76)).is_empty());
    }
}
