//! `[scaidrive]` (the upstream URL and the token of the single static credential) and
//! `[[credentials]]` (credentials given in configuration rather than stored in the state DB).
//! Tokens and secrets never appear in `Debug`.

use std::fmt;

use serde::Deserialize;

/// Base URL of the ScaiDrive instance to front; unset = embedded emulator.
pub const ENV_SCAIDRIVE_URL: &str = "SCAIDRIVE_URL";
/// ScaiDrive token of the single static credential.
pub const ENV_SCAIDRIVE_TOKEN: &str = "SCAIDRIVE_TOKEN";
/// Access key id of the single static credential.
pub const ENV_ACCESS_KEY_ID: &str = "SCAIDRIVE_GATEWAY_ACCESS_KEY_ID";
/// Secret access key of the single static credential.
pub const ENV_SECRET_ACCESS_KEY: &str = "SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY";

/// The upstream ScaiDrive instance.
#[derive(Clone, PartialEq, Default)]
pub struct ScaiDriveConfig {
    /// Base URL (`https://drive.example.com`); `None` = start the embedded emulator.
    pub url: Option<String>,
    /// Token for the single static credential.
    pub token: Option<String>,
}

impl fmt::Debug for ScaiDriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScaiDriveConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
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

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileScaiDrive {
    pub(super) url: Option<String>,
    pub(super) token: Option<String>,
}

impl fmt::Debug for FileScaiDrive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileScaiDrive")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
