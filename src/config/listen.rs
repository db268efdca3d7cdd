//! `[webdav]`, `[admin]` and `[embedded]`: the other listeners (WebDAV, health and metrics, the
//! embedded emulator) and the embedded emulator's seed.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// WebDAV listen address.
pub const ENV_WEBDAV_LISTEN: &str = "SCAIDRIVE_GATEWAY_WEBDAV_LISTEN";
/// Admin (health, metrics) listen address.
pub const ENV_ADMIN_LISTEN: &str = "SCAIDRIVE_GATEWAY_ADMIN_LISTEN";
/// Listen address of the embedded emulator.
pub const ENV_EMBEDDED_LISTEN: &str = "SCAIDRIVE_GATEWAY_EMBEDDED_LISTEN";
/// Seed file of the embedded emulator (users, tokens, shares of a fresh data directory).
pub const ENV_EMBEDDED_SEED: &str = "SCAIDRIVE_GATEWAY_EMBEDDED_SEED";
/// Default WebDAV listen address.
pub const DEFAULT_WEBDAV_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listen address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Default embedded emulator listen address (any free port).
pub const DEFAULT_EMBEDDED_LISTEN: &str = "127.0.0.1:0";

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileListen {
    pub(super) listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEmbedded {
    pub(super) listen: Option<SocketAddr>,
    pub(super) seed: Option<PathBuf>,
}
