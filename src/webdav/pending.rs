//! Pending empty files: a zero-byte PUT (or a LOCK on an unmapped URL) of a new file is not sent
//! to ScaiDrive at once. Windows Explorer, davfs2 and others create an empty file and PUT the
//! content right after; creating the empty file upstream would leave an extra empty first
//! version. The empty file is held here (and shown in listings) for [`EMPTY_GRACE`], and for as
//! long as a WebDAV lock on its path is live (the lock-holder is its writer: davfs2 locks each
//! new name when it is created and PUTs the content at upload time, after its own
//! `delay_upload` or at `umount`); a content PUT in that time becomes the file's first version,
//! otherwise the empty file is created within [`EMPTY_GRACE`] after the lock is gone.
//!
//! Held in memory by this gateway process, so only with the SQLite state database (one
//! instance). With PostgreSQL (several instances behind a balancer) the content PUT may reach
//! another instance, which could not see the pending file: there the empty file is created
//! upstream at once (documented in `docs/webdav.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::state::ObjectAttrs;
use crate::store::{Store, StoreError, WriteRequest};

/// How long an empty new file waits for its content before it is created upstream.
pub(crate) const EMPTY_GRACE: Duration = Duration::from_secs(10);

/// One pending empty file.
#[derive(Clone, Debug)]
pub(crate) struct PendingFile {
    pub generation: u64,
    pub created: SystemTime,
    pub client_mtime: Option<String>,
    /// A content PUT is running for it; the timer must not create it meanwhile.
    pub busy: bool,
}

/// Pending empty files by `share_id` and path.
#[derive(Clone, Default)]
pub(crate) struct Pending {
    inner: Arc<Mutex<PendingInner>>,
    /// Create empty files upstream at once instead of holding them (several instances).
    at_once: bool,
}

#[derive(Default)]
struct PendingInner {
    next: u64,
    files: HashMap<(String, String), PendingFile>,
}

fn key(share_id: &str, path: &ObjectPath) -> (String, String) {
    (share_id.to_owned(), path.to_key())
}

impl Pending {
    /// Pending files held for [`EMPTY_GRACE`], or (`at_once`) none: created upstream at once.
    pub fn new(at_once: bool) -> Self {
        Self {
            at_once,
            ..Self::default()
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut PendingInner) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// The pending file at `path`.
    pub fn get(&self, share_id: &str, path: &ObjectPath) -> Option<PendingFile> {
        self.with(|p| p.files.get(&key(share_id, path)).cloned())
    }

    /// Pending files directly in the folder `dir` (segments), by name.
    pub fn in_folder(&self, share_id: &str, dir: &[String]) -> Vec<(String, PendingFile)> {
        self.with(|p| {
            p.files
                .iter()
                .filter_map(|((sid, k), f)| {
                    if sid != share_id {
                        return None;
                    }
                    let path = ObjectPath::from_key(k).ok()?;
                    (path.parent_segments() == dir)
                        .then(|| Some((path.name()?.to_owned(), f.clone())))
                        .flatten()
                })
                .collect()
        })
    }

    /// Removes the pending file at `path`; true when there was one.
    pub fn remove(&self, share_id: &str, path: &ObjectPath) -> bool {
        self.with(|p| p.files.remove(&key(share_id, path)).is_some())
    }

    /// Marks a pending file as being written (or not any more).
    pub fn set_busy(&self, share_id: &str, path: &ObjectPath, busy: bool) {
        self.with(|p| {
            if let Some(f) = p.files.get_mut(&key(share_id, path)) {
                f.busy = busy;
            }
        });
    }

    /// Registers an empty file and schedules its creation upstream after [`EMPTY_GRACE`]; or,
    /// when held files are off, creates it now.
    pub async fn add(
        &self,
        store: &Store,
        session: &Session,
        share_id: &str,
        path: &ObjectPath,
        client_mtime: Option<String>,
    ) -> Result<(), StoreError> {
        if self.at_once {
            return store
                .write(session, empty_file(share_id, path, client_mtime))
                .await
                .map(|_| ());
        }
        let generation = self.with(|p| {
            p.next += 1;
            let generation = p.next;
            p.files.insert(
                key(share_id, path),
                PendingFile {
                    generation,
                    created: SystemTime::now(),
                    client_mtime,
                    busy: false,
                },
            );
            generation
        });
        let this = self.clone();
        let store = store.clone();
        let session = session.clone();
        let share_id = share_id.to_owned();
        let path = path.clone();
        // The task mostly sleeps (as long as a lock is held: minutes for davfs2's thousands of
        // files), so the lock check and the upstream write are boxed and allocated only when
        // they run, instead of inside every sleeping task's state.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EMPTY_GRACE).await;
                let due = this.with(|p| match p.files.get(&key(&share_id, &path)) {
                    Some(f) if f.generation == generation && f.busy => Some(false),
                    Some(f) if f.generation == generation => Some(true),
                    _ => None,
                });
                match due {
                    Some(true) if !Box::pin(locked(&store, &share_id, &path)).await => break,
                    Some(_) => continue,
                    None => return,
                }
            }
            Box::pin(this.materialize(&store, &session, &share_id, &path)).await;
        });
        Ok(())
    }

    /// Creates the pending empty file at `path` upstream now (before a MOVE, COPY, PROPPATCH…).
    /// Returns false when none was pending.
    pub async fn materialize(
        &self,
        store: &Store,
        session: &Session,
        share_id: &str,
        path: &ObjectPath,
    ) -> bool {
        let Some(file) = self.with(|p| p.files.remove(&key(share_id, path))) else {
            return false;
        };
        let req = empty_file(share_id, path, file.client_mtime);
        if let Err(e) = store.write(session, req).await {
            tracing::warn!(error = %e, share_id, path = %path.to_key(), "could not create an empty file");
        }
        true
    }
}

/// Whether a live WebDAV lock is held on exactly `path` (a lock-holder is writing it: davfs2
/// locks a new name, then PUTs its content when it uploads, often much later than the grace).
/// A lock on a folder above does not count: it says nothing about this file's writer. When the
/// state database cannot answer, the file is not held any longer.
async fn locked(store: &Store, share_id: &str, path: &ObjectPath) -> bool {
    let lock_key = format!("{share_id}/{}", path.to_key());
    match store.db().locks_related(&lock_key).await {
        Ok(locks) => locks.iter().any(|l| l.path == lock_key),
        Err(e) => {
            tracing::warn!(error = %e, share_id, path = %path.to_key(), "lock check of a pending file failed");
            false
        }
    }
}

/// The write of an empty file at `path`.
fn empty_file(share_id: &str, path: &ObjectPath, client_mtime: Option<String>) -> WriteRequest {
    WriteRequest {
        share_id: share_id.to_owned(),
        path: path.clone(),
        size: 0,
        content_type: None,
        body: Box::pin(futures::stream::empty()),
        create_parents: false,
        attrs: ObjectAttrs {
            client_mtime,
            ..ObjectAttrs::default()
        },
        content_md5: None,
    }
}
