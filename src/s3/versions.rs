//! Versioning from ScaiDrive's file versions: buckets always report `Enabled`;
//! ListObjectVersions lists every version of each listed file (newest first, the current one
//! `IsLatest`), then the key's trashed files as delete markers over noncurrent versions
//! (`markers.rs`); GET/HEAD `?versionId=` are served by `get.rs`. Directory markers and files
//! whose versions cannot be listed appear with version id `null`.
//!
//! Unlike object listings this needs one upstream call per listed file (ScaiDrive has no
//! bulk version listing) and one listing with the trash per folder in range; pages are bounded
//! by max-keys.

use std::collections::{BTreeMap, BTreeSet};

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::error::store_error;
use super::list::{ListParams, Listed, encode_key, walk};
use super::{Gateway, etag, markers, timestamp};
use crate::store::{FileInfo, StoreError, Trashed, opaque_etag, reported_time};

pub(crate) async fn get_bucket_versioning(
    gw: &Gateway,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let s = gw.session(&req).await?;
    gw.bucket(&s, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::ENABLED,
        )),
        ..Default::default()
    }))
}

pub(crate) async fn put_bucket_versioning(
    gw: &Gateway,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let s = gw.session(&req).await?;
    gw.bucket(&s, &req.input.bucket).await?;
    let enabled = req
        .input
        .versioning_configuration
        .status
        .as_ref()
        .is_some_and(|st| st.as_str() == BucketVersioningStatus::ENABLED);
    if enabled {
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    } else {
        Err(s3_error!(
            NotImplemented,
            "ScaiDrive always keeps versions: versioning cannot be suspended"
        ))
    }
}

pub(crate) async fn list_object_versions(
    gw: &Gateway,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let max_keys = match input.max_keys {
        Some(n) if n < 0 => {
            return Err(s3_error!(InvalidArgument, "max-keys must not be negative"));
        }
        Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
        None => 1000,
    };
    let params = ListParams {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        after: input.key_marker.clone(),
        max_keys,
    };
    let page = walk(gw, &s, &bucket, &params).await?;
    let url = input
        .encoding_type
        .as_ref()
        .is_some_and(|e| e.as_str().eq_ignore_ascii_case(EncodingType::URL));
    let own = gw.owner(&s).await;
    // What the trash holds in the same key range (a truncated page ends at its last key; the
    // next page goes on from there).
    let upper = page.truncated.then(|| page.last_key()).flatten();
    let trash = markers::collect(gw, &s, &bucket, &params, upper).await?;
    let mut trashed: BTreeMap<String, Vec<Trashed>> = BTreeMap::new();
    for (key, t) in trash.files {
        trashed.entry(key).or_default().push(t);
    }
    // Per key: its live versions (newest first) in `versions`, then its trashed files.
    let mut live: BTreeMap<String, Vec<ObjectVersion>> = BTreeMap::new();
    let mut prefix_set: BTreeSet<String> = trash.prefixes.into_iter().collect();
    for item in &page.items {
        match item {
            Listed::Prefix(p) => {
                prefix_set.insert(p.clone());
            }
            Listed::Object(o) => {
                let versions = object_versions(gw, &s, o, url, &own).await?;
                live.entry(o.key.clone()).or_default().extend(versions);
            }
        }
    }
    let mut keys: BTreeSet<String> = live.keys().cloned().collect();
    keys.extend(trashed.keys().cloned());
    let mut versions = Vec::new();
    let mut delete_markers = Vec::new();
    for key in keys {
        let mine = live.remove(&key).unwrap_or_default();
        let is_live = !mine.is_empty();
        versions.extend(mine);
        // Newest deletion first; the newest marker is the latest version when no live object
        // has the key.
        for (i, t) in trashed
            .remove(&key)
            .unwrap_or_default()
            .iter()
            .rev()
            .enumerate()
        {
            let shown = encode_key(&key, url);
            delete_markers.push(markers::marker_entry(
                t,
                shown.clone(),
                !is_live && i == 0,
                &own,
            ));
            versions.push(markers::trashed_version(t, shown, &own));
        }
    }
    let prefixes: Vec<CommonPrefix> = prefix_set
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(encode_key(p, url)),
        })
        .collect();
    let next = page
        .truncated
        .then(|| page.last_key().map(|k| encode_key(k, url)))
        .flatten();
    // A page holds every version of its keys, so the next one starts after the last key; the
    // last version listed of it is the version marker S3 pairs with the key marker.
    let next_version = next.as_ref().and_then(|k| {
        versions
            .last()
            .filter(|v| v.key.as_ref() == Some(k))
            .and_then(|v| v.version_id.clone())
    });
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(encode_key(&params.prefix, url)),
        key_marker: Some(encode_key(params.after.as_deref().unwrap_or_default(), url)),
        version_id_marker: input.version_id_marker,
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        is_truncated: Some(page.truncated),
        next_key_marker: next,
        next_version_id_marker: next_version,
        versions: Some(versions),
        delete_markers: (!delete_markers.is_empty()).then_some(delete_markers),
        common_prefixes: Some(prefixes),
        delimiter: input.delimiter.filter(|d| !d.is_empty()),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

/// The versions of one listed object, newest first: ScaiDrive's versions of its file (one
/// upstream call), or the object alone (`null`) where they cannot be listed.
async fn object_versions(
    gw: &Gateway,
    s: &crate::auth::Session,
    o: &super::list::ListedObject,
    url: bool,
    own: &Owner,
) -> S3Result<Vec<ObjectVersion>> {
    let mut versions = Vec::new();
    let latest = ObjectVersion {
        key: Some(encode_key(&o.key, url)),
        e_tag: Some(etag(&o.etag)),
        size: i64::try_from(o.size).ok(),
        last_modified: o.last_modified.clone(),
        is_latest: Some(true),
        version_id: Some("null".to_owned()),
        owner: Some(own.clone()),
        storage_class: Some(ObjectVersionStorageClass::from_static(
            ObjectVersionStorageClass::STANDARD,
        )),
        ..Default::default()
    };
    let Some(file) = &o.file else {
        return Ok(vec![latest]);
    };
    let list = match gw.store().versions(s, &file.id).await {
        Ok(list) => list,
        // Deleted since the listing was read (a concurrent delete): no longer there
        // to list, as if the listing had been read a moment later.
        Err(StoreError::NotFound | StoreError::Gone) => return Ok(versions),
        // No READ on the file (a deny entry): listed as the folder listing shows
        // it, without its versions, as ListObjects does.
        Err(StoreError::AccessDenied(_)) => return Ok(vec![latest]),
        Err(e) => return Err(store_error(e)),
    };
    if list.is_empty() {
        return Ok(vec![latest]);
    }
    for (i, v) in list.iter().enumerate() {
        if i == 0 {
            versions.push(ObjectVersion {
                version_id: Some(v.id.clone()),
                ..latest.clone()
            });
            continue;
        }
        let probe = FileInfo {
            id: v.id.clone(),
            name: file.name.clone(),
            size: v.size,
            mime_type: None,
            modified_at: v.created_at,
        };
        versions.push(ObjectVersion {
            e_tag: Some(etag(&opaque_etag(&probe))),
            size: i64::try_from(v.size).ok(),
            last_modified: v
                .created_at
                .as_ref()
                .map(reported_time)
                .as_ref()
                .map(timestamp),
            is_latest: Some(false),
            version_id: Some(v.id.clone()),
            ..latest.clone()
        });
    }
    Ok(versions)
}
