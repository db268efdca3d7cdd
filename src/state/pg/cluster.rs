//! What several instances coordinate through PostgreSQL: share generations (one indexed row per
//! share, bumped by every gateway write) and session advisory locks (change-feed leadership per
//! share, the cluster-wide sweepers) held on one dedicated connection per instance, outside the
//! pool, so that they live exactly as long as that connection: an instance that dies or shuts
//! down releases them with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_postgres::NoTls;

use super::super::StateError;
use super::PgBackend;

/// The current generation of `key` (0 when never bumped): one primary-key lookup.
pub(in crate::state) async fn share_generation(
    db: &PgBackend,
    key: &str,
) -> Result<u64, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("SELECT generation FROM share_generations WHERE share_id = $1")
        .await?;
    let row = conn.query_opt(&stmt, &[&key]).await?;
    match row {
        Some(r) => super::to_u64("generation", r.try_get(0)?),
        None => Ok(0),
    }
}

/// Adds one to the generation of `key`; the new value.
pub(in crate::state) async fn bump_share_generation(
    db: &PgBackend,
    key: &str,
) -> Result<u64, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "INSERT INTO share_generations (share_id, generation) VALUES ($1, 1) \
             ON CONFLICT (share_id) DO UPDATE \
             SET generation = share_generations.generation + 1 RETURNING generation",
        )
        .await?;
    let row = conn.query_one(&stmt, &[&key]).await?;
    super::to_u64("generation", row.try_get(0)?)
}

/// The dedicated connection holding this instance's session advisory locks.
pub(in crate::state) struct Dedicated {
    config: tokio_postgres::Config,
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    /// Bumped on every new connection: a lock taken under an older one is gone.
    epoch: AtomicU64,
    /// Set by [`Dedicated::close`]: no new connection is made.
    closed: AtomicBool,
}

impl Dedicated {
    pub(in crate::state) fn new(config: tokio_postgres::Config) -> Arc<Self> {
        Arc::new(Self {
            config,
            client: tokio::sync::Mutex::new(None),
            epoch: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// `SELECT pg_try_advisory_lock(key)` on the dedicated connection (made again when it was
    /// lost): `Some(epoch)` of the connection holding the lock when it was granted.
    pub(in crate::state) async fn try_lock(&self, key: i64) -> Result<Option<u64>, StateError> {
        let mut slot = self.client.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if slot.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            let (client, connection) = self.config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "state database lock connection lost");
                }
            });
            self.epoch.fetch_add(1, Ordering::SeqCst);
            *slot = Some(client);
        }
        let Some(client) = slot.as_ref() else {
            return Ok(None);
        };
        let granted: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .try_get(0)?;
        Ok(granted.then(|| self.epoch.load(Ordering::SeqCst)))
    }

    /// Whether a lock granted under `epoch` is still held (its connection is open).
    pub(in crate::state) async fn holds(&self, epoch: u64) -> bool {
        let slot = self.client.lock().await;
        !self.closed.load(Ordering::SeqCst)
            && self.epoch.load(Ordering::SeqCst) == epoch
            && slot.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Releases one lock granted under `epoch` (nothing to do when its connection is gone).
    pub(in crate::state) async fn unlock(&self, key: i64, epoch: u64) -> Result<(), StateError> {
        let slot = self.client.lock().await;
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return Ok(());
        }
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            client
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .await?;
        }
        Ok(())
    }

    /// Closes the connection, releasing every lock, and makes no new one.
    pub(in crate::state) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut slot = self.client.lock().await;
        *slot = None;
    }
}
