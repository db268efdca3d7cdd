//! `[s3]`: the S3 front end's listener, region, bucket mapping and multipart settings.

use std::net::SocketAddr;

use serde::Deserialize;

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
/// Default S3 listen address.
pub const DEFAULT_S3_LISTEN: &str = "127.0.0.1:9000";
/// Default age (seconds) after which an abandoned multipart upload is removed: 24 hours.
pub const DEFAULT_S3_MULTIPART_MAX_AGE_SECS: u64 = 86_400;
/// Default for `s3.multipart_stream_max`: multipart uploads streamed upstream at once.
pub const DEFAULT_S3_MULTIPART_STREAM_MAX: usize = 16;
/// Default for `s3.multipart_stream_idle_secs`.
pub const DEFAULT_S3_MULTIPART_STREAM_IDLE_SECS: u64 = 50;
/// Default S3 region.
pub const DEFAULT_REGION: &str = "us-east-1";

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

/// Where multipart parts wait for CompleteMultipartUpload, and WebDAV chunked-upload pieces for
/// MOVE (`s3.multipart_staging`).
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
    /// Multipart uploads (local staging) streamed to ScaiDrive while their parts arrive, at
    /// most this many at once per instance; 0 turns streaming off (Complete uploads it all).
    pub multipart_stream_max: usize,
    /// A streamed multipart upload that has had nothing to send for this many seconds is
    /// dropped upstream; its Complete then uploads from the spooled parts.
    pub multipart_stream_idle_secs: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileS3 {
    pub(super) listen: Option<SocketAddr>,
    pub(super) region: Option<String>,
    pub(super) bucket_mode: Option<BucketMode>,
    pub(super) folders_share: Option<String>,
    pub(super) domain: Option<String>,
    pub(super) multipart_max_age_secs: Option<u64>,
    pub(super) multipart_staging: Option<MultipartStaging>,
    pub(super) multipart_stream_max: Option<usize>,
    pub(super) multipart_stream_idle_secs: Option<u64>,
}
