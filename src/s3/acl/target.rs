//! Which ScaiDrive resource an S3 bucket or object is for its ACL (the share or folder that is
//! the bucket, the file or directory-marker folder that is the object), and the caller's
//! effective permissions on a bucket.

use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::auth::Session;
use crate::s3::error::store_error;
use crate::s3::{BucketRef, Gateway};
use crate::scaidrive::acl::{Effective, ResourceType};
use crate::store::StoreError;

/// The resource an ACL lives on.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub rt: ResourceType,
    pub id: String,
    pub share_id: String,
    pub bucket: bool,
}

pub(super) fn upstream(e: crate::scaidrive::Error) -> S3Error {
    let e = StoreError::from(e);
    match e {
        StoreError::Invalid(m) => S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Invalid id (ScaiDrive refused the grantee: {m})"),
        ),
        other => store_error(other),
    }
}

pub(crate) async fn bucket_target(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
) -> S3Result<Target> {
    if bucket.base.is_empty() {
        return Ok(Target {
            rt: ResourceType::Share,
            id: bucket.share_id.clone(),
            share_id: bucket.share_id.clone(),
            bucket: true,
        });
    }
    let folder = gw
        .store()
        .resolve_folder(s, &bucket.share_id, &bucket.base)
        .await
        .map_err(store_error)?
        .and_then(|f| f.folder_id)
        .ok_or_else(|| s3_error!(NoSuchBucket, "the bucket does not exist"))?;
    Ok(Target {
        rt: ResourceType::Folder,
        id: folder,
        share_id: bucket.share_id.clone(),
        bucket: true,
    })
}

pub(super) async fn object_target(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Target> {
    let found = crate::s3::found::find(gw, s, bucket, key, version_id).await?;
    let (rt, id) = match found.file {
        Some(f) => (ResourceType::File, f.id.clone()),
        None => {
            // A directory marker: the folder itself.
            let path = bucket.path(key)?;
            let folder = gw
                .store()
                .resolve_folder(s, &bucket.share_id, path.segments())
                .await
                .map_err(store_error)?
                .and_then(|f| f.folder_id)
                .ok_or_else(|| s3_error!(NoSuchKey))?;
            (ResourceType::Folder, folder)
        }
    };
    Ok(Target {
        rt,
        id,
        share_id: bucket.share_id.clone(),
        bucket: false,
    })
}

/// The caller's effective ScaiDrive permissions on the bucket itself, asked when its share role
/// alone does not decide (an ACL entry may allow more).
async fn bucket_effective(gw: &Gateway, s: &Session, bucket: &BucketRef) -> S3Result<Effective> {
    let t = bucket_target(gw, s, bucket).await?;
    gw.store()
        .client()
        .effective(s.token(), t.rt, &t.id)
        .await
        .map_err(upstream)
}

/// The ScaiDrive id of the resource that is the bucket: its share (`share` mode) or its
/// folder (`folders` mode).
pub(crate) async fn bucket_resource_id(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
) -> S3Result<String> {
    Ok(bucket_target(gw, s, bucket).await?.id)
}

/// Whether the caller may manage the bucket's permissions (ScaiDrive MANAGE_PERMISSIONS on
/// the share or folder that is the bucket): who may change its ACL and its bucket policy.
pub(crate) async fn bucket_manageable(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
) -> S3Result<bool> {
    Ok(bucket_effective(gw, s, bucket)
        .await?
        .can_manage_permissions)
}

/// Whether ScaiDrive lets the caller create or write in the bucket.
pub(crate) async fn bucket_writable(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
) -> S3Result<bool> {
    let eff = bucket_effective(gw, s, bucket).await?;
    Ok(eff.can_create || eff.can_write)
}

/// Whether the caller may read the bucket itself: for callers without a role in the share,
/// whose access comes from ACL entries alone.
pub(crate) async fn bucket_readable(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
) -> S3Result<bool> {
    Ok(bucket_effective(gw, s, bucket).await?.can_read)
}
