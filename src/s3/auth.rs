//! S3 authentication and host parsing: secrets for s3s's SigV4/SigV2 checks come from the
//! [`Authenticator`]; a SigV4 credential scope must name the gateway's region (`s3.region`;
//! s3s accepts any); virtual-host style requests are recognised under `s3.domain`.

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

/// s3s's access hook: unsigned requests reach the operations that may serve them through a
/// public link (`public.rs`: GET/HEAD of an object, listings; ListBuckets answers an empty list;
/// DeleteObject tells a gone public bucket) and are refused with AccessDenied everywhere else,
/// as s3s's default does.
pub(super) struct AnonymousReads;

#[async_trait::async_trait]
impl s3s::access::S3Access for AnonymousReads {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        match cx.s3_op().name() {
            "GetObject" | "HeadObject" | "ListObjects" | "ListObjectsV2" | "ListBuckets"
            | "DeleteObject" => Ok(()),
            _ => Err(s3_error!(AccessDenied, "Signature is required")),
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
        AuthError::Expired => s3_error!(ExpiredToken, "The provided token has expired."),
        AuthError::InvalidToken(why) => s3_error!(InvalidToken, "{why}"),
        AuthError::StsDisabled => s3_error!(
            AccessDenied,
            "temporary credentials are turned off on this gateway"
        ),
    }
}

/// The session token of a request signed with temporary credentials: the
/// `x-amz-security-token` header, or the parameter of that name in a presigned URL's query
/// (any case).
pub(super) fn session_token<'a>(
    headers: &'a http::HeaderMap,
    uri: &'a http::Uri,
) -> Option<std::borrow::Cow<'a, str>> {
    if let Some(v) = headers.get("x-amz-security-token") {
        return v.to_str().ok().map(std::borrow::Cow::Borrowed);
    }
    uri.query()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.eq_ignore_ascii_case("x-amz-security-token")
            .then(|| percent_encoding::percent_decode_str(value).decode_utf8_lossy())
    })
}

/// A SigV2 presigned URL (`AWSAccessKeyId` and `Signature` in the query) signs its
/// `x-amz-security-token` parameter as an `x-amz-` header (botocore, AWS); s3s reads only
/// headers there, so the parameter is copied into the header when the request has none.
pub(super) fn v2_presigned_session_token_as_header<B>(req: &mut http::Request<B>) {
    let Some(query) = req.uri().query() else {
        return;
    };
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p.split_once('=').map_or(p, |(n, _)| n) == name)
    };
    if !has("AWSAccessKeyId")
        || !has("Signature")
        || req.headers().contains_key("x-amz-security-token")
    {
        return;
    }
    let token = session_token(req.headers(), req.uri()).map(|t| t.into_owned());
    if let Some(value) = token.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
        req.headers_mut().insert("x-amz-security-token", value);
    }
}

/// Where a SigV4 credential came from; S3 answers a wrong region differently in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CredentialSource {
    /// The `Authorization` header (aws-chunked bodies are signed under the same scope).
    Header,
    /// A presigned URL's `X-Amz-Credential`.
    Query,
    /// A browser POST form's `x-amz-credential` field.
    Form,
}

/// A SigV4 credential scope that names another region than the gateway's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WrongRegion {
    pub source: CredentialSource,
    /// The whole credential (`AKID/20250101/eu-west-1/s3/aws4_request`).
    pub credential: String,
    /// The region it names.
    pub given: String,
    /// The gateway's region.
    pub expected: String,
}

impl WrongRegion {
    /// S3's answer: (code, message, further elements of the error body, escaped).
    pub(super) fn answer(&self) -> (&'static str, String, String) {
        let given = printable(&self.given);
        let given = quick_xml::escape::escape(given.as_str());
        let expected = quick_xml::escape::escape(self.expected.as_str());
        let wrong = format!("the region '{given}' is wrong; expecting '{expected}'");
        let region = format!("<Region>{expected}</Region>");
        match self.source {
            CredentialSource::Header => (
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {wrong}"),
                region,
            ),
            CredentialSource::Query => (
                "AuthorizationQueryParametersError",
                format!("Error parsing the X-Amz-Credential parameter; {wrong}"),
                region,
            ),
            CredentialSource::Form => (
                "InvalidArgument",
                wrong,
                format!(
                    "<ArgumentName>X-Amz-Credential</ArgumentName><ArgumentValue>{}</ArgumentValue>{region}",
                    quick_xml::escape::escape(printable(&self.credential).as_str())
                ),
            ),
        }
    }
}

/// `text` with control characters (which XML cannot carry; a presigned URL may hold `%00`)
/// replaced by U+FFFD.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The region of a SigV4 credential (`AKID/date/region/service/aws4_request`); `None` when it
/// has not that shape (s3s then refuses it).
pub(super) fn credential_region(credential: &str) -> Option<&str> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, _service, "aws4_request"] if !key.is_empty() && !date.is_empty() => {
            Some(region)
        }
        _ => None,
    }
}

/// The credential of a SigV4 `Authorization` header.
pub(super) fn header_credential(authorization: &str) -> Option<&str> {
    let params = authorization.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    params
        .split(',')
        .find_map(|p| p.trim().strip_prefix("Credential="))
        .map(str::trim)
}

/// The credential a request signs with (header or presigned query), when it names another
/// region than `expected`.
pub(super) fn wrong_region(
    authorization: Option<&str>,
    query: Option<&str>,
    expected: &str,
) -> Option<WrongRegion> {
    if let Some(credential) = authorization.and_then(header_credential) {
        return check_region(CredentialSource::Header, credential, expected);
    }
    let credential = query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "X-Amz-Credential").then_some(value)
    })?;
    let decoded = percent_encoding::percent_decode_str(credential).decode_utf8_lossy();
    check_region(CredentialSource::Query, &decoded, expected)
}

/// `credential` from `source`, when it names another region than `expected`.
pub(super) fn check_region(
    source: CredentialSource,
    credential: &str,
    expected: &str,
) -> Option<WrongRegion> {
    let given = credential_region(credential)?;
    (given != expected).then(|| WrongRegion {
        source,
        credential: credential.to_owned(),
        given: given.to_owned(),
        expected: expected.to_owned(),
    })
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
            domain: normalise_domain(domain),
        }
    }
}

/// `s3.domain` as hosts are compared with it: lower case, no trailing dot.
pub(super) fn normalise_domain(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// The bucket a virtual-host style `host` names under `domain` (normalised), if it does.
pub(super) fn host_bucket(domain: &str, host: &str) -> Option<String> {
    parse_host(domain, host).bucket().map(str::to_owned)
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_region_of_a_credential_is_its_third_part() {
        assert_eq!(
            credential_region("AKID/20250101/eu-west-1/s3/aws4_request"),
            Some("eu-west-1")
        );
        assert_eq!(
            credential_region("AKID/20250101/US/s3/aws4_request"),
            Some("US")
        );
        assert_eq!(credential_region("AKID/20250101/eu-west-1/s3"), None);
        assert_eq!(credential_region("AKID"), None);
        assert_eq!(
            header_credential(
                "AWS4-HMAC-SHA256 Credential=AKID/20250101/US/s3/aws4_request, SignedHeaders=host, Signature=00"
            ),
            Some("AKID/20250101/US/s3/aws4_request")
        );
        assert_eq!(header_credential("AWS AKID:c2ln"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_scope_region_is_read_back_and_judged(
            key in "[A-Z0-9]{1,20}",
            region in "[^/,&= ]{1,24}",
            expected in "[a-z0-9-]{1,16}",
        ) {
            let credential = format!("{key}/20250101/{region}/s3/aws4_request");
            proptest::prop_assert_eq!(credential_region(&credential), Some(region.as_str()));
            let header = format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=00"
            );
            let wrong = wrong_region(Some(&header), None, &expected);
            proptest::prop_assert_eq!(wrong.is_some(), region != expected);
            if let Some(wrong) = wrong {
                // The answer is well-formed XML text whatever the region holds.
                let (_, message, extra) = wrong.answer();
                let body = format!("<E><M>{message}</M>{extra}</E>");
                proptest::prop_assert!(xmltree::Element::parse(body.as_bytes()).is_ok());
            }
        }

        #[test]
        fn arbitrary_authorization_and_query_never_panic(
            authorization in proptest::option::of(".{0,200}"),
            query in proptest::option::of(".{0,200}"),
        ) {
            let _ = wrong_region(authorization.as_deref(), query.as_deref(), "us-east-1");
        }
    }

    #[test]
    fn only_another_region_than_the_gateways_is_wrong() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20250101/US/s3/aws4_request, SignedHeaders=host, Signature=00";
        let wrong = wrong_region(Some(header), None, "us-east-1").unwrap();
        assert_eq!(wrong.source, CredentialSource::Header);
        assert_eq!(wrong.given, "US");
        assert!(wrong_region(Some(header), None, "US").is_none());
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Feu-west-1%2Fs3%2Faws4_request";
        let wrong = wrong_region(None, Some(query), "us-east-1").unwrap();
        assert_eq!(wrong.source, CredentialSource::Query);
        assert_eq!(wrong.given, "eu-west-1");
        assert!(wrong_region(None, Some(query), "eu-west-1").is_none());
        // SigV2 and anonymous requests have no scope.
        assert!(wrong_region(Some("AWS AKID:c2ln"), Some("Signature=x"), "us-east-1").is_none());
        assert!(wrong_region(None, None, "us-east-1").is_none());
        let (code, message, extra) = check_region(
            CredentialSource::Form,
            "AKID/20250101/<x>/s3/aws4_request",
            "us-east-1",
        )
        .unwrap()
        .answer();
        assert_eq!(code, "InvalidArgument");
        assert_eq!(
            message,
            "the region '&lt;x&gt;' is wrong; expecting 'us-east-1'"
        );
        assert!(
            extra
                .contains("<ArgumentValue>AKID/20250101/&lt;x&gt;/s3/aws4_request</ArgumentValue>")
        );
    }

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
