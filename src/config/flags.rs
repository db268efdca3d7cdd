//! Command-line flags of every configuration key, filled by clap in the binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{BucketMode, LogFormat, StateFlags};

/// Values given as command-line flags. `None` = not given. The binary fills this from clap; it
/// lives here so precedence can be tested without a command line.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct ConfigFlags {
    /// TOML configuration file [env: SCAIDRIVE_GATEWAY_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the state DB and the embedded emulator [env: SCAIDRIVE_GATEWAY_DATA_DIR]
    /// [default: ./scaidrive-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// ScaiDrive base URL; unset = embedded emulator [env: SCAIDRIVE_URL]
    #[arg(long, value_name = "URL")]
    pub scaidrive_url: Option<String>,
    /// S3 listen address [env: SCAIDRIVE_GATEWAY_S3_LISTEN] [default: 127.0.0.1:9000]
    #[arg(long, value_name = "ADDR")]
    pub s3_listen: Option<SocketAddr>,
    /// S3 region [env: SCAIDRIVE_GATEWAY_S3_REGION] [default: us-east-1]
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// S3 bucket mode: share | folders [env: SCAIDRIVE_GATEWAY_S3_BUCKET_MODE] [default: share]
    #[arg(long, value_name = "MODE")]
    pub s3_bucket_mode: Option<BucketMode>,
    /// Share (id or name) for folders mode [env: SCAIDRIVE_GATEWAY_S3_FOLDERS_SHARE]
    #[arg(long, value_name = "SHARE")]
    pub s3_folders_share: Option<String>,
    /// Domain for virtual-host style S3 requests [env: SCAIDRIVE_GATEWAY_S3_DOMAIN]
    #[arg(long, value_name = "DOMAIN")]
    pub s3_domain: Option<String>,
    /// Seconds after which an abandoned multipart upload is removed
    /// [env: SCAIDRIVE_GATEWAY_S3_MULTIPART_MAX_AGE_SECS] [default: 86400]
    #[arg(long, value_name = "SECS")]
    pub s3_multipart_max_age_secs: Option<u64>,
    /// WebDAV listen address [env: SCAIDRIVE_GATEWAY_WEBDAV_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub webdav_listen: Option<SocketAddr>,
    /// Admin listen address [env: SCAIDRIVE_GATEWAY_ADMIN_LISTEN] [default: 127.0.0.1:9090]
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Embedded emulator listen address [env: SCAIDRIVE_GATEWAY_EMBEDDED_LISTEN]
    /// [default: 127.0.0.1:0]
    #[arg(long, value_name = "ADDR")]
    pub embedded_listen: Option<SocketAddr>,
    /// Seed file for a fresh embedded emulator (users, tokens, shares)
    /// [env: SCAIDRIVE_GATEWAY_EMBEDDED_SEED] [default: built-in seed]
    #[arg(long, value_name = "FILE")]
    pub embedded_seed: Option<PathBuf>,
    /// Log format: human | json [env: SCAIDRIVE_GATEWAY_LOG_FORMAT] [default: human]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `scaidrive_gateway=debug` [env: SCAIDRIVE_GATEWAY_LOG_LEVEL]
    /// [default: info]
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// PEM certificate chain; with --tls-key, the S3 and WebDAV listeners speak HTTPS
    /// [env: SCAIDRIVE_GATEWAY_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [env: SCAIDRIVE_GATEWAY_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Largest request head in bytes, at least 8192 [env: SCAIDRIVE_GATEWAY_MAX_HEADER_BYTES]
    /// [default: 65536]
    #[arg(long, value_name = "BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Seconds to send a request head [env: SCAIDRIVE_GATEWAY_HEADER_READ_TIMEOUT_SECS]
    /// [default: 30]
    #[arg(long, value_name = "SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds without traffic before a connection is closed, 0 = never
    /// [env: SCAIDRIVE_GATEWAY_IDLE_TIMEOUT_SECS] [default: 300]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may stall before the request is refused
    /// [env: SCAIDRIVE_GATEWAY_BODY_READ_TIMEOUT_SECS] [default: 20]
    #[arg(long, value_name = "SECS")]
    pub body_read_timeout_secs: Option<u64>,
    /// Open connections per listener [env: SCAIDRIVE_GATEWAY_MAX_CONNECTIONS] [default: 1024]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Largest object in bytes; unset = ScaiDrive's max_file_size_bytes
    /// [env: SCAIDRIVE_GATEWAY_MAX_OBJECT_SIZE]
    #[arg(long, value_name = "BYTES")]
    pub max_object_size: Option<u64>,
    /// Seconds in-flight requests may finish after SIGTERM/SIGINT
    /// [env: SCAIDRIVE_GATEWAY_SHUTDOWN_GRACE_SECS] [default: 30]
    #[arg(long, value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,

    // --- [cache] ---
    /// Cache share lists and folder listings: true | false [env: SCAIDRIVE_GATEWAY_CACHE_ENABLED]
    /// [default: true]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub cache_enabled: Option<bool>,
    /// Seconds a fetched listing is trusted [env: SCAIDRIVE_GATEWAY_CACHE_TTL_SECS] [default: 5]
    #[arg(long, value_name = "SECS")]
    pub cache_ttl_secs: Option<u64>,
    /// Most folder listings kept [env: SCAIDRIVE_GATEWAY_CACHE_CAPACITY] [default: 10000]
    #[arg(long, value_name = "N")]
    pub cache_capacity: Option<u64>,
    /// Change-feed poll interval, ms; 0 = off
    /// [env: SCAIDRIVE_GATEWAY_CACHE_CHANGE_FEED_INTERVAL_MS] [default: 2000]
    #[arg(long, value_name = "MS")]
    pub cache_change_feed_interval_ms: Option<u64>,

    // --- [upstream] ---
    /// Connect timeout to ScaiDrive, seconds
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECS] [default: 10]
    #[arg(long, value_name = "SECS")]
    pub upstream_connect_timeout_secs: Option<u64>,
    /// Metadata call timeout and stream idle timeout, seconds
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_REQUEST_TIMEOUT_SECS] [default: 60]
    #[arg(long, value_name = "SECS")]
    pub upstream_request_timeout_secs: Option<u64>,
    /// Retries after the first attempt [env: SCAIDRIVE_GATEWAY_UPSTREAM_MAX_RETRIES] [default: 3]
    #[arg(long, value_name = "N")]
    pub upstream_max_retries: Option<u32>,
    /// New files at least this large go through an upload session
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_SESSION_THRESHOLD_BYTES] [default: 5368709120]
    #[arg(long, value_name = "BYTES")]
    pub upstream_session_threshold_bytes: Option<u64>,
    /// Upload-session chunk size, a power of two 65536–4194304
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CHUNK_SIZE_BYTES] [default: 4194304]
    #[arg(long, value_name = "BYTES")]
    pub upstream_chunk_size_bytes: Option<u64>,
    /// Chunks of one upload in flight [env: SCAIDRIVE_GATEWAY_UPSTREAM_PARALLEL_CHUNKS]
    /// [default: 3]
    #[arg(long, value_name = "N")]
    pub upstream_parallel_chunks: Option<usize>,
    /// Bytes of upload-session chunks in flight across all uploads
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CHUNK_MEMORY_BYTES] [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    pub upstream_chunk_memory_bytes: Option<u64>,
    /// Delete permanently instead of to ScaiDrive's trash: true | false
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_PERMANENT_DELETE] [default: false]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub upstream_permanent_delete: Option<bool>,
    /// PEM root certificates to trust for ScaiDrive's TLS, besides the built-in ones
    /// [env: SCAIDRIVE_GATEWAY_UPSTREAM_CA_FILE]
    #[arg(long, value_name = "FILE")]
    pub upstream_ca_file: Option<PathBuf>,

    // --- [state] ---
    #[command(flatten)]
    pub state: StateFlags,
}
