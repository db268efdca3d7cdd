//! The store's error kinds: every failure below the front ends is classified here once, and each
//! front end maps these kinds to its protocol in one `match`.

use std::time::Duration;

use crate::namespace::NameError;
use crate::scaidrive::{Error as UpstreamError, ErrorKind as UpstreamKind};

/// A store failure, classified.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The share, folder or file does not exist or is not visible to this user.
    #[error("not found")]
    NotFound,
    /// The bucket / top-level collection does not exist or is not visible.
    #[error("no such share")]
    NoSuchShare,
    /// ScaiDrive refused the operation for this user (role, scope, owner-only).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The ScaiDrive token is missing, invalid, expired or revoked.
    #[error("the ScaiDrive token was refused: {0}")]
    Unauthorized(String),
    /// A name is taken, or a file stands where a folder is needed (or the reverse).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The key or path cannot be represented in ScaiDrive.
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
    /// The folder is not empty (where emptiness is required).
    #[error("the folder is not empty")]
    NotEmpty,
    /// Bad input that is not a name problem.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Over ScaiDrive's per-file size cap.
    #[error("the object is larger than ScaiDrive accepts")]
    TooLarge,
    /// A share, user or tenant quota would be exceeded.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// ScaiDrive is rate limiting this user.
    #[error("rate limited by ScaiDrive")]
    SlowDown { retry_after: Option<Duration> },
    /// The requested byte range lies outside the object.
    #[error("the requested range is not satisfiable")]
    RangeNotSatisfiable { size: Option<u64> },
    /// The body did not match the digest the client sent.
    #[error("the body does not match the digest sent with it")]
    BadDigest,
    /// The body did not match the SHA-256 its signature covers.
    #[error("the body does not match the SHA-256 it was signed with")]
    ContentSha256Mismatch,
    /// The body ended before its announced length, or the client went away.
    #[error("the body ended before its announced length")]
    IncompleteBody,
    /// The resource was deleted (soft-deleted) meanwhile.
    #[error("gone")]
    Gone,
    /// ScaiDrive is unreachable, timing out or failing.
    #[error("ScaiDrive is unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected condition; logged with its cause where it is made.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// A state-DB failure as a store error (logged here; the client sees no detail).
pub(super) fn db_error(e: crate::state::StateError) -> StoreError {
    tracing::error!(error = %e, "state database failed");
    StoreError::Internal("state database failed".into())
}

impl From<UpstreamError> for StoreError {
    fn from(e: UpstreamError) -> Self {
        let msg = e.message().to_owned();
        match e.kind() {
            UpstreamKind::NotFound => StoreError::NotFound,
            UpstreamKind::Forbidden => StoreError::AccessDenied(msg),
            UpstreamKind::Unauthorized => StoreError::Unauthorized(msg),
            UpstreamKind::Conflict => StoreError::Conflict(msg),
            UpstreamKind::Gone => StoreError::Gone,
            UpstreamKind::TooLarge => StoreError::TooLarge,
            UpstreamKind::QuotaExceeded => StoreError::QuotaExceeded(msg),
            UpstreamKind::RateLimited => StoreError::SlowDown {
                retry_after: e.retry_after(),
            },
            UpstreamKind::RangeNotSatisfiable => StoreError::RangeNotSatisfiable { size: None },
            UpstreamKind::ChecksumMismatch => StoreError::BadDigest,
            UpstreamKind::Invalid => StoreError::Invalid(msg),
            UpstreamKind::Unavailable | UpstreamKind::Transport => {
                tracing::warn!(error = %e, "ScaiDrive call failed");
                StoreError::Unavailable(msg)
            }
            UpstreamKind::Protocol => {
                tracing::error!(error = %e, "unexpected response from ScaiDrive");
                StoreError::Internal(msg)
            }
        }
    }
}
