//! The gateway's state database (`<data_dir>/gateway.db`): credentials, object attributes, the
//! multipart index and WebDAV locks.
//!
//! SQLite through rusqlite, WAL mode, file mode 0600 (it holds secrets and tokens). The schema
//! is versioned with `PRAGMA user_version` and brought up to date by ordered migrations
//! ([`migrations`]) when the database is opened.
//!
//! [`StateDb`] is a cheap-to-clone handle: one connection behind a mutex, and every operation runs
//! on tokio's blocking pool ([`StateDb::call`]) so async code never blocks on disk.

mod attrs;
mod credentials;
mod locks;
mod migrations;
mod multipart;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

pub use attrs::{ObjectAttrs, StoredAttrs};
pub use credentials::{
    Credential, NewCredential, generate_access_key_id, generate_secret_access_key,
};
pub use locks::StoredLock;
pub use migrations::SCHEMA_VERSION;
pub use multipart::{MultipartPart, MultipartUpload};

/// State database errors.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Creating the database file or its directory failed.
    #[error("state database {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database was written by a newer gateway.
    #[error(
        "state database schema version {found} is newer than this gateway supports \
         ({supported}); upgrade the gateway"
    )]
    SchemaTooNew {
        /// `user_version` in the file.
        found: i64,
        /// The highest version this build knows.
        supported: i64,
    },
    /// A credential with this access key id exists already.
    #[error("access key id {0} is already in use")]
    DuplicateAccessKey(String),
    /// A stored value could not be read back (corrupt row).
    #[error("state database: bad value in {column}: {message}")]
    BadValue {
        /// The column.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The blocking task panicked or was cancelled.
    #[error("state database task failed: {0}")]
    Task(String),
}

/// Handle to the state database. Clones share one connection (and the attribute cache).
#[derive(Clone)]
pub struct StateDb {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    /// Object attributes by file id (`None`: none stored), when enabled
    /// ([`StateDb::with_attrs_cache`]).
    attrs: Option<attrs::AttrsCache>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("path", &self.path).finish()
    }
}

impl StateDb {
    /// Opens (creating if needed) the database at `path`, with its parent directory, and
    /// migrates it to [`SCHEMA_VERSION`]. Blocking: call it at start-up or in `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        create_private_file(&path)?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Hot statements are prepared once (`prepare_cached`); the listing queries come in a
        // few sizes of `IN (…)` lists besides.
        conn.set_prepared_statement_cache_capacity(64);
        // `journal_mode` answers with the mode in force; WAL persists in the file.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path),
            attrs: None,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on tokio's blocking pool. The building block of every typed
    /// operation; later modules (object attributes, multipart, locks) add their own on top.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection itself usable (SQLite rolls
            // back an open transaction when it is dropped), so a poisoned lock is recovered.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StateError::Task(e.to_string()))?
    }

    /// `SELECT 1`: the readiness probe.
    pub async fn ping(&self) -> Result<(), StateError> {
        self.call(|conn| {
            let one: i64 = conn.query_row("SELECT 1", [], |row| row.get(0))?;
            debug_assert_eq!(one, 1);
            Ok(())
        })
        .await
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64, StateError> {
        self.call(|conn| Ok(migrations::user_version(conn)?)).await
    }
}

/// Creates the database file with mode 0600 when it does not exist, and tightens the mode of an
/// existing one. SQLite gives the `-wal` and `-shm` files the main file's mode.
fn create_private_file(path: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path).map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    {
        options.open(path).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn open_creates_a_private_wal_database_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/gateway.db");
        let db = StateDb::open(&path).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        db.ping().await.unwrap();
        let mode: String = db
            .call(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::metadata(&path).unwrap().permissions();
            assert_eq!(perms.mode() & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn every_table_exists() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path().join("gateway.db")).unwrap();
        let tables: Vec<String> = db
            .call(|c| {
                let mut stmt =
                    c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        for table in [
            "credentials",
            "multipart_parts",
            "multipart_uploads",
            "object_attrs",
            "webdav_locks",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing: {tables:?}"
            );
        }
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        let db = StateDb::open(&path).unwrap();
        db.create_credential(NewCredential {
            access_key_id: Some("AKIAKEEP".to_owned()),
            secret_access_key: None,
            token: "tok".to_owned(),
            label: None,
            user_id: "usr_1".to_owned(),
        })
        .await
        .unwrap();
        drop(db);
        let db = StateDb::open(&path).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert!(db.get_credential("AKIAKEEP").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        match StateDb::open(&path) {
            Err(StateError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
