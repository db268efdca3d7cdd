//! Integrity of uploaded bodies: `Content-MD5` and `x-amz-checksum-*` (as headers, or as an
//! aws-chunked trailer that s3s hands over once the body has been read) are verified while the
//! body streams. On a mismatch the stream ends with [`BodyAbort::BadDigest`], so the store
//! commits nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures::StreamExt as _;
use http::HeaderMap;
use md5::Digest as _;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::{S3Error, S3Result, TrailingHeaders, s3_error};

use crate::store::{BodyAbort, BodyStream};

/// The checksum algorithms S3 knows, by their lower-case names.
pub(crate) const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// Decoded digest length of each algorithm.
fn digest_len(algo: &str) -> usize {
    match algo {
        "crc32" | "crc32c" => 4,
        "crc64nvme" => 8,
        "sha1" => 20,
        _ => 32,
    }
}

/// What a request asks to be verified (and which checksums to compute and keep).
#[derive(Default)]
pub(crate) struct Integrity {
    md5: Option<[u8; 16]>,
    /// Algorithm → expected base64 value (`None`: compute and keep, nothing to compare).
    checksums: BTreeMap<&'static str, Option<String>>,
    /// Algorithm whose value arrives in the aws-chunked trailer.
    trailer: Option<(&'static str, TrailingHeaders)>,
}

/// The checksums computed over a body that passed verification (algorithm → base64).
#[derive(Clone, Default)]
pub(crate) struct Computed(Arc<Mutex<Option<BTreeMap<String, String>>>>);

impl Computed {
    /// The values, once the body has ended and matched.
    pub(crate) fn get(&self) -> BTreeMap<String, String> {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_default()
    }
}

fn algo_name(s: &str) -> Option<&'static str> {
    let lower = s.trim().to_ascii_lowercase();
    ALGORITHMS.into_iter().find(|a| *a == lower)
}

impl Integrity {
    /// Reads `Content-MD5`, `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm` and
    /// `x-amz-trailer` from the request headers. Malformed digests are refused up front.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        trailing: Option<TrailingHeaders>,
    ) -> S3Result<Self> {
        let mut out = Self::default();
        if let Some(v) = headers.get("content-md5") {
            let decoded = v
                .to_str()
                .ok()
                .and_then(|s| B64.decode(s.trim()).ok())
                .and_then(|d| <[u8; 16]>::try_from(d).ok())
                .ok_or_else(|| {
                    s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid.")
                })?;
            out.md5 = Some(decoded);
        }
        for algo in ALGORITHMS {
            if let Some(v) = headers.get(format!("x-amz-checksum-{algo}").as_str()) {
                let text = v
                    .to_str()
                    .map_err(|_| invalid_checksum(algo))?
                    .trim()
                    .to_owned();
                check_shape(algo, &text)?;
                out.checksums.insert(algo, Some(text));
            }
        }
        if let Some(algo) = headers
            .get("x-amz-sdk-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
            .and_then(algo_name)
        {
            out.checksums.entry(algo).or_insert(None);
        }
        if let Some(algo) = headers
            .get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| {
                t.trim()
                    .to_ascii_lowercase()
                    .strip_prefix("x-amz-checksum-")
                    .map(str::to_owned)
            })
            .and_then(|a| algo_name(&a))
        {
            match trailing {
                Some(t) => {
                    out.checksums.entry(algo).or_insert(None);
                    out.trailer = Some((algo, t));
                }
                None => {
                    return Err(s3_error!(
                        InvalidRequest,
                        "x-amz-trailer needs an aws-chunked body with trailers"
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Takes the expected `Content-MD5` out, for a caller that computes the body's MD5 anyway
    /// (the store, the part spool) and checks it there: the body is then hashed once.
    pub(crate) fn take_md5(&mut self) -> Option<[u8; 16]> {
        self.md5.take()
    }

    /// Wraps a body: hashes it as it streams and, at its end, compares every expected value.
    /// A mismatch ends the stream with `BadDigest` instead of a clean end.
    pub(crate) fn wrap(self, body: BodyStream) -> (BodyStream, Computed) {
        let computed = Computed::default();
        let slot = computed.clone();
        let mut hasher = ChecksumHasher::default();
        for algo in self.checksums.keys() {
            match *algo {
                "crc32" => hasher.crc32 = Some(s3s::crypto::Crc32::new()),
                "crc32c" => hasher.crc32c = Some(s3s::crypto::Crc32c::new()),
                "crc64nvme" => hasher.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
                "sha1" => hasher.sha1 = Some(s3s::crypto::Sha1::new()),
                _ => hasher.sha256 = Some(s3s::crypto::Sha256::new()),
            }
        }
        // MD5 only when there is a Content-MD5 left to check.
        let md5 = self.md5.map(|_| md5::Md5::new());
        let state = Some((body, self, hasher, md5));
        let stream = futures::stream::unfold(state, move |state| {
            let slot = slot.clone();
            async move {
                let (mut body, this, mut hasher, mut md5) = state?;
                match body.next().await {
                    Some(Ok(b)) => {
                        hasher.update(&b);
                        if let Some(md5) = md5.as_mut() {
                            md5.update(&b);
                        }
                        Some((Ok(b), Some((body, this, hasher, md5))))
                    }
                    Some(Err(e)) => Some((Err(e), None)),
                    None => match this.verify(hasher, md5) {
                        Ok(values) => {
                            if let Ok(mut g) = slot.0.lock() {
                                *g = Some(values);
                            }
                            None
                        }
                        Err(()) => Some((Err(BodyAbort::BadDigest.into_io()), None)),
                    },
                }
            }
        })
        .boxed();
        (stream, computed)
    }

    fn verify(
        &self,
        hasher: ChecksumHasher,
        md5: Option<md5::Md5>,
    ) -> Result<BTreeMap<String, String>, ()> {
        if let (Some(expected), Some(md5)) = (self.md5, md5)
            && <[u8; 16]>::from(md5.finalize()) != expected
        {
            tracing::info!("Content-MD5 mismatch");
            return Err(());
        }
        let sums = hasher.finalize();
        let mut out = BTreeMap::new();
        for (algo, expected) in &self.checksums {
            let got = match *algo {
                "crc32" => sums.checksum_crc32.clone(),
                "crc32c" => sums.checksum_crc32c.clone(),
                "crc64nvme" => sums.checksum_crc64nvme.clone(),
                "sha1" => sums.checksum_sha1.clone(),
                _ => sums.checksum_sha256.clone(),
            }
            .unwrap_or_default();
            let expected = match (&self.trailer, expected) {
                (_, Some(v)) => Some(v.clone()),
                (Some((t, trailers)), None) if t == algo => trailers
                    .read(|h| {
                        h.get(format!("x-amz-checksum-{algo}").as_str())
                            .and_then(|v| v.to_str().ok())
                            .map(|s| s.trim().to_owned())
                    })
                    .flatten(),
                _ => None,
            };
            if let Some(expected) = expected
                && expected != got
            {
                tracing::info!(algorithm = algo, "checksum mismatch");
                return Err(());
            }
            out.insert((*algo).to_owned(), got);
        }
        Ok(out)
    }
}

/// Checksums of a completed multipart upload, S3's `COMPOSITE` type: for every algorithm each
/// part has a checksum of, the checksum of the parts' decoded checksums in part order, then
/// `-N`. CRC64NVME is a full-object type in S3 and is not composed.
pub(crate) fn composite(parts: &[BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if parts.is_empty() {
        return out;
    }
    for algo in ["crc32", "crc32c", "sha1", "sha256"] {
        let mut hasher = ChecksumHasher::default();
        match algo {
            "crc32" => hasher.crc32 = Some(s3s::crypto::Crc32::new()),
            "crc32c" => hasher.crc32c = Some(s3s::crypto::Crc32c::new()),
            "sha1" => hasher.sha1 = Some(s3s::crypto::Sha1::new()),
            _ => hasher.sha256 = Some(s3s::crypto::Sha256::new()),
        }
        let all = parts
            .iter()
            .all(|p| match p.get(algo).and_then(|v| B64.decode(v).ok()) {
                Some(raw) if raw.len() == digest_len(algo) => {
                    hasher.update(&raw);
                    true
                }
                _ => false,
            });
        if !all {
            continue;
        }
        let sum = hasher.finalize();
        let value = match algo {
            "crc32" => sum.checksum_crc32,
            "crc32c" => sum.checksum_crc32c,
            "sha1" => sum.checksum_sha1,
            _ => sum.checksum_sha256,
        };
        if let Some(v) = value {
            out.insert(algo.to_owned(), format!("{v}-{}", parts.len()));
        }
    }
    out
}

/// The CRCs S3 can give a multipart object as a `FULL_OBJECT` checksum: the whole object's
/// CRC, combined from the parts' CRCs and sizes without reading the object again.
pub(crate) const FULL_OBJECT_ALGORITHMS: [&str; 3] = ["crc32", "crc32c", "crc64nvme"];

fn crc_algorithm(algo: &str) -> Option<crc_fast::CrcAlgorithm> {
    match algo {
        "crc32" => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        "crc32c" => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        "crc64nvme" => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        _ => None,
    }
}

/// Checksums of a completed multipart upload, S3's `FULL_OBJECT` type: for every CRC each part
/// has, the CRC of the whole object, combined from the parts' CRCs and sizes (in part order).
pub(crate) fn full_object(parts: &[(BTreeMap<String, String>, u64)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if parts.is_empty() {
        return out;
    }
    for algo in FULL_OBJECT_ALGORITHMS {
        let Some(alg) = crc_algorithm(algo) else {
            continue;
        };
        let width = digest_len(algo);
        let mut whole: Option<u64> = None;
        let mut complete = true;
        for (sums, size) in parts {
            let Some(raw) = sums
                .get(algo)
                .and_then(|v| B64.decode(v).ok())
                .filter(|r| r.len() == width)
            else {
                complete = false;
                break;
            };
            let crc = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            whole = Some(match whole {
                None => crc,
                Some(before) => crc_fast::checksum_combine(alg, before, crc, *size),
            });
        }
        if let (true, Some(crc)) = (complete, whole) {
            let bytes = crc.to_be_bytes();
            out.insert(algo.to_owned(), B64.encode(&bytes[8 - width..]));
        }
    }
    out
}

fn invalid_checksum(algo: &str) -> S3Error {
    s3_error!(
        InvalidRequest,
        "Value for x-amz-checksum-{algo} header is invalid."
    )
}

fn check_shape(algo: &str, value: &str) -> S3Result<()> {
    match B64.decode(value) {
        Ok(d) if d.len() == digest_len(algo) => Ok(()),
        _ => Err(invalid_checksum(algo)),
    }
}

/// Converts an s3s body into the store's body stream.
pub(crate) fn body_stream(blob: s3s::dto::StreamingBlob) -> BodyStream {
    blob.map(|r| r.map_err(body_error)).boxed()
}

/// The error a body stream from s3s ends with. s3s checks a body against the SHA-256 in
/// `x-amz-content-sha256` as it streams and ends it with its (private) `UploadStreamError`,
/// whose only public face is its text: that mismatch becomes the store's own kind, answered
/// `XAmzContentSHA256Mismatch` as S3 does.
fn body_error(e: s3s::StdError) -> std::io::Error {
    if e.to_string().contains("Sha256Mismatch") {
        crate::store::BodyAbort::ContentSha256Mismatch.into_io()
    } else {
        std::io::Error::other(e)
    }
}

/// A body that is exactly these bytes (empty directory markers, tests).
#[allow(dead_code)]
pub(crate) fn bytes_body(b: Bytes) -> BodyStream {
    futures::stream::once(async move { Ok(b) }).boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    async fn run(h: HeaderMap, body: &'static [u8]) -> Result<BTreeMap<String, String>, String> {
        let integrity =
            Integrity::from_headers(&h, None).map_err(|e| e.code().as_str().to_owned())?;
        let (stream, computed) = integrity.wrap(bytes_body(Bytes::from_static(body)));
        let items: Vec<_> = stream.collect().await;
        match items.last() {
            Some(Err(e)) => Err(e.to_string()),
            _ => Ok(computed.get()),
        }
    }

    #[test]
    fn full_object_crcs_combine_the_parts_into_the_whole_objects() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let cuts = [0usize, 4096, 4097, 9000, 10_000];
        let b64 = |alg, width: usize, buf: &[u8]| {
            let c = crc_fast::checksum(alg, buf).to_be_bytes();
            B64.encode(&c[8 - width..])
        };
        let parts: Vec<(BTreeMap<String, String>, u64)> = cuts
            .windows(2)
            .map(|w| {
                let part = &data[w[0]..w[1]];
                let mut sums = BTreeMap::new();
                for algo in FULL_OBJECT_ALGORITHMS {
                    let alg = crc_algorithm(algo).unwrap();
                    sums.insert(algo.to_owned(), b64(alg, digest_len(algo), part));
                }
                sums.insert("sha256".to_owned(), "ignored".to_owned());
                (sums, part.len() as u64)
            })
            .collect();
        let whole = full_object(&parts);
        assert_eq!(whole.len(), 3, "{whole:?}");
        for algo in FULL_OBJECT_ALGORITHMS {
            let alg = crc_algorithm(algo).unwrap();
            assert_eq!(whole[algo], b64(alg, digest_len(algo), &data), "{algo}");
        }
        // The standard check value of CRC-32 ("123456789" → 0xCBF43926), split in two.
        let one = |s: &[u8]| {
            let mut m = BTreeMap::new();
            m.insert(
                "crc32".to_owned(),
                b64(crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4, s),
            );
            (m, s.len() as u64)
        };
        let split = full_object(&[one(b"1234"), one(b"56789")]);
        assert_eq!(split["crc32"], B64.encode(0xCBF4_3926u32.to_be_bytes()));
        // A part without the CRC: no full-object value for it.
        let mut missing = parts.clone();
        missing[1].0.remove("crc32c");
        assert!(!full_object(&missing).contains_key("crc32c"));
    }

    #[test]
    fn composite_checksums_hash_the_part_checksums() {
        // CRC32 of "a" is e8b7be43, of "b" 71beeff9; the composite is the CRC32 of those bytes.
        let part = |v: &str| BTreeMap::from([("crc32".to_owned(), v.to_owned())]);
        let a = B64.encode([0xe8, 0xb7, 0xbe, 0x43]);
        let b = B64.encode([0x71, 0xbe, 0xef, 0xf9]);
        let mut hasher = s3s::crypto::Crc32::new();
        s3s::crypto::Checksum::update(
            &mut hasher,
            &[0xe8, 0xb7, 0xbe, 0x43, 0x71, 0xbe, 0xef, 0xf9],
        );
        let want = format!("{}-2", B64.encode(s3s::crypto::Checksum::finalize(hasher)));
        let got = composite(&[part(&a), part(&b)]);
        assert_eq!(got.get("crc32"), Some(&want));
        assert_eq!(got.len(), 1);
        // A part without the algorithm: no composite value for it.
        assert!(composite(&[part(&a), BTreeMap::new()]).is_empty());
    }

    #[tokio::test]
    async fn matching_md5_and_crc32_pass_and_are_kept() {
        let md5 = B64.encode(md5::Md5::digest(b"hello"));
        let crc = B64.encode(s3s::crypto::Crc32::checksum(b"hello"));
        let got = run(
            headers(&[("content-md5", &md5), ("x-amz-checksum-crc32", &crc)]),
            b"hello",
        )
        .await
        .unwrap();
        assert_eq!(got.get("crc32"), Some(&crc));
    }

    #[tokio::test]
    async fn a_wrong_digest_ends_the_body_with_bad_digest() {
        let md5 = B64.encode(md5::Md5::digest(b"other"));
        assert!(
            run(headers(&[("content-md5", &md5)]), b"hello")
                .await
                .is_err()
        );
        let sha = B64.encode(s3s::crypto::Sha256::checksum(b"other"));
        assert!(
            run(headers(&[("x-amz-checksum-sha256", &sha)]), b"hello")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn malformed_digests_are_refused_before_the_body() {
        assert_eq!(
            run(headers(&[("content-md5", "nope")]), b"x")
                .await
                .unwrap_err(),
            "InvalidDigest"
        );
        assert_eq!(
            run(headers(&[("x-amz-checksum-crc32", "AAAAAAAA")]), b"x")
                .await
                .unwrap_err(),
            "InvalidRequest"
        );
    }

    #[tokio::test]
    async fn an_algorithm_without_value_is_computed() {
        let got = run(
            headers(&[("x-amz-sdk-checksum-algorithm", "CRC32C")]),
            b"abc",
        )
        .await
        .unwrap();
        assert_eq!(
            got.get("crc32c"),
            Some(&B64.encode(s3s::crypto::Crc32c::checksum(b"abc")))
        );
    }
}
