//! GetObject and HeadObject: lookups through cached folder listings, conditional requests
//! (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since → 412 / 304), ranges
//! (including suffix ranges) passed through to ScaiDrive, `?versionId=` from ScaiDrive
//! versions, and the stored headers, metadata and checksums.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt as _};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::attrs::to_headers;
use super::error::store_error;
use super::list::marker_probe;
use super::{BucketRef, Gateway, etag, timestamp, to_chrono};
use crate::auth::Session;
use crate::scaidrive::{ByteRange, Timestamp as UpTime};
use crate::state::ObjectAttrs;
use crate::store::{Entry, FileInfo, Need, Store, opaque_etag, reported_time};

/// An object as found: a file (current or older version) or a directory marker.
pub(crate) struct Found {
    pub file: Option<FileInfo>,
    pub attrs: Option<ObjectAttrs>,
    pub etag: String,
    pub size: u64,
    pub modified: Option<UpTime>,
    /// Set when a version was asked for: (version number, `ver_…` id).
    pub version: Option<(u64, String)>,
    /// The version id to answer in `x-amz-version-id`: the one asked for, else the current
    /// one when the state DB knows it (files written through the gateway).
    pub version_id: Option<String>,
}

impl Found {
    pub(crate) fn content_type(&self) -> Option<String> {
        self.attrs
            .as_ref()
            .and_then(|a| a.content_type.clone())
            .or_else(|| self.file.as_ref().and_then(|f| f.mime_type.clone()))
    }
}

fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// Finds an object by key (and version).
pub(crate) async fn find(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Found> {
    let store = gw.store();
    let path = bucket.path(key)?;
    let resolved = store
        .resolve(s, &bucket.share_id, &path, false)
        .await
        .map_err(store_error)?
        .ok_or_else(no_such_key)?;
    let version_id = version_id.filter(|v| *v != "null");
    match &resolved.entry {
        Entry::Folder(f) => {
            if version_id.is_some() {
                return Err(s3_error!(NoSuchVersion));
            }
            let attrs = store
                .attrs_of(&marker_probe(&f.id))
                .await
                .map_err(store_error)?
                .ok_or_else(no_such_key)?;
            // A marker's attributes need READ on its folder, as a file's on the file.
            store
                .check_read(s, &resolved.parent, &resolved.entry, Need::Attributes)
                .await
                .map_err(store_error)?;
            let modified = attrs
                .client_mtime
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
            Ok(Found {
                file: None,
                etag: attrs.etag.clone(),
                attrs: Some(attrs),
                size: 0,
                modified,
                version: None,
                version_id: None,
            })
        }
        Entry::File(file) => {
            // READ on the folder lists the name; anything more needs READ on the file.
            store
                .check_read(s, &resolved.parent, &resolved.entry, Need::Attributes)
                .await
                .map_err(store_error)?;
            let file = file.clone();
            let (attrs, current) = store
                .attrs_and_version_of(&file)
                .await
                .map_err(store_error)?;
            let mut found = Found {
                etag: Store::etag(&file, attrs.as_ref()),
                size: file.size,
                modified: file.modified_at.as_ref().map(reported_time),
                attrs,
                version: None,
                version_id: current,
                file: Some(file.clone()),
            };
            if let Some(v) = version_id {
                let versions = store.versions(s, &file.id).await.map_err(store_error)?;
                let (i, ver) = versions
                    .iter()
                    .enumerate()
                    .find(|(_, x)| x.id == v)
                    .ok_or_else(|| {
                        s3_error!(NoSuchVersion, "The specified version does not exist.")
                    })?;
                found.version = Some((ver.version_number, ver.id.clone()));
                found.version_id = Some(ver.id.clone());
                if i > 0 {
                    // An older version: its own size and time, an opaque ETag, no attributes.
                    let probe = FileInfo {
                        id: ver.id.clone(),
                        name: file.name.clone(),
                        size: ver.size,
                        mime_type: file.mime_type.clone(),
                        modified_at: ver.created_at,
                    };
                    found.etag = opaque_etag(&probe);
                    found.size = ver.size;
                    found.modified = ver.created_at.as_ref().map(reported_time);
                    found.attrs = None;
                }
            }
            Ok(found)
        }
    }
}

/// Conditional request headers.
#[derive(Default)]
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// What a failed condition answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

fn etag_matches(cond: &ETagCondition, current: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == current,
    }
}

/// RFC 9110 §13.2.2 evaluation order, on second-precision times.
pub(crate) fn evaluate(c: &Conditions<'_>, etag: &str, modified: Option<&UpTime>) -> Outcome {
    let modified = modified.map(|m| m.timestamp());
    let since = |t: &Timestamp| to_chrono(t).map(|t| t.timestamp());
    if let Some(m) = c.if_match {
        if !etag_matches(m, etag) {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(t), Some(m)) = (c.if_unmodified_since.and_then(since), modified)
        && m > t
    {
        return Outcome::PreconditionFailed;
    }
    if let Some(m) = c.if_none_match {
        if etag_matches(m, etag) {
            return Outcome::NotModified;
        }
    } else if let (Some(t), Some(m)) = (c.if_modified_since.and_then(since), modified)
        && m <= t
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

fn check_conditions(c: &Conditions<'_>, found: &Found) -> S3Result<()> {
    match evaluate(c, &found.etag, found.modified.as_ref()) {
        Outcome::Proceed => Ok(()),
        Outcome::PreconditionFailed => Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        )),
        Outcome::NotModified => {
            let mut e = s3_error!(NotModified);
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", found.etag)) {
                headers.insert(http::header::ETAG, v);
            }
            e.set_headers(headers);
            Err(e)
        }
    }
}

fn checksums_into(a: Option<&ObjectAttrs>, enabled: bool) -> [Option<String>; 5] {
    let get = |k: &str| {
        if enabled {
            a.and_then(|a| a.checksums.get(k).cloned())
        } else {
            None
        }
    };
    [
        get("crc32"),
        get("crc32c"),
        get("crc64nvme"),
        get("sha1"),
        get("sha256"),
    ]
}

fn checksum_enabled(m: Option<&ChecksumMode>) -> bool {
    m.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

/// An upstream body as an s3s body. s3s wants a `Sync` stream; the mutex only provides that
/// bound (the stream is polled by one task).
struct SyncBody(Mutex<BoxStream<'static, Result<Bytes, std::io::Error>>>);

impl Stream for SyncBody {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.get_mut() {
            Ok(s) => s.poll_next_unpin(cx),
            Err(_) => Poll::Ready(Some(Err(std::io::Error::other("body stream poisoned")))),
        }
    }
}

pub(crate) fn blob(stream: BoxStream<'static, Result<Bytes, std::io::Error>>) -> StreamingBlob {
    StreamingBlob::wrap(SyncBody(Mutex::new(stream)))
}

pub(crate) async fn get_object(
    gw: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let s = gw.session(&req).await?;
    let input = &req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    check_conditions(
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        &found,
    )?;
    let range = match &input.range {
        Some(r) => Some(
            r.check(found.size)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?,
        ),
        None => None,
    };
    let (body, content_length) = match &found.file {
        None => (blob(futures::stream::empty().boxed()), 0u64),
        Some(file) => {
            let upstream_range = range
                .as_ref()
                .map(|r| ByteRange::FromTo(r.start, r.end.saturating_sub(1)));
            let dl = gw
                .store()
                .read(
                    &s,
                    &file.id,
                    found.version.as_ref().map(|v| v.0),
                    upstream_range,
                )
                .await
                .map_err(store_error)?;
            let len = range.as_ref().map_or(found.size, |r| r.end - r.start);
            let stream = dl
                .body
                .map(|r| {
                    r.map_err(|e| {
                        tracing::warn!(error = %e, "download from ScaiDrive failed mid-stream");
                        std::io::Error::other("download interrupted")
                    })
                })
                .boxed();
            (blob(stream), len)
        }
    };
    let h = found.attrs.as_ref().map(to_headers).unwrap_or_default();
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksums_into(
        found.attrs.as_ref(),
        range.is_none() && checksum_enabled(input.checksum_mode.as_ref()),
    );
    let content_type = found.content_type();
    Ok(S3Response::new(GetObjectOutput {
        body: Some(body),
        accept_ranges: Some("bytes".to_owned()),
        content_length: i64::try_from(content_length).ok(),
        content_range: range.as_ref().map(|r| {
            format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                found.size
            )
        }),
        e_tag: Some(etag(&found.etag)),
        last_modified: found.modified.as_ref().map(timestamp),
        content_type,
        cache_control: h.cache_control,
        content_disposition: h.content_disposition,
        content_encoding: h.content_encoding,
        content_language: h.content_language,
        expires: h.expires,
        metadata: h.metadata,
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        tag_count: i32::try_from(super::tagging::get(found.attrs.as_ref()).len())
            .ok()
            .filter(|n| *n > 0),
        version_id: found.version_id,
        ..Default::default()
    }))
}

pub(crate) async fn head_object(
    gw: &Gateway,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let s = gw.session(&req).await?;
    let input = &req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    check_conditions(
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        &found,
    )?;
    let h = found.attrs.as_ref().map(to_headers).unwrap_or_default();
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksums_into(
        found.attrs.as_ref(),
        input.range.is_none() && checksum_enabled(input.checksum_mode.as_ref()),
    );
    let content_type = found.content_type();
    let tag_count = super::tagging::count_header(found.attrs.as_ref());
    let mut resp = S3Response::new(HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: i64::try_from(found.size).ok(),
        e_tag: Some(etag(&found.etag)),
        last_modified: found.modified.as_ref().map(timestamp),
        content_type,
        cache_control: h.cache_control,
        content_disposition: h.content_disposition,
        content_encoding: h.content_encoding,
        content_language: h.content_language,
        expires: h.expires,
        metadata: h.metadata,
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        version_id: found.version_id,
        ..Default::default()
    });
    // HeadObjectOutput has no field for it; S3 sends it on HEAD as on GET.
    if let Some(n) = tag_count {
        resp.headers.insert("x-amz-tagging-count", n);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(TimestampFormat::HttpDate, s).unwrap()
    }

    #[test]
    fn conditions_follow_rfc_order() {
        let m: UpTime = "2024-01-02T00:00:00Z".parse().unwrap();
        let before = ts("Mon, 01 Jan 2024 00:00:00 GMT");
        let after = ts("Wed, 03 Jan 2024 00:00:00 GMT");
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("xyz".into()));
        let run = |c: Conditions<'_>| evaluate(&c, "abc", Some(&m));
        assert_eq!(run(Conditions::default()), Outcome::Proceed);
        assert_eq!(
            run(Conditions {
                if_match: Some(&same),
                ..Default::default()
            }),
            Outcome::Proceed
        );
        assert_eq!(
            run(Conditions {
                if_match: Some(&other),
                ..Default::default()
            }),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            run(Conditions {
                if_match: Some(&ETagCondition::Any),
                ..Default::default()
            }),
            Outcome::Proceed
        );
        assert_eq!(
            run(Conditions {
                if_none_match: Some(&same),
                ..Default::default()
            }),
            Outcome::NotModified
        );
        assert_eq!(
            run(Conditions {
                if_none_match: Some(&other),
                ..Default::default()
            }),
            Outcome::Proceed
        );
        assert_eq!(
            run(Conditions {
                if_modified_since: Some(&after),
                ..Default::default()
            }),
            Outcome::NotModified
        );
        assert_eq!(
            run(Conditions {
                if_modified_since: Some(&before),
                ..Default::default()
            }),
            Outcome::Proceed
        );
        assert_eq!(
            run(Conditions {
                if_unmodified_since: Some(&before),
                ..Default::default()
            }),
            Outcome::PreconditionFailed
        );
        // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
        assert_eq!(
            run(Conditions {
                if_match: Some(&same),
                if_unmodified_since: Some(&before),
                ..Default::default()
            }),
            Outcome::Proceed
        );
        assert_eq!(
            run(Conditions {
                if_none_match: Some(&other),
                if_modified_since: Some(&after),
                ..Default::default()
            }),
            Outcome::Proceed
        );
    }
}
