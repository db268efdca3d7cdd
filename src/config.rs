//! Configuration: a TOML file, environment variables and command-line flags, merged into one
//! [`Config`].
//!
//! Precedence, highest first: flags, environment, file, built-in defaults. Every option, with its
//! TOML key, environment variable, flag and default, is listed in `docs/configuration.md`.
//!
//! The environment is passed in as a lookup function ([`Config::load`]) rather than read
//! globally, so precedence is unit-tested without touching the process environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod state;

pub use state::{ENV_STATE_POOL_SIZE, ENV_STATE_URL, StateConfig, StateFlags};

/// Environment variable naming the configuration file (the `--config` flag wins over it).
pub const ENV_CONFIG: &str = "SCAIDRIVE_GATEWAY_CONFIG";
/// Base URL of the ScaiDrive instance to front; unset = embedded emulator.
pub const ENV_SCAIDRIVE_URL: &str = "SCAIDRIVE_URL";
/// ScaiDrive token of the single static credential.
pub const ENV_SCAIDRIVE_TOKEN: &str = "SCAIDRIVE_TOKEN";
/// Data directory (state DB, embedded emulator data).
pub const ENV_DATA_DIR: &str = "SCAIDRIVE_GATEWAY_DATA_DIR";
/// Access key id of the single static credential.
pub const ENV_ACCESS_KEY_ID: &str = "SCAIDRIVE_GATEWAY_ACCESS_KEY_ID";
/// Secret access key of the single static credential.
pub const ENV_SECRET_ACCESS_KEY: &str = "SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY";
/// S3 listen address.
pub const ENV_S3_LISTEN: &str = "SCAIDRIVE_GATEWAY_S3_LISTEN";
/// S3 region.
pub const ENV_S3_REGION: &str = "SCAIDRIVE_GATEWAY_S3_REGION";
/// S3 bucket mode (`share` or `folders`).
pub const ENV_S3_BUCKET_MODE: &str = "SCAIDRIVE_GATEWAY_S3_BUCKET_MODE";
/// Share (id or name) whose top-level folders are the buckets in `folders` mode.
pub const ENV_S3_FOLDERS_SHARE: &str = "SCAIDRIVE_GATEWAY_S3_FOLDERS_SHARE";
/// Domain for virtual-host style S3 requests.
pub const ENV_S3_DOMAIN: &str = "SCAIDRIVE_GATEWAY_S3_DOMAIN";
/// Age (seconds) after which an abandoned S3 multipart upload is removed.
pub const ENV_S3_MULTIPART_MAX_AGE_SECS: &str = "SCAIDRIVE_GATEWAY_S3_MULTIPART_MAX_AGE_SECS";
/// Environment variable for `s3.multipart_staging`.
pub const ENV_S3_MULTIPART_STAGING: &str = "SCAIDRIVE_GATEWAY_S3_MULTIPART_STAGING";
/// WebDAV listen address.
pub const ENV_WEBDAV_LISTEN: &str = "SCAIDRIVE_GATEWAY_WEBDAV_LISTEN";
/// Admin (health, metrics) listen address.
pub const ENV_ADMIN_LISTEN: &str = "SCAIDRIVE_GATEWAY_ADMIN_LISTEN";
/// Listen address of the embedded emulator.
pub const ENV_EMBEDDED_LISTEN: &str = "SCAIDRIVE_GATEWAY_EMBEDDED_LISTEN";
/// Seed file of the embedded emulator (users, tokens, shares of a fresh data directory).
pub const ENV_EMBEDDED_SEED: &str = "SCAIDRIVE_GATEWAY_EMBEDDED_SEED";
/// Log format (`human` or `json`).
pub const ENV_LOG_FORMAT: &str = "SCAIDRIVE_GATEWAY_LOG_FORMAT";
/// Log level / filter directives (`RUST_LOG` syntax).
pub const ENV_LOG_LEVEL: &str = "SCAIDRIVE_GATEWAY_LOG_LEVEL";

// --- TLS, limits, shutdown -------------------------------------------------------------------
/// PEM certificate chain of the S3 and WebDAV listeners (TLS on when set, with the key).
pub const ENV_TLS_CERT: &str = "SCAIDRIVE_GATEWAY_TLS_CERT";
/// PEM private key matching the certificate.
pub const ENV_TLS_KEY: &str = "SCAIDRIVE_GATEWAY_TLS_KEY";
/// Largest request head (request line and headers) in bytes.
pub const ENV_MAX_HEADER_BYTES: &str = "SCAIDRIVE_GATEWAY_MAX_HEADER_BYTES";
/// Seconds a client may take to send a request head.
pub const ENV_HEADER_READ_TIMEOUT_SECS: &str = "SCAIDRIVE_GATEWAY_HEADER_READ_TIMEOUT_SECS";
/// Seconds without a byte in either direction after which a connection is closed.
pub const ENV_IDLE_TIMEOUT_SECS: &str = "SCAIDRIVE_GATEWAY_IDLE_TIMEOUT_SECS";
/// Environment variable of `limits.body_read_timeout_secs`.
pub const ENV_BODY_READ_TIMEOUT_SECS: &str = "SCAIDRIVE_GATEWAY_BODY_READ_TIMEOUT_SECS";
/// Open connections per listener; more are answered 503 and closed.
pub const ENV_MAX_CONNECTIONS: &str = "SCAIDRIVE_GATEWAY_MAX_CONNECTIONS";
/// Largest object (bytes) accepted; unset = ScaiDrive's `max_file_size_bytes`.
pub const ENV_MAX_OBJECT_SIZE: &str = "SCAIDRIVE_GATEWAY_MAX_OBJECT_SIZE";
/// Seconds in-flight requests may run on after SIGTERM/SIGINT.
pub const ENV_SHUTDOWN_GRACE_SECS: &str = "SCAIDRIVE_GATEWAY_SHUTDOWN_GRACE_SECS";
/// Default largest request head: 64 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 << 10;
/// Smallest accepted `limits.max_header_bytes` (the HTTP parser's floor).
pub const MIN_MAX_HEADER_BYTES: usize = 8192;
/// Default time to send a request head: 30 seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 30;
/// Default idle timeout: 5 minutes.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 300;
/// Default of `limits.body_read_timeout_secs` (S3 answers `RequestTimeout` after about 20 s).
pub const DEFAULT_BODY_READ_TIMEOUT_SECS: u64 = 20;
/// Default open connections per listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default shutdown grace period: 30 seconds.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
/// Cache on/off (`true`/`false`).
pub const ENV_CACHE_ENABLED: &str = "SCAIDRIVE_GATEWAY_CACHE_ENABLED";
/// Seconds a fetched listing or share list is trusted.
pub const ENV_CACHE_TTL_SECS: &str = "SCAIDRIVE_GATEWAY_CACHE_TTL_SECS";
/// Most folder listings kept.
pub const ENV_CACHE_CAPACITY: &str = "SCAIDRIVE_GATEWAY_CACHE_CAPACITY";
/// Change-feed poll interval in milliseconds (0 = off).
pub const ENV_CACHE_CHANGE_FEED_INTERVAL_MS: &str =
    "SCAIDRIVE_GATEWAY_CACHE_CHANGE_FEED_INTERVAL_MS";
/// Connect timeout to ScaiDrive, seconds.
pub const ENV_UPSTREAM_CONNECT_TIMEOUT_SECS: &str =
    "SCAIDRIVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECS";
/// Metadata call timeout / stream idle timeout, seconds.
pub const ENV_UPSTREAM_REQUEST_TIMEOUT_SECS: &str =
    "SCAIDRIVE_GATEWAY_UPSTREAM_REQUEST_TIMEOUT_SECS";
/// Retries after the first attempt.
pub const ENV_UPSTREAM_MAX_RETRIES: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_MAX_RETRIES";
/// New files at least this large go through an upload session.
pub const ENV_UPSTREAM_SESSION_THRESHOLD_BYTES: &str =
    "SCAIDRIVE_GATEWAY_UPSTREAM_SESSION_THRESHOLD_BYTES";
/// Upload-session chunk size.
pub const ENV_UPSTREAM_CHUNK_SIZE_BYTES: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_CHUNK_SIZE_BYTES";
/// Chunks of one upload in flight.
pub const ENV_UPSTREAM_PARALLEL_CHUNKS: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_PARALLEL_CHUNKS";
/// Delete permanently instead of to the trash.
pub const ENV_UPSTREAM_PERMANENT_DELETE: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_PERMANENT_DELETE";
/// Extra trusted root certificates for ScaiDrive's TLS.
pub const ENV_UPSTREAM_CA_FILE: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_CA_FILE";

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./scaidrive-data";
/// Default S3 listen address.
pub const DEFAULT_S3_LISTEN: &str = "127.0.0.1:9000";
/// Default WebDAV listen address.
pub const DEFAULT_WEBDAV_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listen address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Default embedded emulator listen address (any free port).
pub const DEFAULT_EMBEDDED_LISTEN: &str = "127.0.0.1:0";
/// Default age (seconds) after which an abandoned multipart upload is removed: 24 hours.
pub const DEFAULT_S3_MULTIPART_MAX_AGE_SECS: u64 = 86_400;
/// Default S3 region.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default log filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Errors found while loading configuration. Messages name the source and key, never a value
/// that could be a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown keys / wrong types.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml said (it quotes the offending key, not the whole file).
        message: String,
    },
    /// A value from the environment or a flag is not valid for its key.
    #[error("invalid value for {key} (from {source_name}): {message}")]
    Invalid {
        /// The key, e.g. `s3.listen`.
        key: &'static str,
        /// Where the value came from: `flag`, `env VAR`, `file`.
        source_name: String,
        /// Why it is invalid.
        message: String,
    },
    /// Values are individually valid but do not fit together.
    #[error("inconsistent configuration: {0}")]
    Inconsistent(String),
}

/// How S3 buckets map onto ScaiDrive (design §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BucketMode {
    /// Each share the user can see is a bucket.
    #[default]
    Share,
    /// Buckets are the top-level folders of one configured share.
    Folders,
}

impl std::str::FromStr for BucketMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "share" => Ok(Self::Share),
            "folders" => Ok(Self::Folders),
            other => Err(format!("expected `share` or `folders`, got `{other}`")),
        }
    }
}

/// Where multipart parts wait for CompleteMultipartUpload (`s3.multipart_staging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultipartStaging {
    /// Spool files under `<data_dir>/staging/` (one instance).
    Local,
    /// Hidden files in the share's `.scaidrive-gateway-uploads` folder (any instance).
    ScaiDrive,
}

impl std::str::FromStr for MultipartStaging {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "scaidrive" => Ok(Self::ScaiDrive),
            other => Err(format!("expected `local` or `scaidrive`, got `{other}`")),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("expected `human` or `json`, got `{other}`")),
        }
    }
}

/// The resolved configuration.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// The upstream ScaiDrive.
    pub scaidrive: ScaiDriveConfig,
    /// State DB and embedded emulator data live here.
    pub data_dir: PathBuf,
    /// The S3 front end.
    pub s3: S3Config,
    /// The WebDAV front end.
    pub webdav: WebDavConfig,
    /// The admin listener (health, readiness, metrics).
    pub admin: AdminConfig,
    /// The embedded emulator (used when `scaidrive.url` is unset).
    pub embedded: EmbeddedConfig,
    /// Static credentials from the file and/or the environment (never stored in the state DB).
    pub credentials: Vec<StaticCredential>,
    /// Logging.
    pub log: LogConfig,
    /// TLS of the S3 and WebDAV listeners.
    pub tls: TlsConfig,
    /// Connection and request limits.
    pub limits: LimitsConfig,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// Metadata caches and the change feed.
    pub cache: CacheConfig,
    /// How the gateway calls ScaiDrive.
    pub upstream: UpstreamConfig,
    /// The state database.
    pub state: StateConfig,
}

/// TLS of the S3 and WebDAV listeners (the admin listener stays plain HTTP).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsConfig {
    /// PEM file with the certificate chain (leaf first).
    pub cert: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    /// Both files, when TLS is on.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        Some((self.cert.as_deref()?, self.key.as_deref()?))
    }
}

/// Limits of the S3 and WebDAV listeners (and the admin listener, except the object size).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Largest request head in bytes (larger: 431 and the connection is closed).
    pub max_header_bytes: usize,
    /// Seconds to send a complete request head (slow clients are disconnected).
    pub header_read_timeout_secs: u64,
    /// Seconds without any byte sent or received before a connection is closed (0 = never).
    pub idle_timeout_secs: u64,
    /// Open connections per listener; a connection over the limit is answered 503 and closed.
    pub max_connections: usize,
    /// Largest object accepted, in bytes; `None` = ScaiDrive's `max_file_size_bytes`. When
    /// both are known the smaller wins.
    pub max_object_size: Option<u64>,
    /// Seconds a request body may send no byte while the gateway waits for one (S3
    /// `RequestTimeout`, WebDAV 408; nothing of the upload is kept).
    pub body_read_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_object_size: None,
            body_read_timeout_secs: DEFAULT_BODY_READ_TIMEOUT_SECS,
        }
    }
}

/// Metadata caches (share lists, folder listings) and the change feed (`[cache]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Cache at all; `false` = every lookup asks ScaiDrive.
    pub enabled: bool,
    /// Seconds a listing or share list fetched from ScaiDrive is trusted (the bound for writes
    /// made elsewhere when the change feed cannot be read).
    pub ttl_secs: u64,
    /// Most folder listings kept (all users together).
    pub capacity: u64,
    /// Poll the change feed of every share in use this often, in milliseconds (the bound for
    /// writes made elsewhere); 0 = do not follow the feed (the TTL alone bounds).
    pub change_feed_interval_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: 5,
            capacity: 10_000,
            change_feed_interval_ms: 2_000,
        }
    }
}

/// Graceful shutdown on SIGTERM / SIGINT.
#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownConfig {
    /// Seconds in-flight requests may run on once shutdown starts; then connections are cut.
    pub grace_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
        }
    }
}

/// How the gateway calls ScaiDrive (`[upstream]`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// TCP + TLS connect timeout, seconds.
    pub connect_timeout_secs: u64,
    /// Total timeout of a metadata call, and the idle timeout of content streams, seconds.
    pub request_timeout_secs: u64,
    /// Retries after the first attempt (429, and 5xx/transport errors of idempotent calls).
    pub max_retries: u32,
    /// New files at least this large go through an upload session instead of one `POST /files`.
    pub session_threshold_bytes: u64,
    /// Upload-session chunk size: a power of two from 64 KiB to 4 MiB.
    pub chunk_size_bytes: u64,
    /// Chunks of one upload in flight at once.
    pub parallel_chunks: usize,
    /// Delete permanently instead of moving to ScaiDrive's trash.
    pub permanent_delete: bool,
    /// PEM file of root certificates to trust for ScaiDrive's TLS, besides the built-in
    /// Mozilla roots (a ScaiDrive behind a private CA).
    pub ca_file: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_secs: 10,
            request_timeout_secs: 60,
            max_retries: 3,
            session_threshold_bytes: crate::store::SINGLE_POST_LIMIT,
            chunk_size_bytes: 4 << 20,
            parallel_chunks: 3,
            permanent_delete: false,
            ca_file: None,
        }
    }
}

impl Config {
    /// The store's options from `[cache]` and `[upstream]`.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        use std::time::Duration;
        crate::store::StoreOptions {
            cache_enabled: self.cache.enabled,
            cache_ttl: Duration::from_secs(self.cache.ttl_secs),
            cache_capacity: self.cache.capacity,
            permanent_delete: self.upstream.permanent_delete,
            session_threshold: self.upstream.session_threshold_bytes,
            chunk_size: self.upstream.chunk_size_bytes,
            parallel_chunks: self.upstream.parallel_chunks,
            change_feed_interval: (self.cache.change_feed_interval_ms > 0)
                .then(|| Duration::from_millis(self.cache.change_feed_interval_ms)),
        }
    }

    /// The ScaiDrive client's options from `[upstream]`.
    pub fn client_options(&self) -> crate::scaidrive::ClientOptions {
        use std::time::Duration;
        crate::scaidrive::ClientOptions {
            connect_timeout: Duration::from_secs(self.upstream.connect_timeout_secs),
            request_timeout: Duration::from_secs(self.upstream.request_timeout_secs),
            max_retries: self.upstream.max_retries,
            ca_file: self.upstream.ca_file.clone(),
            ..crate::scaidrive::ClientOptions::default()
        }
    }
}

/// The upstream ScaiDrive instance.
#[derive(Clone, PartialEq, Default)]
pub struct ScaiDriveConfig {
    /// Base URL (`https://drive.example.com`); `None` = start the embedded emulator.
    pub url: Option<String>,
    /// Token for the single static credential.
    pub token: Option<String>,
}

/// S3 front end settings.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    /// Listen address (port 0 = any free port).
    pub listen: SocketAddr,
    /// Region reported to and expected from clients (SigV4 scope).
    pub region: String,
    /// Bucket mapping.
    pub bucket_mode: BucketMode,
    /// For `folders` mode: the share (id or name) whose top-level folders are buckets.
    pub folders_share: Option<String>,
    /// Domain for virtual-host style requests (`bucket.<domain>`); `None` = path style only.
    pub domain: Option<String>,
    /// Multipart uploads neither completed nor aborted within this many seconds are removed
    /// (state and spooled parts).
    pub multipart_max_age_secs: u64,
    /// Where parts wait for Complete; `None` = local with SQLite, ScaiDrive with PostgreSQL.
    pub multipart_staging: Option<MultipartStaging>,
}

/// WebDAV front end settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebDavConfig {
    /// Listen address (port 0 = any free port).
    pub listen: SocketAddr,
}

/// Admin listener settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// Listen address (port 0 = any free port).
    pub listen: SocketAddr,
}

/// Embedded emulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedConfig {
    /// Listen address of the embedded emulator (default: loopback, any free port).
    pub listen: SocketAddr,
    /// Seed TOML file applied when the emulator's data directory is fresh (`None` = the built-in
    /// seed: one demo user, shares `Documents` and `Photos`).
    pub seed: Option<PathBuf>,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directives (`info`, `scaidrive_gateway=debug,info`, ...).
    pub level: String,
}

/// A credential given in configuration rather than stored in the state DB.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCredential {
    /// S3 access key id (also the WebDAV Basic user name).
    pub access_key_id: String,
    /// S3 secret access key (also the WebDAV Basic password).
    pub secret_access_key: String,
    /// The ScaiDrive token requests are made with.
    pub token: String,
}

impl fmt::Debug for StaticCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("token", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for ScaiDriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScaiDriveConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field that can hold a secret has its own redacting Debug.
        f.debug_struct("Config")
            .field("scaidrive", &self.scaidrive)
            .field("data_dir", &self.data_dir)
            .field("s3", &self.s3)
            .field("webdav", &self.webdav)
            .field("admin", &self.admin)
            .field("embedded", &self.embedded)
            .field("credentials", &self.credentials)
            .field("log", &self.log)
            .field("tls", &self.tls)
            .field("limits", &self.limits)
            .field("shutdown", &self.shutdown)
            .field("cache", &self.cache)
            .field("upstream", &self.upstream)
            .field("state", &self.state)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            scaidrive: ScaiDriveConfig::default(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            s3: S3Config {
                listen: parse_default(DEFAULT_S3_LISTEN),
                region: DEFAULT_REGION.to_owned(),
                bucket_mode: BucketMode::Share,
                folders_share: None,
                domain: None,
                multipart_max_age_secs: DEFAULT_S3_MULTIPART_MAX_AGE_SECS,
                multipart_staging: None,
            },
            webdav: WebDavConfig {
                listen: parse_default(DEFAULT_WEBDAV_LISTEN),
            },
            admin: AdminConfig {
                listen: parse_default(DEFAULT_ADMIN_LISTEN),
            },
            embedded: EmbeddedConfig {
                listen: parse_default(DEFAULT_EMBEDDED_LISTEN),
                seed: None,
            },
            credentials: Vec::new(),
            log: LogConfig {
                format: LogFormat::Human,
                level: DEFAULT_LOG_LEVEL.to_owned(),
            },
            tls: TlsConfig::default(),
            limits: LimitsConfig::default(),
            shutdown: ShutdownConfig::default(),
            cache: CacheConfig::default(),
            upstream: UpstreamConfig::default(),
            state: StateConfig::default(),
        }
    }
}

/// Parses one of the address constants above.
fn parse_default(addr: &str) -> SocketAddr {
    // The constants are literal `ip:port` strings; a typo there is caught by
    // `defaults_are_valid` below, so falling back to the unspecified address never happens.
    addr.parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Values given as command-line flags. `None` = not given. The binary fills this from clap; it
/// lives here so precedence can be tested without a command line.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct ConfigFlags {
    /// TOML configuration file [env: SCAIDRIVE_GATEWAY_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the state DB and the embedded emulator [env: SCAIDRIVE_GATEWAY_DATA_DIR]
    /// [default: ./scaidrive-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// ScaiDrive base URL; unset = embedded emulator [env: SCAIDRIVE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub scaidrive_url: Option<String>,
    /// S3 listen address [env: SCAIDRIVE_GATEWAY_S3_LISTEN] [default: 127.0.0.1:9000]
    #[arg(long, global = true, value_name = "ADDR")]
    pub s3_listen: Option<SocketAddr>,
    /// S3 region [env: SCAIDRIVE_GATEWAY_S3_REGION] [default: us-east-1]
    #[arg(long, global = true, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// S3 bucket mode: share | folders [env: SCAIDRIVE_GATEWAY_S3_BUCKET_MODE] [default: share]
    #[arg(long, global = true, value_name = "MODE")]
    pub s3_bucket_mode: Option<BucketMode>,
    /// Share (id or name) for folders mode [env: SCAIDRIVE_GATEWAY_S3_FOLDERS_SHARE]
    #[arg(long, global = true, value_name = "SHARE")]
    pub s3_folders_share: Option<String>,
    /// Domain for virtual-host style S3 requests [env: SCAIDRIVE_GATEWAY_S3_DOMAIN]
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub s3_domain: Option<String>,
    /// Seconds after which an abandoned multipart upload is removed
    /// [env: SCAIDRIVE_GATEWAY_S3_MULTIPART_MAX_AGE_SECS] [default: 86400]
    #[arg(long, global = true, value_name = "SECS")]
    pub s3_multipart_max_age_secs: Option<u64>,
    /// WebDAV listen address [env: SCAIDRIVE_GATEWAY_WEBDAV_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, global = true, value_name = "ADDR")]
    pub webdav_listen: Option<SocketAddr>,
    /// Admin listen address [env: SCAIDRIVE_GATEWAY_ADMIN_LISTEN] [default: 127.0.0.1:9090]
    #[arg(long, global = true, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Embedded emulator listen address [env: SCAIDRIVE_GATEWAY_EMBEDDED_LISTEN]
    /// [default: 127.0.0.1:0]
    #[arg(long, global = true, value_name = "ADDR")]
    pub embedded_listen: Option<SocketAddr>,
    /// Seed file for a fresh embedded emulator (users, tokens, shares)
    /// [env: SCAIDRIVE_GATEWAY_EMBEDDED_SEED] [default: built-in seed]
    #[arg(long, global = true, value_name = "FILE")]
    pub embedded_seed: Option<PathBuf>,
    /// Log format: human | json [env: SCAIDRIVE_GATEWAY_LOG_FORMAT] [default: human]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `scaidrive_gateway=debug` [env: SCAIDRIVE_GATEWAY_LOG_LEVEL]
    /// [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// PEM certificate chain; with --tls-key, the S3 and WebDAV listeners speak HTTPS
    /// [env: SCAIDRIVE_GATEWAY_TLS_CERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [env: SCAIDRIVE_GATEWAY_TLS_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Largest request head in bytes, at least 8192 [env: SCAIDRIVE_GATEWAY_MAX_HEADER_BYTES]
    /// [default: 65536]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Seconds to send a request head [env: SCAIDRIVE_GATEWAY_HEADER_READ_TIMEOUT_SECS]
    /// [default: 30]
    #[arg(long, global = true, value_name = "SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds without traffic before a connection is closed, 0 = never
    /// [env: SCAIDRIVE_GATEWAY_IDLE_TIMEOUT_SECS] [default: 300]
    #[arg(long, global = true, value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may stall before the request is refused
    /// [env: SCAIDRIVE_GATEWAY_BODY_READ_TIMEOUT_SECS] [default: 20]
    #[arg(long, global = true, value_name = "SECS")]
    pub body_read_timeout_secs: Option<u64>,
    /// Open connections per listener [env: SCAIDRIVE_GATEWAY_MAX_CONNECTIONS] [default: 1024]
    #[arg(long, global = true, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Largest object in bytes; unset = ScaiDrive's max_file_size_bytes
    /// [env: SCAIDRIVE_GATEWAY_MAX_OBJECT_SIZE]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_object_size: Option<u64>,
    /// Seconds in-flight requests may finish after SIGTERM/SIGINT
    /// [env: SCAIDRIVE_GATEWAY_SHUTDOWN_GRACE_SECS] [default: 30]
    #[arg(long, global = true, value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,

    // --- [cache] ---
    /// Cache share lists and folder listings: true | false [env: SCAIDRIVE_GATEWAY_CACHE_ENABLED]
    /// [default: true]
    #[arg(long, global = true, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub cache_enabled: Option<bool>,
    /// Seconds a fetched listing is trusted [env: SCAIDRIVE_GATEWAY_CACHE_TTL_SECS] [default: 5]
    #[arg(long, global = true, value_name = "SECS")]
    pub cache_ttl_secs: Option<u64>,
    /// Most folder listings kept [env: SCAIDRIVE_GATEWAY_CACHE_CAPACITY] [default: 10000]
    #[arg(long, global = true, value_name = "N")]
    pub cache_capacity: Option<u64>,
    /// Change-feed poll interval, ms; 0 = off
    /// [env: SCAIDRIVE_GATEWAY_CACHE_CHANGE_FEED_INTERVAL_MS] [default: 2000]
    #[arg(long, global = true, value_name = "MS")]
    pub cache_change_feed_interval_ms: Option<u64>,

    // --- [upstream] ---
    /// Connect timeout to ScaiDrive, seconds
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECS] [default: 10]
    #[arg(long, global = true, value_name = "SECS")]
    pub upstream_connect_timeout_secs: Option<u64>,
    /// Metadata call timeout and stream idle timeout, seconds
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_REQUEST_TIMEOUT_SECS] [default: 60]
    #[arg(long, global = true, value_name = "SECS")]
    pub upstream_request_timeout_secs: Option<u64>,
    /// Retries after the first attempt [env: SCAIDRIVE_GATEWAY_UPSTREAM_MAX_RETRIES] [default: 3]
    #[arg(long, global = true, value_name = "N")]
    pub upstream_max_retries: Option<u32>,
    /// New files at least this large go through an upload session
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_SESSION_THRESHOLD_BYTES] [default: 5368709120]
    #[arg(long, global = true, value_name = "BYTES")]
    pub upstream_session_threshold_bytes: Option<u64>,
    /// Upload-session chunk size, a power of two 65536–4194304
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CHUNK_SIZE_BYTES] [default: 4194304]
    #[arg(long, global = true, value_name = "BYTES")]
    pub upstream_chunk_size_bytes: Option<u64>,
    /// Chunks of one upload in flight [env: SCAIDRIVE_GATEWAY_UPSTREAM_PARALLEL_CHUNKS]
    /// [default: 3]
    #[arg(long, global = true, value_name = "N")]
    pub upstream_parallel_chunks: Option<usize>,
    /// Delete permanently instead of to ScaiDrive's trash: true | false
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_PERMANENT_DELETE] [default: false]
    #[arg(long, global = true, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub upstream_permanent_delete: Option<bool>,
    /// PEM root certificates to trust for ScaiDrive's TLS, besides the built-in ones
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CA_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub upstream_ca_file: Option<PathBuf>,

    // --- [state] ---
    #[command(flatten)]
    pub state: StateFlags,
}

/// The configuration file as written: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    scaidrive: FileScaiDrive,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    s3: FileS3,
    #[serde(default)]
    webdav: FileListen,
    #[serde(default)]
    admin: FileListen,
    #[serde(default)]
    embedded: FileEmbedded,
    #[serde(default)]
    credentials: Vec<StaticCredential>,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    shutdown: FileShutdown,
    #[serde(default)]
    cache: FileCache,
    #[serde(default)]
    upstream: FileUpstream,
    #[serde(default)]
    state: state::FileState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    enabled: Option<bool>,
    ttl_secs: Option<u64>,
    capacity: Option<u64>,
    change_feed_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_header_bytes: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_object_size: Option<u64>,
    body_read_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShutdown {
    grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    connect_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    session_threshold_bytes: Option<u64>,
    chunk_size_bytes: Option<u64>,
    parallel_chunks: Option<usize>,
    permanent_delete: Option<bool>,
    ca_file: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScaiDrive {
    url: Option<String>,
    token: Option<String>,
}

impl fmt::Debug for FileScaiDrive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileScaiDrive")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileS3 {
    listen: Option<SocketAddr>,
    region: Option<String>,
    bucket_mode: Option<BucketMode>,
    folders_share: Option<String>,
    domain: Option<String>,
    multipart_max_age_secs: Option<u64>,
    multipart_staging: Option<MultipartStaging>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListen {
    listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEmbedded {
    listen: Option<SocketAddr>,
    seed: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<LogFormat>,
    level: Option<String>,
}

impl Config {
    /// Loads the configuration: the file named by `flags.config` or `$SCAIDRIVE_GATEWAY_CONFIG`
    /// (if any), then the environment as seen through `env`, then `flags`.
    ///
    /// The binary passes `|k| std::env::var(k).ok()`; tests pass a map.
    pub fn load(
        flags: &ConfigFlags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_path = flags
            .config
            .clone()
            .or_else(|| non_empty(env(ENV_CONFIG)).map(PathBuf::from));
        let mut file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut cfg = Self::default();
        cfg.state.apply_file(std::mem::take(&mut file.state))?;
        cfg.apply_file(file);
        cfg.apply_env(&env)?;
        cfg.state.apply_env(&env)?;
        cfg.apply_flags(flags);
        cfg.state.apply_flags(&flags.state)?;
        cfg.validate()?;
        cfg.state.validate()?;
        Ok(cfg)
    }

    /// Parses a configuration file's text on top of the defaults (no environment, no flags).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<string>"),
            message: e.message().to_owned(),
        })?;
        let mut cfg = Self::default();
        cfg.state.apply_file(std::mem::take(&mut file.state))?;
        cfg.apply_file(file);
        cfg.validate()?;
        cfg.state.validate()?;
        Ok(cfg)
    }

    /// Path of the SQLite state database inside the data directory (used when `state.url` is
    /// unset).
    pub fn state_db_path(&self) -> PathBuf {
        self.data_dir.join("gateway.db")
    }

    /// The state database to open: `state.url`, or else [`Config::state_db_path`].
    pub fn state_location(&self) -> crate::state::StateLocation {
        self.state.location(&self.data_dir)
    }

    /// Data directory of the embedded emulator.
    pub fn emulator_data_dir(&self) -> PathBuf {
        self.data_dir.join("emulator")
    }

    fn apply_file(&mut self, file: FileConfig) {
        set(
            &mut self.scaidrive.url,
            file.scaidrive.url.and_then(some_non_empty),
        );
        set(
            &mut self.scaidrive.token,
            file.scaidrive.token.and_then(some_non_empty),
        );
        set_value(&mut self.data_dir, file.data_dir);
        set_value(&mut self.s3.listen, file.s3.listen);
        set_value(&mut self.s3.region, file.s3.region);
        set_value(&mut self.s3.bucket_mode, file.s3.bucket_mode);
        set(&mut self.s3.folders_share, file.s3.folders_share);
        set(&mut self.s3.domain, file.s3.domain);
        set_value(
            &mut self.s3.multipart_max_age_secs,
            file.s3.multipart_max_age_secs,
        );
        set(&mut self.s3.multipart_staging, file.s3.multipart_staging);
        set_value(&mut self.webdav.listen, file.webdav.listen);
        set_value(&mut self.admin.listen, file.admin.listen);
        set_value(&mut self.embedded.listen, file.embedded.listen);
        set(&mut self.embedded.seed, file.embedded.seed);
        self.credentials = file.credentials;
        set_value(&mut self.log.format, file.log.format);
        set_value(&mut self.log.level, file.log.level);
        self.apply_ops_file(file.tls, file.limits, file.shutdown);
        self.apply_file_cache_upstream(file.cache, file.upstream);
    }

    // --- TLS, limits, shutdown: file, environment, flags, checks -----------------------------

    fn apply_ops_file(&mut self, tls: FileTls, limits: FileLimits, shutdown: FileShutdown) {
        set(&mut self.tls.cert, tls.cert);
        set(&mut self.tls.key, tls.key);
        let l = &mut self.limits;
        set_value(&mut l.max_header_bytes, limits.max_header_bytes);
        set_value(
            &mut l.header_read_timeout_secs,
            limits.header_read_timeout_secs,
        );
        set_value(&mut l.idle_timeout_secs, limits.idle_timeout_secs);
        set_value(&mut l.max_connections, limits.max_connections);
        set(&mut l.max_object_size, limits.max_object_size);
        set_value(&mut l.body_read_timeout_secs, limits.body_read_timeout_secs);
        set_value(&mut self.shutdown.grace_secs, shutdown.grace_secs);
    }

    fn apply_ops_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        set(&mut self.tls.cert, get(ENV_TLS_CERT).map(PathBuf::from));
        set(&mut self.tls.key, get(ENV_TLS_KEY).map(PathBuf::from));
        let l = &mut self.limits;
        set_value(
            &mut l.max_header_bytes,
            parse_env(get, ENV_MAX_HEADER_BYTES, "limits.max_header_bytes")?,
        );
        set_value(
            &mut l.header_read_timeout_secs,
            parse_env(
                get,
                ENV_HEADER_READ_TIMEOUT_SECS,
                "limits.header_read_timeout_secs",
            )?,
        );
        set_value(
            &mut l.idle_timeout_secs,
            parse_env(get, ENV_IDLE_TIMEOUT_SECS, "limits.idle_timeout_secs")?,
        );
        set_value(
            &mut l.max_connections,
            parse_env(get, ENV_MAX_CONNECTIONS, "limits.max_connections")?,
        );
        set(
            &mut l.max_object_size,
            parse_env(get, ENV_MAX_OBJECT_SIZE, "limits.max_object_size")?,
        );
        set_value(
            &mut l.body_read_timeout_secs,
            parse_env(
                get,
                ENV_BODY_READ_TIMEOUT_SECS,
                "limits.body_read_timeout_secs",
            )?,
        );
        set_value(
            &mut self.shutdown.grace_secs,
            parse_env(get, ENV_SHUTDOWN_GRACE_SECS, "shutdown.grace_secs")?,
        );
        Ok(())
    }

    fn apply_file_cache_upstream(&mut self, c: FileCache, u: FileUpstream) {
        set_value(&mut self.cache.enabled, c.enabled);
        set_value(&mut self.cache.ttl_secs, c.ttl_secs);
        set_value(&mut self.cache.capacity, c.capacity);
        set_value(
            &mut self.cache.change_feed_interval_ms,
            c.change_feed_interval_ms,
        );
        let up = &mut self.upstream;
        set_value(&mut up.connect_timeout_secs, u.connect_timeout_secs);
        set_value(&mut up.request_timeout_secs, u.request_timeout_secs);
        set_value(&mut up.max_retries, u.max_retries);
        set_value(&mut up.session_threshold_bytes, u.session_threshold_bytes);
        set_value(&mut up.chunk_size_bytes, u.chunk_size_bytes);
        set_value(&mut up.parallel_chunks, u.parallel_chunks);
        set_value(&mut up.permanent_delete, u.permanent_delete);
        set(&mut up.ca_file, u.ca_file);
    }

    fn apply_env_cache_upstream(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let c = &mut self.cache;
        set_value(
            &mut c.enabled,
            parse_env(get, ENV_CACHE_ENABLED, "cache.enabled")?,
        );
        set_value(
            &mut c.ttl_secs,
            parse_env(get, ENV_CACHE_TTL_SECS, "cache.ttl_secs")?,
        );
        set_value(
            &mut c.capacity,
            parse_env(get, ENV_CACHE_CAPACITY, "cache.capacity")?,
        );
        set_value(
            &mut c.change_feed_interval_ms,
            parse_env(
                get,
                ENV_CACHE_CHANGE_FEED_INTERVAL_MS,
                "cache.change_feed_interval_ms",
            )?,
        );
        let u = &mut self.upstream;
        set_value(
            &mut u.connect_timeout_secs,
            parse_env(
                get,
                ENV_UPSTREAM_CONNECT_TIMEOUT_SECS,
                "upstream.connect_timeout_secs",
            )?,
        );
        set_value(
            &mut u.request_timeout_secs,
            parse_env(
                get,
                ENV_UPSTREAM_REQUEST_TIMEOUT_SECS,
                "upstream.request_timeout_secs",
            )?,
        );
        set_value(
            &mut u.max_retries,
            parse_env(get, ENV_UPSTREAM_MAX_RETRIES, "upstream.max_retries")?,
        );
        set_value(
            &mut u.session_threshold_bytes,
            parse_env(
                get,
                ENV_UPSTREAM_SESSION_THRESHOLD_BYTES,
                "upstream.session_threshold_bytes",
            )?,
        );
        set_value(
            &mut u.chunk_size_bytes,
            parse_env(
                get,
                ENV_UPSTREAM_CHUNK_SIZE_BYTES,
                "upstream.chunk_size_bytes",
            )?,
        );
        set_value(
            &mut u.parallel_chunks,
            parse_env(
                get,
                ENV_UPSTREAM_PARALLEL_CHUNKS,
                "upstream.parallel_chunks",
            )?,
        );
        set_value(
            &mut u.permanent_delete,
            parse_env(
                get,
                ENV_UPSTREAM_PERMANENT_DELETE,
                "upstream.permanent_delete",
            )?,
        );
        set(&mut u.ca_file, get(ENV_UPSTREAM_CA_FILE).map(PathBuf::from));
        Ok(())
    }

    fn apply_ops_flags(&mut self, flags: &ConfigFlags) {
        set(&mut self.tls.cert, flags.tls_cert.clone());
        set(&mut self.tls.key, flags.tls_key.clone());
        let l = &mut self.limits;
        set_value(&mut l.max_header_bytes, flags.max_header_bytes);
        set_value(
            &mut l.header_read_timeout_secs,
            flags.header_read_timeout_secs,
        );
        set_value(&mut l.idle_timeout_secs, flags.idle_timeout_secs);
        set_value(&mut l.max_connections, flags.max_connections);
        set(&mut l.max_object_size, flags.max_object_size);
        set_value(&mut l.body_read_timeout_secs, flags.body_read_timeout_secs);
        set_value(&mut self.shutdown.grace_secs, flags.shutdown_grace_secs);
    }

    fn validate_ops(&self) -> Result<(), ConfigError> {
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Inconsistent(
                    "tls.cert and tls.key go together: set both or neither".to_owned(),
                ));
            }
            _ => {}
        }
        if self.limits.max_header_bytes < MIN_MAX_HEADER_BYTES {
            return Err(ConfigError::Inconsistent(format!(
                "limits.max_header_bytes must be at least {MIN_MAX_HEADER_BYTES}"
            )));
        }
        if self.limits.header_read_timeout_secs == 0 {
            return Err(ConfigError::Inconsistent(
                "limits.header_read_timeout_secs must be at least 1".to_owned(),
            ));
        }
        if self.limits.body_read_timeout_secs == 0 {
            return Err(ConfigError::Inconsistent(
                "limits.body_read_timeout_secs must be at least 1".to_owned(),
            ));
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Inconsistent(
                "limits.max_connections must be at least 1".to_owned(),
            ));
        }
        if self.limits.max_object_size == Some(0) {
            return Err(ConfigError::Inconsistent(
                "limits.max_object_size must be at least 1 (unset it to follow ScaiDrive)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    fn apply_flags_cache_upstream(&mut self, f: &ConfigFlags) {
        set_value(&mut self.cache.enabled, f.cache_enabled);
        set_value(&mut self.cache.ttl_secs, f.cache_ttl_secs);
        set_value(&mut self.cache.capacity, f.cache_capacity);
        set_value(
            &mut self.cache.change_feed_interval_ms,
            f.cache_change_feed_interval_ms,
        );
        let up = &mut self.upstream;
        set_value(
            &mut up.connect_timeout_secs,
            f.upstream_connect_timeout_secs,
        );
        set_value(
            &mut up.request_timeout_secs,
            f.upstream_request_timeout_secs,
        );
        set_value(&mut up.max_retries, f.upstream_max_retries);
        set_value(
            &mut up.session_threshold_bytes,
            f.upstream_session_threshold_bytes,
        );
        set_value(&mut up.chunk_size_bytes, f.upstream_chunk_size_bytes);
        set_value(&mut up.parallel_chunks, f.upstream_parallel_chunks);
        set_value(&mut up.permanent_delete, f.upstream_permanent_delete);
        set(&mut up.ca_file, f.upstream_ca_file.clone());
    }

    fn validate_cache_upstream(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Inconsistent(m.to_owned()));
        if self.cache.enabled && self.cache.ttl_secs == 0 {
            return bad("cache.ttl_secs must be at least 1 (or set cache.enabled = false)");
        }
        if self.cache.capacity == 0 {
            return bad("cache.capacity must be at least 1");
        }
        let chunk = self.upstream.chunk_size_bytes;
        if !chunk.is_power_of_two() || !(64 << 10..=4 << 20).contains(&chunk) {
            return bad("upstream.chunk_size_bytes must be a power of two from 65536 to 4194304");
        }
        if self.upstream.parallel_chunks == 0 {
            return bad("upstream.parallel_chunks must be at least 1");
        }
        if self.upstream.connect_timeout_secs == 0 || self.upstream.request_timeout_secs == 0 {
            return bad("upstream timeouts must be at least 1 second");
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| non_empty(env(name));
        set(&mut self.scaidrive.url, get(ENV_SCAIDRIVE_URL));
        set(&mut self.scaidrive.token, get(ENV_SCAIDRIVE_TOKEN));
        set_value(&mut self.data_dir, get(ENV_DATA_DIR).map(PathBuf::from));
        set_value(
            &mut self.s3.listen,
            parse_env(&get, ENV_S3_LISTEN, "s3.listen")?,
        );
        set_value(&mut self.s3.region, get(ENV_S3_REGION));
        set_value(
            &mut self.s3.bucket_mode,
            parse_env(&get, ENV_S3_BUCKET_MODE, "s3.bucket_mode")?,
        );
        set(&mut self.s3.folders_share, get(ENV_S3_FOLDERS_SHARE));
        set(&mut self.s3.domain, get(ENV_S3_DOMAIN));
        set_value(
            &mut self.s3.multipart_max_age_secs,
            parse_env(
                &get,
                ENV_S3_MULTIPART_MAX_AGE_SECS,
                "s3.multipart_max_age_secs",
            )?,
        );
        set(
            &mut self.s3.multipart_staging,
            parse_env(&get, ENV_S3_MULTIPART_STAGING, "s3.multipart_staging")?,
        );
        set_value(
            &mut self.webdav.listen,
            parse_env(&get, ENV_WEBDAV_LISTEN, "webdav.listen")?,
        );
        set_value(
            &mut self.admin.listen,
            parse_env(&get, ENV_ADMIN_LISTEN, "admin.listen")?,
        );
        set_value(
            &mut self.embedded.listen,
            parse_env(&get, ENV_EMBEDDED_LISTEN, "embedded.listen")?,
        );
        set(
            &mut self.embedded.seed,
            get(ENV_EMBEDDED_SEED).map(PathBuf::from),
        );
        set_value(
            &mut self.log.format,
            parse_env(&get, ENV_LOG_FORMAT, "log.format")?,
        );
        set_value(&mut self.log.level, get(ENV_LOG_LEVEL));
        self.apply_ops_env(&get)?;
        self.apply_env_cache_upstream(&get)?;

        // The single static credential of a one-user deployment.
        match (get(ENV_ACCESS_KEY_ID), get(ENV_SECRET_ACCESS_KEY)) {
            (Some(access_key_id), Some(secret_access_key)) => {
                let token = self.scaidrive.token.clone().ok_or_else(|| {
                    ConfigError::Inconsistent(format!(
                        "{ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY} are set but \
                         {ENV_SCAIDRIVE_TOKEN} (or scaidrive.token) is not"
                    ))
                })?;
                // An env credential replaces a file entry with the same key id.
                self.credentials
                    .retain(|c| c.access_key_id != access_key_id);
                self.credentials.push(StaticCredential {
                    access_key_id,
                    secret_access_key,
                    token,
                });
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Inconsistent(format!(
                    "set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither"
                )));
            }
        }
        Ok(())
    }

    fn apply_flags(&mut self, flags: &ConfigFlags) {
        set(
            &mut self.scaidrive.url,
            flags.scaidrive_url.clone().and_then(some_non_empty),
        );
        set_value(&mut self.data_dir, flags.data_dir.clone());
        set_value(&mut self.s3.listen, flags.s3_listen);
        set_value(&mut self.s3.region, flags.s3_region.clone());
        set_value(&mut self.s3.bucket_mode, flags.s3_bucket_mode);
        set(&mut self.s3.folders_share, flags.s3_folders_share.clone());
        set(&mut self.s3.domain, flags.s3_domain.clone());
        set_value(
            &mut self.s3.multipart_max_age_secs,
            flags.s3_multipart_max_age_secs,
        );
        set_value(&mut self.webdav.listen, flags.webdav_listen);
        set_value(&mut self.admin.listen, flags.admin_listen);
        set_value(&mut self.embedded.listen, flags.embedded_listen);
        set(&mut self.embedded.seed, flags.embedded_seed.clone());
        set_value(&mut self.log.format, flags.log_format);
        set_value(&mut self.log.level, flags.log_level.clone());
        self.apply_ops_flags(flags);
        self.apply_flags_cache_upstream(flags);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_ops()?;
        if let Some(url) = &self.scaidrive.url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Invalid {
                key: "scaidrive.url",
                source_name: "configuration".to_owned(),
                message: e.to_string(),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid {
                    key: "scaidrive.url",
                    source_name: "configuration".to_owned(),
                    message: format!("scheme must be http or https, got `{}`", parsed.scheme()),
                });
            }
        }
        if self.s3.bucket_mode == BucketMode::Folders && self.s3.folders_share.is_none() {
            return Err(ConfigError::Inconsistent(
                "s3.bucket_mode = \"folders\" needs s3.folders_share (a share id or name)"
                    .to_owned(),
            ));
        }
        if self.s3.multipart_max_age_secs == 0 {
            return Err(ConfigError::Inconsistent(
                "s3.multipart_max_age_secs must be at least 1".to_owned(),
            ));
        }
        if self.s3.region.is_empty() {
            return Err(ConfigError::Inconsistent("s3.region is empty".to_owned()));
        }
        self.validate_cache_upstream()?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.is_empty() || c.token.is_empty() {
                return Err(ConfigError::Inconsistent(
                    "a static credential has an empty access_key_id, secret_access_key or token"
                        .to_owned(),
                ));
            }
            if !seen.insert(c.access_key_id.as_str()) {
                return Err(ConfigError::Inconsistent(format!(
                    "static credential {} is given twice",
                    c.access_key_id
                )));
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

fn parse_env<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    key: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    match get(var) {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError::Invalid {
                key,
                source_name: format!("env {var}"),
                message: e.to_string(),
            }),
    }
}

/// Overwrites an optional setting when the layer gives a value.
fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// Overwrites a setting that always has a value when the layer gives one.
fn set_value<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Empty environment variables count as unset (`SCAIDRIVE_URL= scaidrive-gateway serve`).
fn non_empty(value: Option<String>) -> Option<String> {
    value.and_then(some_non_empty)
}

fn some_non_empty(value: String) -> Option<String> {
    (!value.trim().is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn write_config(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults_are_valid() {
        for addr in [
            DEFAULT_S3_LISTEN,
            DEFAULT_WEBDAV_LISTEN,
            DEFAULT_ADMIN_LISTEN,
            DEFAULT_EMBEDDED_LISTEN,
        ] {
            addr.parse::<SocketAddr>().unwrap();
        }
        let cfg = Config::load(&ConfigFlags::default(), env_of(&[])).unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.s3.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(cfg.webdav.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.admin.listen.to_string(), "127.0.0.1:9090");
        assert_eq!(cfg.embedded.listen.to_string(), "127.0.0.1:0");
        assert_eq!(cfg.data_dir, PathBuf::from("./scaidrive-data"));
        assert_eq!(cfg.s3.region, "us-east-1");
        assert_eq!(cfg.s3.bucket_mode, BucketMode::Share);
        assert_eq!(cfg.log.format, LogFormat::Human);
        assert!(cfg.scaidrive.url.is_none());
        assert_eq!(
            cfg.state_db_path(),
            PathBuf::from("./scaidrive-data/gateway.db")
        );
        assert_eq!(
            cfg.emulator_data_dir(),
            PathBuf::from("./scaidrive-data/emulator")
        );
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let file = write_config(
            r#"
            data_dir = "/from/file"
            [scaidrive]
            url = "http://file.example"
            [s3]
            listen = "127.0.0.1:1001"
            region = "file-region"
            [webdav]
            listen = "127.0.0.1:2001"
            [log]
            level = "debug"
            "#,
        );
        let flags = ConfigFlags {
            config: Some(file.path().to_owned()),
            s3_listen: Some("127.0.0.1:1003".parse().unwrap()),
            ..ConfigFlags::default()
        };
        let env = env_of(&[
            (ENV_S3_LISTEN, "127.0.0.1:1002"),
            (ENV_S3_REGION, "env-region"),
            (ENV_SCAIDRIVE_URL, "http://env.example"),
        ]);
        let cfg = Config::load(&flags, env).unwrap();
        // flag > env
        assert_eq!(cfg.s3.listen.to_string(), "127.0.0.1:1003");
        // env > file
        assert_eq!(cfg.s3.region, "env-region");
        assert_eq!(cfg.scaidrive.url.as_deref(), Some("http://env.example"));
        // file > default
        assert_eq!(cfg.webdav.listen.to_string(), "127.0.0.1:2001");
        assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
        assert_eq!(cfg.log.level, "debug");
        // default
        assert_eq!(cfg.admin.listen.to_string(), DEFAULT_ADMIN_LISTEN);
    }

    #[test]
    fn config_file_can_come_from_env_and_flag_wins_over_it() {
        let from_env = write_config("data_dir = \"/env-file\"\n");
        let from_flag = write_config("data_dir = \"/flag-file\"\n");
        let env = env_of(&[(ENV_CONFIG, from_env.path().to_str().unwrap())]);
        let cfg = Config::load(&ConfigFlags::default(), &env).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/env-file"));
        let flags = ConfigFlags {
            config: Some(from_flag.path().to_owned()),
            ..ConfigFlags::default()
        };
        let cfg = Config::load(&flags, &env).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/flag-file"));
    }

    #[test]
    fn multipart_max_age_from_file_env_and_flag() {
        assert_eq!(Config::default().s3.multipart_max_age_secs, 86_400);
        let file = write_config("[s3]\nmultipart_max_age_secs = 600\n");
        let from_file = ConfigFlags {
            config: Some(file.path().to_owned()),
            ..ConfigFlags::default()
        };
        let cfg = Config::load(&from_file, env_of(&[])).unwrap();
        assert_eq!(cfg.s3.multipart_max_age_secs, 600);
        let env = [(ENV_S3_MULTIPART_MAX_AGE_SECS, "60")];
        let cfg = Config::load(&from_file, env_of(&env)).unwrap();
        assert_eq!(cfg.s3.multipart_max_age_secs, 60);
        let flags = ConfigFlags {
            s3_multipart_max_age_secs: Some(5),
            ..from_file
        };
        let cfg = Config::load(&flags, env_of(&env)).unwrap();
        assert_eq!(cfg.s3.multipart_max_age_secs, 5);
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[(ENV_S3_MULTIPART_MAX_AGE_SECS, "a day")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s3.multipart_max_age_secs"), "{err}");
        let err = Config::from_toml("[s3]\nmultipart_max_age_secs = 0\n").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn cache_and_upstream_from_file_env_and_flag() {
        let cfg = Config::default();
        assert!(cfg.cache.enabled);
        assert_eq!(cfg.cache.ttl_secs, 5);
        assert_eq!(cfg.cache.change_feed_interval_ms, 2000);
        let opts = cfg.store_options();
        assert_eq!(opts.cache_ttl, std::time::Duration::from_secs(5));
        assert_eq!(
            opts.change_feed_interval,
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(opts.session_threshold, crate::store::SINGLE_POST_LIMIT);
        let file = write_config(
            "[cache]\nenabled = false\nttl_secs = 30\nchange_feed_interval_ms = 0\n\
             [upstream]\nchunk_size_bytes = 1048576\nparallel_chunks = 5\nmax_retries = 7\n\
             ca_file = \"/file/ca.pem\"\n",
        );
        let from_file = ConfigFlags {
            config: Some(file.path().to_owned()),
            ..ConfigFlags::default()
        };
        let cfg = Config::load(&from_file, env_of(&[])).unwrap();
        assert!(!cfg.cache.enabled);
        assert_eq!(cfg.cache.ttl_secs, 30);
        assert_eq!(cfg.store_options().change_feed_interval, None);
        assert_eq!(cfg.store_options().chunk_size, 1 << 20);
        assert_eq!(cfg.store_options().parallel_chunks, 5);
        assert_eq!(cfg.client_options().max_retries, 7);
        assert_eq!(
            cfg.client_options().ca_file.as_deref(),
            Some(Path::new("/file/ca.pem"))
        );
        let env = [
            (ENV_CACHE_ENABLED, "true"),
            (ENV_CACHE_TTL_SECS, "9"),
            (ENV_UPSTREAM_PERMANENT_DELETE, "true"),
            (ENV_UPSTREAM_CA_FILE, "/env/ca.pem"),
        ];
        let cfg = Config::load(&from_file, env_of(&env)).unwrap();
        assert_eq!(
            cfg.upstream.ca_file.as_deref(),
            Some(Path::new("/env/ca.pem"))
        );
        assert!(cfg.cache.enabled);
        assert_eq!(cfg.cache.ttl_secs, 9);
        assert!(cfg.store_options().permanent_delete);
        let flags = ConfigFlags {
            cache_enabled: Some(false),
            cache_ttl_secs: Some(3),
            upstream_parallel_chunks: Some(2),
            upstream_ca_file: Some(PathBuf::from("/flag/ca.pem")),
            ..from_file
        };
        let cfg = Config::load(&flags, env_of(&env)).unwrap();
        assert_eq!(
            cfg.upstream.ca_file.as_deref(),
            Some(Path::new("/flag/ca.pem"))
        );
        assert!(!cfg.store_options().cache_enabled);
        assert_eq!(cfg.cache.ttl_secs, 3);
        assert_eq!(cfg.upstream.parallel_chunks, 2);
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[(ENV_CACHE_ENABLED, "maybe")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cache.enabled"), "{err}");
        let err = Config::from_toml("[upstream]\nchunk_size_bytes = 1000\n").unwrap_err();
        assert!(err.to_string().contains("power of two"), "{err}");
        let err = Config::from_toml("[cache]\nttl_secs = 0\n").unwrap_err();
        assert!(err.to_string().contains("ttl_secs"), "{err}");
        let err = Config::from_toml("[cache]\nttl = 3\n").unwrap_err();
        assert!(err.to_string().contains("ttl"), "{err}");
    }

    #[test]
    fn flag_url_beats_env_url() {
        let flags = ConfigFlags {
            scaidrive_url: Some("http://flag.example".to_owned()),
            ..ConfigFlags::default()
        };
        let cfg =
            Config::load(&flags, env_of(&[(ENV_SCAIDRIVE_URL, "http://env.example")])).unwrap();
        assert_eq!(cfg.scaidrive.url.as_deref(), Some("http://flag.example"));
    }

    #[test]
    fn embedded_seed_flag_beats_env() {
        let flags = ConfigFlags {
            embedded_seed: Some(PathBuf::from("flag.toml")),
            ..ConfigFlags::default()
        };
        let env = env_of(&[(ENV_EMBEDDED_SEED, "env.toml")]);
        let cfg = Config::load(&flags, &env).unwrap();
        assert_eq!(cfg.embedded.seed.as_deref(), Some(Path::new("flag.toml")));
        let cfg = Config::load(&ConfigFlags::default(), &env).unwrap();
        assert_eq!(cfg.embedded.seed.as_deref(), Some(Path::new("env.toml")));
        assert!(Config::default().embedded.seed.is_none());
    }

    #[test]
    fn empty_env_url_means_embedded() {
        let cfg =
            Config::load(&ConfigFlags::default(), env_of(&[(ENV_SCAIDRIVE_URL, "")])).unwrap();
        assert!(cfg.scaidrive.url.is_none());
    }

    #[test]
    fn full_file_parses() {
        let cfg = Config::from_toml(
            r#"
            data_dir = "/var/lib/scaidrive-gateway"
            [scaidrive]
            url = "https://drive.example.com"
            token = "tok-file"
            [s3]
            listen = "0.0.0.0:9000"
            region = "eu-west-1"
            bucket_mode = "folders"
            folders_share = "Backups"
            domain = "s3.example.com"
            [webdav]
            listen = "0.0.0.0:8080"
            [admin]
            listen = "0.0.0.0:9090"
            [embedded]
            listen = "127.0.0.1:8000"
            seed = "/etc/scaidrive-gateway/seed.toml"
            [[credentials]]
            access_key_id = "AKIAFILE"
            secret_access_key = "secret-file"
            token = "tok-file"
            [log]
            format = "json"
            level = "warn"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.s3.bucket_mode, BucketMode::Folders);
        assert_eq!(cfg.s3.folders_share.as_deref(), Some("Backups"));
        assert_eq!(cfg.s3.domain.as_deref(), Some("s3.example.com"));
        assert_eq!(cfg.embedded.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(
            cfg.embedded.seed.as_deref(),
            Some(Path::new("/etc/scaidrive-gateway/seed.toml"))
        );
        assert_eq!(cfg.credentials.len(), 1);
        assert_eq!(cfg.log.format, LogFormat::Json);
    }

    #[test]
    fn tls_limits_and_shutdown_from_file_env_and_flag() {
        let cfg = Config::default();
        assert!(cfg.tls.files().is_none());
        assert_eq!(cfg.limits.max_header_bytes, 65_536);
        assert_eq!(cfg.limits.header_read_timeout_secs, 30);
        assert_eq!(cfg.limits.idle_timeout_secs, 300);
        assert_eq!(cfg.limits.max_connections, 1024);
        assert_eq!(cfg.limits.max_object_size, None);
        assert_eq!(cfg.limits.body_read_timeout_secs, 20);
        assert_eq!(cfg.shutdown.grace_secs, 30);
        let file = write_config(
            r#"
            [tls]
            cert = "/file/cert.pem"
            key = "/file/key.pem"
            [limits]
            max_header_bytes = 16384
            header_read_timeout_secs = 7
            idle_timeout_secs = 0
            max_connections = 5
            max_object_size = 1000
            body_read_timeout_secs = 11
            [shutdown]
            grace_secs = 3
            "#,
        );
        let from_file = ConfigFlags {
            config: Some(file.path().to_owned()),
            ..ConfigFlags::default()
        };
        let cfg = Config::load(&from_file, env_of(&[])).unwrap();
        assert_eq!(
            cfg.tls.files(),
            Some((Path::new("/file/cert.pem"), Path::new("/file/key.pem")))
        );
        assert_eq!(cfg.limits.max_header_bytes, 16_384);
        assert_eq!(cfg.limits.header_read_timeout_secs, 7);
        assert_eq!(cfg.limits.idle_timeout_secs, 0);
        assert_eq!(cfg.limits.max_connections, 5);
        assert_eq!(cfg.limits.max_object_size, Some(1000));
        assert_eq!(cfg.limits.body_read_timeout_secs, 11);
        assert_eq!(cfg.shutdown.grace_secs, 3);
        let env = [
            (ENV_TLS_CERT, "/env/cert.pem"),
            (ENV_MAX_CONNECTIONS, "6"),
            (ENV_MAX_OBJECT_SIZE, "2000"),
            (ENV_SHUTDOWN_GRACE_SECS, "4"),
            (ENV_BODY_READ_TIMEOUT_SECS, "12"),
        ];
        let cfg = Config::load(&from_file, env_of(&env)).unwrap();
        assert_eq!(cfg.tls.cert.as_deref(), Some(Path::new("/env/cert.pem")));
        assert_eq!(cfg.limits.max_connections, 6);
        assert_eq!(cfg.limits.max_object_size, Some(2000));
        assert_eq!(cfg.limits.body_read_timeout_secs, 12);
        assert_eq!(cfg.shutdown.grace_secs, 4);
        let flags = ConfigFlags {
            tls_key: Some(PathBuf::from("/flag/key.pem")),
            max_connections: Some(7),
            shutdown_grace_secs: Some(5),
            idle_timeout_secs: Some(9),
            body_read_timeout_secs: Some(13),
            ..from_file
        };
        let cfg = Config::load(&flags, env_of(&env)).unwrap();
        assert_eq!(cfg.tls.key.as_deref(), Some(Path::new("/flag/key.pem")));
        assert_eq!(cfg.limits.max_connections, 7);
        assert_eq!(cfg.limits.idle_timeout_secs, 9);
        assert_eq!(cfg.limits.body_read_timeout_secs, 13);
        assert_eq!(cfg.shutdown.grace_secs, 5);
    }

    #[test]
    fn tls_and_limits_are_checked() {
        let err = Config::from_toml("[tls]\ncert = \"/c.pem\"\n").unwrap_err();
        assert!(err.to_string().contains("tls.key"), "{err}");
        let err = Config::from_toml("[limits]\nmax_header_bytes = 100\n").unwrap_err();
        assert!(err.to_string().contains("8192"), "{err}");
        let err = Config::from_toml("[limits]\nmax_connections = 0\n").unwrap_err();
        assert!(err.to_string().contains("max_connections"), "{err}");
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[(ENV_MAX_OBJECT_SIZE, "5 GB")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains(ENV_MAX_OBJECT_SIZE), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = Config::from_toml("[s3]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[(ENV_S3_BUCKET_MODE, "buckets")]),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(ENV_S3_BUCKET_MODE) && msg.contains("s3.bucket_mode"),
            "{msg}"
        );
    }

    #[test]
    fn folders_mode_needs_a_share() {
        let err = Config::from_toml("[s3]\nbucket_mode = \"folders\"\n").unwrap_err();
        assert!(err.to_string().contains("folders_share"), "{err}");
    }

    #[test]
    fn static_credential_from_env_uses_scaidrive_token() {
        let cfg = Config::load(
            &ConfigFlags::default(),
            env_of(&[
                (ENV_ACCESS_KEY_ID, "AKIAENV"),
                (ENV_SECRET_ACCESS_KEY, "env-secret"),
                (ENV_SCAIDRIVE_TOKEN, "env-token"),
            ]),
        )
        .unwrap();
        assert_eq!(
            cfg.credentials,
            vec![StaticCredential {
                access_key_id: "AKIAENV".to_owned(),
                secret_access_key: "env-secret".to_owned(),
                token: "env-token".to_owned(),
            }]
        );
    }

    #[test]
    fn static_credential_from_env_without_token_is_an_error() {
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[
                (ENV_ACCESS_KEY_ID, "AKIAENV"),
                (ENV_SECRET_ACCESS_KEY, "env-secret"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains(ENV_SCAIDRIVE_TOKEN), "{err}");
    }

    #[test]
    fn debug_hides_secrets_and_tokens() {
        let cfg = Config::load(
            &ConfigFlags::default(),
            env_of(&[
                (ENV_ACCESS_KEY_ID, "AKIAENV"),
                (ENV_SECRET_ACCESS_KEY, "super-secret-value"),
                (ENV_SCAIDRIVE_TOKEN, "super-token-value"),
            ]),
        )
        .unwrap();
        let shown = format!("{cfg:?}");
        assert!(shown.contains("AKIAENV"), "{shown}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(!shown.contains("super-token-value"), "{shown}");
    }
}
