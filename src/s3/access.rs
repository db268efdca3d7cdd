//! Bucket policies on every S3 request (s3s's `S3Access` hook, run after the signature is
//! checked and before the operation): the bucket's policy is read from the state DB and
//! evaluated for the operation's IAM action, resource and condition keys. An explicit Deny
//! answers `AccessDenied`; anything else lets the request go on to ScaiDrive, which still
//! decides with its own permissions, so a policy only ever narrows (`docs/s3.md` § Bucket
//! policies).

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{DeleteObjectsInput, PostObjectInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use super::Gateway;
use super::policy_check::{DENIED_BY_POLICY, load_for};
use super::policy_check::{arn, context_of};
use crate::auth::Session;
use crate::policy::{Context, Decision, Policy, Request, evaluate};
use crate::server::ClientConn;

/// The `S3Access` of the S3 service.
pub(crate) struct PolicyAccess {
    gw: Gateway,
}

impl PolicyAccess {
    pub(crate) fn new(gw: Gateway) -> Self {
        Self { gw }
    }
}

/// What `check` found, kept in the request's extensions for the per-operation hooks that
/// see the parsed input (DeleteObjects names its keys in the body).
#[derive(Clone)]
struct Checked {
    policy: Arc<Policy>,
    principal: String,
    bucket: String,
    context: Context,
}

/// Operations never evaluated: without a bucket, or the policy's own (their callers must
/// manage the bucket's permissions in ScaiDrive, and a policy cannot lock them out).
const NOT_EVALUATED: &[&str] = &[
    "ListBuckets",
    "CreateBucket",
    "PutBucketPolicy",
    "GetBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicyStatus",
];

/// The IAM action of an S3 operation; `versioned` when the request names a version.
pub(crate) fn action_of(op: &str, versioned: bool) -> String {
    let a = match (op, versioned) {
        ("GetObject" | "HeadObject", false) => "GetObject",
        ("GetObject" | "HeadObject", true) => "GetObjectVersion",
        ("GetObjectAcl", true) => "GetObjectVersionAcl",
        ("PutObjectAcl", true) => "PutObjectVersionAcl",
        ("GetObjectTagging", true) => "GetObjectVersionTagging",
        ("PutObjectTagging", true) => "PutObjectVersionTagging",
        ("DeleteObjectTagging", true) => "DeleteObjectVersionTagging",
        ("GetObjectAttributes", true) => "GetObjectVersionAttributes",
        ("DeleteObject", false) => "DeleteObject",
        ("DeleteObject", true) => "DeleteObjectVersion",
        (
            "PutObject"
            | "CopyObject"
            | "PostObject"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload",
            _,
        ) => "PutObject",
        ("ListParts", _) => "ListMultipartUploadParts",
        ("ListObjects" | "ListObjectsV2" | "HeadBucket", _) => "ListBucket",
        ("ListObjectVersions", _) => "ListBucketVersions",
        ("ListMultipartUploads", _) => "ListBucketMultipartUploads",
        ("DeleteBucketTagging", _) => "PutBucketTagging",
        ("GetBucketLifecycleConfiguration" | "GetBucketLifecycle", _) => {
            "GetLifecycleConfiguration"
        }
        ("PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle", _) => {
            "PutLifecycleConfiguration"
        }
        ("GetBucketCors", _) => "GetBucketCORS",
        ("PutBucketCors" | "DeleteBucketCors", _) => "PutBucketCORS",
        (other, _) => other,
    };
    format!("s3:{a}")
}

/// The bucket and key of an `x-amz-copy-source` header (`bucket/key[?versionId=…]`).
fn copy_source(headers: &http::HeaderMap) -> Option<(String, String)> {
    let raw = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let path = raw.split('?').next()?;
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let (bucket, key) = decoded.trim_start_matches('/').split_once('/')?;
    Some((bucket.to_owned(), key.to_owned()))
}

fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "{}", DENIED_BY_POLICY)
}

/// The session the access check opened for a signed request, kept in the request's extensions
/// for the operation ([`Gateway::session`](super::Gateway::session)).
#[derive(Clone)]
pub(super) struct SignedSession(pub(super) Session);

impl PolicyAccess {
    /// The session of the signed request with access key `access_key`.
    async fn session(&self, access_key: &str, cx: &S3AccessContext<'_>) -> S3Result<Session> {
        let token = super::auth::session_token(cx.headers(), cx.uri());
        self.gw
            .ctx
            .auth
            .signed(access_key, token.as_deref())
            .await
            .map(|pair| pair.session)
            .map_err(super::auth::auth_error)
    }

    /// Puts the tags of object `key` in the context (`s3:ExistingObjectTag/<tag key>`), as the
    /// caller may read them; an object that does not exist (or that the caller may not read,
    /// which the operation will then refuse) has none.
    async fn add_existing_tags(&self, s: &Session, bucket: &str, key: &str, ctx: &mut Context) {
        let Ok(Some(b)) = super::bucket::resolve(&self.gw, s, bucket).await else {
            return;
        };
        let version = ctx.get("s3:VersionId").and_then(|v| v.first().cloned());
        let Ok(found) = super::found::find(&self.gw, s, &b, key, version.as_deref()).await else {
            return;
        };
        for (k, v) in super::tagging::get(found.attrs.as_ref()) {
            ctx.set(&format!("s3:ExistingObjectTag/{k}"), v);
        }
    }

    /// The policy of bucket `name` as `s` sees it; `None` when the bucket does not exist (the
    /// operation then answers NoSuchBucket) or has no policy.
    async fn policy_of(&self, s: &Session, name: &str) -> S3Result<Option<Policy>> {
        // A caller who cannot see the bucket at all can only be served what is public (through
        // a link, acting for its creator): the operation decides that.
        let bucket = match super::bucket::resolve(&self.gw, s, name).await {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) if *e.code() == s3s::S3ErrorCode::AccessDenied => return Ok(None),
            Err(e) => return Err(e),
        };
        let id = match super::acl::target::bucket_resource_id(&self.gw, s, &bucket).await {
            Ok(id) => id,
            Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchBucket => return Ok(None),
            Err(e) => return Err(e),
        };
        load_for(&self.gw, s, &bucket, &id).await
    }
}

#[async_trait::async_trait]
impl S3Access for PolicyAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(cred) = cx.credentials() else {
            // Anonymous requests: only the reads public links may serve go on (the operation
            // then serves them through a link or refuses them).
            return super::auth::AnonymousReads.check(cx).await;
        };
        let op = cx.s3_op().name().to_owned();
        if NOT_EVALUATED.contains(&op.as_str()) {
            return Ok(());
        }
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => return Ok(()),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        let access_key = cred.access_key.clone();
        let s = self.session(&access_key, cx).await?;
        // The operation uses this session too: what it checked once (the coherence checks of
        // several instances) is not checked again in this request.
        cx.extensions_mut().insert(SignedSession(s.clone()));
        let conn = cx.extensions_mut().get::<ClientConn>().copied();
        let context = context_of(Some(s.principal()), conn.as_ref(), cx.headers(), cx.uri());
        let versioned = context.get("s3:VersionId").is_some();

        // A copy also reads its source, under the source bucket's policy.
        if matches!(op.as_str(), "CopyObject" | "UploadPartCopy")
            && let Some((src_bucket, src_key)) = copy_source(cx.headers())
            && let Some(policy) = self.policy_of(&s, &src_bucket).await?
        {
            let action = if cx
                .headers()
                .get("x-amz-copy-source")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("versionId=")))
            {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            };
            let resource = arn(&src_bucket, Some(&src_key));
            let req = Request {
                principal: Some(s.principal()),
                action,
                resource: &resource,
                context: &context,
            };
            if evaluate(&policy, &req) == Decision::Deny {
                return Err(denied());
            }
        }

        let Some(policy) = self.policy_of(&s, &bucket).await? else {
            return Ok(());
        };
        let mut context = context;
        if let Some(key) = key.as_deref()
            && policy.tests_existing_tags()
        {
            self.add_existing_tags(&s, &bucket, key, &mut context).await;
        }
        let action = action_of(&op, versioned);
        let resource = arn(&bucket, key.as_deref());
        let req = Request {
            principal: Some(s.principal()),
            action: &action,
            resource: &resource,
            context: &context,
        };
        if evaluate(&policy, &req) == Decision::Deny {
            tracing::debug!(op, action, resource, "denied by the bucket policy");
            return Err(denied());
        }
        cx.extensions_mut().insert(Checked {
            policy: Arc::new(policy),
            principal: s.principal().to_owned(),
            bucket,
            context,
        });
        Ok(())
    }

    /// PostObject names its key in the form, read after `check` (which saw only the bucket):
    /// the key is evaluated here, as PutObject's would be.
    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        let Some(checked) = req.extensions.get::<Checked>() else {
            return Ok(());
        };
        let resource = arn(&checked.bucket, Some(&req.input.key));
        let r = Request {
            principal: Some(&checked.principal),
            action: "s3:PutObject",
            resource: &resource,
            context: &checked.context,
        };
        match evaluate(&checked.policy, &r) {
            Decision::Deny => Err(denied()),
            _ => Ok(()),
        }
    }

    /// DeleteObjects deletes each key as DeleteObject would: a key the policy denies refuses
    /// the whole request (nothing is deleted).
    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let Some(checked) = req.extensions.get::<Checked>() else {
            return Ok(());
        };
        for obj in &req.input.delete.objects {
            let action = action_of("DeleteObject", obj.version_id.is_some());
            let resource = arn(&checked.bucket, Some(&obj.key));
            let r = Request {
                principal: Some(&checked.principal),
                action: &action,
                resource: &resource,
                context: &checked.context,
            };
            if evaluate(&checked.policy, &r) == Decision::Deny {
                return Err(s3_error!(
                    AccessDenied,
                    "Access Denied by the bucket policy (key {})",
                    obj.key
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn operations_map_to_iam_actions() {
        assert_eq!(action_of("HeadObject", false), "s3:GetObject");
        assert_eq!(action_of("GetObject", true), "s3:GetObjectVersion");
        assert_eq!(action_of("ListObjectsV2", false), "s3:ListBucket");
        assert_eq!(action_of("UploadPart", false), "s3:PutObject");
        assert_eq!(action_of("DeleteObject", true), "s3:DeleteObjectVersion");
        assert_eq!(action_of("GetBucketAcl", false), "s3:GetBucketAcl");
        assert_eq!(action_of("PutBucketCors", false), "s3:PutBucketCORS");
    }

    #[test]
    fn request_context_carries_the_keys_clients_test() {
        let mut h = http::HeaderMap::new();
        h.insert("referer", "http://www.example.com/x".parse().unwrap());
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        h.insert("x-amz-security-token", "secret".parse().unwrap());
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIA/x".parse().unwrap(),
        );
        let uri: http::Uri = "/b?list-type=2&prefix=logs%2F&max-keys=5".parse().unwrap();
        let conn = ClientConn {
            peer: "[::ffff:10.1.2.3]:5000".parse().unwrap(),
            secure: false,
        };
        let c = context_of(Some("usr_a"), Some(&conn), &h, &uri);
        let get = |k: &str| c.get(k).map(|v| v[0].clone());
        assert_eq!(get("aws:SourceIp").as_deref(), Some("10.1.2.3"));
        assert_eq!(get("aws:SecureTransport").as_deref(), Some("false"));
        assert_eq!(
            get("aws:Referer").as_deref(),
            Some("http://www.example.com/x")
        );
        assert_eq!(get("s3:x-amz-acl").as_deref(), Some("public-read"));
        assert_eq!(get("s3:x-amz-security-token"), None);
        assert_eq!(get("s3:prefix").as_deref(), Some("logs/"));
        assert_eq!(get("s3:max-keys").as_deref(), Some("5"));
        assert_eq!(get("s3:delimiter"), None);
        assert_eq!(get("aws:username").as_deref(), Some("usr_a"));
        assert_eq!(
            get("s3:signatureversion").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
    }

    #[test]
    fn copy_sources_are_split_and_decoded() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-copy-source",
            "/src/a%20b/c?versionId=1".parse().unwrap(),
        );
        assert_eq!(copy_source(&h), Some(("src".into(), "a b/c".into())));
    }
}
