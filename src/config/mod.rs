//! Configuration: a TOML file, environment variables and command-line flags, merged into one
//! [`Config`].
//!
//! Precedence, highest first: flags, environment, file, built-in defaults. Every option, with its
//! TOML key, environment variable, flag and default, is listed in `docs/configuration.md`.
//!
//! The environment is passed in as a lookup function ([`Config::load`]) rather than read
//! globally, so precedence is unit-tested without touching the process environment.
//!
//! One file per table: [`scaidrive`] (with `[[credentials]]`), [`s3`], [`listen`] (`[webdav]`,
//! `[admin]`, `[embedded]`), [`log`], [`ops`] (`[tls]`, `[limits]`, `[shutdown]`), [`cache`],
//! [`upstream`], [`state`]; [`flags`] holds the command-line flags of them all.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod cache;
mod flags;
mod lifecycle;
mod listen;
mod log;
mod ops;
mod s3;
mod scaidrive;
mod state;
mod sts;
#[cfg(test)]
mod tests;
mod upstream;

pub use self::log::*;
pub use cache::*;
pub use flags::ConfigFlags;
pub use lifecycle::{
    ENV_LIFECYCLE_ADMIN_RUN, ENV_LIFECYCLE_ENABLED, ENV_LIFECYCLE_INTERVAL_SECS, LifecycleConfig,
};
pub use listen::*;
pub use ops::*;
pub use s3::*;
pub use scaidrive::*;
pub use state::{ENV_STATE_POOL_SIZE, ENV_STATE_URL, StateConfig, StateFlags};
pub use sts::{
    DEFAULT_SESSION_SECS, ENV_STS_ENABLED, ENV_STS_MAX_SESSION_SECS, ENV_STS_MIN_SESSION_SECS,
    StsConfig,
};
pub use upstream::*;

/// Environment variable naming the configuration file (the `--config` flag wins over it).
pub const ENV_CONFIG: &str = "SCAIDRIVE_GATEWAY_CONFIG";
/// Data directory (state DB, embedded emulator data).
pub const ENV_DATA_DIR: &str = "SCAIDRIVE_GATEWAY_DATA_DIR";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./scaidrive-data";

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
    /// Temporary credentials (STS).
    pub sts: StsConfig,
    /// The lifecycle worker.
    pub lifecycle: LifecycleConfig,
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
            .field("sts", &self.sts)
            .field("lifecycle", &self.lifecycle)
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
                multipart_stream_max: DEFAULT_S3_MULTIPART_STREAM_MAX,
                multipart_stream_idle_secs: DEFAULT_S3_MULTIPART_STREAM_IDLE_SECS,
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
            sts: StsConfig::default(),
            lifecycle: LifecycleConfig::default(),
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
    #[serde(default)]
    sts: sts::FileSts,
    #[serde(default)]
    lifecycle: lifecycle::FileLifecycle,
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
        cfg.sts.apply_file(std::mem::take(&mut file.sts));
        cfg.lifecycle
            .apply_file(std::mem::take(&mut file.lifecycle));
        cfg.apply_file(file);
        // Where `scaidrive.url` came from, for its error message: the last layer that set it.
        let mut url_origin = match (&cfg.scaidrive.url, &file_path) {
            (Some(_), Some(path)) => format!("file {}", path.display()),
            _ => "default".to_owned(),
        };
        if non_empty(env(ENV_SCAIDRIVE_URL)).is_some() {
            url_origin = format!("env {ENV_SCAIDRIVE_URL}");
        }
        if flags
            .scaidrive_url
            .clone()
            .and_then(some_non_empty)
            .is_some()
        {
            url_origin = "flag --scaidrive-url".to_owned();
        }
        cfg.apply_env(&env)?;
        cfg.state.apply_env(&env)?;
        cfg.sts.apply_env(&env)?;
        cfg.lifecycle.apply_env(&env)?;
        cfg.apply_flags(flags);
        cfg.state.apply_flags(&flags.state)?;
        cfg.validate_url(&url_origin)?;
        cfg.validate()?;
        cfg.state.validate()?;
        cfg.sts.validate()?;
        cfg.lifecycle.validate()?;
        Ok(cfg)
    }

    /// Parses a configuration file's text on top of the defaults (no environment, no flags).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<string>"),
            message: parse_message(text, &e),
        })?;
        let mut cfg = Self::default();
        cfg.state.apply_file(std::mem::take(&mut file.state))?;
        cfg.sts.apply_file(std::mem::take(&mut file.sts));
        cfg.lifecycle
            .apply_file(std::mem::take(&mut file.lifecycle));
        cfg.apply_file(file);
        cfg.validate_url("file")?;
        cfg.validate()?;
        cfg.state.validate()?;
        cfg.sts.validate()?;
        cfg.lifecycle.validate()?;
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
        set_value(
            &mut self.s3.multipart_stream_max,
            file.s3.multipart_stream_max,
        );
        set_value(
            &mut self.s3.multipart_stream_idle_secs,
            file.s3.multipart_stream_idle_secs.map(|n| n.max(1)),
        );
        set_value(&mut self.webdav.listen, file.webdav.listen);
        set_value(&mut self.admin.listen, file.admin.listen);
        set_value(&mut self.embedded.listen, file.embedded.listen);
        set(&mut self.embedded.seed, file.embedded.seed);
        self.credentials = file.credentials;
        set_value(&mut self.log.format, file.log.format);
        set_value(&mut self.log.level, file.log.level);
        self.apply_ops_file(file.tls, file.limits, file.shutdown);
        self.apply_file_cache(file.cache);
        self.apply_file_upstream(file.upstream);
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
        self.apply_env_cache(&get)?;
        self.apply_env_upstream(&get)?;

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
        self.apply_flags_cache(flags);
        self.apply_flags_upstream(flags);
    }

    /// Checks `scaidrive.url`; `origin` names where the value came from (`env SCAIDRIVE_URL`).
    fn validate_url(&self, origin: &str) -> Result<(), ConfigError> {
        if let Some(url) = &self.scaidrive.url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Invalid {
                key: "scaidrive.url",
                source_name: origin.to_owned(),
                message: e.to_string(),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid {
                    key: "scaidrive.url",
                    source_name: origin.to_owned(),
                    message: format!("scheme must be http or https, got `{}`", parsed.scheme()),
                });
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_ops()?;
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
        self.validate_cache()?;
        self.validate_upstream()?;
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
        message: parse_message(&text, &e),
    })
}

/// toml's message with the line and, when one can be told, the key it is about
/// (`line 2, key cache.ttl_secs: invalid type: string "5", expected u64`). The offending
/// line itself is not quoted: it may hold a secret.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end().replace('\n', "; ");
    let Some(span) = e.span() else {
        return message;
    };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    // The table the line is in: the last `[table]` or `[[table]]` header above it.
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (key, table) {
        (Some(key), Some(table)) => format!("line {line_no}, key {table}.{key}: {message}"),
        (Some(key), None) => format!("line {line_no}, key {key}: {message}"),
        (None, _) => format!("line {line_no}: {message}"),
    }
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
