//! What lets several instances share one PostgreSQL state database and stay coherent: share
//! generations (see `docs/operations.md` § Several instances), cluster-wide advisory locks
//! (change-feed leadership, sweepers) and the operation counter behind the state-DB metrics.
//! On SQLite (one instance) generations are never read, and every lock is granted at once.

use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::news::ShareNews;
use super::{Backend, StateDb, StateError, pg};

/// A cluster-wide lock held by this instance ([`StateDb::try_cluster_lock`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterLease {
    key: i64,
    epoch: u64,
}

/// The advisory lock key of a name: the first 8 bytes of its SHA-256.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("scaidrive-gateway lock {name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl StateDb {
    /// Whether other instances may share this database (PostgreSQL): only then are caches
    /// checked against share generations, and may a delete in progress be another live
    /// instance's.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The generation of a share (`""`: the share list), 0 when never bumped. SQLite: 0.
    pub async fn share_generation(&self, key: &str) -> Result<u64, StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(0),
            Backend::Postgres(p) => pg::share_generation(p, key).await,
        }
    }

    /// Bumps the generation of a share (`""`: the share list) and records `change` (the
    /// store's description of what changed) under the new generation; the new value. SQLite: 0.
    pub async fn bump_share_generation(&self, key: &str, change: &str) -> Result<u64, StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(0),
            Backend::Postgres(p) => pg::bump_share_generation(p, key, change).await,
        }
    }

    /// Of the shares in `known` (share id, generation known), those whose generation moved on,
    /// with the changes recorded since: one round trip, no rows when nothing changed. SQLite:
    /// none.
    pub async fn share_news(&self, known: &[(String, u64)]) -> Result<Vec<ShareNews>, StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Vec::new()),
            Backend::Postgres(p) => pg::share_news(p, known).await,
        }
    }

    /// Forgets one file's object attributes kept in memory (another instance changed them).
    pub fn forget_cached_attr(&self, file_id: &str) {
        if let Some(c) = &self.attrs {
            c.write(|m| m.invalidate(file_id));
        }
    }

    /// Drops every object attribute kept in memory (another instance changed some).
    pub fn forget_cached_attrs(&self) {
        if let Some(c) = &self.attrs {
            c.write(|m| m.invalidate_all());
        }
    }

    /// Takes the cluster-wide lock `name` if nobody holds it (PostgreSQL: a session advisory
    /// lock on this instance's dedicated connection). SQLite: always granted.
    pub async fn try_cluster_lock(&self, name: &str) -> Result<Option<ClusterLease>, StateError> {
        let key = lock_key(name);
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(ClusterLease { key, epoch: 0 })),
            Backend::Postgres(p) => Ok(p
                .dedicated
                .try_lock(key)
                .await?
                .map(|epoch| ClusterLease { key, epoch })),
        }
    }

    /// Whether this instance still holds `lease` (its connection did not drop).
    pub async fn holds_cluster_lock(&self, lease: &ClusterLease) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => true,
            Backend::Postgres(p) => p.dedicated.holds(lease.epoch).await,
        }
    }

    /// Releases a lock taken with [`StateDb::try_cluster_lock`].
    pub async fn release_cluster_lock(&self, lease: ClusterLease) {
        if let Backend::Postgres(p) = &self.backend
            && let Err(e) = p.dedicated.unlock(lease.key, lease.epoch).await
        {
            tracing::warn!(error = %e, "releasing a cluster lock failed");
        }
    }

    /// Releases every cluster lock of this instance and takes none any more (shutdown).
    pub async fn release_all_cluster_locks(&self) {
        if let Backend::Postgres(p) = &self.backend {
            p.dedicated.close().await;
        }
    }

    /// State-DB operations run so far by this handle and its clones.
    pub fn operations(&self) -> u64 {
        match &self.backend {
            Backend::Sqlite(s) => s.operations.load(Ordering::Relaxed),
            Backend::Postgres(p) => p.operations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::state::testdb::Target;

    #[tokio::test]
    async fn generations_count_bumps_per_share_on_postgres() {
        let target = Target::new_postgres().await;
        let db = target.open().await;
        assert!(db.is_shared());
        assert_eq!(db.share_generation("shr_a").await.unwrap(), 0);
        assert_eq!(db.bump_share_generation("shr_a", "a1").await.unwrap(), 1);
        assert_eq!(db.bump_share_generation("shr_a", "a2").await.unwrap(), 2);
        assert_eq!(db.bump_share_generation("", "l1").await.unwrap(), 1);
        let other = target.open().await;
        assert_eq!(other.share_generation("shr_a").await.unwrap(), 2);
    }

    #[tokio::test]
    async fn news_name_only_changed_shares_with_their_records_in_order() {
        let target = Target::new_postgres().await;
        let db = target.open().await;
        for c in ["a1", "a2", "a3"] {
            db.bump_share_generation("shr_a", c).await.unwrap();
        }
        db.bump_share_generation("", "l1").await.unwrap();
        let known = |a: u64, b: u64, l: u64| {
            vec![
                ("shr_a".to_owned(), a),
                ("shr_b".to_owned(), b),
                (String::new(), l),
            ]
        };
        assert!(db.share_news(&known(3, 0, 1)).await.unwrap().is_empty());
        let news = db.share_news(&known(1, 0, 0)).await.unwrap();
        assert_eq!(news.len(), 2, "{news:?}");
        assert_eq!(news[0].share_id, "");
        assert_eq!(news[0].changes, vec![(1, "l1".to_owned())]);
        assert_eq!(news[1].share_id, "shr_a");
        assert_eq!(news[1].generation, 3);
        assert_eq!(
            news[1].changes,
            vec![(2, "a2".to_owned()), (3, "a3".to_owned())]
        );
        assert!(news[1].complete_since(1));
        assert!(!news[1].complete_since(0));
        // Read from generation 1, applied meanwhile up to 2 here (an own change): still whole.
        assert!(news[1].complete_since(2));
        assert!(news[1].complete_since(3));
    }

    async fn attrs_and_generation_land_together(target: Target) {
        let db = target.open().await;
        let entry = crate::state::StoredAttrs {
            file_id: "fil_1".into(),
            size: 3,
            modified_at: None,
            version_id: None,
            sha256: None,
            attrs: crate::state::ObjectAttrs {
                etag: "abc".into(),
                ..Default::default()
            },
        };
        let g = db.put_attrs_and_bump(entry, "shr_a", "c1").await.unwrap();
        let got = db.get_attrs("fil_1").await.unwrap().unwrap();
        assert_eq!(got.attrs.etag, "abc");
        if db.is_shared() {
            assert_eq!(g, 1);
            let news = db.share_news(&[("shr_a".to_owned(), 0)]).await.unwrap();
            assert_eq!(news[0].changes, vec![(1, "c1".to_owned())]);
        } else {
            assert_eq!(g, 0);
        }
    }

    both_backends! {
        attrs_and_generation => attrs_and_generation_land_together;
    }

    #[tokio::test]
    async fn old_records_are_pruned_and_reads_are_bounded() {
        let target = Target::new_postgres().await;
        let db = target.open().await;
        let total = crate::state::news::CHANGES_KEPT + crate::state::news::PRUNE_EVERY;
        for i in 1..=total {
            db.bump_share_generation("shr_p", &i.to_string())
                .await
                .unwrap();
        }
        let news = db.share_news(&[("shr_p".to_owned(), 0)]).await.unwrap();
        assert_eq!(news[0].generation, total as u64);
        // The first records were pruned: what is read starts past them and is not complete.
        let first = news[0].changes[0].0;
        assert_eq!(first as i64, total - crate::state::news::CHANGES_KEPT + 1);
        assert_eq!(
            news[0].changes.len() as i64,
            crate::state::news::CHANGES_READ
        );
        assert!(!news[0].complete_since(0));
        let recent = (total - 10) as u64;
        let news = db
            .share_news(&[("shr_p".to_owned(), recent)])
            .await
            .unwrap();
        assert!(news[0].complete_since(recent));
        assert_eq!(news[0].changes.last().unwrap().1, total.to_string());
    }

    #[tokio::test]
    async fn a_cluster_lock_has_one_holder_until_released_or_closed() {
        let target = Target::new_postgres().await;
        let a = target.open().await;
        let b = target.open().await;
        let lease = a.try_cluster_lock("feed shr_x").await.unwrap().unwrap();
        assert!(b.try_cluster_lock("feed shr_x").await.unwrap().is_none());
        assert!(b.try_cluster_lock("feed shr_y").await.unwrap().is_some());
        assert!(a.holds_cluster_lock(&lease).await);
        a.release_cluster_lock(lease).await;
        let lease = b.try_cluster_lock("feed shr_x").await.unwrap().unwrap();
        b.release_all_cluster_locks().await;
        assert!(!b.holds_cluster_lock(&lease).await);
        assert!(b.try_cluster_lock("feed shr_x").await.unwrap().is_none());
        // PostgreSQL releases a closed session's locks when its backend has exited, a moment
        // after the connection closed: another holder gets it within a few seconds.
        let mut taken = false;
        for _ in 0..100 {
            if a.try_cluster_lock("feed shr_x").await.unwrap().is_some() {
                taken = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(taken, "the lock of a closed session was never released");
    }
}
