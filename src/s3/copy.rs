//! CopyObject, within and across buckets. A copy to a free name is a ScaiDrive server-side
//! copy; over an existing object (a new version) or from an older version the content streams
//! through the gateway. Metadata directive COPY keeps the source's attributes, REPLACE takes
//! the request's; copying an object onto itself with REPLACE only rewrites its attributes.

use futures::StreamExt as _;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::attrs::{StdHeaders, from_headers};
use super::error::store_error;
use super::found::{Found, find};
use super::get::{Conditions, Outcome, evaluate};
use super::put::put_marker;
use super::{BucketRef, Gateway, etag, timestamp};
use crate::auth::Session;
use crate::state::ObjectAttrs;
use crate::store::{Entry, WriteRequest, reported_time};

/// The source of a copy: bucket and key (and version), as s3s parsed `x-amz-copy-source`.
pub(crate) fn source_parts(src: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_ref().map(ToString::to_string),
        )),
        _ => Err(s3_error!(
            NotImplemented,
            "access point copy sources are not supported"
        )),
    }
}

/// Resolves and checks the copy source (`x-amz-copy-source-if-*`).
pub(crate) async fn source(
    gw: &Gateway,
    s: &Session,
    src: &CopySource,
    cond: Conditions<'_>,
) -> S3Result<(BucketRef, Found)> {
    let (bucket, key, version) = source_parts(src)?;
    let bucket = gw.bucket(s, &bucket).await?;
    let found = find(gw, s, &bucket, &key, version.as_deref()).await?;
    match evaluate(&cond, &found.etag, found.modified.as_ref()) {
        Outcome::Proceed => Ok((bucket, found)),
        // Copy conditions answer 412 both ways.
        _ => Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        )),
    }
}

/// Streams `found` (a file version) into `dest` as a new file or version.
pub(crate) async fn stream_copy(
    gw: &Gateway,
    s: &Session,
    found: &Found,
    dest: &BucketRef,
    key: &str,
    attrs: ObjectAttrs,
) -> S3Result<crate::store::Written> {
    let Some(file) = &found.file else {
        return Err(s3_error!(InvalidRequest, "the source is a folder"));
    };
    let store = gw.store();
    let dl = store
        .read(s, &file.id, found.version.as_ref().map(|v| v.0), None)
        .await
        .map_err(store_error)?;
    let body = dl
        .body
        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
        .boxed();
    store
        .write(
            s,
            WriteRequest {
                share_id: dest.share_id.clone(),
                path: dest.path(key)?,
                size: found.size,
                content_type: attrs.content_type.clone().or_else(|| found.content_type()),
                body,
                create_parents: true,
                attrs,
                content_md5: None,
            },
        )
        .await
        .map_err(store_error)
}

pub(crate) async fn copy_object(
    gw: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let (src_bucket, found) = source(
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
    let dest = gw.bucket(&s, &input.bucket).await?;
    gw.require_write(&s, &dest).await?;
    let dest_path = dest.path(&input.key)?;
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str().eq_ignore_ascii_case(MetadataDirective::REPLACE));
    let mut attrs = if replace {
        from_headers(StdHeaders {
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            expires: input.expires,
            metadata: input.metadata,
        })
    } else {
        let mut a = found.attrs.clone().unwrap_or_default();
        if a.content_type.is_none() {
            a.content_type = found.content_type();
        }
        a
    };
    let store = gw.store();
    let (_, src_key, _) = source_parts(&input.copy_source)?;
    let same = src_bucket.share_id == dest.share_id && src_bucket.path(&src_key)? == dest_path;

    if found.file.is_none() {
        put_marker(gw, &s, &dest, &dest_path, attrs).await?;
        return Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(super::put::EMPTY_MD5)),
                last_modified: Some(timestamp(&chrono::Utc::now())),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    if same && found.version.is_none() {
        if !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let Some(file) = &found.file else {
            return Err(s3_error!(InvalidRequest, "the source is a folder"));
        };
        let keep_etag = found.etag.clone();
        let checksums = found
            .attrs
            .as_ref()
            .map(|a| a.checksums.clone())
            .unwrap_or_default();
        let updated = store
            .update_attrs(&dest.share_id, file, move |a| {
                attrs.etag = keep_etag;
                attrs.checksums = checksums;
                attrs.dead_props = std::mem::take(&mut a.dead_props);
                *a = attrs;
            })
            .await
            .map_err(store_error)?;
        return Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&updated.etag)),
                last_modified: file
                    .modified_at
                    .as_ref()
                    .map(reported_time)
                    .as_ref()
                    .map(timestamp),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    // Server-side copy when the destination name is free and the source is current.
    let dest_free = store
        .resolve(&s, &dest.share_id, &dest_path, true)
        .await
        .map_err(store_error)?
        .is_none();
    if dest_free
        && found.version.as_ref().is_none_or(|_| found.attrs.is_some())
        && let (Some(file), Some(name)) = (&found.file, dest_path.name())
    {
        let folder = store
            .ensure_folder(&s, &dest.share_id, dest_path.parent_segments())
            .await
            .map_err(store_error)?;
        if attrs.etag.is_empty() {
            attrs.etag = found.etag.clone();
        }
        let copy = store
            .copy_file(&s, file, &folder, name, Some(attrs.clone()))
            .await
            .map_err(store_error)?;
        return Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&attrs.etag)),
                last_modified: copy
                    .modified_at
                    .as_ref()
                    .map(reported_time)
                    .as_ref()
                    .map(timestamp),
                ..Default::default()
            }),
            version_id: copy.version_id,
            copy_source_version_id: found.version.map(|v| v.1),
            ..Default::default()
        }));
    }

    // Streamed: over an existing object (a new version), or from an older version.
    if matches!(
        store
            .resolve(&s, &dest.share_id, &dest_path, true)
            .await
            .map_err(store_error)?
            .map(|r| r.entry),
        Some(Entry::Folder(_))
    ) {
        return Err(store_error(crate::store::StoreError::Conflict(
            "a folder with this name exists".into(),
        )));
    }
    if !found.etag.contains('-') || found.attrs.is_none() {
        attrs.etag.clear();
    }
    let written = stream_copy(gw, &s, &found, &dest, &input.key, attrs).await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&written.etag)),
            last_modified: Some(timestamp(&chrono::Utc::now())),
            ..Default::default()
        }),
        version_id: written.version_id,
        copy_source_version_id: found.version.map(|v| v.1),
        ..Default::default()
    }))
}
