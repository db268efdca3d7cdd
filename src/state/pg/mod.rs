//! The PostgreSQL backend: a `deadpool-postgres` pool of `tokio-postgres` connections, every
//! statement prepared once per connection (`prepare_cached`) and one round trip per typed
//! operation where the SQL allows. The typed operations live in one file per table group.

mod attrs;
mod bucketcfg;
mod cluster;
mod completed;
mod credentials;
mod intents;
mod locks;
pub(super) mod migrate;
mod multipart;
mod policies;
mod public;
mod sts;
mod webdav_uploads;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::StateError;
use super::location::PgUrl;

pub(super) use attrs::{
    bind_attrs_modified_at, delete_attrs, load_attrs, put_attrs, put_attrs_and_bump,
};
pub(super) use bucketcfg::{
    delete_bucket_config, find_bucket_config, get_bucket_config, list_bucket_configs,
    put_bucket_config,
};
pub(super) use cluster::{Dedicated, bump_share_generation, share_generation, share_news};
pub(super) use completed::{finish_upload, get_completed};
pub(super) use credentials::{
    create_credential, get_credential, list_credentials, record_credential_use, revoke_credential,
};
pub(super) use intents::{delete_intent, list_intents, put_intent};
pub(super) use locks::{
    delete_lock, delete_locks_under, insert_lock, lock_by_token, locks_related, refresh_lock,
};
pub(super) use multipart::{
    create_upload, delete_upload, get_upload, list_parts, list_uploads, put_part,
    uploads_created_before,
};
pub(super) use policies::{delete_bucket_policy, get_bucket_policy, put_bucket_policy};
pub(super) use public::{delete_public_link, public_links, put_public_link};
pub(super) use sts::{create_sts_session, get_sts_session};
pub(super) use webdav_uploads::{
    chunked_uploads_idle_since, chunked_uploads_of, delete_chunked_upload, delete_upload_chunk,
    get_chunked_upload, put_chunked_upload, put_upload_chunk, upload_chunks,
};

/// How long a caller waits for a free pooled connection, and for a new one to be made.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled client.
pub(super) type Conn = deadpool_postgres::Object;

/// The pool. Cheap to clone.
#[derive(Clone)]
pub(super) struct PgBackend {
    pool: Pool,
    /// The connection holding this instance's advisory locks (see `cluster.rs`).
    pub(super) dedicated: Arc<Dedicated>,
    /// The connection holding this instance's membership locks (`store/solo.rs`).
    pub(super) members: Arc<Dedicated>,
    /// Operations run (each takes a pooled connection for one or a few round trips).
    pub(super) operations: Arc<AtomicU64>,
}

impl PgBackend {
    /// Builds the pool, checks that the database answers and migrates the schema.
    pub(super) async fn connect(url: &PgUrl, pool_size: usize) -> Result<Self, StateError> {
        let mut config: tokio_postgres::Config =
            url.expose().parse().map_err(|e: tokio_postgres::Error| {
                // The driver's parse errors name the offending option, not the value.
                StateError::Config(format!("{url}: {e}"))
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("scaidrive-gateway");
        }
        let dedicated = Dedicated::new(config.clone());
        let members = Dedicated::new(config.clone());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StateError::Config(e.to_string()))?;
        let backend = Self {
            pool,
            dedicated,
            members,
            operations: Arc::default(),
        };
        let mut conn = backend.conn().await?;
        migrate::migrate(&mut conn).await?;
        Ok(backend)
    }

    /// A connection from the pool.
    pub(super) async fn conn(&self) -> Result<Conn, StateError> {
        self.operations.fetch_add(1, Ordering::Relaxed);
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StateError::Postgres(e),
            other => StateError::Pool(other.to_string()),
        })
    }

    /// `SELECT 1`.
    pub(super) async fn ping(&self) -> Result<(), StateError> {
        let conn = self.conn().await?;
        conn.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// The version in `gateway_schema_version`.
    pub(super) async fn schema_version(&self) -> Result<i64, StateError> {
        let conn = self.conn().await?;
        migrate::current_version(&conn).await
    }

    /// Connections in the pool and how many of them are idle.
    pub(super) fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }
}

/// Converts a stored `BIGINT` that must not be negative.
pub(super) fn to_u64(column: &'static str, v: i64) -> Result<u64, StateError> {
    u64::try_from(v).map_err(|_| StateError::BadValue {
        column,
        message: "negative".into(),
    })
}

/// `true` when `e` is PostgreSQL's unique_violation.
pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}
