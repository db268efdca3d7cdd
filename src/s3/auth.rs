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
