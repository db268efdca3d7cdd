//! What the S3 front end asks of a bucket's policy below the handlers: the stored policy
//! ([`load`]), the condition keys of a request ([`context_of`]), resource ARNs, and whether an
//! explicit Deny stops a read served through a public link ([`denies_public_read`]). Used by the
//! access hook, the policy operations and the public-link path alike.

use s3s::{S3Error, S3Request, S3Result, s3_error};

use super::acl::target::bucket_resource_id;
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::policy::{Context, Decision, Policy, Request, evaluate};
use crate::server::ClientConn;

/// The message of an AccessDenied that a bucket policy's explicit Deny caused.
pub(crate) const DENIED_BY_POLICY: &str = "Access Denied by the bucket policy";

/// A state-DB failure as S3 sees it (the cause logged first).
pub(crate) fn state_error(e: crate::state::StateError) -> S3Error {
    tracing::error!(error = %e, "bucket policy: state database failed");
    s3_error!(
        ServiceUnavailable,
        "the gateway's state database is unavailable"
    )
}

/// The parsed policy of a bucket, if it has one (read from the state DB every time, so every
/// instance applies the latest at once).
pub(crate) async fn load(gw: &Gateway, resource_id: &str) -> S3Result<Option<Policy>> {
    let Some(stored) = gw
        .store()
        .db()
        .get_bucket_policy(resource_id)
        .await
        .map_err(state_error)?
    else {
        return Ok(None);
    };
    parse(resource_id, &stored.policy).map(Some)
}

/// The parsed policy of bucket `bucket` (resource `resource_id`) as request `s` applies it:
/// kept in memory between requests and checked against the other instances' changes of its
/// share once per request (`store/policies.rs`), so every instance applies the latest at once.
pub(crate) async fn load_for(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    resource_id: &str,
) -> S3Result<Option<Policy>> {
    let Some(stored) = gw
        .store()
        .bucket_policy(s, &bucket.share_id, resource_id)
        .await
        .map_err(state_error)?
    else {
        return Ok(None);
    };
    parse(resource_id, &stored.policy).map(Some)
}

/// A stored policy was valid when put; one that no longer parses (a newer gateway's) is
/// refused rather than skipped, so a Deny in it is never ignored.
fn parse(resource_id: &str, stored: &str) -> S3Result<Policy> {
    Policy::parse_stored(stored).map_err(|e| {
        tracing::error!(resource_id, error = %e, "stored bucket policy does not parse");
        s3_error!(
            InternalError,
            "the bucket's stored policy cannot be evaluated"
        )
    })
}

/// Whether bucket `bucket`'s policy explicitly denies a read served through a public link
/// (`action` `s3:GetObject` or `s3:ListBucket` on `key`, `None`: the bucket itself) to `asker`:
/// a link opens what an ACL or policy made public, and an explicit Deny still wins over it, as
/// in S3. `creator` is the link creator's session, with which the bucket is resolved.
pub(crate) async fn denies_public_read(
    gw: &Gateway,
    creator: &Session,
    bucket: &BucketRef,
    key: Option<&str>,
    action: &str,
    asker: &Asker<'_>,
) -> S3Result<bool> {
    let id = bucket_resource_id(gw, creator, bucket).await?;
    let Some(policy) = load_for(gw, creator, bucket, &id).await? else {
        return Ok(false);
    };
    let context = context_of(
        asker.principal,
        asker.conn.as_ref(),
        asker.headers,
        asker.uri,
    );
    let resource = arn(asker.bucket, key);
    let req = Request {
        principal: asker.principal,
        action,
        resource: &resource,
        context: &context,
    };
    Ok(evaluate(&policy, &req) == Decision::Deny)
}

/// The resource ARN of a bucket or of an object in it.
pub(crate) fn arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The condition keys of a request (`docs/s3.md` § Bucket policies lists them).
pub(crate) fn context_of(
    principal: Option<&str>,
    conn: Option<&ClientConn>,
    headers: &http::HeaderMap,
    uri: &http::Uri,
) -> Context {
    let mut c = Context::new();
    if let Some(conn) = conn {
        let ip = match conn.peer.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        c.set("aws:SourceIp", ip.to_string());
        c.set("aws:SecureTransport", conn.secure.to_string());
    }
    let now = chrono::Utc::now();
    c.set(
        "aws:CurrentTime",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    c.set("aws:EpochTime", now.timestamp().to_string());
    match principal {
        Some(p) => {
            c.set("aws:username", p);
            c.set("aws:userid", p);
            c.set("aws:PrincipalType", "User");
        }
        None => c.set("aws:PrincipalType", "Anonymous"),
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(r) = header("referer") {
        c.set("aws:Referer", r);
    }
    if let Some(ua) = header("user-agent") {
        c.set("aws:UserAgent", ua);
    }
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("x-amz-")
            && n != "x-amz-security-token"
            && let Ok(v) = value.to_str()
        {
            c.set(&format!("s3:{n}"), v);
        }
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    for (param_name, key) in [
        ("prefix", "s3:prefix"),
        ("delimiter", "s3:delimiter"),
        ("max-keys", "s3:max-keys"),
        ("versionId", "s3:VersionId"),
    ] {
        if let Some(v) = param(param_name) {
            c.set(key, v);
        }
    }
    let auth = header("authorization");
    let presigned = param("X-Amz-Algorithm").or(param("Signature"));
    if let Some(a) = auth {
        c.set("s3:authType", "REST-HEADER");
        let v = if a.starts_with("AWS4-") {
            "AWS4-HMAC-SHA256"
        } else {
            "AWS"
        };
        c.set("s3:signatureversion", v);
    } else if presigned.is_some() {
        c.set("s3:authType", "REST-QUERY-STRING");
        let v = if param("X-Amz-Algorithm").is_some() {
            "AWS4-HMAC-SHA256"
        } else {
            "AWS"
        };
        c.set("s3:signatureversion", v);
    }
    c
}

/// Who asks for a read served through a public link, as the bucket policy sees them.
pub(crate) struct Asker<'a> {
    /// The bucket as the request names it.
    pub bucket: &'a str,
    /// The signer's ScaiDrive user (`None`: an anonymous request).
    pub principal: Option<&'a str>,
    pub conn: Option<ClientConn>,
    pub headers: &'a http::HeaderMap,
    pub uri: &'a http::Uri,
}

impl<'a> Asker<'a> {
    pub(crate) fn of<T>(
        req: &'a S3Request<T>,
        bucket: &'a str,
        principal: Option<&'a str>,
    ) -> Self {
        Self {
            bucket,
            principal,
            conn: req.extensions.get::<ClientConn>().copied(),
            headers: &req.headers,
            uri: &req.uri,
        }
    }
}
