//! `[upstream]`: how the gateway calls ScaiDrive (timeouts, retries, upload sessions, trust).

use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, ConfigError, ConfigFlags, parse_env, set, set_value};

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
/// Bytes of upload-session chunks in flight across all uploads.
pub const ENV_UPSTREAM_CHUNK_MEMORY_BYTES: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_CHUNK_MEMORY_BYTES";
/// Delete permanently instead of to the trash.
pub const ENV_UPSTREAM_PERMANENT_DELETE: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_PERMANENT_DELETE";
/// Extra trusted root certificates for ScaiDrive's TLS.
pub const ENV_UPSTREAM_CA_FILE: &str = "SCAIDRIVE_GATEWAY_UPSTREAM_CA_FILE";

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
    /// Bytes of upload-session chunks in flight at once across all uploads (each upload also
    /// fills one chunk of its own); at least one chunk.
    pub chunk_memory_bytes: u64,
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
            session_threshold_bytes: crate::scaidrive::SINGLE_POST_LIMIT,
            chunk_size_bytes: 4 << 20,
            parallel_chunks: 3,
            chunk_memory_bytes: 16 << 20,
            permanent_delete: false,
            ca_file: None,
        }
    }
}

impl Config {
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileUpstream {
    pub(super) connect_timeout_secs: Option<u64>,
    pub(super) request_timeout_secs: Option<u64>,
    pub(super) max_retries: Option<u32>,
    pub(super) session_threshold_bytes: Option<u64>,
    pub(super) chunk_size_bytes: Option<u64>,
    pub(super) parallel_chunks: Option<usize>,
    pub(super) chunk_memory_bytes: Option<u64>,
    pub(super) permanent_delete: Option<bool>,
    pub(super) ca_file: Option<PathBuf>,
}

impl Config {
    pub(super) fn apply_file_upstream(&mut self, u: FileUpstream) {
        let up = &mut self.upstream;
        set_value(&mut up.connect_timeout_secs, u.connect_timeout_secs);
        set_value(&mut up.request_timeout_secs, u.request_timeout_secs);
        set_value(&mut up.max_retries, u.max_retries);
        set_value(&mut up.session_threshold_bytes, u.session_threshold_bytes);
        set_value(&mut up.chunk_size_bytes, u.chunk_size_bytes);
        set_value(&mut up.parallel_chunks, u.parallel_chunks);
        set_value(&mut up.chunk_memory_bytes, u.chunk_memory_bytes);
        set_value(&mut up.permanent_delete, u.permanent_delete);
        set(&mut up.ca_file, u.ca_file);
    }

    pub(super) fn apply_env_upstream(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
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
            &mut u.chunk_memory_bytes,
            parse_env(
                get,
                ENV_UPSTREAM_CHUNK_MEMORY_BYTES,
                "upstream.chunk_memory_bytes",
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

    pub(super) fn apply_flags_upstream(&mut self, f: &ConfigFlags) {
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
        set_value(&mut up.chunk_memory_bytes, f.upstream_chunk_memory_bytes);
        set_value(&mut up.permanent_delete, f.upstream_permanent_delete);
        set(&mut up.ca_file, f.upstream_ca_file.clone());
    }

    pub(super) fn validate_upstream(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Inconsistent(m.to_owned()));
        let chunk = self.upstream.chunk_size_bytes;
        if !chunk.is_power_of_two() || !(64 << 10..=4 << 20).contains(&chunk) {
            return bad("upstream.chunk_size_bytes must be a power of two from 65536 to 4194304");
        }
        if self.upstream.parallel_chunks == 0 {
            return bad("upstream.parallel_chunks must be at least 1");
        }
        if self.upstream.chunk_memory_bytes < chunk {
            return bad(
                "upstream.chunk_memory_bytes must be at least upstream.chunk_size_bytes (one chunk)",
            );
        }
        if self.upstream.connect_timeout_secs == 0 || self.upstream.request_timeout_secs == 0 {
            return bad("upstream timeouts must be at least 1 second");
        }
        Ok(())
    }
}
