//! Wire types of the ScaiDrive API as this client reads and writes them.
//!
//! These are the client's own types (never shared with the emulator). Parsing is liberal:
//! unknown fields are ignored, fields the documentation does not guarantee are `Option` or
//! defaulted, IDs are opaque strings, timestamps accept fractional seconds, any UTC offset and
//! (as a last resort) no offset at all, and the change-feed cursor is kept opaque.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A timestamp as the client holds it.
pub type Timestamp = DateTime<Utc>;

/// Liberal timestamp parsing (RFC 3339 with any offset or fraction; naive = UTC; epoch numbers).
pub mod ts {
    use super::Timestamp;
    use chrono::{NaiveDateTime, TimeZone, Utc};
    use serde::Deserializer;

    /// Parse one timestamp string.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = s.parse::<chrono::DateTime<Utc>>() {
            return Some(t);
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Utc.from_utc_datetime(&n));
            }
        }
        None
    }

    fn from_epoch<E: serde::de::Error>(secs: f64) -> Result<Option<Timestamp>, E> {
        Utc.timestamp_millis_opt((secs * 1000.0) as i64)
            .single()
            .map(Some)
            .ok_or_else(|| E::custom("invalid epoch timestamp"))
    }

    /// Reads a timestamp straight from the input (no intermediate `Value`: listings carry one
    /// per entry).
    struct OptionVisitor;

    impl<'de> serde::de::Visitor<'de> for OptionVisitor {
        type Value = Option<Timestamp>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a timestamp (RFC 3339 text or epoch seconds) or null")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse(s)
                .map(Some)
                .ok_or_else(|| E::custom(format!("invalid timestamp {s:?}")))
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            from_epoch(n as f64)
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            from_epoch(n as f64)
        }

        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            from_epoch(n)
        }
    }

    /// For `Option<Timestamp>` fields (use with `#[serde(default)]`).
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        d.deserialize_any(OptionVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Platform

/// `GET /health`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Health {
    /// `healthy` while the process is up.
    pub status: String,
    /// Server version.
    #[serde(default)]
    pub version: Option<String>,
}

/// `GET /ready` (a 503 "not ready" answer is returned as a value, not an error).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Named dependency checks.
    #[serde(default)]
    pub checks: BTreeMap<String, Value>,
}

impl Ready {
    /// Whether the server says it is ready.
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// `GET /config`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ServerConfig {
    /// Server version.
    #[serde(default)]
    pub version: Option<String>,
    /// Feature flags (`semantic_search`, `external_sharing`, …).
    #[serde(default)]
    pub features: BTreeMap<String, Value>,
    /// Size limits.
    #[serde(default)]
    pub limits: Limits,
}

impl ServerConfig {
    /// Whether feature `name` is on (absent or non-boolean = off).
    pub fn feature(&self, name: &str) -> bool {
        self.features
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// `limits` of [`ServerConfig`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Limits {
    /// Tenant per-file cap of `POST /files` and upload sessions.
    #[serde(default)]
    pub max_file_size_bytes: Option<u64>,
    /// Largest accepted upload-session chunk.
    #[serde(default)]
    pub max_upload_chunk_size_bytes: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Users

/// `GET /users/me`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct User {
    /// `usr_…`.
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub partner_id: Option<String>,
    /// `grp_…` ids.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub is_admin: bool,
    /// `tenant_admin` or `None`.
    #[serde(default)]
    pub admin_role: Option<String>,
}

/// An entry of `GET /users/me/shares`: a share with the caller's role.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct MyShare {
    pub id: String,
    pub name: String,
    /// `central` / `personal` / `project` (`type` on the wire; `share_type` accepted too).
    #[serde(default, rename = "type", alias = "share_type")]
    pub share_type: Option<String>,
    /// `reader` / `contributor` / `admin` / `owner`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    #[serde(default)]
    pub used_bytes: Option<u64>,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
}

impl MyShare {
    /// Whether the role allows writing content (`contributor`, `admin`, `owner`).
    pub fn can_write(&self) -> bool {
        matches!(
            self.role.as_deref(),
            Some("contributor" | "admin" | "owner")
        )
    }
}

/// `GET /users/me/quota`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Quota {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub used_bytes: u64,
    /// `None` = unlimited.
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    #[serde(default)]
    pub percent_used: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Shares

/// The full share object.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Share {
    /// `shr_…`.
    pub id: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `central` / `personal` / `project` (`type` accepted too).
    #[serde(default, alias = "type")]
    pub share_type: Option<String>,
    /// `usr_…` or `grp_…`.
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub is_public: bool,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    #[serde(default)]
    pub used_bytes: Option<u64>,
    #[serde(default)]
    pub settings: Value,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "ts::option")]
    pub modified_at: Option<Timestamp>,
}

/// Body of `POST /shares`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CreateShare {
    pub name: String,
    /// `central` / `personal` / `project`.
    pub share_type: String,
    /// `usr_…` or `grp_…`.
    pub owner_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
}

/// Body of `PATCH /shares/{id}`; only set fields are sent.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UpdateShare {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A page of `{"shares": [...], "total": N}`.
#[derive(Debug, Deserialize)]
pub(crate) struct SharePage<T> {
    #[serde(default = "Vec::new")]
    pub shares: Vec<T>,
    #[serde(default)]
    pub total: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Files

/// The full file object.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct File {
    /// `fil_…`.
    pub id: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub share_id: String,
    /// `None` at the share root.
    #[serde(default)]
    pub folder_id: Option<String>,
    pub name: String,
    /// Share-relative path.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    pub size: u64,
    /// Hex SHA-256 of the content.
    #[serde(default)]
    pub checksum_sha256: Option<String>,
    /// Current version number (1 = first upload).
    #[serde(default)]
    pub version: Option<u64>,
    /// `ver_…` of the current version.
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub modified_by: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "ts::option")]
    pub modified_at: Option<Timestamp>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default, deserialize_with = "ts::option")]
    pub vectorized_at: Option<Timestamp>,
}

/// The slim answer of `POST /files`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct UploadedFile {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub checksum_sha256: Option<String>,
}

/// Body of `PATCH /files/{id}`; only set fields are sent.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FilePatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Move within the share: `Some(Some(id))` into a folder, `Some(None)` to the share root
    /// (sent as `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<Option<String>>,
    /// `Some(true)` restores a soft-deleted file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<bool>,
}

/// Where a copy or move goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Into the folder with this id.
    Folder(String),
    /// Into the root of the share with this id.
    ShareRoot(String),
}

impl Target {
    pub(crate) fn to_body(&self, name: Option<&str>) -> Value {
        let mut body = serde_json::Map::new();
        match self {
            Target::Folder(id) => body.insert("target_folder_id".into(), Value::from(id.as_str())),
            Target::ShareRoot(id) => {
                body.insert("target_share_id".into(), Value::from(id.as_str()))
            }
        };
        if let Some(name) = name {
            body.insert("name".into(), Value::from(name));
        }
        Value::Object(body)
    }
}

/// A file version (`GET /files/{id}/versions`, newest first).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Version {
    /// `ver_…`.
    pub id: String,
    pub version_number: u64,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub checksum_sha256: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VersionList {
    #[serde(default)]
    pub versions: Vec<Version>,
}

/// Answer of `POST /files/{id}/versions/{n}/restore`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RestoredVersion {
    /// The file id.
    pub id: String,
    #[serde(default)]
    pub restored_from_version: Option<u64>,
    /// The new version number.
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub version_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Upload sessions

/// Body of `POST /uploads`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CreateUploadSession {
    pub share_id: String,
    pub file_name: String,
    pub file_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<String>,
    /// Power of two, ≥ 64 KiB, ≤ the server's `max_upload_chunk_size_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Whole-file hex SHA-256, verified at complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    /// Make the upload a new version of this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_file_id: Option<String>,
}

/// Answer of `POST /uploads`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct UploadSession {
    pub session_id: String,
    pub chunk_size: u64,
    pub total_chunks: u64,
    #[serde(default, deserialize_with = "ts::option")]
    pub expires_at: Option<Timestamp>,
}

/// Answer of `GET /uploads/{sid}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct UploadProgress {
    pub session_id: String,
    /// `pending` or `completed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub chunk_size: Option<u64>,
    #[serde(default)]
    pub total_chunks: Option<u64>,
    /// 0-based indices already stored.
    #[serde(default)]
    pub received_chunks: Vec<u64>,
    #[serde(default)]
    pub bytes_received: Option<u64>,
    #[serde(default, deserialize_with = "ts::option")]
    pub expires_at: Option<Timestamp>,
    /// Set once completed.
    #[serde(default)]
    pub file_id: Option<String>,
}

/// Answer of `POST /uploads/{sid}/complete`. `file_id` is read from `file_id` or, failing
/// that, `id`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(try_from = "RawCompletedUpload")]
pub struct CompletedUpload {
    pub file_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub checksum_sha256: Option<String>,
}

#[derive(Deserialize)]
struct RawCompletedUpload {
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    checksum_sha256: Option<String>,
}

impl TryFrom<RawCompletedUpload> for CompletedUpload {
    type Error = String;
    fn try_from(r: RawCompletedUpload) -> Result<Self, String> {
        Ok(CompletedUpload {
            file_id: r
                .file_id
                .or(r.id)
                .ok_or("completed upload names no file_id")?,
            name: r.name,
            size: r.size,
            version: r.version,
            version_id: r.version_id,
            checksum_sha256: r.checksum_sha256,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Change feed

/// An opaque change-feed position. An integer today; kept as whatever JSON value the server
/// sent, serializable for persistence and rendered back verbatim as the `cursor` query value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Cursor(Value);

impl Cursor {
    /// Wrap a JSON value (number or string) received from the server.
    pub fn new(value: Value) -> Cursor {
        Cursor(value)
    }

    /// The JSON value.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// The text sent as the `cursor` query parameter.
    pub fn to_query_value(&self) -> String {
        match &self.0 {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_query_value())
    }
}

impl From<u64> for Cursor {
    fn from(v: u64) -> Cursor {
        Cursor(Value::from(v))
    }
}

impl From<String> for Cursor {
    fn from(v: String) -> Cursor {
        Cursor(Value::from(v))
    }
}

/// A page of `GET /sync/changes`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChangePage {
    #[serde(default)]
    pub changes: Vec<Change>,
    /// The position to ask from next.
    pub cursor: Cursor,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub share_id: Option<String>,
}

/// `resource_type` of a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum ResourceType {
    File,
    Folder,
    Share,
    /// A value this client does not know.
    Other(String),
}

impl From<String> for ResourceType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "file" => ResourceType::File,
            "folder" => ResourceType::Folder,
            "share" => ResourceType::Share,
            _ => ResourceType::Other(s),
        }
    }
}

impl From<ResourceType> for String {
    fn from(r: ResourceType) -> String {
        match r {
            ResourceType::File => "file".into(),
            ResourceType::Folder => "folder".into(),
            ResourceType::Share => "share".into(),
            ResourceType::Other(s) => s,
        }
    }
}

/// `change_type` of a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Moved,
    Renamed,
    /// A value this client does not know.
    Other(String),
}

impl From<String> for ChangeType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "created" => ChangeType::Created,
            "updated" => ChangeType::Updated,
            "deleted" => ChangeType::Deleted,
            "moved" => ChangeType::Moved,
            "renamed" => ChangeType::Renamed,
            _ => ChangeType::Other(s),
        }
    }
}

impl From<ChangeType> for String {
    fn from(c: ChangeType) -> String {
        match c {
            ChangeType::Created => "created".into(),
            ChangeType::Updated => "updated".into(),
            ChangeType::Deleted => "deleted".into(),
            ChangeType::Moved => "moved".into(),
            ChangeType::Renamed => "renamed".into(),
            ChangeType::Other(s) => s,
        }
    }
}

/// A change-log entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Change {
    /// `chg_…`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub share_id: Option<String>,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub change_type: ChangeType,
    #[serde(default)]
    pub changed_by: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub changed_at: Option<Timestamp>,
    #[serde(default)]
    pub old_path: Option<String>,
    #[serde(default)]
    pub new_path: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

// ---------------------------------------------------------------------------------------------
// External links

/// Body of `POST /external/links`. `password` is hidden from `Debug`.
#[derive(Clone, Default, Serialize, PartialEq)]
pub struct CreateLink {
    /// `file`, `folder` or `share`.
    pub resource_type: String,
    pub resource_id: String,
    pub share_id: String,
    /// `VIEW`, `DOWNLOAD` or `UPLOAD`.
    pub link_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_views: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_emails: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_download_button: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_preview: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_on_access: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_on_download: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_on_upload: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_email: Option<String>,
    /// Required for `UPLOAD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_folder_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_extensions: Option<Vec<String>>,
}

impl fmt::Debug for CreateLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateLink")
            .field("resource_type", &self.resource_type)
            .field("resource_id", &self.resource_id)
            .field("share_id", &self.share_id)
            .field("link_type", &self.link_type)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("expires_in_days", &self.expires_in_days)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Body of `PATCH /external/links/{id}`; only set fields are sent. `password` is hidden from
/// `Debug`. For fields not covered here, pass any `Serialize` value (e.g. `serde_json::Value`)
/// to [`Client::update_link`](super::Client::update_link).
#[derive(Clone, Default, Serialize, PartialEq)]
pub struct LinkPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `Some(None)` clears the expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<Timestamp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_views: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_message: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl fmt::Debug for LinkPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkPatch")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("max_downloads", &self.max_downloads)
            .field("max_views", &self.max_views)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Filters of `GET /external/links`. With `limit` unset every page is fetched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkQuery {
    pub share_id: Option<String>,
    pub resource_id: Option<String>,
    /// `active` / `expired` / `revoked` / `disabled`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// The external link object. The link `token` is a bearer secret and hidden from `Debug`.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
pub struct Link {
    /// `lnk_…`.
    pub id: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub share_id: Option<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub link_type: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub short_code: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub short_url: Option<String>,
    /// `active` / `expired` / `revoked` / `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub password_required: bool,
    #[serde(default)]
    pub max_downloads: Option<u64>,
    #[serde(default)]
    pub download_count: Option<u64>,
    #[serde(default)]
    pub max_views: Option<u64>,
    #[serde(default)]
    pub view_count: Option<u64>,
    #[serde(default)]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_emails: Option<Vec<String>>,
    #[serde(default)]
    pub require_email: bool,
    #[serde(default)]
    pub custom_name: Option<String>,
    #[serde(default)]
    pub custom_message: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "ts::option")]
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("id", &self.id)
            .field("share_id", &self.share_id)
            .field("resource_type", &self.resource_type)
            .field("resource_id", &self.resource_id)
            .field("link_type", &self.link_type)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LinkPage {
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub total: Option<u64>,
}
