//! Following ScaiDrive's change feed (`/sync/changes`) for the shares in use, so that writes made
//! elsewhere (web UI, sync clients, another gateway) drop the cached listings of their share
//! within about one poll interval, long before the cache TTL would.
//!
//! One follower task per share, started by the first listing of that share and using the token
//! of the session that listed it. It stops when ScaiDrive refuses that token for the share, or
//! when the store is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::auth::Session;
use crate::scaidrive::{Cursor, ErrorKind, Token};

use super::Inner;

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

async fn follow(store: Weak<Inner>, token: Token, share_id: String, every: Duration) {
    let mut cursor: Option<Cursor> = None;
    let mut failures = 0u32;
    loop {
        let Some(inner) = store.upgrade() else {
            return;
        };
        let page = inner
            .client
            .changes(&token, &share_id, cursor.as_ref(), Some(1000))
            .await;
        let more = match page {
            Ok(page) => {
                failures = 0;
                if cursor.is_some() && !page.changes.is_empty() {
                    tracing::debug!(
                        share = %share_id,
                        changes = page.changes.len(),
                        "changes upstream; dropping cached listings of the share"
                    );
                    inner.cache.invalidate_share(&share_id);
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
                return;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(share = %share_id, error = %e, "change feed poll failed");
                // The cache TTL still bounds staleness; a failing feed must not hide writes
                // for longer, so drop the share's listings after a failure.
                inner.cache.invalidate_share(&share_id);
                false
            }
        };
        drop(inner);
        if !more {
            let backoff = every * 2u32.saturating_pow(failures.min(5));
            tokio::time::sleep(backoff.min(Duration::from_secs(60))).await;
        }
    }
}
