//! This instance's membership of the cluster on PostgreSQL, as session advisory locks on a
//! connection of its own (`store/solo.rs` runs the protocol): every instance holds the member
//! lock shared for as long as it runs, and the solo lock shared while it shares the database
//! with others, or exclusively while it is the only instance. PostgreSQL releases both when the
//! connection ends, so an instance that dies or loses the database leaves at once. SQLite has
//! one instance and no membership.

use sha2::{Digest, Sha256};

use super::{Backend, StateDb, StateError};

/// A membership lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberLock {
    /// Held shared by every running instance.
    Member,
    /// The solo lock, shared: this instance shares the database with others.
    SoloShared,
    /// The solo lock, exclusive: no other instance holds the solo lock.
    SoloExclusive,
}

fn key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("scaidrive-gateway membership {name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl MemberLock {
    fn key(self) -> i64 {
        match self {
            MemberLock::Member => key("member"),
            MemberLock::SoloShared | MemberLock::SoloExclusive => key("solo"),
        }
    }

    fn try_sql(self) -> &'static str {
        match self {
            MemberLock::Member | MemberLock::SoloShared => "SELECT pg_try_advisory_lock_shared($1)",
            MemberLock::SoloExclusive => "SELECT pg_try_advisory_lock($1)",
        }
    }

    fn unlock_sql(self) -> &'static str {
        match self {
            MemberLock::Member | MemberLock::SoloShared => "SELECT pg_advisory_unlock_shared($1)",
            MemberLock::SoloExclusive => "SELECT pg_advisory_unlock($1)",
        }
    }
}

/// Whether a session other than the asking one holds the member lock (advisory locks are per
/// database).
const OTHERS_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks \
     WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND pid <> pg_backend_pid() \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND classid::bigint = (($1::bigint >> 32) & 4294967295) \
     AND objid::bigint = ($1::bigint & 4294967295))";

impl StateDb {
    /// Takes `lock` on the membership connection (made again when it was lost) if it can be
    /// granted now: whether it was, and the epoch of the connection (a new epoch holds none of
    /// the locks taken before). `None` on SQLite or after [`StateDb::leave_cluster`].
    pub async fn try_member_lock(
        &self,
        lock: MemberLock,
    ) -> Result<Option<(bool, u64)>, StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(p) => p.members.query_bool(lock.try_sql(), lock.key()).await,
        }
    }

    /// Releases `lock` on the membership connection of `epoch` (nothing when it is gone).
    pub async fn release_member_lock(
        &self,
        lock: MemberLock,
        epoch: u64,
    ) -> Result<(), StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => {
                p.members
                    .unlock_sql(lock.unlock_sql(), lock.key(), epoch)
                    .await
            }
        }
    }

    /// Whether another instance holds the member lock, and the epoch of the membership
    /// connection that asked (`None` on SQLite or after [`StateDb::leave_cluster`]).
    pub async fn other_members(&self) -> Result<Option<(bool, u64)>, StateError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(p) => {
                p.members
                    .query_bool(OTHERS_SQL, MemberLock::Member.key())
                    .await
            }
        }
    }

    /// Closes the membership connection, leaving the cluster, and makes no new one (shutdown).
    pub async fn leave_cluster(&self) {
        if let Backend::Postgres(p) = &self.backend {
            p.members.close().await;
        }
    }
}
