//! PutObject: streamed into [`Store::write`](crate::store::Store::write) while Content-MD5 and
//! `x-amz-checksum-*` are verified (a mismatch aborts the upload: nothing is stored), with
//! conditional writes (`If-None-Match: *`, `If-Match`) and directory markers (`key/`, empty).

use s3s::dto::*;
use s3s::stream::ByteStream as _;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::attrs::{StdHeaders, from_headers};
use super::checksum::{Integrity, body_stream};
use super::error::store_error;
use super::{BucketRef, Gateway, etag};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::state::ObjectAttrs;
use crate::store::{Entry, Store, StoreError, WriteRequest};

/// ETag of an empty body (directory markers).
pub(crate) const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

impl Gateway {
    /// Refuses writes to a bucket the user may only read (ScaiDrive would refuse them too; this
    /// answers before a body is read).
    pub(crate) async fn require_write(&self, s: &Session, bucket: &BucketRef) -> S3Result<()> {
        let share = self
            .store()
            .share(s, &bucket.share_id)
            .await
            .map_err(store_error)?;
        if share.can_write() || super::acl::target::bucket_writable(self, s, bucket).await? {
            Ok(())
        } else {
            Err(s3_error!(
                AccessDenied,
                "Access Denied (read-only role on this share)"
            ))
        }
    }
}

/// Creates the folder chain of a directory marker and records the marker.
pub(crate) async fn put_marker(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    path: &ObjectPath,
    mut attrs: ObjectAttrs,
) -> S3Result<()> {
    let store = gw.store();
    let folder = store
        .ensure_folder(s, &bucket.share_id, path.segments())
        .await
        .map_err(store_error)?;
    let Some(id) = folder.folder_id else {
        return Err(s3_error!(
            InvalidArgument,
            "the bucket root cannot be a directory marker"
        ));
    };
    attrs.etag = EMPTY_MD5.to_owned();
    attrs.client_mtime =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    store
        .record_attrs(&bucket.share_id, &id, 0, None, None, None, attrs)
        .await
        .map_err(store_error)
}

/// Checks `If-None-Match` / `If-Match` of a write against the current object.
pub(crate) async fn check_write_conditions(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    path: &ObjectPath,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if if_match.is_none() && if_none_match.is_none() {
        return Ok(());
    }
    let store = gw.store();
    let current = store
        .resolve(s, &bucket.share_id, path, false)
        .await
        .map_err(store_error)?;
    let current_etag = match current.as_ref().map(|r| &r.entry) {
        Some(Entry::File(f)) => Some(Store::etag(
            f,
            store.attrs_of(f).await.map_err(store_error)?.as_ref(),
        )),
        Some(Entry::Folder(_)) => Some(EMPTY_MD5.to_owned()),
        None => None,
    };
    if let Some(cond) = if_none_match
        && current_etag.is_some()
        && match cond {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => Some(e.value()) == current_etag.as_deref(),
        }
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if let Some(cond) = if_match {
        let Some(cur) = current_etag else {
            return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
        };
        let ok = match cond {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.value() == cur,
        };
        if !ok {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    }
    Ok(())
}

pub(crate) async fn put_object(
    gw: &Gateway,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let s = gw.session(&req).await?;
    let mut integrity = Integrity::from_headers(&req.headers, req.trailing_headers.clone())?;
    // The store hashes the body for the ETag anyway: it checks Content-MD5 on that one pass.
    let content_md5 = integrity.take_md5();
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let path = bucket.path(&input.key)?;
    gw.require_write(&s, &bucket).await?;
    check_write_conditions(
        gw,
        &s,
        &bucket,
        &path,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )
    .await?;

    let body = input.body;
    let size = match (input.content_length, body.as_ref()) {
        (Some(n), _) => {
            u64::try_from(n).map_err(|_| s3_error!(InvalidArgument, "negative Content-Length"))?
        }
        (None, Some(b)) => b
            .remaining_length()
            .exact()
            .map(|n| n as u64)
            .ok_or_else(|| s3_error!(MissingContentLength))?,
        (None, None) => 0,
    };
    let tags = input
        .tagging
        .as_deref()
        .map(super::tagging::parse_header)
        .unwrap_or_default();
    super::tagging::validate(&tags)?;
    let mut attrs = from_headers(StdHeaders {
        content_type: input.content_type,
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: input.content_encoding,
        content_language: input.content_language,
        expires: input.expires,
        metadata: input.metadata,
    });
    super::tagging::set(&mut attrs, &tags);

    if path.is_dir() {
        if size > 0 {
            return Err(s3_error!(
                InvalidArgument,
                "a key ending in '/' is a folder here and cannot hold content"
            ));
        }
        put_marker(gw, &s, &bucket, &path, attrs).await?;
        return Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(EMPTY_MD5)),
            size: Some(0),
            ..Default::default()
        }));
    }

    let raw = match body {
        Some(b) => body_stream(b),
        None => futures::StreamExt::boxed(futures::stream::empty()),
    };
    let (body, computed) = integrity.wrap(raw);
    let body = crate::store::progress::logged(body, "PutObject", size);
    let store = gw.store();
    let written = store
        .write(
            &s,
            WriteRequest {
                share_id: bucket.share_id.clone(),
                content_type: attrs.content_type.clone(),
                path,
                size,
                body,
                create_parents: true,
                attrs: attrs.clone(),
                content_md5,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => store_error(StoreError::Conflict(format!(
                "{m} (a key and a key ending in '/' cannot share a name)"
            ))),
            other => store_error(other),
        })?;
    let checksums = computed.get();
    if !checksums.is_empty() {
        let mut attrs = attrs;
        attrs.etag = written.etag.clone();
        attrs.checksums = checksums.clone();
        store
            .record_attrs(
                &bucket.share_id,
                &written.file_id,
                written.size,
                None,
                written.version_id.clone(),
                written.checksum_sha256.clone(),
                attrs,
            )
            .await
            .map_err(store_error)?;
    }
    let get = |k: &str| checksums.get(k).cloned();
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(etag(&written.etag)),
        size: i64::try_from(written.size).ok(),
        version_id: written.version_id,
        checksum_crc32: get("crc32"),
        checksum_crc32c: get("crc32c"),
        checksum_crc64nvme: get("crc64nvme"),
        checksum_sha1: get("sha1"),
        checksum_sha256: get("sha256"),
        ..Default::default()
    }))
}
