//! S3 authentication and host parsing: secrets for s3s's SigV4/SigV2 checks come from the
//! [`Authenticator`]; virtual-host style requests are recognised under `s3.domain`.

use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::{S3Error, S3Result, s3_error};

use crate::auth::{AuthError, Authenticator};

/// The s3s auth provider: an access key's secret, from the state DB or the configuration.
pub(super) struct GatewayAuth {
    auth: Authenticator,
}

impl GatewayAuth {
    pub(super) fn new(auth: Authenticator) -> Self {
        Self { auth }
    }
}

#[async_trait::async_trait]
impl S3Auth for GatewayAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.auth.by_access_key(access_key).await {
            Ok(pair) => Ok(SecretKey::from(pair.secret)),
            Err(e) => Err(auth_error(e)),
        }
    }
}

/// Maps an authentication failure to its S3 error (the cause is logged, not sent).
pub(super) fn auth_error(e: AuthError) -> S3Error {
    tracing::debug!(error = %e, "S3 authentication failed");
    match e {
        AuthError::UnknownAccessKey => s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        ),
        AuthError::BadCredentials => s3_error!(SignatureDoesNotMatch),
        AuthError::TokenRefused => s3_error!(
            AccessDenied,
            "the ScaiDrive token behind this access key was refused (expired or revoked)"
        ),
        AuthError::Unavailable(_) => s3_error!(
            ServiceUnavailable,
            "authentication is unavailable, please retry"
        ),
    }
}

/// Virtual-host style under one domain: `bucket.<domain>` names a bucket, `<domain>` itself and
/// every other host (an IP address, `localhost`) are path style.
#[derive(Debug)]
pub(super) struct DomainHost {
    domain: String,
}

impl DomainHost {
    pub(super) fn new(domain: &str) -> Self {
        Self {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(parse_host(&self.domain, host))
    }
}

fn parse_host<'a>(domain: &'a str, host: &'a str) -> VirtualHost<'a> {
    // Strip a port (IPv6 literals keep their brackets and are never virtual hosts).
    let name = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        }
        _ => host,
    };
    let lower = name.to_ascii_lowercase();
    if let Some(bucket) = lower
        .strip_suffix(domain)
        .and_then(|b| b.strip_suffix('.'))
        .filter(|b| !b.is_empty())
    {
        return VirtualHost::new(domain).with_bucket(bucket.to_owned());
    }
    VirtualHost::new(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_subdomains_are_virtual_hosts_and_everything_else_is_path_style() {
        let d = "s3.example.com";
        assert_eq!(
            parse_host(d, "photos.s3.example.com").bucket(),
            Some("photos")
        );
        assert_eq!(
            parse_host(d, "photos.s3.example.com:9000").bucket(),
            Some("photos")
        );
        assert_eq!(parse_host(d, "s3.example.com:9000").bucket(), None);
        assert_eq!(parse_host(d, "127.0.0.1:9000").bucket(), None);
        assert_eq!(parse_host(d, "localhost").bucket(), None);
        assert_eq!(parse_host(d, "[::1]:9000").bucket(), None);
    }
}

/// Answers a presigned URL whose `X-Amz-Signature` is not a SHA-256 hex digest with 403
/// `SignatureDoesNotMatch`, as S3 does; s3s would refuse it as a malformed request (400).
#[derive(Debug, Clone)]
pub struct PresignGuard<S> {
    inner: S,
}

impl<S> PresignGuard<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

fn malformed_presigned_signature(query: Option<&str>) -> bool {
    let Some(q) = query else { return false };
    q.split('&').any(|pair| {
        pair.strip_prefix("X-Amz-Signature=")
            .is_some_and(|sig| !(sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit())))
    })
}

impl<S> hyper::service::Service<http::Request<hyper::body::Incoming>> for PresignGuard<S>
where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<s3s::Body>,
        >,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<s3s::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        if malformed_presigned_signature(req.uri().query()) {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
                        <Message>The request signature we calculated does not match the signature you provided.</Message></Error>";
            let mut resp = http::Response::new(s3s::Body::from(body.to_owned()));
            *resp.status_mut() = http::StatusCode::FORBIDDEN;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/xml"),
            );
            return Box::pin(async move { Ok(resp) });
        }
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod presign_tests {
    use super::malformed_presigned_signature;

    #[test]
    fn only_malformed_presigned_signatures_are_caught() {
        let good = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=".to_owned() + &"a".repeat(64);
        assert!(!malformed_presigned_signature(Some(&good)));
        assert!(malformed_presigned_signature(Some(&(good.clone() + "0"))));
        assert!(malformed_presigned_signature(Some("X-Amz-Signature=xyz")));
        assert!(!malformed_presigned_signature(Some("list-type=2")));
        assert!(!malformed_presigned_signature(None));
    }
}
