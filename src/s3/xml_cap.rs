//! The cap on S3 request bodies that s3s reads whole to parse as XML.
//!
//! DeleteObjects (1,000 keys), CompleteMultipartUpload (10,000 parts), ACLs, tagging,
//! versioning, CreateBucket's configuration and every other XML body are read into memory by
//! s3s (up to its own 20 MiB, and over that it answers 500). The largest list S3 allows fits in
//! about 2.5 MiB (10,000 parts with an ETag and a SHA-256 checksum each), so bodies are capped
//! at [`MAX_XML_BODY`]: an announced `Content-Length` over it is answered at once, without
//! reading the body; a chunked body is counted as it arrives. Both get S3's 400
//! `MaxMessageLengthExceeded` and the connection is closed (the rest of the body is not read).
//! Object data (PutObject, UploadPart) streams and is not capped here; browser POST forms have
//! their own bounds.

use crate::server::{BodyError, RequestBody};
use bytes::{Bytes, BytesMut};
use http::{Method, Request, header};
use http_body_util::BodyExt as _;

/// The largest XML body read: a few MiB, above the largest list S3 allows.
pub(super) const MAX_XML_BODY: u64 = 5 << 20;

/// Query parameters of a PutObject or UploadPart (besides presigned `X-Amz-*` ones): with
/// only these, a PUT on a key carries object data.
const OBJECT_PUT_PARAMS: &[&str] = &[
    "partNumber",
    "uploadId",
    "x-id",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

/// Why a capped body was not read.
#[derive(Debug)]
pub(super) enum CapError {
    /// Longer than [`MAX_XML_BODY`].
    TooLarge,
    /// The body broke off (the client went away or framed it wrongly).
    Broken(BodyError),
}

/// True when the request's body is XML that s3s reads whole: everything but object data. `key`
/// says whether the request names an object (not only a bucket or the service).
pub(super) fn is_capped(method: &Method, key: bool, query: Option<&str>) -> bool {
    if *method != Method::PUT || !key {
        return true;
    }
    // A PUT on a key carries object data unless it names a sub-resource (`acl`, `tagging`,
    // `retention`, `legal-hold`, …).
    !query.unwrap_or_default().split('&').all(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        name.is_empty()
            || OBJECT_PUT_PARAMS.contains(&name)
            || name
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
    })
}

/// True when the request announces a body longer than the cap.
pub(super) fn announced_too_large<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_XML_BODY)
}

/// Reads a capped body whole, counting as it arrives.
pub(super) async fn read_capped(mut body: RequestBody) -> Result<Bytes, CapError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(CapError::Broken)?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > MAX_XML_BODY {
                return Err(CapError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Whether a whole body matches the SHA-256 in `x-amz-content-sha256`, when that header holds
/// one (not `UNSIGNED-PAYLOAD` or a streaming mode). s3s checks it too, but answers a mismatch
/// of a body it reads whole with a 500.
pub(super) fn matches_signed_sha256(headers: &http::HeaderMap, body: &[u8]) -> bool {
    use sha2::Digest as _;
    let Some(signed) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return true;
    };
    hex::encode(sha2::Sha256::digest(body)).eq_ignore_ascii_case(signed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_body_is_checked_against_the_sha256_it_was_signed_with() {
        let mut h = http::HeaderMap::new();
        assert!(matches_signed_sha256(&h, b"anything"));
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        assert!(matches_signed_sha256(&h, b"anything"));
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        h.insert("x-amz-content-sha256", empty.parse().unwrap());
        assert!(matches_signed_sha256(&h, b""));
        assert!(!matches_signed_sha256(&h, b"<Delete/>"));
        h.insert(
            "x-amz-content-sha256",
            empty.to_uppercase().parse().unwrap(),
        );
        assert!(matches_signed_sha256(&h, b""));
    }

    #[test]
    fn only_object_data_escapes_the_cap() {
        let put = Method::PUT;
        assert!(!is_capped(&put, true, None));
        assert!(!is_capped(&put, true, Some("partNumber=1&uploadId=abc")));
        assert!(!is_capped(&put, true, Some("x-id=PutObject")));
        assert!(!is_capped(
            &put,
            true,
            Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00")
        ));
        assert!(!is_capped(
            &put,
            true,
            Some("AWSAccessKeyId=A&Expires=1&Signature=x")
        ));
        for sub in ["acl", "tagging", "retention", "legal-hold", "tagging="] {
            assert!(is_capped(&put, true, Some(sub)), "{sub}");
        }
        // CreateBucket, PutBucketVersioning, DeleteObjects, CompleteMultipartUpload.
        assert!(is_capped(&put, false, None));
        assert!(is_capped(&put, false, Some("versioning")));
        assert!(is_capped(&Method::POST, false, Some("delete")));
        assert!(is_capped(&Method::POST, true, Some("uploadId=abc")));
    }
}
