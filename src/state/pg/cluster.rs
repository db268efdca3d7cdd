//! What several instances coordinate through PostgreSQL: share generations (one indexed row per
//! share, bumped by every gateway write, with what the write changed recorded under each
//! generation) and session advisory locks (change-feed leadership per
//! share, the cluster-wide sweepers) held on one dedicated connection per instance, outside the
//! pool, so that they live exactly as long as that connection: an instance that dies or shuts
//! down releases them with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_postgres::NoTls;

use super::super::StateError;
use super::super::news::{CHANGES_KEPT, CHANGES_READ, PRUNE_EVERY, ShareNews};
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

/// Adds one to the generation of `key` and records `change` under the new generation; the new
/// value. Every [`PRUNE_EVERY`] generations the share's records older than the latest
/// [`CHANGES_KEPT`] go.
pub(in crate::state) async fn bump_share_generation(
    db: &PgBackend,
    key: &str,
    change: &str,
) -> Result<u64, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "WITH g AS (\
                INSERT INTO share_generations (share_id, generation) VALUES ($1, 1) \
                ON CONFLICT (share_id) DO UPDATE \
                SET generation = share_generations.generation + 1 RETURNING generation) \
             INSERT INTO share_changes (share_id, generation, change) \
             SELECT $1, generation, $2 FROM g RETURNING generation",
        )
        .await?;
    let row = conn.query_one(&stmt, &[&key, &change]).await?;
    let generation: i64 = row.try_get(0)?;
    prune_changes(&conn, key, generation).await?;
    super::to_u64("generation", generation)
}

/// After `key` reached `generation`: every [`PRUNE_EVERY`] generations, drops its records older
/// than the latest [`CHANGES_KEPT`].
pub(super) async fn prune_changes(
    conn: &super::Conn,
    key: &str,
    generation: i64,
) -> Result<(), StateError> {
    if generation % PRUNE_EVERY == 0 {
        let stmt = conn
            .prepare_cached("DELETE FROM share_changes WHERE share_id = $1 AND generation <= $2")
            .await?;
        conn.execute(&stmt, &[&key, &(generation - CHANGES_KEPT)])
            .await?;
    }
    Ok(())
}

/// The shares of `known` whose generation moved past the one given, each with its current
/// generation and the recorded changes after the given one (at most [`CHANGES_READ`], oldest
/// first): one query, answering no rows when nothing changed.
pub(in crate::state) async fn share_news(
    db: &PgBackend,
    known: &[(String, u64)],
) -> Result<Vec<ShareNews>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "SELECT k.share_id, g.generation, c.generation, c.change \
             FROM unnest($1::text[], $2::bigint[]) AS k(share_id, known) \
             JOIN share_generations g \
               ON g.share_id = k.share_id COLLATE \"C\" AND g.generation > k.known \
             LEFT JOIN LATERAL ( \
               SELECT s.generation, s.change FROM share_changes s \
               WHERE s.share_id = k.share_id COLLATE \"C\" AND s.generation > k.known \
               ORDER BY s.generation LIMIT $3) c ON true \
             ORDER BY k.share_id, c.generation",
        )
        .await?;
    let ids: Vec<&str> = known.iter().map(|(id, _)| id.as_str()).collect();
    let gens = known
        .iter()
        .map(|(_, g)| i64::try_from(*g))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| StateError::BadValue {
            column: "generation",
            message: "too large".into(),
        })?;
    let rows = conn.query(&stmt, &[&ids, &gens, &CHANGES_READ]).await?;
    let mut news: Vec<ShareNews> = Vec::new();
    for row in rows {
        let share_id: String = row.try_get(0)?;
        let generation = super::to_u64("generation", row.try_get(1)?)?;
        let change: Option<(i64, String)> = match row.try_get::<_, Option<i64>>(2)? {
            Some(g) => Some((g, row.try_get(3)?)),
            None => None,
        };
        if news.last().is_none_or(|n| n.share_id != share_id) {
            news.push(ShareNews {
                share_id,
                generation,
                changes: Vec::new(),
            });
        }
        if let (Some(n), Some((g, change))) = (news.last_mut(), change) {
            n.changes.push((super::to_u64("generation", g)?, change));
        }
    }
    Ok(news)
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
        let granted = self
            .query_bool("SELECT pg_try_advisory_lock($1)", key)
            .await?;
        Ok(granted.and_then(|(granted, epoch)| granted.then_some(epoch)))
    }

    /// `sql` (one boolean out of the one bigint `key` in) on the dedicated connection, made
    /// again when it was lost: the answer and the epoch of the connection that gave it; `None`
    /// once closed.
    pub(in crate::state) async fn query_bool(
        &self,
        sql: &str,
        key: i64,
    ) -> Result<Option<(bool, u64)>, StateError> {
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
        let answer: bool = client.query_one(sql, &[&key]).await?.try_get(0)?;
        Ok(Some((answer, self.epoch.load(Ordering::SeqCst))))
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
        self.unlock_sql("SELECT pg_advisory_unlock($1)", key, epoch)
            .await
    }

    /// Releases one lock granted under `epoch` with `sql` (one of the `pg_advisory_unlock`
    /// functions of `key`); nothing to do when its connection is gone.
    pub(in crate::state) async fn unlock_sql(
        &self,
        sql: &str,
        key: i64,
        epoch: u64,
    ) -> Result<(), StateError> {
        let slot = self.client.lock().await;
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return Ok(());
        }
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            client.execute(sql, &[&key]).await?;
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
