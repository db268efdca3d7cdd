//! Folder dates: a folder listing names subfolders without any timestamp, so a folder's own
//! `created_at` / `modified_at` come from `GET /folders/{id}`, asked when the folder itself is
//! looked at (or returned when the gateway creates it) and remembered per principal for the
//! cache TTL. A listing shows a subfolder's dates
//! only when they are already remembered: it never costs one call per folder (`docs/webdav.md`).

use std::time::Duration;

use moka::sync::Cache;

use super::{Store, StoreResult};
use crate::auth::Session;
use crate::scaidrive::{Folder, Timestamp};

/// A folder's timestamps as ScaiDrive reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderDates {
    pub created_at: Option<Timestamp>,
    pub modified_at: Option<Timestamp>,
}

/// Remembered folder dates, by (principal, folder id).
pub(crate) struct DatesMemo(Option<Cache<(String, String), FolderDates>>);

impl DatesMemo {
    pub(crate) fn new(enabled: bool, ttl: Duration, capacity: u64) -> Self {
        Self(enabled.then(|| {
            Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .support_invalidation_closures()
                .build()
        }))
    }
}

impl Store {
    /// The dates of folder `folder_id`: remembered, else one `GET /folders/{id}`.
    pub async fn folder_dates(&self, s: &Session, folder_id: &str) -> StoreResult<FolderDates> {
        if let Some(d) = self.known_folder_dates(s, folder_id) {
            return Ok(d);
        }
        let f = self.inner.client.get_folder(s.token(), folder_id).await?;
        Ok(self.remember_folder_dates(s, &f))
    }

    /// Remembers the dates of a folder ScaiDrive just described (read or created).
    pub(crate) fn remember_folder_dates(&self, s: &Session, f: &Folder) -> FolderDates {
        let dates = FolderDates {
            created_at: f.created_at,
            modified_at: f.modified_at,
        };
        if let Some(memo) = &self.inner.folder_dates.0 {
            memo.insert((s.principal().to_owned(), f.id.clone()), dates);
        }
        dates
    }

    /// The dates of folder `folder_id` if they are remembered (no upstream call).
    pub fn known_folder_dates(&self, s: &Session, folder_id: &str) -> Option<FolderDates> {
        let memo = self.inner.folder_dates.0.as_ref()?;
        memo.get(&(s.principal().to_owned(), folder_id.to_owned()))
    }

    /// Forgets the dates of a folder this gateway just renamed or moved.
    pub fn forget_folder_dates(&self, folder_id: &str) {
        if let Some(memo) = &self.inner.folder_dates.0 {
            let id = folder_id.to_owned();
            // Entries of every principal: few, and invalidate_entries_if is lazy.
            let _ = memo.invalidate_entries_if(move |(_, f), _| *f == id);
        }
    }
}
