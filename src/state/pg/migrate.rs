//! Applies [`MIGRATIONS`](super::super::migrations) on PostgreSQL: the version lives in
//! `gateway_schema_version`, and the whole run holds a transaction-scoped advisory lock, so
//! instances starting at once migrate one after the other (the later ones find the work done).

use deadpool_postgres::GenericClient;

use super::super::StateError;
use super::super::migrations::{MIGRATIONS, SCHEMA_VERSION};

/// The advisory lock key of schema migrations (`'scaidriv'` as a big-endian integer).
const MIGRATION_LOCK: i64 = 0x7363_6169_6472_6976;

/// The schema version of the database (0 when it has no version table yet).
pub(in crate::state) async fn current_version(
    conn: &impl GenericClient,
) -> Result<i64, StateError> {
    let exists = conn
        .query_one(
            "SELECT to_regclass('gateway_schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .get::<_, bool>(0);
    if !exists {
        return Ok(0);
    }
    let row = conn
        .query_opt("SELECT version FROM gateway_schema_version", &[])
        .await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Brings the schema up to [`SCHEMA_VERSION`].
pub(in crate::state) async fn migrate(conn: &mut super::Conn) -> Result<(), StateError> {
    migrate_to(conn, SCHEMA_VERSION).await
}

/// Brings the schema up to `target` in one transaction.
pub(in crate::state) async fn migrate_to(
    conn: &mut super::Conn,
    target: i64,
) -> Result<(), StateError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS gateway_schema_version (version BIGINT NOT NULL)")
        .await?;
    let found = current_version(&tx).await?;
    if found > SCHEMA_VERSION {
        return Err(StateError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let mut applied = Vec::new();
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let to = index as i64 + 1;
        if to <= found || to > target {
            continue;
        }
        tx.batch_execute(migration.postgres).await?;
        applied.push(to);
    }
    if let Some(&to) = applied.last() {
        tx.execute("DELETE FROM gateway_schema_version", &[])
            .await?;
        tx.execute(
            "INSERT INTO gateway_schema_version (version) VALUES ($1)",
            &[&to],
        )
        .await?;
    }
    tx.commit().await?;
    for to in applied {
        tracing::info!(version = to, "state database migrated");
    }
    Ok(())
}
