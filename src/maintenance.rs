//! Housekeeping that keeps a crash from leaving debris: at start and then periodically, deletes
//! a crash cut between rename and trash are finished ([`Store::recover_deletes`]) and spool files
//! and multipart staging directories no request uses are removed (`<data_dir>/staging/webdav/*`
//! and `<data_dir>/staging/<upload id>/` whose upload the state DB does not know), and WebDAV
//! chunked uploads idle for 24 hours are forgotten with their spools.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::state::StateDb;
use crate::store::Store;

/// How often the periodic sweep runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(300);

/// A staging file or directory untouched for this long, and not open by this process, belongs
/// to no live request (the periodic sweep's bound; far above the body-read and request timeouts).
pub const STAGING_MAX_AGE: Duration = Duration::from_secs(3600);

/// What one sweep of the staging directory removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StagingSwept {
    /// WebDAV spool files.
    pub spool_files: usize,
    /// Multipart staging directories of uploads the state DB does not know.
    pub upload_dirs: usize,
}

/// The sweep at start, before any request is served: every WebDAV spool file and every
/// multipart staging directory without its upload is debris, and so is every delete in
/// progress, unless other instances may share the state DB and the staging directory
/// (PostgreSQL): then only what the periodic sweep would take.
pub async fn at_start(store: &Store, data_dir: &Path) {
    let shared = store.db().is_shared();
    store.recover_deletes(!shared).await;
    let staging = data_dir.join("staging");
    let swept = sweep_staging(&staging, store.db(), shared.then_some(STAGING_MAX_AGE)).await;
    log(swept);
}

/// Runs the periodic sweep every `every` until the returned task is dropped.
pub fn spawn(store: Store, data_dir: PathBuf, every: Duration) -> Task {
    let staging = data_dir.join("staging");
    Task(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once: `at_start` has just run.
        tick.tick().await;
        loop {
            tick.tick().await;
            store.recover_deletes(false).await;
            log(sweep_staging(&staging, store.db(), Some(STAGING_MAX_AGE)).await);
            let idle = crate::webdav::sweep_chunked_uploads(store.db(), &data_dir).await;
            if idle > 0 {
                tracing::info!(uploads = idle, "removed idle WebDAV chunked uploads");
            }
        }
    }))
}

/// The periodic sweep's task; dropping it stops the sweep.
pub struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn log(swept: StagingSwept) {
    if swept != StagingSwept::default() {
        tracing::info!(
            spool_files = swept.spool_files,
            upload_dirs = swept.upload_dirs,
            "removed staging debris"
        );
    }
}

/// Removes debris under `staging` (`<data_dir>/staging`): WebDAV spool files, and staging
/// directories of multipart uploads the state DB does not know. With `max_age` only entries
/// not modified for that long and not open by this process go (requests may be running);
/// without, all (at start, none is).
pub async fn sweep_staging(
    staging: &Path,
    db: &StateDb,
    max_age: Option<Duration>,
) -> StagingSwept {
    let mut swept = StagingSwept::default();
    let open = match max_age {
        Some(_) => open_files().await,
        None => HashSet::new(),
    };
    let stale = |path: &Path, meta: &std::fs::Metadata| match max_age {
        None => true,
        Some(age) => {
            !open.iter().any(|o| o.starts_with(path))
                && meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|elapsed| elapsed >= age)
        }
    };
    for (path, meta) in entries(&staging.join("webdav")).await {
        if meta.is_file() && stale(&path, &meta) {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => swept.spool_files += 1,
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "could not remove a spool file")
                }
            }
        }
    }
    for (path, meta) in entries(staging).await {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Upload ids are ULIDs; nothing else there is the sweep's to judge.
        if !meta.is_dir() || ulid::Ulid::from_string(name).is_err() || !stale(&path, &meta) {
            continue;
        }
        match db.get_upload(name).await {
            Ok(None) => {}
            Ok(Some(_)) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not check a multipart staging directory");
                continue;
            }
        }
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => swept.upload_dirs += 1,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "could not remove a staging directory")
            }
        }
    }
    swept
}

/// The entries of a directory with their metadata (none when it does not exist).
async fn entries(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return out;
    };
    while let Ok(Some(entry)) = rd.next_entry().await {
        if let Ok(meta) = entry.metadata().await {
            out.push((entry.path(), meta));
        }
    }
    out
}

/// The files this process has open (Linux: `/proc/self/fd`; elsewhere none are known and the
/// age bound alone decides).
async fn open_files() -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    let Ok(mut rd) = tokio::fs::read_dir("/proc/self/fd").await else {
        return out;
    };
    while let Ok(Some(entry)) = rd.next_entry().await {
        if let Ok(target) = tokio::fs::read_link(entry.path()).await {
            out.insert(target);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_periodic_sweep_spares_young_and_open_spool_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path().join("gateway.db")).unwrap();
        let staging = dir.path().join("staging");
        let spool = staging.join("webdav");
        std::fs::create_dir_all(&spool).unwrap();
        let old = spool.join("put-old");
        let open = spool.join("put-open");
        let young = spool.join("put-young");
        for p in [&old, &open, &young] {
            std::fs::write(p, b"x").unwrap();
        }
        let hour_ago = SystemTime::now() - Duration::from_secs(7200);
        for p in [&old, &open] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        let _in_use = std::fs::File::open(&open).unwrap();
        let swept = sweep_staging(&staging, &db, Some(STAGING_MAX_AGE)).await;
        assert_eq!(swept.spool_files, 1);
        assert!(!old.exists() && open.exists() && young.exists());
        // At start everything goes.
        let swept = sweep_staging(&staging, &db, None).await;
        assert_eq!(swept.spool_files, 2);
    }
}
