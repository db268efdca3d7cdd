//! Multipart uploads. Parts are staged (streamed, MD5 computed on the way; [`super::staging`]:
//! local spool files or hidden ScaiDrive files) and indexed in the state DB, so uploads survive
//! a restart and, with ScaiDrive staging, any instance serves any request of an upload; retried
//! and out-of-order parts simply replace or fill their slot. Complete is in
//! [`super::complete`]. Uploads older than
//! [`S3Options::multipart_max_age`](super::S3Options) are removed by a background task.

use futures::StreamExt as _;
use md5::Digest as _;
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::attrs::{StdHeaders, from_headers};
use super::checksum::{Integrity, body_stream};
use super::copy::source;
use super::error::{internal, store_error};
use super::get::Conditions;
use super::staging::{Staged, UploadMeta, meta_of};
use super::{Gateway, etag, timestamp};
use crate::auth::Session;
use crate::state::{MultipartPart, MultipartUpload as Upload};
use crate::store::BodyStream;

/// Smallest part size, except for the last part.
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
/// Highest part number.
const MAX_PART_NUMBER: i32 = 10_000;
pub(super) fn db_err(e: crate::state::StateError) -> S3Error {
    internal("multipart state failed", e)
}

pub(super) fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Gateway {
    /// The upload, if it exists, belongs to this user and names this bucket and key.
    pub(super) async fn upload(
        &self,
        s: &Session,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> S3Result<Upload> {
        self.find_upload(s, id, bucket, key)
            .await?
            .ok_or_else(no_such_upload)
    }

    /// [`Self::upload`], `None` when there is no such upload.
    pub(super) async fn find_upload(
        &self,
        s: &Session,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<Upload>> {
        // Upload ids are ULIDs; anything else cannot name a staging directory.
        if ulid::Ulid::from_string(id).is_err() {
            return Ok(None);
        }
        let up = self.store().db().get_upload(id).await.map_err(db_err)?;
        Ok(up.filter(|up| up.principal == s.principal() && up.bucket == bucket && up.key == key))
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
    let checksum_type = checksum_type(
        input.checksum_algorithm.as_ref(),
        input.checksum_type.as_ref(),
    )?;
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
    let mut meta = UploadMeta {
        attrs,
        full_object: checksum_type
            .as_ref()
            .is_some_and(|t| t.as_str() == ChecksumType::FULL_OBJECT),
        ..Default::default()
    };
    gw.stage_upload(&s, &bucket.share_id, &upload_id, &mut meta)
        .await?;
    let meta = serde_json::to_string(&meta).map_err(|e| internal("encoding upload state", e))?;
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

/// The checksum type a CreateMultipartUpload answers for the algorithm and type it asks for:
/// `COMPOSITE` (the checksum of the parts' checksums, see `checksum::composite`) for CRC32,
/// CRC32C, SHA-1 and SHA-256 unless `FULL_OBJECT` is asked; `FULL_OBJECT` (the whole object's
/// CRC, combined from the parts', see `checksum::full_object`) for CRC32 and CRC32C when asked
/// and for CRC64NVME always, as S3 does. SHA-1 and SHA-256 cannot be `FULL_OBJECT`
/// (InvalidRequest, as S3 answers). No algorithm: no type announced; every part is still
/// verified.
fn checksum_type(
    algorithm: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<Option<ChecksumType>> {
    let Some(algorithm) = algorithm else {
        return Ok(None);
    };
    let is = |x: &str| algorithm.as_str().eq_ignore_ascii_case(x);
    let asked = |t: &str| kind.is_some_and(|k| k.as_str().eq_ignore_ascii_case(t));
    let crc = is("CRC32") || is("CRC32C");
    let sha = is("SHA1") || is("SHA256");
    if is("CRC64NVME") {
        if asked(ChecksumType::COMPOSITE) {
            return Err(s3_error!(
                InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm."
            ));
        }
        return Ok(Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT)));
    }
    if asked(ChecksumType::FULL_OBJECT) {
        if sha {
            return Err(s3_error!(
                InvalidRequest,
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                algorithm.as_str()
            ));
        }
        if crc {
            return Ok(Some(ChecksumType::from_static(ChecksumType::FULL_OBJECT)));
        }
    }
    Ok((crc || sha).then(|| ChecksumType::from_static(ChecksumType::COMPOSITE)))
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

async fn record_part(
    gw: &Gateway,
    s: &Session,
    up: &Upload,
    part: u32,
    staged: Staged,
    checksums: std::collections::BTreeMap<String, String>,
) -> S3Result<()> {
    let Staged {
        spool_path,
        file_id,
        size,
        md5,
        feed,
    } = staged;
    let location = (spool_path.clone(), file_id.clone());
    let record = MultipartPart {
        part_number: part,
        size,
        etag: md5,
        checksums: serde_json::to_string(&checksums).unwrap_or_else(|_| "{}".into()),
        spool_path,
        created_at: now(),
        file_id,
    };
    let replaced = gw
        .store()
        .db()
        .put_part(&up.upload_id, record.clone())
        .await;
    if replaced.is_ok() {
        if let Some(feed) = feed {
            feed.recorded();
        }
        gw.part_recorded(s, up, &record);
    }
    match replaced {
        Ok(Some(old)) if old != location => {
            gw.discard_part(s, old).await;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            gw.discard_part(s, location).await;
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
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    let raw = match input.body {
        Some(b) => body_stream(b),
        None => futures::stream::empty().boxed(),
    };
    let (body, computed) = integrity.wrap(raw);
    let length = input.content_length.and_then(|n| u64::try_from(n).ok());
    let staged = gw
        .stage_part(&s, &up, part, body, length, content_md5)
        .await?;
    if length.is_some_and(|n| n != staged.size) {
        gw.discard_part(&s, (staged.spool_path, staged.file_id))
            .await;
        return Err(s3_error!(IncompleteBody));
    }
    let md5 = staged.md5.clone();
    let checksums = computed.get();
    record_part(gw, &s, &up, part, staged, checksums.clone()).await?;
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
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
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
    let length = range.map_or(found.size, |(a, b)| b - a + 1);
    let staged = gw
        .stage_part(&s, &up, part, body, Some(length), None)
        .await?;
    let md5 = staged.md5.clone();
    record_part(gw, &s, &up, part, staged, Default::default()).await?;
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

pub(crate) async fn abort_multipart_upload(
    gw: &Gateway,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let up = gw
        .upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?;
    remove_upload(gw, Some(&s), &up).await;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// Forgets an upload and deletes what it staged. The clean-up passes no session: the
/// uploader's is found from the upload's access key.
pub(crate) async fn remove_upload(gw: &Gateway, s: Option<&Session>, up: &Upload) {
    let found;
    let s = match s {
        Some(s) => Some(s),
        None => {
            found = gw.ctx.auth.by_access_key(&up.access_key_id).await.ok();
            found.as_ref().map(|pair| &pair.session)
        }
    };
    gw.stop_assembler(&up.upload_id).await;
    gw.discard_upload(s, &up.upload_id, &meta_of(up)).await;
    if let Err(e) = gw.store().db().delete_upload(&up.upload_id).await {
        tracing::warn!(error = %e, upload_id = %up.upload_id, "could not forget a multipart upload");
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

/// The cluster lock of the clean-up: one instance sweeps at a time.
const CLEANUP_LOCK: &str = "multipart clean-up";

/// Removes uploads older than the configured age, now and then every `cleanup_interval`. With
/// several instances on one PostgreSQL state database a round runs only on the instance that
/// gets the cluster lock; the others skip it.
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
            let db = gw.store().db();
            match db.try_cluster_lock(CLEANUP_LOCK).await {
                Ok(Some(lease)) => {
                    match db.uploads_created_before(&cutoff).await {
                        Ok(old) => {
                            for up in old {
                                tracing::info!(upload_id = %up.upload_id, key = %up.key, "removing an abandoned multipart upload");
                                remove_upload(&gw, None, &up).await;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "multipart clean-up failed"),
                    }
                    db.release_cluster_lock(lease).await;
                }
                Ok(None) => tracing::debug!("another instance cleans up multipart uploads"),
                Err(e) => tracing::warn!(error = %e, "multipart clean-up skipped: no cluster lock"),
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
            file_id: None,
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
