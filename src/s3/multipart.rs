//! Multipart uploads. Parts are spooled to `<data_dir>/staging/<upload_id>/` (streamed, MD5
//! computed on the way) and indexed in the state DB, so uploads survive a restart; retried and
//! out-of-order parts simply replace or fill their slot. Complete checks the part list
//! (InvalidPart, InvalidPartOrder, EntityTooSmall), then streams the concatenation into the
//! store while s3s keeps the client connection alive. Uploads older than
//! [`S3Options::multipart_max_age`](super::S3Options) are removed by a background task.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use md5::Digest as _;
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::attrs::{StdHeaders, from_headers};
use super::checksum::{Integrity, body_stream};
use super::copy::source;
use super::error::{internal, store_error};
use super::get::Conditions;
use super::put::check_write_conditions;
use super::{Gateway, etag, timestamp};
use crate::auth::Session;
use crate::state::{MultipartPart, MultipartUpload as Upload, ObjectAttrs};
use crate::store::{BodyStream, WriteRequest};

/// Smallest part size, except for the last part.
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
/// Highest part number.
const MAX_PART_NUMBER: i32 = 10_000;
/// How long CompleteMultipartUpload waits for the upload to ScaiDrive before it answers with
/// s3s's keep-alive body (whitespace until the result); well below SDK read timeouts (60 s).
const COMPLETE_INLINE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What an upload keeps until Complete.
#[derive(Debug, Default, Serialize, Deserialize)]
struct UploadMeta {
    attrs: ObjectAttrs,
}

fn db_err(e: crate::state::StateError) -> S3Error {
    internal("multipart state failed", e)
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Gateway {
    fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.staging.join(upload_id)
    }

    /// The upload, if it exists, belongs to this user and names this bucket and key.
    async fn upload(&self, s: &Session, id: &str, bucket: &str, key: &str) -> S3Result<Upload> {
        // Upload ids are ULIDs; anything else cannot name a staging directory.
        if ulid::Ulid::from_string(id).is_err() {
            return Err(no_such_upload());
        }
        let up = self
            .store()
            .db()
            .get_upload(id)
            .await
            .map_err(db_err)?
            .ok_or_else(no_such_upload)?;
        if up.principal != s.principal() || up.bucket != bucket || up.key != key {
            return Err(no_such_upload());
        }
        Ok(up)
    }
}

pub(crate) async fn create_multipart_upload(
    gw: &Gateway,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let s = gw.session(&req).await?;
    let access_key = Gateway::access_key(&req);
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let path = bucket.path(&input.key)?;
    if path.is_dir() {
        return Err(s3_error!(
            InvalidArgument,
            "a key ending in '/' is a folder here"
        ));
    }
    gw.require_write(&s, &bucket).await?;
    let checksum_type = composite_type(
        input.checksum_algorithm.as_ref(),
        input.checksum_type.as_ref(),
    );
    let checksum_algorithm = input.checksum_algorithm.clone();
    let attrs = from_headers(StdHeaders {
        content_type: input.content_type,
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: input.content_encoding,
        content_language: input.content_language,
        expires: input.expires,
        metadata: input.metadata,
    });
    let upload_id = ulid::Ulid::new().to_string();
    tokio::fs::create_dir_all(gw.upload_dir(&upload_id))
        .await
        .map_err(|e| internal("creating the staging directory", e))?;
    let meta = serde_json::to_string(&UploadMeta { attrs })
        .map_err(|e| internal("encoding upload state", e))?;
    gw.store()
        .db()
        .create_upload(Upload {
            upload_id: upload_id.clone(),
            access_key_id: access_key,
            principal: s.principal().to_owned(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            created_at: now(),
            attrs: meta,
        })
        .await
        .map_err(db_err)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        checksum_algorithm,
        checksum_type,
        ..Default::default()
    }))
}

/// The checksum type a CreateMultipartUpload answers for the algorithm it asks for: the
/// object's checksum is the `COMPOSITE` of its parts' checksums (see `checksum::composite`),
/// which S3 defines for CRC32, CRC32C, SHA-1 and SHA-256. Another type or algorithm
/// (`FULL_OBJECT`, CRC64NVME) is accepted as before, with no type announced: every part is
/// still verified, and Complete answers no checksum it cannot give.
fn composite_type(
    algorithm: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> Option<ChecksumType> {
    let composable = algorithm.is_some_and(|a| {
        ["CRC32", "CRC32C", "SHA1", "SHA256"]
            .iter()
            .any(|x| a.as_str().eq_ignore_ascii_case(x))
    });
    let asked_composite =
        kind.is_none_or(|k| k.as_str().eq_ignore_ascii_case(ChecksumType::COMPOSITE));
    (composable && asked_composite).then(|| ChecksumType::from_static(ChecksumType::COMPOSITE))
}

fn part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n.unsigned_abs())
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

/// Streams a body into a new spool file; returns (path, size, md5 hex). The file is removed
/// when the body fails or its MD5 is not `content_md5` (`BadDigest`).
async fn spool(
    dir: &Path,
    part: u32,
    mut body: BodyStream,
    content_md5: Option<[u8; 16]>,
) -> S3Result<(PathBuf, u64, String)> {
    let path = dir.join(format!("part-{part:05}-{}", ulid::Ulid::new()));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| internal("creating a part file", e))?;
    let mut md5 = md5::Md5::new();
    let mut size = 0u64;
    let result: S3Result<[u8; 16]> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| store_error(crate::store::io_error(&e)))?;
            md5.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| internal("writing a part file", e))?;
        }
        let digest: [u8; 16] = md5.finalize().into();
        if content_md5.is_some_and(|want| want != digest) {
            tracing::info!(part, "Content-MD5 mismatch");
            return Err(store_error(crate::store::StoreError::BadDigest));
        }
        file.flush()
            .await
            .map_err(|e| internal("writing a part file", e))?;
        file.sync_data()
            .await
            .map_err(|e| internal("syncing a part file", e))?;
        Ok(digest)
    }
    .await;
    match result {
        Ok(digest) => Ok((path, size, hex::encode(digest))),
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

async fn record_part(
    gw: &Gateway,
    upload_id: &str,
    part: u32,
    spooled: (PathBuf, u64, String),
    checksums: std::collections::BTreeMap<String, String>,
) -> S3Result<()> {
    let (path, size, md5) = spooled;
    let replaced = gw
        .store()
        .db()
        .put_part(
            upload_id,
            MultipartPart {
                part_number: part,
                size,
                etag: md5,
                checksums: serde_json::to_string(&checksums).unwrap_or_else(|_| "{}".into()),
                spool_path: path.to_string_lossy().into_owned(),
                created_at: now(),
            },
        )
        .await;
    match replaced {
        Ok(Some(old)) if Path::new(&old) != path => {
            let _ = tokio::fs::remove_file(old).await;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(db_err(e))
        }
    }
}

pub(crate) async fn upload_part(
    gw: &Gateway,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let s = gw.session(&req).await?;
    let mut integrity = Integrity::from_headers(&req.headers, req.trailing_headers.clone())?;
    // The spool hashes the part for its ETag anyway: it checks Content-MD5 on that one pass.
    let content_md5 = integrity.take_md5();
    let input = req.input;
    let part = part_number(input.part_number)?;
    gw.upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    let raw = match input.body {
        Some(b) => body_stream(b),
        None => futures::stream::empty().boxed(),
    };
    let (body, computed) = integrity.wrap(raw);
    let spooled = spool(&gw.upload_dir(&input.upload_id), part, body, content_md5).await?;
    if let Some(expected) = input.content_length
        && u64::try_from(expected).ok() != Some(spooled.1)
    {
        let _ = tokio::fs::remove_file(&spooled.0).await;
        return Err(s3_error!(IncompleteBody));
    }
    let md5 = spooled.2.clone();
    let checksums = computed.get();
    record_part(gw, &input.upload_id, part, spooled, checksums.clone()).await?;
    let get = |k: &str| checksums.get(k).cloned();
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(etag(&md5)),
        checksum_crc32: get("crc32"),
        checksum_crc32c: get("crc32c"),
        checksum_crc64nvme: get("crc64nvme"),
        checksum_sha1: get("sha1"),
        checksum_sha256: get("sha256"),
        ..Default::default()
    }))
}

/// Parses `bytes=first-last` of `x-amz-copy-source-range`.
fn copy_range(r: &str, size: u64) -> S3Result<(u64, u64)> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (a, b) = r
        .trim()
        .strip_prefix("bytes=")
        .and_then(|x| x.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((a, b))
}

pub(crate) async fn upload_part_copy(
    gw: &Gateway,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let part = part_number(input.part_number)?;
    gw.upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    let (_, found) = source(
        gw,
        &s,
        &input.copy_source,
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        },
    )
    .await?;
    let Some(file) = &found.file else {
        return Err(s3_error!(InvalidRequest, "the copy source is a folder"));
    };
    let range = match input.copy_source_range.as_deref() {
        Some(r) => Some(copy_range(r, found.size)?),
        None => None,
    };
    let body: BodyStream = if found.size == 0 {
        futures::stream::empty().boxed()
    } else {
        let dl = gw
            .store()
            .read(
                &s,
                &file.id,
                found.version.as_ref().map(|v| v.0),
                range.map(|(a, b)| crate::scaidrive::ByteRange::FromTo(a, b)),
            )
            .await
            .map_err(store_error)?;
        dl.body
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
            .boxed()
    };
    let spooled = spool(&gw.upload_dir(&input.upload_id), part, body, None).await?;
    let md5 = spooled.2.clone();
    record_part(gw, &input.upload_id, part, spooled, Default::default()).await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&md5)),
            last_modified: Some(timestamp(&chrono::Utc::now())),
            ..Default::default()
        }),
        copy_source_version_id: found.version.map(|v| v.1),
        ..Default::default()
    }))
}

/// Why a part list is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PartError {
    Empty,
    Order,
    Missing(i32),
    TooSmall(i32),
}

/// Checks the client's part list against the stored parts; returns the parts to concatenate.
///
/// A part number named twice in a row (a client that re-sent a part and kept both answers)
/// counts once, with the later entry's ETag: that ETag must be the stored part's (the send that
/// finished last), otherwise the part is `InvalidPart` — never another send's content.
pub(crate) fn validate_parts<'a>(
    requested: &[(i32, String)],
    stored: &'a [MultipartPart],
) -> Result<Vec<&'a MultipartPart>, PartError> {
    if requested.is_empty() {
        return Err(PartError::Empty);
    }
    let mut named: Vec<(i32, &str)> = Vec::with_capacity(requested.len());
    for (n, tag) in requested {
        match named.last_mut() {
            Some(last) if *n < last.0 => return Err(PartError::Order),
            Some(last) if *n == last.0 => last.1 = tag.as_str(),
            _ if *n < 1 => return Err(PartError::Order),
            _ => named.push((*n, tag.as_str())),
        }
    }
    let mut out = Vec::with_capacity(named.len());
    for (n, tag) in &named {
        let part = stored
            .iter()
            .find(|p| i64::from(p.part_number) == i64::from(*n))
            .filter(|p| tag.trim_matches('"') == p.etag || tag.is_empty())
            .ok_or(PartError::Missing(*n))?;
        out.push(part);
    }
    for (i, p) in out.iter().enumerate() {
        if i + 1 < out.len() && p.size < MIN_PART_SIZE {
            return Err(PartError::TooSmall(named[i].0));
        }
    }
    Ok(out)
}

/// The multipart ETag: MD5 of the binary part MD5s, then `-N`.
pub(crate) fn multipart_etag(parts: &[&MultipartPart]) -> String {
    let mut md5 = md5::Md5::new();
    for p in parts {
        if let Ok(bin) = hex::decode(&p.etag) {
            md5.update(&bin);
        }
    }
    format!("{}-{}", hex::encode(md5.finalize()), parts.len())
}

/// The spooled parts, read one after another.
fn concat(paths: Vec<PathBuf>) -> BodyStream {
    futures::stream::iter(paths)
        .then(|p| async move {
            match tokio::fs::File::open(&p).await {
                Ok(f) => tokio_util::io::ReaderStream::with_capacity(f, 256 << 10).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
        .boxed()
}

pub(crate) async fn complete_multipart_upload(
    gw: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let path = bucket.path(&input.key)?;
    gw.require_write(&s, &bucket).await?;
    let requested: Vec<(i32, String)> = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            (
                p.part_number.unwrap_or(0),
                p.e_tag.map(|e| e.value().to_owned()).unwrap_or_default(),
            )
        })
        .collect();
    let stored = gw
        .store()
        .db()
        .list_parts(&up.upload_id)
        .await
        .map_err(db_err)?;
    let parts = validate_parts(&requested, &stored).map_err(|e| match e {
        PartError::Empty => s3_error!(MalformedXML, "You must specify at least one part"),
        PartError::Order => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        ),
        PartError::Missing(n) => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found (part {n})."
        ),
        PartError::TooSmall(n) => s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size (part {n})."
        ),
    })?;
    check_write_conditions(
        gw,
        &s,
        &bucket,
        &path,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )
    .await?;
    let etag_value = multipart_etag(&parts);
    let size: u64 = parts.iter().map(|p| p.size).sum();
    let paths: Vec<PathBuf> = parts.iter().map(|p| PathBuf::from(&p.spool_path)).collect();
    let meta: UploadMeta = serde_json::from_str(&up.attrs).unwrap_or_default();
    let mut attrs = meta.attrs;
    attrs.etag = etag_value.clone();
    attrs.part_sizes = Some(parts.iter().map(|p| p.size).collect());
    // Every part's checksums were verified at UploadPart; the object keeps their composite.
    let part_sums: Vec<std::collections::BTreeMap<String, String>> = parts
        .iter()
        .map(|p| serde_json::from_str(&p.checksums).unwrap_or_default())
        .collect();
    let composite = super::checksum::composite(&part_sums);
    if !composite.is_empty() {
        attrs.checksums = composite.clone();
    }

    let gw2 = gw.clone();
    let bucket_name = input.bucket.clone();
    let key = input.key.clone();
    let upload_id = up.upload_id.clone();
    let future = async move {
        let written = gw2
            .store()
            .write(
                &s,
                WriteRequest {
                    share_id: bucket.share_id.clone(),
                    content_type: attrs.content_type.clone(),
                    path,
                    size,
                    body: concat(paths),
                    create_parents: true,
                    attrs,
                    content_md5: None,
                },
            )
            .await
            .map_err(store_error)?;
        gw2.store()
            .db()
            .delete_upload(&upload_id)
            .await
            .map_err(db_err)?;
        if let Err(e) = tokio::fs::remove_dir_all(gw2.upload_dir(&upload_id)).await {
            tracing::warn!(error = %e, upload_id, "could not remove the staging directory");
        }
        let sum = |k: &str| composite.get(k).cloned();
        Ok(CompleteMultipartUploadOutput {
            bucket: Some(bucket_name),
            key: Some(key),
            e_tag: Some(etag(&etag_value)),
            version_id: written.version_id,
            checksum_crc32: sum("crc32"),
            checksum_crc32c: sum("crc32c"),
            checksum_sha1: sum("sha1"),
            checksum_sha256: sum("sha256"),
            checksum_type: (!composite.is_empty())
                .then(|| ChecksumType::from_static(ChecksumType::COMPOSITE)),
            ..Default::default()
        })
    };
    // The version id is ScaiDrive's, known only once the file is stored, and a header must be
    // sent before s3s's keep-alive body starts. So wait for the upload a while: most finish
    // within it and get a complete answer (with `x-amz-version-id`, and a real error status);
    // longer ones continue inside the keep-alive body, which has no room for the header.
    let mut future: futures::future::BoxFuture<'static, S3Result<CompleteMultipartUploadOutput>> =
        Box::pin(future);
    match tokio::time::timeout(COMPLETE_INLINE_WAIT, &mut future).await {
        Ok(done) => Ok(S3Response::new(done?)),
        Err(_) => Ok(S3Response::new(CompleteMultipartUploadOutput {
            future: Some(future),
            ..Default::default()
        })),
    }
}

pub(crate) async fn abort_multipart_upload(
    gw: &Gateway,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    remove_upload(gw, &up.upload_id).await;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

async fn remove_upload(gw: &Gateway, upload_id: &str) {
    if let Err(e) = gw.store().db().delete_upload(upload_id).await {
        tracing::warn!(error = %e, upload_id, "could not forget a multipart upload");
    }
    match tokio::fs::remove_dir_all(gw.upload_dir(upload_id)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, upload_id, "could not remove a staging directory"),
    }
}

pub(crate) async fn list_parts(
    gw: &Gateway,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let stored = gw
        .store()
        .db()
        .list_parts(&up.upload_id)
        .await
        .map_err(db_err)?;
    let after: Vec<&MultipartPart> = stored
        .iter()
        .filter(|p| i64::from(p.part_number) > i64::from(marker))
        .collect();
    let truncated = after.len() > max;
    let page: Vec<&MultipartPart> = after.into_iter().take(max).collect();
    let next = page.last().and_then(|p| i32::try_from(p.part_number).ok());
    let parts = page
        .iter()
        .map(|p| Part {
            part_number: i32::try_from(p.part_number).ok(),
            size: i64::try_from(p.size).ok(),
            e_tag: Some(etag(&p.etag)),
            last_modified: chrono::DateTime::parse_from_rfc3339(&p.created_at)
                .ok()
                .map(|t| timestamp(&t.with_timezone(&chrono::Utc))),
            ..Default::default()
        })
        .collect();
    let owner = gw.owner(&s).await;
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        parts: Some(parts),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: if truncated { next } else { None },
        is_truncated: Some(truncated),
        owner: Some(owner.clone()),
        initiator: Some(Initiator {
            display_name: owner.display_name,
            id: owner.id,
        }),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub(crate) async fn list_multipart_uploads(
    gw: &Gateway,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    gw.bucket(&s, &input.bucket).await?;
    let all = gw
        .store()
        .db()
        .list_uploads(s.principal(), &input.bucket)
        .await
        .map_err(db_err)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone().unwrap_or_default();
    let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let matching: Vec<&Upload> = all
        .iter()
        .filter(|u| u.key.starts_with(&prefix))
        .filter(|u| {
            key_marker.is_empty()
                || u.key > key_marker
                || (u.key == key_marker && !id_marker.is_empty() && u.upload_id > id_marker)
        })
        .collect();
    let truncated = matching.len() > max;
    let page: Vec<&Upload> = matching.into_iter().take(max).collect();
    let owner = gw.owner(&s).await;
    let uploads = page
        .iter()
        .map(|u| MultipartUpload {
            key: Some(u.key.clone()),
            upload_id: Some(u.upload_id.clone()),
            initiated: chrono::DateTime::parse_from_rfc3339(&u.created_at)
                .ok()
                .map(|t| timestamp(&t.with_timezone(&chrono::Utc))),
            owner: Some(owner.clone()),
            initiator: Some(Initiator {
                display_name: owner.display_name.clone(),
                id: owner.id.clone(),
            }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: if truncated {
            page.last().map(|u| u.key.clone())
        } else {
            None
        },
        next_upload_id_marker: if truncated {
            page.last().map(|u| u.upload_id.clone())
        } else {
            None
        },
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        ..Default::default()
    }))
}

/// Removes uploads older than the configured age, now and then every `cleanup_interval`.
pub(crate) fn spawn_cleanup(gw: Gateway) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: abandoned multipart uploads will not be cleaned up");
        return;
    };
    handle.spawn(async move {
        loop {
            let cutoff = chrono::Utc::now()
                - chrono::Duration::from_std(gw.opts.multipart_max_age).unwrap_or(chrono::Duration::days(1));
            let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            match gw.store().db().uploads_created_before(&cutoff).await {
                Ok(old) => {
                    for up in old {
                        tracing::info!(upload_id = %up.upload_id, key = %up.key, "removing an abandoned multipart upload");
                        remove_upload(&gw, &up.upload_id).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "multipart clean-up failed"),
            }
            tokio::time::sleep(gw.opts.cleanup_interval).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u32, size: u64, tag: &str) -> MultipartPart {
        MultipartPart {
            part_number: n,
            size,
            etag: tag.into(),
            checksums: "{}".into(),
            spool_path: format!("/tmp/{n}"),
            created_at: String::new(),
        }
    }

    #[test]
    fn part_lists_are_checked_for_order_presence_and_size() {
        let big = MIN_PART_SIZE;
        let stored = vec![part(1, big, "aa"), part(2, 10, "bb"), part(3, 10, "cc")];
        let ok = validate_parts(&[(1, "\"aa\"".into()), (2, "bb".into())], &stored);
        assert_eq!(ok.map(|v| v.len()), Ok(2));
        assert_eq!(validate_parts(&[], &stored).err(), Some(PartError::Empty));
        assert_eq!(
            validate_parts(&[(2, "bb".into()), (1, "aa".into())], &stored).err(),
            Some(PartError::Order)
        );
        // A part named twice in a row counts once, with the later ETag.
        assert_eq!(
            validate_parts(&[(1, "aa".into()), (1, "aa".into())], &stored).map(|v| v.len()),
            Ok(1)
        );
        assert_eq!(
            validate_parts(&[(1, "zz".into()), (1, "aa".into())], &stored).map(|v| v.len()),
            Ok(1)
        );
        assert_eq!(
            validate_parts(&[(1, "aa".into()), (1, "zz".into())], &stored).err(),
            Some(PartError::Missing(1))
        );
        assert_eq!(
            validate_parts(
                &[(1, "aa".into()), (2, "bb".into()), (1, "aa".into())],
                &stored
            )
            .err(),
            Some(PartError::Order)
        );
        assert_eq!(
            validate_parts(&[(1, "zz".into())], &stored).err(),
            Some(PartError::Missing(1))
        );
        assert_eq!(
            validate_parts(&[(4, "dd".into())], &stored).err(),
            Some(PartError::Missing(4))
        );
        assert_eq!(
            validate_parts(&[(2, "bb".into()), (3, "cc".into())], &stored).err(),
            Some(PartError::TooSmall(2))
        );
        // Gaps are allowed.
        assert!(validate_parts(&[(1, "aa".into()), (3, "cc".into())], &stored).is_ok());
    }

    #[test]
    fn multipart_etag_is_md5_of_part_md5s_with_count() {
        let a = part(1, 1, &hex::encode(md5::Md5::digest(b"a")));
        let b = part(2, 1, &hex::encode(md5::Md5::digest(b"b")));
        let mut cat = md5::Md5::digest(b"a").to_vec();
        cat.extend(md5::Md5::digest(b"b"));
        assert_eq!(
            multipart_etag(&[&a, &b]),
            format!("{}-2", hex::encode(md5::Md5::digest(&cat)))
        );
    }

    #[test]
    fn copy_ranges_are_inclusive_and_bounded() {
        assert_eq!(copy_range("bytes=0-9", 10).ok(), Some((0, 9)));
        assert!(copy_range("bytes=0-10", 10).is_err());
        assert!(copy_range("bytes=5-4", 10).is_err());
        assert!(copy_range("0-4", 10).is_err());
    }
}
