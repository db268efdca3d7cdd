//! Buckets (design §4). Mode `share`: every share the user can see is a bucket, named by
//! `assign_bucket_names`; CreateBucket creates a personal share owned by the caller, DeleteBucket
//! deletes an empty one. Mode `folders`: the top-level folders of `s3.folders_share` are the
//! buckets; CreateBucket/DeleteBucket create/delete those folders.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::error::store_error;
use super::list::{ListParams, walk};
use super::{BucketRef, Gateway, timestamp};
use crate::auth::Session;
use crate::config::BucketMode;
use crate::namespace::{ShareRef, assign_bucket_names, slugify};
use crate::scaidrive::CreateShare;
use crate::scaidrive::acl::ResourceType;
use crate::store::{Entry, FolderRef, ShareInfo, StoreError};

/// A visible bucket with its creation time.
struct Listed {
    name: String,
    share: ShareInfo,
    folder_id: Option<String>,
}

/// Bucket name → share id for this user (share mode).
async fn share_buckets(gw: &Gateway, s: &Session) -> S3Result<Vec<(String, ShareInfo)>> {
    let shares = gw.store().shares(s).await.map_err(store_error)?;
    let refs: Vec<ShareRef> = shares
        .iter()
        .map(|sh| ShareRef {
            id: sh.id.clone(),
            name: sh.name.clone(),
            created_at: sh.created_at.as_ref().map(|t| t.to_rfc3339()),
        })
        .collect();
    let names = assign_bucket_names(&refs, &HashMap::new());
    Ok(names
        .into_iter()
        .filter_map(|(name, id)| {
            shares
                .iter()
                .find(|sh| sh.id == id)
                .map(|sh| (name, sh.clone()))
        })
        .collect())
}

/// The share of `folders` mode.
async fn folders_share(gw: &Gateway, s: &Session) -> S3Result<ShareInfo> {
    let wanted = gw.ctx.config.s3.folders_share.clone().unwrap_or_default();
    let shares = gw.store().shares(s).await.map_err(store_error)?;
    let found = shares
        .iter()
        .find(|sh| sh.id == wanted)
        .or_else(|| shares.iter().find(|sh| sh.name == wanted))
        .cloned();
    // A user who reaches the share only through ACL entries has no membership: configured by
    // id, it is still found.
    let found = match found {
        None if wanted.starts_with("shr_") => gw.store().share(s, &wanted).await.ok(),
        other => other,
    };
    found.ok_or_else(|| {
        tracing::warn!(share = %wanted, "s3.folders_share is not visible to this user");
        s3_error!(
            AccessDenied,
            "the configured folders share is not accessible to this user"
        )
    })
}

async fn list_all(gw: &Gateway, s: &Session) -> S3Result<Vec<Listed>> {
    match gw.ctx.config.s3.bucket_mode {
        BucketMode::Share => Ok(share_buckets(gw, s)
            .await?
            .into_iter()
            .map(|(name, share)| Listed {
                name,
                share,
                folder_id: None,
            })
            .collect()),
        BucketMode::Folders => {
            let share = folders_share(gw, s).await?;
            let listing = gw
                .store()
                .list(s, &FolderRef::root(share.id.clone()))
                .await
                .map_err(store_error)?;
            Ok(listing
                .entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Folder(f) if s3s::path::check_bucket_name(&f.name) => Some(Listed {
                        name: f.name.clone(),
                        share: share.clone(),
                        folder_id: Some(f.id.clone()),
                    }),
                    _ => None,
                })
                .collect())
        }
    }
}

/// Resolves a bucket name for this user (`None`: no such bucket).
pub(crate) async fn resolve(gw: &Gateway, s: &Session, name: &str) -> S3Result<Option<BucketRef>> {
    let found = list_all(gw, s).await?.into_iter().find(|b| b.name == name);
    Ok(found.map(|b| BucketRef {
        base: match b.folder_id {
            Some(_) => vec![b.name.clone()],
            None => Vec::new(),
        },
        share_id: b.share.id,
    }))
}

/// The most buckets one ListBuckets page may ask for (`max-buckets`), as in S3.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets, in name order; with `max-buckets` it pages, the continuation token naming (in
/// base64url) the last bucket of the page.
pub(crate) async fn list_buckets(
    gw: &Gateway,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let s = gw.session(&req).await?;
    let input = &req.input;
    let page = match input.max_buckets {
        None => usize::MAX,
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "max-buckets must be an integer between 1 and 10000"
            ));
        }
    };
    let after = match input.continuation_token.as_deref() {
        None => None,
        Some(t) => Some(
            B64URL
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?,
        ),
    };
    let mut all: Vec<Listed> = list_all(gw, &s)
        .await?
        .into_iter()
        .filter(|b| {
            input
                .prefix
                .as_deref()
                .is_none_or(|p| b.name.starts_with(p))
        })
        .filter(|b| after.as_deref().is_none_or(|a| b.name.as_str() > a))
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let more = all.len() > page;
    all.truncate(page);
    let next = more
        .then(|| all.last().map(|b| B64URL.encode(&b.name)))
        .flatten();
    let buckets = all
        .into_iter()
        .map(|b| Bucket {
            creation_date: b.share.created_at.as_ref().map(timestamp),
            name: Some(b.name),
            bucket_region: Some(gw.ctx.config.s3.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(gw.owner(&s).await),
        continuation_token: next,
        prefix: req.input.prefix.clone(),
    }))
}

pub(crate) async fn head_bucket(
    gw: &Gateway,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    // A member of the share may read every bucket in it; a caller whose access comes from ACL
    // entries alone may see a bucket's name without READ on the bucket: 403, as S3 answers.
    let share = gw
        .store()
        .share(&s, &bucket.share_id)
        .await
        .map_err(store_error)?;
    if share.role.is_none() && !super::acl::target::bucket_readable(gw, &s, &bucket).await? {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(gw.ctx.config.s3.region.clone()),
        ..Default::default()
    }))
}

pub(crate) async fn get_bucket_location(
    gw: &Gateway,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let s = gw.session(&req).await?;
    gw.bucket(&s, &req.input.bucket).await?;
    let region = &gw.ctx.config.s3.region;
    // us-east-1 is reported as an empty location constraint, as AWS does.
    let constraint =
        (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: constraint,
    }))
}

pub(crate) async fn create_bucket(
    gw: &Gateway,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let s = gw.session(&req).await?;
    let name = req.input.bucket.clone();
    let mode = gw.ctx.config.s3.bucket_mode;
    if !s3s::path::check_bucket_name(&name) {
        return Err(s3_error!(
            InvalidBucketName,
            "The specified bucket is not valid (3-63 characters of a-z, 0-9, '.' and '-')."
        ));
    }
    // A share's bucket name is the slug of its name, so share mode cannot hold dots; a folder
    // can (folders mode).
    if mode == BucketMode::Share && slugify(&name) != name {
        return Err(s3_error!(
            InvalidBucketName,
            "bucket names of shares are 3-63 characters of a-z, 0-9 and '-'"
        ));
    }
    if let Some(existing) = list_all(gw, &s).await?.into_iter().find(|b| b.name == name) {
        // ScaiDrive has no bucket owner: a caller who may write in the bucket counts as its
        // owner. Re-creating one's own bucket succeeds in us-east-1 (AWS's legacy behaviour)
        // and is BucketAlreadyOwnedByYou elsewhere; anyone else gets BucketAlreadyExists.
        if !existing.share.can_write() {
            return Err(s3_error!(
                BucketAlreadyExists,
                "The requested bucket name is not available."
            ));
        }
        if gw.ctx.config.s3.region == "us-east-1" {
            return Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{name}")),
            }));
        }
        return Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ));
    }
    let store = gw.store();
    match mode {
        BucketMode::Share => {
            let created = store
                .client()
                .create_share(
                    s.token(),
                    &CreateShare {
                        name: name.clone(),
                        share_type: "personal".to_owned(),
                        owner_id: s.principal().to_owned(),
                        description: Some("created through the S3 gateway".to_owned()),
                        quota_bytes: None,
                    },
                )
                .await;
            let published = store.invalidate_shares().await;
            match created.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => {
                    return Err(s3_error!(
                        BucketAlreadyExists,
                        "The requested bucket name is not available."
                    ));
                }
                Err(e) => return Err(store_error(e)),
            }
            published.map_err(store_error)?;
        }
        BucketMode::Folders => {
            let share = folders_share(gw, &s).await?;
            store
                .create_folder_in(&s, &FolderRef::root(share.id), &name)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => s3_error!(BucketAlreadyExists),
                    other => store_error(other),
                })?;
        }
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{name}")),
    }))
}

/// True when the bucket holds no object (files or directory markers); empty folders left
/// behind do not count.
pub(crate) async fn is_empty(gw: &Gateway, s: &Session, bucket: &BucketRef) -> S3Result<bool> {
    let page = walk(
        gw,
        s,
        bucket,
        &ListParams {
            max_keys: 1,
            ..Default::default()
        },
    )
    .await?;
    Ok(page.items.is_empty())
}

pub(crate) async fn delete_bucket(
    gw: &Gateway,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    if !is_empty(gw, &s, &bucket).await? {
        return Err(s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty."
        ));
    }
    remove(gw, &s, &bucket).await?;
    super::bucketcfg::forget_all(gw, &bucket).await;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

/// Removes a bucket: its share, or its folder in `folders` mode.
async fn remove(gw: &Gateway, s: &Session, bucket: &BucketRef) -> S3Result<()> {
    let store = gw.store();
    if bucket.base.is_empty() {
        let res = store
            .client()
            .delete_share(s.token(), &bucket.share_id)
            .await;
        let published = store.invalidate_shares().await;
        store.invalidate_share(&bucket.share_id).await;
        res.map_err(|e| store_error(e.into()))?;
        published.map_err(store_error)?;
    } else {
        let root = FolderRef::root(bucket.share_id.clone());
        let folder = store
            .resolve_folder(s, &bucket.share_id, &bucket.base)
            .await
            .map_err(store_error)?
            .and_then(|f| f.folder_id)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        store
            .delete_folder(
                s,
                &root,
                &crate::store::FolderInfo {
                    id: folder,
                    name: bucket.base.last().cloned().unwrap_or_default(),
                },
            )
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// Before a CreateBucket whose ACL changes ScaiDrive entries: refuses it, before anything is
/// created, when the caller could not set them on the new bucket. A new share is its creator's
/// (who may then manage it); a new folder in `folders` mode takes what the caller holds on
/// the share, so MANAGE_PERMISSIONS there is needed.
pub(crate) async fn check_acl_settable(gw: &Gateway, s: &Session) -> S3Result<()> {
    if gw.ctx.config.s3.bucket_mode != BucketMode::Folders {
        return Ok(());
    }
    let share = folders_share(gw, s).await?;
    let effective = gw
        .store()
        .client()
        .effective(s.token(), ResourceType::Share, &share.id)
        .await
        .map_err(|e| store_error(e.into()))?;
    if !effective.can_manage_permissions {
        return Err(s3_error!(
            AccessDenied,
            "setting an ACL on a new bucket needs MANAGE_PERMISSIONS on the share; create it \
             without an ACL (or with 'private')"
        ));
    }
    Ok(())
}

/// Takes back a bucket this request created when applying its ACL failed afterwards: a
/// refused CreateBucket leaves nothing behind.
pub(crate) async fn undo_create(gw: &Gateway, s: &Session, bucket: &BucketRef) {
    if let Err(e) = remove(gw, s, bucket).await {
        tracing::error!(error = ?e, "removing a bucket whose ACL was refused failed");
    }
}
