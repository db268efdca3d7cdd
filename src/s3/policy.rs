//! Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus: bucket policies kept in the state DB
//! (`docs/s3.md` § Bucket policies). Who may read, replace or delete a bucket's policy is who
//! may manage its permissions in ScaiDrive (MANAGE_PERMISSIONS on the share or folder that is
//! the bucket: a share's owner and managers); the policy itself never stops them, so no policy
//! can lock its bucket's managers out.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::acl::target::{bucket_manageable, bucket_resource_id};
use super::policy_check::{load, state_error};
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::policy::{Policy, PolicyError};
use crate::state::BucketPolicy;

/// The bucket and its resource id, for a caller that may manage its permissions.
async fn managed_bucket(gw: &Gateway, s: &Session, name: &str) -> S3Result<(BucketRef, String)> {
    let bucket = gw.bucket(s, name).await?;
    if !bucket_manageable(gw, s, &bucket).await? {
        return Err(s3_error!(
            AccessDenied,
            "only who may manage the bucket's permissions in ScaiDrive may read or change its policy"
        ));
    }
    let id = bucket_resource_id(gw, s, &bucket).await?;
    Ok((bucket, id))
}

/// The anonymous reads a policy opens, as ScaiDrive links can serve them: each Allow for
/// everyone (`"*"`, not `NotPrincipal`) without conditions (a link cannot enforce them) of
/// `s3:GetObject` on `bucket/*` or `bucket/prefix/*` (read under the prefix) or `s3:ListBucket`
/// on the bucket (list everything); prefix → scope.
fn public_grants(policy: &Policy, bucket: &str) -> Vec<(String, super::public::Scope)> {
    use crate::policy::{Effect, Principals};
    let mut out: Vec<(String, super::public::Scope)> = Vec::new();
    let mut add =
        |prefix: &str, list: bool, read: bool| match out.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, scope)) => {
                scope.list |= list;
                scope.read |= read;
            }
            None => out.push((prefix.to_owned(), super::public::Scope { list, read })),
        };
    for st in &policy.statements {
        if st.effect != Effect::Allow
            || st.principal.not
            || st.principal.items != Principals::Everyone
            || !st.conditions.is_empty()
            || st.action.not
            || st.resource.not
        {
            continue;
        }
        let allows = |action: &str| {
            st.action
                .items
                .iter()
                .any(|a| crate::policy::wildcard_matches(&a.to_ascii_lowercase(), action))
        };
        for r in &st.resource.items {
            // `arn:aws:s3:::<bucket pattern>[/<key pattern>]`; the pattern may name this bucket
            // with wildcards (`arn:aws:s3:::*`), the key part only as `prefix/*` or `*`.
            let Some(rest) = r.strip_prefix("arn:aws:s3:::") else {
                continue;
            };
            let (bucket_pattern, key_pattern) = match rest.split_once('/') {
                Some((b, k)) => (b, Some(k)),
                None => (rest, None),
            };
            if !crate::policy::wildcard_matches(bucket_pattern, bucket) {
                continue;
            }
            match key_pattern {
                None if allows("s3:listbucket") => add("", true, false),
                Some(k) if allows("s3:getobject") => {
                    if let Some(prefix) = k.strip_suffix('*')
                        && !prefix.contains(['*', '?'])
                        && (prefix.is_empty() || prefix.ends_with('/'))
                    {
                        add(prefix, false, true);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Revokes the public links an earlier policy of the bucket opened.
async fn close_public(
    gw: &Gateway,
    s: &Session,
    bucket: &str,
    old: Option<&Policy>,
) -> S3Result<()> {
    let Some(old) = old else {
        return Ok(());
    };
    for (prefix, scope) in public_grants(old, bucket) {
        super::public::make_private(gw, s, bucket, &prefix, scope).await?;
    }
    Ok(())
}

pub(crate) async fn put_bucket_policy(
    gw: &Gateway,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let (bucket, id) = managed_bucket(gw, &s, &i.bucket).await?;
    let policy = Policy::parse(&i.policy, &i.bucket).map_err(|e| match e {
        PolicyError::Malformed(m) => S3Error::with_message(S3ErrorCode::MalformedPolicy, m),
        PolicyError::Unsupported(m) => S3Error::with_message(S3ErrorCode::NotImplemented, m),
    })?;
    // Anonymous reads the policy opens become ScaiDrive links (made with the caller's token:
    // ScaiDrive checks SHARE); the previous policy's links are revoked first.
    let old = load(gw, &id).await?;
    close_public(gw, &s, &i.bucket, old.as_ref()).await?;
    let access_key = Gateway::access_key(&req);
    for (prefix, scope) in public_grants(&policy, &i.bucket) {
        super::public::make_public(gw, &s, &access_key, &i.bucket, &prefix, scope).await?;
    }
    gw.store()
        .put_bucket_policy(&BucketPolicy {
            resource_id: id,
            share_id: bucket.share_id.clone(),
            policy: i.policy.clone(),
            updated_by: s.principal().to_owned(),
            updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
        .await
        .map_err(super::error::store_error)?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

pub(crate) async fn get_bucket_policy(
    gw: &Gateway,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let s = gw.session(&req).await?;
    let (_, id) = managed_bucket(gw, &s, &req.input.bucket).await?;
    let stored = gw
        .store()
        .db()
        .get_bucket_policy(&id)
        .await
        .map_err(state_error)?
        .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "the bucket policy does not exist"))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(stored.policy),
    }))
}

pub(crate) async fn delete_bucket_policy(
    gw: &Gateway,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let s = gw.session(&req).await?;
    let (bucket, id) = managed_bucket(gw, &s, &req.input.bucket).await?;
    let old = load(gw, &id).await?;
    close_public(gw, &s, &req.input.bucket, old.as_ref()).await?;
    // S3 answers 204 whether or not there was a policy.
    gw.store()
        .delete_bucket_policy(&bucket.share_id, &id)
        .await
        .map_err(super::error::store_error)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

/// `IsPublic` is true when the policy allows everyone something without a limiting condition;
/// a bucket without a policy is not public by policy (`IsPublic` false).
pub(crate) async fn get_bucket_policy_status(
    gw: &Gateway,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let s = gw.session(&req).await?;
    let (_, id) = managed_bucket(gw, &s, &req.input.bucket).await?;
    let public = load(gw, &id)
        .await?
        .is_some_and(|p| crate::policy::is_public(&p));
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

/// Before DeleteBucket: the resource id of the bucket, whose policy goes with it.
pub(crate) async fn resource_for_cleanup(
    gw: &Gateway,
    req: &S3Request<DeleteBucketInput>,
) -> Option<String> {
    let s = gw.session(req).await.ok()?;
    let bucket = super::bucket::resolve(gw, &s, &req.input.bucket)
        .await
        .ok()??;
    bucket_resource_id(gw, &s, &bucket).await.ok()
}

/// After DeleteBucket: removes the deleted bucket's policy (a failure is logged; the row is
/// keyed by an id no new bucket gets, so it can only be left over, never applied).
pub(crate) async fn forget(gw: &Gateway, resource_id: Option<String>) {
    let Some(id) = resource_id else {
        return;
    };
    if let Err(e) = gw.store().db().delete_bucket_policy(&id).await {
        tracing::warn!(resource_id = %id, error = %e, "removing a deleted bucket's policy failed");
    }
}
