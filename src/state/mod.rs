//! The gateway's state database: credentials, object attributes, the multipart index, WebDAV
//! locks, deletes in progress, per-bucket configuration documents and bucket policies.
//!
//! Two backends behind one handle, [`StateDb`]:
//! - SQLite (`<data_dir>/gateway.db`, the default) through rusqlite, WAL mode, file mode 0600 (it
//!   holds secrets and tokens): one connection behind a mutex, every operation on tokio's
//!   blocking pool ([`SqliteBackend::call`]) so async code never blocks on disk;
//! - PostgreSQL (`state.url = "postgres://…"`, for several instances) through a
//!   `deadpool-postgres` pool ([`pg`]).
//!
//! The schema is versioned and brought up to date by one ordered list of migrations
//! ([`migrations`]) when the database is opened.

/// Generates one test per backend from `async fn body(target: testdb::Target)`.
#[cfg(test)]
macro_rules! both_backends {
    ($($name:ident => $body:ident;)+) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$body($crate::state::testdb::Target::new_sqlite()).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$body($crate::state::testdb::Target::new_postgres().await).await;
                }
            }
        )+
    };
}

mod attrs;
mod attrs_cache;
mod bucketcfg;
mod coherence;
mod completed;
mod credentials;
mod intents;
mod location;
mod locks;
mod membership;
mod migrations;
mod multipart;
mod news;
mod pg;
mod policies;
mod public;
mod sts;
#[cfg(test)]
mod testdb;
#[cfg(test)]
mod testpg;
mod transfer;
mod webdav_uploads;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

pub use attrs::{ObjectAttrs, StoredAttrs};
pub use bucketcfg::{BucketConfig, ConfigKind};
pub use coherence::ClusterLease;
pub use completed::CompletedUpload;
pub use credentials::{
    CREDENTIAL_TTL, Credential, NewCredential, generate_access_key_id, generate_secret_access_key,
    generate_session_token, generate_temporary_access_key_id,
};
pub use intents::{DeleteIntent, IntentKind};
pub use location::{PgUrl, StateLocation, redact as redact_url};
pub use locks::StoredLock;
pub use membership::MemberLock;
pub use migrations::SCHEMA_VERSION;
pub use multipart::{MultipartPart, MultipartUpload, PartLocation};
pub use news::ShareNews;
pub use policies::BucketPolicy;
pub use public::PublicLink;
pub use sts::{EXPIRED_KEPT, StsSession, session_token_digest};
pub use transfer::{TransferCounts, copy_state};
pub use webdav_uploads::{ChunkedUpload, UploadChunk};

/// Default size of the PostgreSQL connection pool (`state.pool_size`).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// State database errors.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (the driver's text never holds the connection password).
    #[error("state database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled PostgreSQL connection could be had in time.
    #[error("state database pool: {0}")]
    Pool(String),
    /// The PostgreSQL URL or pool settings are not usable.
    #[error("state database configuration: {0}")]
    Config(String),
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
        /// The version found in the database.
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
    /// `state migrate` found data in the target.
    #[error("the target state database is not empty ({0}); use --force to add to it")]
    TargetNotEmpty(String),
}

/// Options of [`StateDb::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateOptions {
    /// Most PostgreSQL connections kept (ignored for SQLite).
    pub pool_size: usize,
}

impl Default for StateOptions {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// The SQLite backend: one connection behind a mutex.
#[derive(Clone)]
pub(crate) struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    /// Operations run (for the state-DB metrics).
    operations: Arc<std::sync::atomic::AtomicU64>,
}

impl SqliteBackend {
    /// Runs `f` with the connection on tokio's blocking pool.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    {
        self.operations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteBackend),
    Postgres(pg::PgBackend),
}

/// Handle to the state database. Clones share the connection or pool (and the attribute cache).
#[derive(Clone)]
pub struct StateDb {
    backend: Backend,
    /// What was opened (password redacted when shown).
    location: Arc<StateLocation>,
    /// Object attributes by file id (`None`: none stored), when enabled
    /// ([`StateDb::with_attrs_cache`]).
    attrs: Option<attrs_cache::AttrsCache>,
    /// Stored credentials read recently, when enabled ([`StateDb::with_credential_cache`]).
    credentials: Option<credentials::CredentialCache>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb")
            .field("location", &self.location)
            .finish()
    }
}

impl StateDb {
    /// Opens (creating if needed) the SQLite database at `path`, with its parent directory, and
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
            location: Arc::new(StateLocation::Sqlite(path.clone())),
            backend: Backend::Sqlite(SqliteBackend {
                conn: Arc::new(Mutex::new(conn)),
                path: Arc::new(path),
                operations: Arc::default(),
            }),
            attrs: None,
            credentials: None,
        })
    }

    /// Opens the database at `location` and migrates it: SQLite as [`StateDb::open`] (on the
    /// blocking pool), PostgreSQL through a new pool.
    pub async fn connect(
        location: &StateLocation,
        options: StateOptions,
    ) -> Result<Self, StateError> {
        match location {
            StateLocation::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || Self::open(path))
                    .await
                    .map_err(|e| StateError::Task(e.to_string()))?
            }
            StateLocation::Postgres(url) => Ok(Self {
                backend: Backend::Postgres(pg::PgBackend::connect(url, options.pool_size).await?),
                location: Arc::new(location.clone()),
                attrs: None,
                credentials: None,
            }),
        }
    }

    /// What this handle opened (shown with the password redacted).
    pub fn location(&self) -> &StateLocation {
        &self.location
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.location.backend_name()
    }

    /// The SQLite database file, when that is the backend.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(s) => Some(&s.path),
            Backend::Postgres(_) => None,
        }
    }

    /// PostgreSQL pool size and idle connections (`None` for SQLite).
    pub fn pool_status(&self) -> Option<(usize, usize)> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(p) => Some(p.pool_status()),
        }
    }

    /// `SELECT 1`: the readiness probe.
    pub async fn ping(&self) -> Result<(), StateError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.call(|conn| {
                    let one: i64 = conn.query_row("SELECT 1", [], |row| row.get(0))?;
                    debug_assert_eq!(one, 1);
                    Ok(())
                })
                .await
            }
            Backend::Postgres(p) => p.ping().await,
        }
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64, StateError> {
        match &self.backend {
            Backend::Sqlite(s) => s.call(|conn| Ok(migrations::user_version(conn)?)).await,
            Backend::Postgres(p) => p.schema_version().await,
        }
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

    use super::testdb::Target;
    use super::*;

    #[tokio::test]
    async fn open_creates_a_private_wal_database_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/gateway.db");
        let db = StateDb::open(&path).unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(db.backend_name(), "sqlite");
        db.ping().await.unwrap();
        let Backend::Sqlite(sqlite) = &db.backend else {
            panic!("not SQLite")
        };
        let mode: String = sqlite
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

    async fn every_table_exists(target: Target) {
        let db = target.open().await;
        db.ping().await.unwrap();
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        let tables = target.tables().await;
        for table in [
            "bucket_configs",
            "bucket_policies",
            "credentials",
            "delete_intents",
            "multipart_completed",
            "multipart_parts",
            "multipart_uploads",
            "object_attrs",
            "share_changes",
            "share_generations",
            "webdav_locks",
            "webdav_upload_chunks",
            "webdav_uploads",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing: {tables:?}"
            );
        }
    }

    async fn reopening_keeps_data_and_version(target: Target) {
        let db = target.open().await;
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
        let db = target.open().await;
        assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert!(db.get_credential("AKIAKEEP").await.unwrap().is_some());
    }

    async fn a_newer_schema_is_refused(target: Target) {
        if target.is_postgres() {
            target.open().await;
            target
                .execute_raw(&format!(
                    "UPDATE gateway_schema_version SET version = {}",
                    SCHEMA_VERSION + 1
                ))
                .await;
        } else {
            target
                .execute_raw(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
                .await;
        }
        match target.try_open().await {
            Err(StateError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    /// Instances starting at once against a fresh PostgreSQL database migrate one after the
    /// other under the advisory lock: all succeed, the schema is made once. (SQLite is one
    /// instance's file.)
    #[tokio::test]
    async fn concurrent_opens_of_postgres_migrate_once() {
        let target = Target::new_postgres().await;
        let opens = (0..3).map(|_| target.try_open());
        for db in futures::future::join_all(opens).await {
            assert_eq!(db.unwrap().schema_version().await.unwrap(), SCHEMA_VERSION);
        }
        let db = target.open().await;
        let Backend::Postgres(p) = &db.backend else {
            panic!("not PostgreSQL")
        };
        let conn = p.conn().await.unwrap();
        let rows: i64 = conn
            .query_one("SELECT count(*) FROM gateway_schema_version", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(rows, 1);
    }

    both_backends! {
        every_table_exists_on => every_table_exists;
        reopening_keeps_data_and_version_on => reopening_keeps_data_and_version;
        a_newer_schema_is_refused_on => a_newer_schema_is_refused;
    }

    #[tokio::test]
    async fn an_unreachable_postgres_fails_with_the_password_redacted() {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let location =
            StateLocation::parse_state_url(&format!("postgres://gw:hunter2@127.0.0.1:{port}/db"))
                .unwrap();
        let err = StateDb::connect(&location, StateOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
