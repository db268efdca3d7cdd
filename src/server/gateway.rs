//! The gateway as one unit: state DB, upstream client (or the embedded emulator), front ends and
//! listeners. [`start_gateway`] is what `scaidrive-gateway serve` and the integration tests run.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::admin::{self, AdminState};
use super::tls::Tls;
use super::{BoundAddrs, FrontEnd, FrontEnds, Listeners, ServeOptions};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::emulator::{self, EmulatorConfig, RunningEmulator};
use crate::metrics::RequestMetrics;
use crate::scaidrive::Client;
use crate::state::{Credential, NewCredential, StateDb};
use crate::store::{Store, StoreOptions};

/// What the front ends are built from: the configuration, the store and the authenticator.
#[derive(Clone)]
pub struct GatewayContext {
    pub config: Config,
    pub store: Store,
    pub auth: Authenticator,
}

/// Label of the credential `serve` creates for the embedded emulator's default user.
pub const EMBEDDED_CREDENTIAL_LABEL: &str = "embedded emulator default user";

/// A running gateway.
pub struct GatewayHandle {
    addrs: BoundAddrs,
    upstream_url: String,
    region: String,
    emulator: Option<RunningEmulator>,
    emulator_data_dir: std::path::PathBuf,
    embedded_credential: Option<Credential>,
    static_key_ids: Vec<String>,
    /// Credentials in the state database when the gateway started.
    stored_credentials: usize,
    db: StateDb,
    tls: Option<Tls>,
    metrics: std::sync::Arc<RequestMetrics>,
    max_object_size: Option<u64>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
    /// The periodic sweep (stops when the handle is dropped).
    _sweeper: crate::maintenance::Task,
    /// The lifecycle worker's periodic task (stops when the handle is dropped).
    _lifecycle: Option<crate::s3::LifecycleTask>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("addrs", &self.addrs)
            .field("upstream_url", &self.upstream_url)
            .field("embedded", &self.emulator.is_some())
            .finish_non_exhaustive()
    }
}

impl GatewayHandle {
    /// The bound S3, WebDAV and admin addresses.
    pub fn addrs(&self) -> BoundAddrs {
        self.addrs
    }

    /// Base URL of the ScaiDrive the gateway talks to.
    pub fn upstream_url(&self) -> &str {
        &self.upstream_url
    }

    /// The embedded emulator, when `scaidrive.url` was unset.
    pub fn emulator(&self) -> Option<&RunningEmulator> {
        self.emulator.as_ref()
    }

    /// The stored credential of the embedded emulator's default user (embedded mode only).
    pub fn embedded_credential(&self) -> Option<&Credential> {
        self.embedded_credential.as_ref()
    }

    /// The state database.
    pub fn state_db(&self) -> &StateDb {
        &self.db
    }

    /// The TLS certificate holder, when the S3 and WebDAV listeners speak HTTPS.
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// Reads the TLS certificate and key again (SIGHUP); without TLS there is nothing to do.
    pub fn reload_tls(&self) -> anyhow::Result<()> {
        match &self.tls {
            Some(tls) => {
                tls.reload()?;
                tracing::info!("TLS certificate reloaded");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Front-end request metrics.
    pub fn metrics(&self) -> &RequestMetrics {
        &self.metrics
    }

    /// The object size limit in force (configured, or ScaiDrive's, the smaller of both).
    pub fn max_object_size(&self) -> Option<u64> {
        self.max_object_size
    }

    /// What `serve` prints once listening: endpoints, and in embedded mode ready-to-paste
    /// `export` lines. This goes to stdout for the operator, never to the logs.
    pub fn banner(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let s3 = client_url_with(scheme, self.addrs.s3);
        let webdav = client_url_with(scheme, self.addrs.webdav);
        let admin = client_url(self.addrs.admin);
        let mut out = String::new();
        let upstream = match &self.emulator {
            Some(_) => format!(
                "{} (embedded emulator, data in {})",
                self.upstream_url,
                self.emulator_data_dir.display()
            ),
            None => self.upstream_url.clone(),
        };
        out.push_str(&format!(
            "scaidrive-gateway {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str(&format!("ScaiDrive: {upstream}\n"));
        out.push_str(&format!("S3:        {s3} (region {})\n", self.region));
        out.push_str(&format!("WebDAV:    {webdav}/\n"));
        out.push_str(&format!(
            "Admin:     {admin} (/healthz, /readyz, /metrics)\n"
        ));
        out.push('\n');
        match &self.embedded_credential {
            Some(cred) => {
                out.push_str(
                    "# S3 credentials of the emulator's demo user \
                     (WebDAV: the same pair as user name and password)\n",
                );
                out.push_str(&format!(
                    "export AWS_ACCESS_KEY_ID={}\n",
                    cred.access_key_id
                ));
                out.push_str(&format!(
                    "export AWS_SECRET_ACCESS_KEY={}\n",
                    cred.secret_access_key
                ));
                out.push_str(&format!(
                    "# the demo user's ScaiDrive token (WebDAV: any user name, the token as \
                     password)\nexport SCAIDRIVE_TOKEN={}\n",
                    cred.token
                ));
            }
            None if !self.static_key_ids.is_empty() => {
                out.push_str(&format!(
                    "# static credential(s) from the configuration: {}\n",
                    self.static_key_ids.join(", ")
                ));
            }
            None if self.stored_credentials > 0 => {
                out.push_str(&format!(
                    "# {} stored S3 credential(s): scaidrive-gateway credentials list\n",
                    self.stored_credentials
                ));
            }
            None => {
                out.push_str(
                    "# create S3 credentials with: \
                     scaidrive-gateway credentials create --token <ScaiDrive token>\n",
                );
            }
        }
        out.push_str(&format!("export AWS_ENDPOINT_URL={s3}\n"));
        out.push_str(&format!("export AWS_DEFAULT_REGION={}\n", self.region));
        out
    }

    /// Stops the gateway: listeners drain (up to the grace period), then the embedded emulator
    /// stops.
    pub async fn shutdown(self) {
        // A send error means the server task has ended already.
        let _ = self.stop.send(());
        if let Err(e) = self.server.await {
            tracing::error!(error = %e, "gateway server task failed");
        }
        // Hands every change-feed leadership and sweeper lock over to the other instances.
        self.db.release_all_cluster_locks().await;
        self.db.leave_cluster().await;
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
        tracing::info!("gateway stopped");
    }
}

/// Runs the gateway until `shutdown` resolves, then stops it gracefully.
pub async fn run_gateway(cfg: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let handle = start_gateway(cfg).await?;
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}

/// Starts the gateway: opens the state DB, starts the embedded emulator when `scaidrive.url` is
/// unset (creating or reusing its default user's credential), binds the listeners and serves.
/// In-flight requests get `shutdown.grace_secs` to finish when it stops.
pub async fn start_gateway(cfg: Config) -> anyhow::Result<GatewayHandle> {
    let grace = Duration::from_secs(cfg.shutdown.grace_secs);
    start_gateway_with_grace(cfg, grace).await
}

/// [`start_gateway`] with a chosen shutdown grace period.
pub async fn start_gateway_with_grace(
    cfg: Config,
    grace: Duration,
) -> anyhow::Result<GatewayHandle> {
    // A bad certificate stops the start before anything else runs.
    let tls = match cfg.tls.files() {
        Some((cert, key)) => Some(Tls::load(cert, key)?),
        None => None,
    };
    let db = open_state_db(&cfg).await?;

    let emulator = match &cfg.scaidrive.url {
        Some(_) => None,
        None => Some(start_embedded_emulator(&cfg).await?),
    };
    // From here on, an error must stop the emulator before returning.
    match finish_start(&cfg, db, emulator, grace, tls).await {
        Ok(handle) => Ok(handle),
        Err((e, emulator)) => {
            if let Some(emulator) = emulator {
                emulator.shutdown().await;
            }
            Err(e)
        }
    }
}

async fn finish_start(
    cfg: &Config,
    db: StateDb,
    emulator: Option<RunningEmulator>,
    grace: Duration,
    tls: Option<Tls>,
) -> Result<GatewayHandle, (anyhow::Error, Option<RunningEmulator>)> {
    let upstream_url = match (&emulator, &cfg.scaidrive.url) {
        (Some(emu), _) => emu.url(),
        (None, Some(url)) => url.clone(),
        (None, None) => {
            return Err((
                anyhow::anyhow!("no ScaiDrive URL and no embedded emulator"),
                emulator,
            ));
        }
    };
    let setup = async {
        let upstream = Client::new(&upstream_url, cfg.client_options())
            .with_context(|| format!("ScaiDrive URL {upstream_url}"))?;
        if emulator.is_none() {
            check_upstream_at_start(&upstream, &upstream_url).await?;
        }
        let embedded_credential = match &emulator {
            Some(emu) => Some(ensure_embedded_credential(&db, emu).await?),
            None => None,
        };
        let max_object_size = max_object_size(cfg, &upstream).await;
        let stored_credentials = db.list_credentials().await?.len();
        let listeners = Listeners::bind(cfg).await?;
        let addrs = listeners.addrs()?;
        anyhow::Ok((
            upstream,
            embedded_credential,
            listeners,
            addrs,
            max_object_size,
            stored_credentials,
        ))
    };
    let (upstream, embedded_credential, listeners, addrs, max_object_size, stored_credentials) =
        match setup.await {
            Ok(parts) => parts,
            Err(e) => return Err((e, emulator)),
        };

    let ctx = GatewayContext {
        config: cfg.clone(),
        store: Store::new(upstream.clone(), db.clone(), StoreOptions::from_config(cfg)),
        auth: Authenticator::with_sts(
            db.clone(),
            &cfg.credentials,
            upstream.clone(),
            cfg.sts.enabled,
        ),
    };
    // With PostgreSQL: a member of the cluster before anything is published.
    ctx.store.join_cluster().await;
    // A cold token check fetches the token's share list beside it.
    let prefetch = ctx.store.clone();
    ctx.auth
        .on_token_check(move |token| prefetch.prefetch_shares(token));
    // Debris a crash left (deletes cut short, spool files) goes before the first request.
    crate::maintenance::at_start(&ctx.store, &cfg.data_dir).await;
    let sweeper = crate::maintenance::spawn(
        ctx.store.clone(),
        cfg.data_dir.clone(),
        crate::maintenance::SWEEP_INTERVAL,
    );
    let lifecycle = crate::s3::Lifecycle::new(&ctx);
    let lifecycle_task = lifecycle.spawn();
    let metrics = std::sync::Arc::new(RequestMetrics::default());
    let front_ends = FrontEnds {
        s3: super::keys::wrap(
            crate::s3::front_end(&ctx),
            ctx.auth.clone(),
            cfg.s3.domain.clone(),
        ),
        webdav: super::keys::wrap(crate::webdav::front_end(&ctx), ctx.auth.clone(), None),
        admin: FrontEnd::from_router(
            "admin",
            admin::router(AdminState {
                db: db.clone(),
                upstream,
                metrics: std::sync::Arc::clone(&metrics),
                cache: ctx.store.cache_stats(),
                lifecycle: Some(lifecycle),
            }),
        ),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let opts = ServeOptions {
        grace,
        tls: tls.clone(),
        limits: cfg.limits.clone(),
        max_object_size,
        s3_domain: cfg.s3.domain.clone(),
        metrics: std::sync::Arc::clone(&metrics),
    };
    let server = tokio::spawn(super::serve_with(
        listeners,
        front_ends,
        async {
            // Dropping the handle without `shutdown` also stops the listeners.
            let _ = stopped.await;
        },
        opts,
    ));
    tracing::info!(
        s3 = %addrs.s3,
        webdav = %addrs.webdav,
        admin = %addrs.admin,
        upstream = %upstream_url,
        embedded = emulator.is_some(),
        tls = tls.is_some(),
        max_object_size,
        "gateway started"
    );
    Ok(GatewayHandle {
        addrs,
        upstream_url,
        region: cfg.s3.region.clone(),
        emulator,
        emulator_data_dir: cfg.emulator_data_dir(),
        embedded_credential,
        stored_credentials,
        static_key_ids: cfg
            .credentials
            .iter()
            .map(|c| c.access_key_id.clone())
            .collect(),
        db,
        tls,
        metrics,
        max_object_size,
        stop,
        server,
        _sweeper: sweeper,
        _lifecycle: lifecycle_task,
    })
}

/// Asks `GET /api/v1/health` and `GET /api/v1/config` of the configured ScaiDrive. Something
/// that answers but not as ScaiDrive (a wrong path: 404, an HTML page) stops the start with a
/// message naming the URL and the answer; ScaiDrive not reachable yet (or busy) is logged and
/// the start goes on: `/readyz` says the same until it answers.
async fn check_upstream_at_start(upstream: &Client, url: &str) -> anyhow::Result<()> {
    let probe = async {
        if let Err(e) = upstream.health().await {
            return Err(("health", e));
        }
        upstream
            .config()
            .await
            .map(|_| ())
            .map_err(|e| ("config", e))
    };
    let outcome = match tokio::time::timeout(Duration::from_secs(10), probe).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(
                url,
                "ScaiDrive does not answer GET /api/v1/health within 10 s; starting anyway, /readyz reports it until it answers"
            );
            return Ok(());
        }
    };
    let Err((endpoint, e)) = outcome else {
        return Ok(());
    };
    let answered_wrong = match e.kind() {
        crate::scaidrive::ErrorKind::Protocol => true,
        crate::scaidrive::ErrorKind::Transport
        | crate::scaidrive::ErrorKind::RateLimited
        | crate::scaidrive::ErrorKind::Unavailable => false,
        _ => e.status().is_some_and(|s| (400..500).contains(&s)),
    };
    if answered_wrong {
        anyhow::bail!(
            "ScaiDrive URL {url} does not answer as ScaiDrive: GET {}/api/v1/{endpoint} \
             answered {} (scaidrive.url is the base URL, e.g. https://drive.example.com, \
             without /api/v1)",
            url.trim_end_matches('/'),
            e.detail()
        );
    }
    tracing::warn!(url, error = %e.detail(), "ScaiDrive is not reachable; starting anyway, /readyz reports it until it answers");
    Ok(())
}

/// The object size limit: `limits.max_object_size`, ScaiDrive's `max_file_size_bytes`
/// (`GET /api/v1/config`), the smaller of both when both are known. ScaiDrive not answering is
/// no reason to refuse to start: its own 413 still applies.
async fn max_object_size(cfg: &Config, upstream: &Client) -> Option<u64> {
    let configured = cfg.limits.max_object_size;
    let upstream_max = match tokio::time::timeout(Duration::from_secs(10), upstream.config()).await
    {
        Ok(Ok(server)) => server.limits.max_file_size_bytes,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read ScaiDrive's limits (GET /api/v1/config)");
            None
        }
        Err(_) => {
            tracing::warn!("no answer from GET /api/v1/config; object size limit from config only");
            None
        }
    };
    effective_max(configured, upstream_max)
}

fn effective_max(configured: Option<u64>, upstream: Option<u64>) -> Option<u64> {
    match (configured, upstream) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Opens the state database (`state.url`, or else `<data_dir>/gateway.db`) and migrates it.
pub async fn open_state_db(cfg: &Config) -> anyhow::Result<StateDb> {
    let location = cfg.state_location();
    if let crate::state::StateLocation::Sqlite(_) = &location
        && cfg.data_dir.exists()
        && !cfg.data_dir.is_dir()
    {
        anyhow::bail!(
            "data directory {} exists and is not a directory: name a directory (--data-dir, \
             SCAIDRIVE_GATEWAY_DATA_DIR or data_dir), or remove the file",
            cfg.data_dir.display()
        );
    }
    let db = StateDb::connect(&location, cfg.state.options())
        .await
        .with_context(|| format!("opening state database {location}"))?;
    Ok(match cfg.cache.enabled {
        true => db
            .with_attrs_cache(std::time::Duration::from_secs(cfg.cache.ttl_secs))
            .with_credential_cache(),
        false => db,
    })
}

/// Starts the emulator on `<data_dir>/emulator` on `embedded.listen`, seeded (when fresh) from
/// `embedded.seed` or the built-in default.
pub async fn start_embedded_emulator(cfg: &Config) -> anyhow::Result<RunningEmulator> {
    let data_dir = cfg.emulator_data_dir();
    emulator::start(EmulatorConfig {
        listen: cfg.embedded.listen,
        data_dir: data_dir.clone(),
        seed: cfg.embedded.seed.clone(),
        ..EmulatorConfig::default()
    })
    .await
    .with_context(|| format!("starting the embedded emulator on {}", data_dir.display()))
}

/// Returns the stored credential mapped to the emulator's default-seed token, creating it on
/// first start. The emulator keeps its token across restarts, so later starts find the same one.
async fn ensure_embedded_credential(
    db: &StateDb,
    emulator: &RunningEmulator,
) -> anyhow::Result<Credential> {
    let seed = emulator
        .tokens()
        .into_iter()
        .next()
        .context("the embedded emulator has no seed token")?;
    let existing = db
        .list_credentials()
        .await?
        .into_iter()
        .find(|c| c.token == seed.token);
    if let Some(cred) = existing {
        return Ok(cred);
    }
    let cred = db
        .create_credential(NewCredential {
            access_key_id: None,
            secret_access_key: None,
            token: seed.token,
            label: Some(EMBEDDED_CREDENTIAL_LABEL.to_owned()),
            user_id: seed.user_id,
        })
        .await?;
    Ok(cred)
}

/// A URL a client on this machine can use for `addr`: an unspecified bind address (`0.0.0.0`,
/// `::`) becomes the loopback address of its family.
pub fn client_url(addr: SocketAddr) -> String {
    client_url_with("http", addr)
}

/// [`client_url`] with a scheme (`https` when the listener speaks TLS).
pub fn client_url_with(scheme: &str, addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn object_size_limit_is_the_smaller_known_value() {
        assert_eq!(effective_max(None, None), None);
        assert_eq!(effective_max(Some(5), None), Some(5));
        assert_eq!(effective_max(None, Some(7)), Some(7));
        assert_eq!(effective_max(Some(9), Some(7)), Some(7));
        assert_eq!(effective_max(Some(3), Some(7)), Some(3));
    }

    #[test]
    fn client_url_replaces_unspecified_addresses() {
        assert_eq!(
            client_url("0.0.0.0:9000".parse().unwrap()),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            client_url("[::]:9000".parse().unwrap()),
            "http://[::1]:9000"
        );
        assert_eq!(
            client_url("192.0.2.1:80".parse().unwrap()),
            "http://192.0.2.1:80"
        );
    }
}
