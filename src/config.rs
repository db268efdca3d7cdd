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
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut cfg = Self::default();
        cfg.apply_file(file);
        cfg.apply_env(&env)?;
        cfg.apply_flags(flags);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a configuration file's text on top of the defaults (no environment, no flags).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<string>"),
            message: e.message().to_owned(),
        })?;
        let mut cfg = Self::default();
        cfg.apply_file(file);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Path of the state database inside the data directory.
    pub fn state_db_path(&self) -> PathBuf {
        self.data_dir.join("gateway.db")
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
        set_value(&mut self.webdav.listen, file.webdav.listen);
        set_value(&mut self.admin.listen, file.admin.listen);
        set_value(&mut self.embedded.listen, file.embedded.listen);
        set(&mut self.embedded.seed, file.embedded.seed);
        self.credentials = file.credentials;
        set_value(&mut self.log.format, file.log.format);
        set_value(&mut self.log.level, file.log.level);
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
    }

    fn validate(&self) -> Result<(), ConfigError> {
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
