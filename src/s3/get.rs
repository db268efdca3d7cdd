//! GetObject and HeadObject: lookups through cached folder listings, conditional requests
//! (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since → 412 / 304), ranges
//! (including suffix ranges) passed through to ScaiDrive, `?versionId=` from ScaiDrive
//! versions, `?partNumber=` (a part of a multipart-written object, from the part sizes kept at
//! Complete), and the stored headers, metadata and checksums.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt as _};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::attrs::to_headers;
use super::error::store_error;
use super::found::{Found, find};
use super::markers;
use super::{Gateway, etag, timestamp, to_chrono};
use crate::auth::Session;
use crate::scaidrive::{ByteRange, Timestamp as UpTime};
use crate::state::ObjectAttrs;

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

/// What `x-amz-checksum-type` answers for the checksums sent: `COMPOSITE` for a multipart
/// object's (their values end in `-N`), else `FULL_OBJECT`.
fn checksum_type(sums: &[Option<String>; 5]) -> Option<ChecksumType> {
    let first = sums.iter().flatten().next()?;
    Some(ChecksumType::from_static(if first.contains('-') {
        ChecksumType::COMPOSITE
    } else {
        ChecksumType::FULL_OBJECT
    }))
}

/// The part `?partNumber=n` selects: its byte range and the object's part count for an object
/// written by a multipart upload; the whole object (no range, no count) for part 1 of one
/// written whole, as S3 answers. A part the object does not have is `InvalidPart`.
fn part_of(found: &Found, n: i32) -> S3Result<(Option<std::ops::Range<u64>>, Option<i32>)> {
    if !(1..=10_000).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    let missing = || {
        s3_error!(
            InvalidPart,
            "The object has no part {n}: one or more of the specified parts could not be found."
        )
    };
    let index = usize::try_from(n - 1).map_err(|_| missing())?;
    match found.attrs.as_ref().and_then(|a| a.part_sizes.as_ref()) {
        Some(sizes) => {
            let size = *sizes.get(index).ok_or_else(missing)?;
            let start: u64 = sizes[..index].iter().sum();
            Ok((Some(start..start + size), i32::try_from(sizes.len()).ok()))
        }
        None if n == 1 => Ok((None, None)),
        None => Err(missing()),
    }
}

/// The byte range a GET or HEAD serves: from `Range` or from `?partNumber=` (not both), with
/// the part count to announce.
fn selected_range(
    found: &Found,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<(Option<std::ops::Range<u64>>, Option<i32>)> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        )),
        (Some(r), None) => {
            Ok((
                Some(r.check(found.size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?),
                None,
            ))
        }
        (None, Some(n)) => part_of(found, n),
        (None, None) => Ok((None, None)),
    }
}

fn content_range(range: Option<&std::ops::Range<u64>>, size: u64) -> Option<String> {
    range
        .filter(|r| !r.is_empty())
        .map(|r| format!("bytes {}-{}/{}", r.start, r.end - 1, size))
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

/// Bodies up to this size are read whole from ScaiDrive before the answer starts: the answer
/// then leaves in one write (head and body together) and its task is not woken once more per
/// body chunk, which is most of a small GET's cost beside the upstream call itself.
const WHOLE_BODY: u64 = 64 * 1024;

/// Reads a download of `len` bytes (its `Content-Length`, at most [`WHOLE_BODY`]) whole; the
/// download ends with an error rather than short.
async fn whole(
    mut body: BoxStream<'static, Result<Bytes, crate::scaidrive::Error>>,
    len: u64,
) -> Result<Bytes, crate::scaidrive::Error> {
    let mut chunks: Vec<Bytes> = Vec::with_capacity(1);
    while let Some(chunk) = body.next().await {
        chunks.push(chunk?);
    }
    if chunks.len() <= 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let mut all = bytes::BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
    for c in chunks {
        all.extend_from_slice(&c);
    }
    Ok(all.freeze())
}

pub(crate) fn blob(stream: BoxStream<'static, Result<Bytes, std::io::Error>>) -> StreamingBlob {
    StreamingBlob::wrap(SyncBody(Mutex::new(stream)))
}

pub(crate) async fn get_object(
    gw: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = &req.input;
    super::public::serve_read(
        gw,
        &req,
        &input.bucket,
        super::public::Want::Object(&input.key),
        input.version_id.as_deref(),
        |s| Box::pin(async move { get_object_as(gw, &s, input).await }),
    )
    .await
}

async fn get_object_as(
    gw: &Gateway,
    s: &Session,
    input: &GetObjectInput,
) -> S3Result<S3Response<GetObjectOutput>> {
    let bucket = gw.bucket(s, &input.bucket).await?;
    let found = match find(gw, s, &bucket, &input.key, input.version_id.as_deref()).await {
        Ok(found) => found,
        // A key whose latest version is a delete marker: S3 says so on the 404. Only a GET
        // looks into the trash (one more upstream listing); a HEAD, the probe clients send
        // before every upload, does not.
        Err(e) if input.version_id.is_none() && *e.code() == S3ErrorCode::NoSuchKey => {
            // The trash cannot be read (no READ on a folder of it, ScaiDrive unreachable):
            // the 404 as it is.
            let trashed = match markers::trashed_for_key(gw, s, &bucket, &input.key).await {
                Ok(t) => t,
                Err(why) => {
                    tracing::debug!(code = ?why.code(), "no trash lookup for a missing key");
                    Vec::new()
                }
            };
            return Err(match trashed.last() {
                Some(t) => markers::with_marker_headers(e, &markers::marker_id(&t.at)),
                None => e,
            });
        }
        Err(e) => return Err(e),
    };
    check_conditions(
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        &found,
    )?;
    let (range, parts_count) = selected_range(&found, input.range.as_ref(), input.part_number)?;
    let (body, content_length) = match &found.file {
        None => (blob(futures::stream::empty().boxed()), 0u64),
        // An empty part: nothing to read.
        Some(_) if range.as_ref().is_some_and(|r| r.is_empty()) => {
            (blob(futures::stream::empty().boxed()), 0u64)
        }
        Some(file) => {
            let upstream_range = range
                .as_ref()
                .map(|r| ByteRange::FromTo(r.start, r.end.saturating_sub(1)));
            let dl = gw
                .store()
                .read(
                    s,
                    &file.id,
                    found.version.as_ref().map(|v| v.0),
                    upstream_range,
                )
                .await
                .map_err(store_error)?;
            let len = range.as_ref().map_or(found.size, |r| r.end - r.start);
            if len <= WHOLE_BODY && dl.content_length == Some(len) {
                let bytes = whole(dl.body, len).await.map_err(|e| {
                    tracing::warn!(error = %e, "download from ScaiDrive failed mid-stream");
                    store_error(e.into())
                })?;
                (StreamingBlob::from(s3s::Body::from(bytes)), len)
            } else {
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
        }
    };
    let h = found.attrs.as_ref().map(to_headers).unwrap_or_default();
    let sums = checksums_into(
        found.attrs.as_ref(),
        range.is_none() && checksum_enabled(input.checksum_mode.as_ref()),
    );
    let checksum_type = checksum_type(&sums);
    let [crc32, crc32c, crc64nvme, sha1, sha256] = sums;
    let content_type = found.content_type();
    Ok(S3Response::new(GetObjectOutput {
        body: Some(body),
        accept_ranges: Some("bytes".to_owned()),
        content_length: i64::try_from(content_length).ok(),
        content_range: content_range(range.as_ref(), found.size),
        parts_count,
        checksum_type,
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
    let input = &req.input;
    super::public::serve_read(
        gw,
        &req,
        &input.bucket,
        super::public::Want::Object(&input.key),
        input.version_id.as_deref(),
        |s| Box::pin(async move { head_object_as(gw, &s, input).await }),
    )
    .await
}

async fn head_object_as(
    gw: &Gateway,
    s: &Session,
    input: &HeadObjectInput,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let bucket = gw.bucket(s, &input.bucket).await?;
    // A trashed file's content: HEAD answers what the trash listing tells (S3 answers HEAD of
    // an archived object; its GET is refused).
    if let Some(v) = input.version_id.as_deref()
        && let markers::VersionRef::Trashed(id) = markers::parse(v)
    {
        let t = markers::find_trashed(gw, s, &bucket, &input.key, id)
            .await?
            .ok_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))?;
        let listed = markers::trashed_version(&t, input.key.clone(), &Owner::default());
        return Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: listed.size,
            e_tag: listed.e_tag,
            last_modified: listed.last_modified,
            content_type: t.file.mime_type.clone(),
            version_id: Some(v.to_owned()),
            ..Default::default()
        }));
    }
    let found = find(gw, s, &bucket, &input.key, input.version_id.as_deref()).await?;
    check_conditions(
        &Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        },
        &found,
    )?;
    // HEAD answers the whole object's length for a `Range` (as before); a part is its own.
    let (range, parts_count) = selected_range(&found, None, input.part_number)?;
    let h = found.attrs.as_ref().map(to_headers).unwrap_or_default();
    let sums = checksums_into(
        found.attrs.as_ref(),
        input.range.is_none() && range.is_none() && checksum_enabled(input.checksum_mode.as_ref()),
    );
    let checksum_type = checksum_type(&sums);
    let [crc32, crc32c, crc64nvme, sha1, sha256] = sums;
    let content_type = found.content_type();
    let tag_count = super::tagging::count_header(found.attrs.as_ref());
    let content_length = range.as_ref().map_or(found.size, |r| r.end - r.start);
    let mut resp = S3Response::new(HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: i64::try_from(content_length).ok(),
        // With a Content-Range the edge layer answers 206 (s3s keeps no status of ours).
        content_range: content_range(range.as_ref(), found.size),
        parts_count,
        checksum_type,
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
