//! `[tls]`, `[limits]` and `[shutdown]`: TLS of the S3 and WebDAV listeners, connection and
//! request limits, graceful shutdown; from the file, the environment and flags, and their checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, ConfigError, ConfigFlags, parse_env, set, set_value};

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub(super) cert: Option<PathBuf>,
    pub(super) key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) max_header_bytes: Option<usize>,
    pub(super) header_read_timeout_secs: Option<u64>,
    pub(super) idle_timeout_secs: Option<u64>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_object_size: Option<u64>,
    pub(super) body_read_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileShutdown {
    pub(super) grace_secs: Option<u64>,
}

impl Config {
    pub(super) fn apply_ops_file(
        &mut self,
        tls: FileTls,
        limits: FileLimits,
        shutdown: FileShutdown,
    ) {
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

    pub(super) fn apply_ops_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
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

    pub(super) fn apply_ops_flags(&mut self, flags: &ConfigFlags) {
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

    pub(super) fn validate_ops(&self) -> Result<(), ConfigError> {
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
}
