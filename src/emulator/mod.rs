//! The local ScaiDrive emulator: the documented REST API over real HTTP with persistent storage.
//!
//! The contract is `docs/emulator.md`. [`start`] binds, opens (or creates) the database under the
//! data directory, applies the seed on first start, and spawns the server task; the returned
//! [`RunningEmulator`] reports the address and seed tokens and shuts the server down gracefully.

mod auth;
mod blobs;
mod db;
mod error;
mod extract;
mod faults;
mod ratelimit;
mod routes;
mod seed;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use seed::SeedToken;

/// How to run an emulator.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory holding `scaidrive.db`, `blobs/`, `tmp/` and `uploads/`.
    pub data_dir: PathBuf,
    /// Seed TOML file; `None` = the built-in default seed.
    pub seed: Option<PathBuf>,
    /// Per-token budget in cost units per minute; `None` = rate limiting off.
    pub rate_limit_per_minute: Option<u32>,
    /// Initial fault settings.
    pub faults: Faults,
    /// Inactivity lifetime of upload sessions.
    pub upload_session_ttl: Duration,
    /// Base for external-link URLs; default `http://<bound addr>`.
    pub public_url: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("./emulator-data"),
            seed: None,
            rate_limit_per_minute: None,
            faults: Faults::default(),
            upload_session_ttl: Duration::from_secs(24 * 3600),
            public_url: None,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("seed", &self.seed)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("faults", &self.faults)
            .field("upload_session_ttl", &self.upload_session_ttl)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// State shared by every handler.
pub(crate) struct Inner {
    db: Mutex<rusqlite::Connection>,
    blobs: blobs::BlobStore,
    faults: Mutex<Faults>,
    limiter: Option<ratelimit::RateLimiter>,
    upload_ttl: Duration,
    public_url: String,
}

impl Inner {
    /// The database connection. Never hold the guard across an `.await`.
    fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handler state.
pub(crate) type AppState = Arc<Inner>;

/// A started emulator.
pub struct RunningEmulator {
    addr: SocketAddr,
    tokens: Vec<SeedToken>,
    state: AppState,
    shutdown_tx: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Seed tokens in seed order (the default seed's single token first).
    pub fn tokens(&self) -> Vec<SeedToken> {
        self.tokens.clone()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, f: Faults) {
        *self.state.faults() = f;
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        self.sweeper.abort();
        match (&mut self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "emulator server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "emulator server task failed"),
        }
        let _ = (&mut self.sweeper).await;
    }
}

/// Binds, opens or creates the database, seeds it, and spawns the server.
pub async fn start(cfg: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    let blobs = blobs::BlobStore::open(&cfg.data_dir).context("preparing blob storage")?;
    let mut conn = db::open(&cfg.data_dir.join("scaidrive.db")).context("opening database")?;
    seed::apply(&mut conn, cfg.seed.as_deref())?;
    let tokens = seed::tokens(&conn).context("reading seed tokens")?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let state: AppState = Arc::new(Inner {
        db: Mutex::new(conn),
        blobs,
        faults: Mutex::new(cfg.faults.clone()),
        limiter: cfg.rate_limit_per_minute.map(ratelimit::RateLimiter::new),
        upload_ttl: cfg.upload_session_ttl,
        public_url,
    });
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, state.clone(), async move {
        let _ = shutdown_rx.await;
    }));
    let sweeper = tokio::spawn(routes::uploads::sweep_forever(state.clone()));
    tracing::info!(%addr, "ScaiDrive emulator listening");
    Ok(RunningEmulator {
        addr,
        tokens,
        state,
        shutdown_tx: Some(shutdown_tx),
        server,
        sweeper,
    })
}

/// Serves the API on `listener` until `shutdown` completes (mini-redis style entry point).
pub(crate) async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let app = routes::router(state);
    // Small answers go out at once instead of waiting for the client's delayed ACK (Nagle),
    // as on any production HTTP server.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
