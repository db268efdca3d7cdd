//! The one mapping from store errors to S3 errors (code, HTTP status, message). The cause is
//! logged here before detail is dropped; internals never reach the client.

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::namespace::NameError;
use crate::store::StoreError;

/// A custom S3 error code with its status.
fn custom(code: &'static str, status: StatusCode, msg: impl Into<String>) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), msg.into());
    e.set_status_code(status);
    e
}

/// S3's answer to a body that does not match the SHA-256 its signature covers.
pub(crate) fn content_sha256_mismatch() -> S3Error {
    custom(
        "XAmzContentSHA256Mismatch",
        StatusCode::BAD_REQUEST,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
}

/// Maps a store error to its S3 error. `NotFound` becomes `NoSuchKey` (callers that look up
/// buckets or uploads map it themselves).
pub fn store_error(e: StoreError) -> S3Error {
    match e {
        StoreError::NotFound | StoreError::Gone => {
            s3_error!(NoSuchKey, "The specified key does not exist.")
        }
        StoreError::NoSuchShare => s3_error!(NoSuchBucket, "The specified bucket does not exist."),
        StoreError::AccessDenied(m) => {
            tracing::info!(reason = %m, "ScaiDrive denied the operation");
            s3_error!(
                AccessDenied,
                "Access Denied (ScaiDrive refused the operation for this user)"
            )
        }
        StoreError::Unauthorized(m) => {
            tracing::warn!(reason = %m, "ScaiDrive refused the token");
            s3_error!(
                AccessDenied,
                "the ScaiDrive token behind this access key was refused (expired or revoked)"
            )
        }
        StoreError::Conflict(m) => custom("KeyConflict", StatusCode::CONFLICT, m),
        StoreError::InvalidName(n) => name_error(n),
        StoreError::NotEmpty => s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty."
        ),
        StoreError::Invalid(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        StoreError::TooLarge => s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size."
        ),
        StoreError::QuotaExceeded(m) => custom(
            "QuotaExceeded",
            StatusCode::INSUFFICIENT_STORAGE,
            format!("ScaiDrive quota exceeded: {m}"),
        ),
        StoreError::SlowDown { retry_after } => {
            let mut err = s3_error!(SlowDown, "Please reduce your request rate.");
            if let Some(after) = retry_after {
                let mut headers = http::HeaderMap::new();
                if let Ok(v) = http::HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                    headers.insert(http::header::RETRY_AFTER, v);
                }
                err.set_headers(headers);
            }
            err
        }
        StoreError::RangeNotSatisfiable { .. } => {
            s3_error!(InvalidRange, "The requested range is not satisfiable")
        }
        StoreError::BadDigest => s3_error!(
            BadDigest,
            "The Content-MD5 or checksum you specified did not match what we received."
        ),
        StoreError::ContentSha256Mismatch => content_sha256_mismatch(),
        StoreError::IncompleteBody => s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ),
        StoreError::Unavailable(m) => {
            tracing::warn!(reason = %m, "ScaiDrive unavailable");
            s3_error!(
                ServiceUnavailable,
                "Please retry: the storage backend is unavailable."
            )
        }
        StoreError::Internal(m) => {
            tracing::error!(reason = %m, "internal error");
            s3_error!(
                InternalError,
                "We encountered an internal error. Please try again."
            )
        }
    }
}

/// Maps a key that cannot be represented to its S3 error.
pub fn name_error(e: NameError) -> S3Error {
    match e {
        NameError::KeyTooLong | NameError::SegmentTooLong => S3Error::with_message(
            S3ErrorCode::KeyTooLongError,
            format!("Your key is too long: {e}"),
        ),
        other => S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("The key cannot be stored in ScaiDrive: {other}"),
        ),
    }
}

/// Logs an unexpected failure where it happens and answers `InternalError`.
pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %e, "{what}");
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn status(e: &S3Error) -> u16 {
        e.status_code()
            .or_else(|| e.code().status_code())
            .map_or(0, |s| s.as_u16())
    }

    #[test]
    fn every_store_error_kind_maps_to_its_s3_code_and_status() {
        let table: Vec<(StoreError, &str, u16)> = vec![
            (StoreError::NotFound, "NoSuchKey", 404),
            (StoreError::Gone, "NoSuchKey", 404),
            (StoreError::NoSuchShare, "NoSuchBucket", 404),
            (StoreError::AccessDenied("role".into()), "AccessDenied", 403),
            (
                StoreError::Unauthorized("expired".into()),
                "AccessDenied",
                403,
            ),
            (StoreError::Conflict("a/ exists".into()), "KeyConflict", 409),
            (
                StoreError::InvalidName(NameError::DotSegment),
                "InvalidArgument",
                400,
            ),
            (
                StoreError::InvalidName(NameError::KeyTooLong),
                "KeyTooLongError",
                400,
            ),
            (
                StoreError::InvalidName(NameError::SegmentTooLong),
                "KeyTooLongError",
                400,
            ),
            (StoreError::NotEmpty, "BucketNotEmpty", 409),
            (StoreError::Invalid("x".into()), "InvalidArgument", 400),
            (StoreError::TooLarge, "EntityTooLarge", 400),
            (
                StoreError::QuotaExceeded("share".into()),
                "QuotaExceeded",
                507,
            ),
            (
                StoreError::SlowDown {
                    retry_after: Some(Duration::from_secs(3)),
                },
                "SlowDown",
                503,
            ),
            (
                StoreError::RangeNotSatisfiable { size: Some(3) },
                "InvalidRange",
                416,
            ),
            (StoreError::BadDigest, "BadDigest", 400),
            (
                StoreError::ContentSha256Mismatch,
                "XAmzContentSHA256Mismatch",
                400,
            ),
            (StoreError::IncompleteBody, "IncompleteBody", 400),
            (
                StoreError::Unavailable("down".into()),
                "ServiceUnavailable",
                503,
            ),
            (StoreError::Internal("bug".into()), "InternalError", 500),
        ];
        for (err, code, st) in table {
            let what = format!("{err:?}");
            let mapped = store_error(err);
            assert_eq!(mapped.code().as_str(), code, "{what}");
            assert_eq!(status(&mapped), st, "{what}");
        }
    }

    #[test]
    fn internals_never_reach_the_message() {
        let mapped = store_error(StoreError::Internal("secret db path /x".into()));
        assert!(!mapped.message().unwrap_or_default().contains("/x"));
        let mapped = store_error(StoreError::Unavailable("10.0.0.1 refused".into()));
        assert!(!mapped.message().unwrap_or_default().contains("10.0.0.1"));
    }

    #[test]
    fn slow_down_carries_retry_after() {
        let mapped = store_error(StoreError::SlowDown {
            retry_after: Some(Duration::from_secs(7)),
        });
        let h = mapped
            .headers()
            .and_then(|h| h.get(http::header::RETRY_AFTER));
        assert_eq!(h.and_then(|v| v.to_str().ok()), Some("7"));
    }
}
