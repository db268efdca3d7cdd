//! Test targets for the state layer: a SQLite file in a temp directory, or a fresh database on
//! the process's throwaway PostgreSQL ([`super::testpg`]). `both_backends!` runs a test body
//! once with each.

#![allow(clippy::unwrap_used)]

use super::{StateDb, StateLocation, StateOptions, testpg};

/// Where a test's state database lives; open as many handles on it as the test needs.
pub(crate) struct Target {
    pub location: StateLocation,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub fn new_sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            location: StateLocation::Sqlite(dir.path().join("gateway.db")),
            _dir: Some(dir),
        }
    }

    pub async fn new_postgres() -> Self {
        let url = testpg::fresh_database_url().await;
        Self {
            location: StateLocation::parse_state_url(&url).unwrap(),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.location, StateLocation::Postgres(_))
    }

    /// A new handle (a new connection or pool) on the target, migrated.
    pub async fn open(&self) -> StateDb {
        self.try_open().await.unwrap()
    }

    pub async fn try_open(&self) -> Result<StateDb, super::StateError> {
        StateDb::connect(&self.location, StateOptions { pool_size: 4 }).await
    }

    /// Runs SQL on the target outside the gateway's code (to set up odd states).
    pub async fn execute_raw(&self, sql: &str) {
        match &self.location {
            StateLocation::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            StateLocation::Postgres(url) => {
                let (client, connection) =
                    tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                let task = tokio::spawn(connection);
                client.batch_execute(sql).await.unwrap();
                drop(client);
                let _ = task.await;
            }
        }
    }

    /// The names of the tables, sorted.
    pub async fn tables(&self) -> Vec<String> {
        match &self.location {
            StateLocation::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .unwrap();
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            StateLocation::Postgres(url) => {
                let (client, connection) =
                    tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                let task = tokio::spawn(connection);
                let rows = client
                    .query(
                        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
                         ORDER BY tablename COLLATE \"C\"",
                        &[],
                    )
                    .await
                    .unwrap();
                drop(client);
                let _ = task.await;
                rows.iter().map(|r| r.get(0)).collect()
            }
        }
    }
}
