//! STS on the S3 listener, as MinIO serves it: `POST /` with a form body
//! `Action=…&Version=2011-06-15`, answered in STS's XML.
//!
//! - `AssumeRoleWithWebIdentity`: `WebIdentityToken` is the user's ScaiDrive token, checked
//!   with `GET /users/me`; no key needed (the request may be unsigned).
//! - `AssumeRole`: signed with a key pair (long-lived, or temporary with its session token);
//!   temporary credentials for the same user.
//! - `GetCallerIdentity`: who a signed request acts as.
//!
//! Issued credentials act with the ScaiDrive token behind them, so they have exactly that
//! user's rights; `RoleArn` names no role here (any value is accepted) and session policies
//! (`Policy`, `PolicyArns`) are refused rather than ignored. A session lasts `DurationSeconds`
//! (default one hour) within `sts.min_session_secs..=sts.max_session_secs`, and never past the
//! ScaiDrive token's own `exp` (read from the JWT when the token is one) nor, for a session
//! asked for with temporary credentials, past theirs.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};

use crate::auth::{AuthError, Authenticator, KeyPair};
use crate::config::StsConfig;
use crate::server::request::RequestId;
use crate::state::{
    StsSession, generate_secret_access_key, generate_session_token,
    generate_temporary_access_key_id, session_token_digest,
};

/// The only STS API version.
const VERSION: &str = "2011-06-15";
/// The XML namespace of STS answers.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The account every ARN names.
const ACCOUNT: &str = "scaidrive";
/// Largest STS form accepted (AWS's limit on a `WebIdentityToken` is 20,000 characters).
const MAX_FORM: usize = 64 << 10;

/// The s3s route serving STS.
pub(super) struct StsRoute {
    auth: Authenticator,
    cfg: StsConfig,
}

impl StsRoute {
    pub(super) fn new(auth: Authenticator, cfg: StsConfig) -> Self {
        Self { auth, cfg }
    }
}

/// An STS error: status, code, message.
#[derive(Debug)]
struct StsError(StatusCode, &'static str, String);

impl StsError {
    fn sender(code: &'static str, message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, code, message.into())
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::sender("ValidationError", message)
    }

    fn denied(message: impl Into<String>) -> Self {
        Self(StatusCode::FORBIDDEN, "AccessDenied", message.into())
    }
}

/// How an authentication failure is answered by STS.
fn from_auth(e: AuthError) -> StsError {
    match e {
        AuthError::UnknownAccessKey => StsError(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.".into(),
        ),
        AuthError::BadCredentials => StsError(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature does not match.".into(),
        ),
        AuthError::TokenRefused => StsError::denied(
            "the ScaiDrive token behind these credentials was refused (expired or revoked)",
        ),
        AuthError::Unavailable(_) => StsError(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "authentication is unavailable, please retry".into(),
        ),
        AuthError::Expired => StsError::sender(
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
        AuthError::InvalidToken(why) => {
            StsError(StatusCode::FORBIDDEN, "InvalidClientTokenId", why.into())
        }
        AuthError::StsDisabled => {
            StsError::denied("temporary credentials are turned off on this gateway")
        }
    }
}

/// Whether a request is an STS call: `POST /` (no query) with a URL-encoded form.
pub(super) fn is_sts(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    method == Method::POST
        && uri.path() == "/"
        && uri.query().is_none_or(str::is_empty)
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
}

/// An S3 error answer to an STS request (s3s refused its signature or key before the route
/// ran) in STS's envelope: `<ErrorResponse><Error>…</Error></ErrorResponse>`.
pub(super) async fn envelope(resp: http::Response<Body>) -> http::Response<Body> {
    use http_body::Body as _;
    use http_body_util::BodyExt as _;
    let status = resp.status();
    let small = resp
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n <= MAX_FORM as u64);
    if !(status.is_client_error() || status.is_server_error()) || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return http::Response::from_parts(parts, Body::empty());
    };
    let bytes = collected.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("<ErrorResponse") || !text.contains("<Error>") {
        return http::Response::from_parts(parts, Body::from(bytes));
    }
    let wrapped = text
        .replacen(
            "<Error>",
            &format!("<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type>"),
            1,
        )
        .replacen("</Error>", "</Error></ErrorResponse>", 1);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    http::Response::from_parts(parts, Body::from(wrapped))
}

#[async_trait::async_trait]
impl S3Route for StsRoute {
    fn is_match(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        _extensions: &mut http::Extensions,
    ) -> bool {
        is_sts(method, uri, headers)
    }

    /// Every action checks its own caller (`AssumeRoleWithWebIdentity` needs no signature).
    async fn check_access(&self, _req: &mut S3Request<Body>) -> S3Result<()> {
        Ok(())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let request_id = req
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| ulid::Ulid::new().to_string());
        let answer = match req.input.store_all_limited(MAX_FORM).await {
            Ok(body) => self.act(&req, &body).await,
            Err(_) => Err(StsError::sender(
                "ValidationError",
                format!("the STS request body is unreadable or larger than {MAX_FORM} bytes"),
            )),
        };
        Ok(match answer {
            Ok((action, result)) => xml(
                StatusCode::OK,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\">\
                     <{action}Result>{result}</{action}Result>\
                     <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                     </{action}Response>"
                ),
            ),
            Err(StsError(status, code, message)) => {
                tracing::debug!(code, %message, "STS request refused");
                let kind = if status.is_server_error() {
                    "Receiver"
                } else {
                    "Sender"
                };
                xml(
                    status,
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NAMESPACE}\">\
                         <Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error>\
                         <RequestId>{request_id}</RequestId></ErrorResponse>",
                        escape(&message)
                    ),
                )
            }
        })
    }
}

fn xml(status: StatusCode, body: String) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(body));
    resp.status = Some(status);
    resp.headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    resp
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The caller of a signed STS request, its key pair checked with its session token.
async fn signed_caller(
    auth: &Authenticator,
    req: &S3Request<Body>,
) -> Result<(String, KeyPair), StsError> {
    let Some(cred) = req.credentials.as_ref() else {
        return Err(StsError(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token (sign it with an access key pair)".into(),
        ));
    };
    let token = super::auth::session_token(&req.headers, &req.uri);
    let pair = auth
        .signed(&cred.access_key, token.as_deref())
        .await
        .map_err(from_auth)?;
    Ok((cred.access_key.clone(), pair))
}

impl StsRoute {
    /// Runs the action a form names: its name and its result's XML.
    async fn act(
        &self,
        req: &S3Request<Body>,
        body: &[u8],
    ) -> Result<(&'static str, String), StsError> {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        match form.get("Version").map(String::as_str) {
            Some(VERSION) => {}
            Some(other) => {
                return Err(StsError::sender(
                    "InvalidParameterValue",
                    format!("unsupported STS Version '{other}'; expecting '{VERSION}'"),
                ));
            }
            None => {
                return Err(StsError::sender(
                    "MissingParameter",
                    format!("the request must name Version={VERSION}"),
                ));
            }
        }
        let action = form.get("Action").map(String::as_str).unwrap_or_default();
        let action: &'static str = match action {
            "AssumeRoleWithWebIdentity" => "AssumeRoleWithWebIdentity",
            "AssumeRole" => "AssumeRole",
            "GetCallerIdentity" => "GetCallerIdentity",
            "" => {
                return Err(StsError::sender(
                    "MissingAction",
                    "the request names no Action",
                ));
            }
            other => {
                return Err(StsError::sender(
                    "InvalidAction",
                    format!(
                        "Could not find operation {} for version {VERSION}; this gateway serves \
                         AssumeRoleWithWebIdentity, AssumeRole and GetCallerIdentity",
                        other
                    ),
                ));
            }
        };
        if !self.cfg.enabled {
            return Err(StsError::denied(
                "STS is turned off on this gateway (sts.enabled = false)",
            ));
        }
        let result = match action {
            "GetCallerIdentity" => self.caller_identity(req).await?,
            "AssumeRole" => self.assume_role(req, &form).await?,
            _ => self.assume_role_with_web_identity(&form).await?,
        };
        Ok((action, result))
    }

    async fn caller_identity(&self, req: &S3Request<Body>) -> Result<String, StsError> {
        let (key, pair) = signed_caller(&self.auth, req).await?;
        let user = pair.session.principal();
        let (arn, user_id) = match &pair.temporary {
            Some(t) => (
                assumed_role_arn(&t.session_name),
                format!("{key}:{}", t.session_name),
            ),
            None => (
                format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
                user.to_owned(),
            ),
        };
        Ok(format!(
            "<Arn>{}</Arn><UserId>{}</UserId><Account>{ACCOUNT}</Account>",
            escape(&arn),
            escape(&user_id)
        ))
    }

    async fn assume_role(
        &self,
        req: &S3Request<Body>,
        form: &HashMap<String, String>,
    ) -> Result<String, StsError> {
        let params = SessionParams::read(form, &self.cfg, true)?;
        let (key, pair) = signed_caller(&self.auth, req).await?;
        // The token must still be good: credentials behind a dead token would only fail later.
        let user = self
            .auth
            .by_token_now(pair.session.token().expose())
            .await
            .map_err(from_auth)?;
        let mut not_after = token_expiry(pair.session.token().expose());
        if let Some(t) = &pair.temporary {
            not_after = Some(not_after.map_or(t.expires_at, |n| n.min(t.expires_at)));
        }
        let issued = self
            .issue(
                user.principal(),
                pair.session.token().expose(),
                &key,
                &params,
                not_after,
            )
            .await?;
        Ok(issued)
    }

    async fn assume_role_with_web_identity(
        &self,
        form: &HashMap<String, String>,
    ) -> Result<String, StsError> {
        let params = SessionParams::read(form, &self.cfg, false)?;
        let token = form
            .get("WebIdentityToken")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                StsError::sender(
                    "MissingParameter",
                    "WebIdentityToken (the ScaiDrive token) is required",
                )
            })?;
        let session = self.auth.by_token_now(token).await.map_err(|e| match e {
            AuthError::TokenRefused => StsError::sender(
                "InvalidIdentityToken",
                "ScaiDrive refused the WebIdentityToken (expired, revoked or not a ScaiDrive token)",
            ),
            other => from_auth(other),
        })?;
        let mut result = self
            .issue(
                session.principal(),
                token,
                "web-identity",
                &params,
                token_expiry(token),
            )
            .await?;
        result.push_str(&format!(
            "<SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\
             <Provider>scaidrive</Provider><Audience>scaidrive-gateway</Audience>",
            escape(session.principal())
        ));
        Ok(result)
    }

    /// Stores a new temporary credential and answers its `Credentials` and
    /// `AssumedRoleUser` elements.
    async fn issue(
        &self,
        user_id: &str,
        token: &str,
        source: &str,
        params: &SessionParams,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<String, StsError> {
        let now = Utc::now().trunc_subsecs(0);
        let wanted =
            now + chrono::Duration::seconds(i64::try_from(params.duration).unwrap_or(i64::MAX / 2));
        let expires_at = not_after.map_or(wanted, |n| n.trunc_subsecs(0).min(wanted));
        if expires_at <= now {
            return Err(StsError::sender(
                "ExpiredToken",
                "the ScaiDrive token (or the credentials) behind this request expire now",
            ));
        }
        let session_token = generate_session_token();
        let stored = StsSession {
            access_key_id: generate_temporary_access_key_id(),
            secret_access_key: generate_secret_access_key(),
            session_token_sha256: session_token_digest(&session_token),
            token: token.to_owned(),
            user_id: user_id.to_owned(),
            source: source.to_owned(),
            session_name: params
                .session_name
                .clone()
                .unwrap_or_else(|| user_id.to_owned()),
            created_at: now,
            expires_at,
        };
        self.auth
            .db()
            .create_sts_session(&stored)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not store temporary credentials");
                StsError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "the temporary credentials could not be stored, please retry".into(),
                )
            })?;
        tracing::info!(
            access_key_id = %stored.access_key_id,
            user_id,
            source,
            expires_at = %stored.expires_at,
            "temporary credentials issued"
        );
        Ok(format!(
            "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{session_token}</SessionToken><Expiration>{}</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>{}:{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            stored.access_key_id,
            stored.secret_access_key,
            stored.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            stored.access_key_id,
            escape(&stored.session_name),
            escape(&assumed_role_arn(&stored.session_name)),
        ))
    }
}

fn assumed_role_arn(session_name: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/user/{session_name}")
}

/// What a client asks of a session.
#[derive(Debug)]
struct SessionParams {
    duration: u64,
    session_name: Option<String>,
}

impl SessionParams {
    fn read(
        form: &HashMap<String, String>,
        cfg: &StsConfig,
        name_required: bool,
    ) -> Result<Self, StsError> {
        if form.contains_key("Policy") || form.keys().any(|k| k.starts_with("PolicyArns.")) {
            return Err(StsError::validation(
                "session policies (Policy, PolicyArns) are not supported: temporary credentials \
                 carry the ScaiDrive user's own rights",
            ));
        }
        let duration = match form.get("DurationSeconds") {
            None => cfg.default_session_secs(),
            Some(raw) => {
                let secs: u64 = raw.trim().parse().map_err(|_| {
                    StsError::validation(format!(
                        "DurationSeconds '{raw}' is not a whole number of seconds"
                    ))
                })?;
                if secs < cfg.min_session_secs {
                    return Err(StsError::validation(format!(
                        "DurationSeconds {secs} is below the shortest session, {} seconds",
                        cfg.min_session_secs
                    )));
                }
                if secs > cfg.max_session_secs {
                    return Err(StsError::validation(format!(
                        "The requested DurationSeconds ({secs}) exceeds the longest session this \
                         gateway allows ({} seconds)",
                        cfg.max_session_secs
                    )));
                }
                secs
            }
        };
        let session_name = form.get("RoleSessionName").cloned();
        match &session_name {
            None if name_required => {
                return Err(StsError::sender(
                    "MissingParameter",
                    "RoleSessionName is required",
                ));
            }
            Some(name) if !valid_session_name(name) => {
                return Err(StsError::validation(format!(
                    "RoleSessionName '{}' must be 2 to 64 characters of letters, digits and \
                     +=,.@_-",
                    name
                )));
            }
            _ => {}
        }
        Ok(Self {
            duration,
            session_name,
        })
    }
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// The `exp` claim of a JWT (read, not verified: ScaiDrive verifies the token; this only
/// bounds how long credentials made from it may live). `None` when the token is no JWT.
pub(crate) fn token_expiry(token: &str) -> Option<DateTime<Utc>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    DateTime::from_timestamp(exp as i64, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    #[test]
    fn the_expiry_of_a_jwt_is_its_exp_claim() {
        assert_eq!(
            token_expiry(&jwt(r#"{"sub":"usr_1","exp":1900000000}"#)),
            DateTime::from_timestamp(1_900_000_000, 0)
        );
        assert_eq!(token_expiry(&jwt(r#"{"sub":"usr_1"}"#)), None);
        assert_eq!(token_expiry("sdemu_0123abcd"), None);
        assert_eq!(token_expiry("a.!!!.c"), None);
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn durations_and_names_are_checked() {
        let cfg = StsConfig::default();
        let p = SessionParams::read(&form(&[]), &cfg, false).unwrap();
        assert_eq!(p.duration, 3600);
        let p = SessionParams::read(&form(&[("DurationSeconds", "900")]), &cfg, false).unwrap();
        assert_eq!(p.duration, 900);
        for bad in ["899", "43201", "ten", "-5"] {
            let err =
                SessionParams::read(&form(&[("DurationSeconds", bad)]), &cfg, false).unwrap_err();
            assert_eq!(err.1, "ValidationError", "{bad}");
        }
        assert_eq!(
            SessionParams::read(&form(&[]), &cfg, true).unwrap_err().1,
            "MissingParameter"
        );
        assert!(SessionParams::read(&form(&[("RoleSessionName", "me")]), &cfg, true).is_ok());
        assert!(SessionParams::read(&form(&[("RoleSessionName", "a b")]), &cfg, true).is_err());
        assert!(SessionParams::read(&form(&[("Policy", "{}")]), &cfg, false).is_err());
        assert!(
            SessionParams::read(&form(&[("PolicyArns.member.1.arn", "x")]), &cfg, false).is_err()
        );
    }
}
