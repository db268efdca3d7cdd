//! ACL stubs: ScaiDrive's share roles are the only permissions. Reads answer "owner has
//! FULL_CONTROL"; writes accept the canned `private` ACL (a no-op) and refuse anything else.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::list::owner;
use crate::auth::Session;

fn full_control(s: &Session) -> (Owner, Vec<Grant>) {
    let o = owner(s);
    let grant = Grant {
        grantee: Some(Grantee {
            display_name: o.display_name.clone(),
            id: o.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    (o, vec![grant])
}

fn only_private(canned: Option<&str>, has_policy: bool, has_grants: bool) -> S3Result<()> {
    match canned {
        Some(c) if c == "private" && !has_grants => Ok(()),
        None if !has_grants && !has_policy => Ok(()),
        _ => Err(s3_error!(
            NotImplemented,
            "only the canned ACL 'private' is supported; ScaiDrive share roles decide access"
        )),
    }
}

pub(crate) async fn get_bucket_acl(
    gw: &Gateway,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let s = gw.session(&req).await?;
    gw.bucket(&s, &req.input.bucket).await?;
    let (o, grants) = full_control(&s);
    Ok(S3Response::new(GetBucketAclOutput {
        owner: Some(o),
        grants: Some(grants),
    }))
}

pub(crate) async fn get_object_acl(
    gw: &Gateway,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    super::get::find(
        gw,
        &s,
        &bucket,
        &req.input.key,
        req.input.version_id.as_deref(),
    )
    .await?;
    let (o, grants) = full_control(&s);
    Ok(S3Response::new(GetObjectAclOutput {
        owner: Some(o),
        grants: Some(grants),
        ..Default::default()
    }))
}

pub(crate) async fn put_bucket_acl(
    gw: &Gateway,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let bucket = gw.bucket(&s, &i.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let grants = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    only_private(
        i.acl.as_ref().map(BucketCannedACL::as_str),
        i.access_control_policy.is_some(),
        grants,
    )?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub(crate) async fn put_object_acl(
    gw: &Gateway,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let bucket = gw.bucket(&s, &i.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    super::get::find(gw, &s, &bucket, &i.key, i.version_id.as_deref()).await?;
    let grants = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    only_private(
        i.acl.as_ref().map(ObjectCannedACL::as_str),
        i.access_control_policy.is_some(),
        grants,
    )?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_private_canned_acl_is_accepted() {
        assert!(only_private(Some("private"), false, false).is_ok());
        assert!(only_private(None, false, false).is_ok());
        assert!(only_private(Some("public-read"), false, false).is_err());
        assert!(only_private(None, true, false).is_err());
        assert!(only_private(Some("private"), false, true).is_err());
    }
}
