//! DeleteObject and DeleteObjects. Deleting a missing key succeeds (S3 semantics). A file goes
//! to ScaiDrive's trash and is answered as a delete marker; deleting the marker's version id
//! restores it (`markers.rs`). A directory
//! marker `key/` is dropped; its folder goes too when empty. Folders that held the deleted
//! object only implicitly (never created as markers) are removed once empty, so that
//! DeleteBucket succeeds once every key is gone.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::error::store_error;
use super::list::marker_probe;
use super::markers;
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::scaidrive::Item;
use crate::store::{Entry, FolderRef, StoreError};

/// Removes empty, implicit folders from `segments` upwards, stopping at the bucket root.
pub(crate) async fn prune_empty_parents(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    segments: &[String],
) -> S3Result<()> {
    let store = gw.store();
    let mut depth = segments.len();
    while depth > bucket.base.len() {
        // A folder a concurrent delete removed first (its listing answers 404) needs no
        // pruning: nor do its parents, which that delete prunes.
        let folder = match store
            .resolve_folder(s, &bucket.share_id, &segments[..depth])
            .await
        {
            Ok(Some(folder)) => folder,
            Ok(None) | Err(StoreError::NotFound | StoreError::Gone) => return Ok(()),
            Err(e) => return Err(store_error(e)),
        };
        let Some(folder_id) = folder.folder_id.clone() else {
            return Ok(());
        };
        match store.list(s, &folder).await {
            Ok(listing) if listing.entries.is_empty() => {}
            Ok(_) | Err(StoreError::NotFound | StoreError::Gone) => return Ok(()),
            Err(e) => return Err(store_error(e)),
        }
        if store
            .attrs_of(&marker_probe(&folder_id))
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(());
        }
        let parent = store
            .resolve_folder(s, &bucket.share_id, &segments[..depth - 1])
            .await
            .map_err(store_error)?
            .unwrap_or_else(|| FolderRef::root(bucket.share_id.clone()));
        match store
            .delete_folder(
                s,
                &parent,
                &crate::store::FolderInfo {
                    id: folder_id.clone(),
                    name: segments[depth - 1].clone(),
                },
            )
            .await
        {
            // A concurrent delete pruned it first.
            Ok(()) | Err(StoreError::NotFound | StoreError::Gone) => {}
            Err(e) => return Err(store_error(e)),
        }
        depth -= 1;
    }
    Ok(())
}

/// What a delete did, in S3's versioning terms.
#[derive(Debug, Default)]
pub(crate) struct DeleteOutcome {
    /// A delete marker was made (the file went to the trash) or removed (restored from it).
    pub delete_marker: bool,
    /// The version id to answer: the new marker's, or the one asked for.
    pub version_id: Option<String>,
}

/// Deletes one key (see the module docs). `version_id` may be `null` or the current version
/// (the file goes to the trash), a delete marker (the file comes back from the trash: S3's
/// undelete) or a trashed file's content (purged from the trash for good).
pub(crate) async fn delete_one(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<DeleteOutcome> {
    let store = gw.store();
    let path: ObjectPath = bucket.path(key)?;
    let asked = DeleteOutcome {
        delete_marker: false,
        version_id: version_id.map(str::to_owned),
    };
    match version_id.map(markers::parse) {
        Some(markers::VersionRef::Marker(_)) => {
            let v = version_id.unwrap_or_default();
            // A marker no longer there (restored or purged meanwhile): deleting a missing
            // version succeeds in S3.
            let Some(t) = markers::find_marker(gw, s, bucket, key, v).await? else {
                return Ok(asked);
            };
            let name = path.name().unwrap_or_default().to_owned();
            store.undelete(s, &t, &name).await.map_err(store_error)?;
            return Ok(DeleteOutcome {
                delete_marker: true,
                version_id: Some(v.to_owned()),
            });
        }
        Some(markers::VersionRef::Trashed(id)) => {
            if let Some(t) = markers::find_trashed(gw, s, bucket, key, id).await? {
                match store.purge_trashed(s, &Item::File(t.file.clone())).await {
                    Ok(()) | Err(StoreError::NotFound | StoreError::Gone) => {}
                    Err(e) => return Err(store_error(e)),
                }
            }
            return Ok(asked);
        }
        Some(markers::VersionRef::Live) | None => {}
    }
    // A folder on the way that a concurrent delete removed (its listing answers 404) means the
    // key is gone: deleting a missing key succeeds in S3.
    let found = match store.resolve(s, &bucket.share_id, &path, false).await {
        Ok(Some(found)) => found,
        Ok(None) | Err(StoreError::NotFound | StoreError::Gone) => return Ok(asked),
        Err(e) => return Err(store_error(e)),
    };
    let mut outcome = asked;
    match &found.entry {
        Entry::File(file) => {
            let versioned = version_id.filter(|v| *v != "null");
            if let Some(v) = versioned {
                let versions = store.versions(s, &file.id).await.map_err(store_error)?;
                match versions.first() {
                    Some(cur) if cur.id == v => {}
                    _ if versions.iter().any(|x| x.id == v) => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "ScaiDrive keeps every older version until its retention ends and \
                             cannot delete one: only the current version can be deleted (the \
                             object goes to the trash with all its versions)"
                        ));
                    }
                    _ => return Ok(outcome),
                }
            }
            match store.delete_file(s, &found.parent, file).await {
                Ok(Some(at)) if versioned.is_none() => {
                    outcome = DeleteOutcome {
                        delete_marker: true,
                        version_id: Some(markers::marker_id(&at)),
                    };
                }
                // Gone meanwhile (a concurrent delete, or its folder pruned by one): deleting a
                // missing key succeeds in S3.
                Ok(_) | Err(StoreError::NotFound | StoreError::Gone) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        Entry::Folder(folder) => {
            let probe = marker_probe(&folder.id);
            if store.attrs_of(&probe).await.map_err(store_error)?.is_none() {
                return Ok(outcome);
            }
            let here = FolderRef {
                share_id: bucket.share_id.clone(),
                folder_id: Some(folder.id.clone()),
            };
            let empty = store
                .list(s, &here)
                .await
                .map_err(store_error)?
                .entries
                .is_empty();
            if empty {
                store
                    .delete_folder(s, &found.parent, folder)
                    .await
                    .map_err(store_error)?;
            }
            store
                .db()
                .delete_attrs(&folder.id)
                .await
                .map_err(|e| super::error::internal("dropping a directory marker", e))?;
        }
    }
    prune_empty_parents(gw, s, bucket, path.parent_segments()).await?;
    Ok(outcome)
}

pub(crate) async fn delete_object(
    gw: &Gateway,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let done = delete_one(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: done.delete_marker.then_some(true),
        version_id: done.version_id,
        ..Default::default()
    }))
}

pub(crate) async fn delete_objects(
    gw: &Gateway,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    if input.delete.objects.len() > 1000 {
        return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in input.delete.objects {
        match delete_one(gw, &s, &bucket, &obj.key, obj.version_id.as_deref()).await {
            Ok(done) => {
                if !quiet {
                    // S3 names the marker made (no version asked) or removed (a marker's id).
                    let marker = done
                        .delete_marker
                        .then(|| done.version_id.clone())
                        .flatten();
                    deleted.push(DeletedObject {
                        key: Some(obj.key),
                        version_id: obj.version_id,
                        delete_marker: done.delete_marker.then_some(true),
                        delete_marker_version_id: marker,
                    });
                }
            }
            Err(e) => errors.push(Error {
                code: Some(e.code().as_str().to_owned()),
                message: e.message().map(str::to_owned),
                key: Some(obj.key),
                version_id: obj.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}
