//! Self-service S3 keys: a small JSON endpoint on the WebDAV and S3 listeners where a
//! ScaiDrive user makes, lists and revokes their own long-lived key pairs.
//!
//! - `GET /.well-known/scaidrive-gateway/keys` → 200
//!   `{"keys":[{"access_key_id","label","created","last_used"}]}` (the caller's keys, oldest
//!   first; `last_used` RFC 3339 or `null`, to about a minute).
//! - `POST` the same path with `{"label":"…"}` (or `{}`) → 201
//!   `{"access_key_id","secret_access_key","label","created"}`; the secret is shown only here.
//!   The key acts with the ScaiDrive token the request was authenticated with (behind a key
//!   pair: that pair's token), and dies with it.
//! - `DELETE /.well-known/scaidrive-gateway/keys/{access_key_id}` → 204; 404 when the caller
//!   has no key of that id (another user's key is not theirs, and is not revealed).
//!
//! Authentication: as on the WebDAV listener, so the browser page's login works here —
//! `Authorization: Bearer <ScaiDrive token>`, or Basic with an access key id and its secret
//! (temporary ones with `X-Amz-Security-Token`; they may list and revoke, not make keys), or
//! with any user name and the token as the password; tokens are checked with `GET /users/me`. Writes carrying an
//! `Origin` header must come from the same origin (the `Host` they were sent to), so another
//! site cannot make a logged-in browser create or revoke keys. Errors are JSON
//! `{"error": "…"}` with the matching status.
//!
//! On WebDAV the path shadows a share named `.well-known`'s folder `scaidrive-gateway`; on S3 a
//! bucket cannot be named `.well-known`, and a virtual-host style request (to `bucket.<domain>`)
//! is never taken for this endpoint.

use std::convert::Infallible;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use serde_json::json;

use super::{FrontEnd, RequestBody, ResponseBody};
use crate::auth::{AuthError, Authenticator, Session};
use crate::state::NewCredential;

/// Where the endpoint lives on both listeners.
pub const PATH: &str = "/.well-known/scaidrive-gateway/keys";
/// Largest request body (a label).
const MAX_BODY: usize = 16 << 10;
/// Longest label, in characters.
const MAX_LABEL: usize = 200;

/// `inner` with the keys endpoint in front of it. `s3_domain`: on the S3 listener, hosts under
/// it are buckets, whose keys are objects and go to `inner`.
pub fn wrap(inner: FrontEnd, auth: Authenticator, s3_domain: Option<String>) -> FrontEnd {
    let name = inner.name();
    FrontEnd::new(
        name,
        KeysLayer {
            inner,
            auth,
            s3_domain,
        },
    )
}

struct KeysLayer {
    inner: FrontEnd,
    auth: Authenticator,
    s3_domain: Option<String>,
}

/// What a path names under [`PATH`].
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// The collection.
    Keys,
    /// One key.
    Key(String),
}

fn target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix(PATH)?;
    match rest {
        "" | "/" => Some(Target::Keys),
        _ => {
            let id = rest.strip_prefix('/')?.trim_end_matches('/');
            let id = percent_encoding::percent_decode_str(id)
                .decode_utf8()
                .ok()?;
            (!id.is_empty() && !id.contains('/')).then(|| Target::Key(id.into_owned()))
        }
    }
}

impl hyper::service::Service<Request<RequestBody>> for KeysLayer {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<RequestBody>) -> Self::Future {
        let bucket_host = self
            .s3_domain
            .as_deref()
            .is_some_and(|domain| host(&req).is_some_and(|h| crate::s3::names_bucket(domain, h)));
        match target(req.uri().path()) {
            Some(t) if !bucket_host => {
                let auth = self.auth.clone();
                Box::pin(async move { Ok(handle(&auth, t, req).await) })
            }
            _ => self.inner.call(req),
        }
    }
}

fn host<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

fn answer(status: StatusCode, body: Option<serde_json::Value>) -> Response<ResponseBody> {
    let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let has_body = !bytes.is_empty();
    let mut resp = Response::new(
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    // Secrets pass through here: nothing may keep a copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let mut resp = answer(status, Some(json!({ "error": message })));
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scaidrive-gateway\""),
        );
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
    }
    resp
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a request authenticates with.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    /// `Authorization: Bearer <ScaiDrive token>`.
    Token(String),
    /// Basic: an access key id and its secret (the browser page's WebDAV login), or any user
    /// name and a ScaiDrive token as the password.
    Basic { user: String, password: String },
}

/// The credentials a request carries, as the WebDAV listener takes them.
fn credentials<B>(req: &Request<B>) -> Option<Credentials> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        return (!token.is_empty()).then(|| Credentials::Token(token.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        return (!password.is_empty()).then(|| Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    None
}

/// Why a caller gets no session: 401, 403 or 503 with this message.
type Refusal = (StatusCode, &'static str);

/// The caller's session. A key made now outlives the request: for a `POST`, the ScaiDrive
/// token is asked about now, and temporary credentials may not make long-lived keys.
async fn session_of<B>(
    auth: &Authenticator,
    creds: Credentials,
    req: &Request<B>,
) -> Result<Session, Refusal> {
    let making = req.method() == Method::POST;
    let refused = |e: AuthError| match e {
        AuthError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ScaiDrive cannot be asked now, try again later",
        ),
        AuthError::TokenRefused => (
            StatusCode::UNAUTHORIZED,
            "ScaiDrive refused the token (expired or revoked)",
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            "these credentials were refused: use your ScaiDrive token, or an access key id and its secret",
        ),
    };
    match creds {
        Credentials::Token(token) if making => auth.by_token_now(&token).await.map_err(refused),
        Credentials::Token(token) => auth.by_token(&token).await.map_err(refused),
        Credentials::Basic { user, password } => {
            let session_token = req
                .headers()
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok());
            let session = auth
                .basic_with_session_token(&user, &password, session_token)
                .await
                .map_err(refused)?;
            if !making {
                return Ok(session);
            }
            if matches!(auth.by_access_key(&user).await, Ok(pair) if pair.temporary.is_some()) {
                return Err((
                    StatusCode::FORBIDDEN,
                    "temporary credentials cannot make long-lived keys; use your ScaiDrive token or a long-lived key",
                ));
            }
            auth.by_token_now(session.token().expose())
                .await
                .map_err(refused)
        }
    }
}

/// A write whose `Origin` names another host than the one it was sent to.
fn cross_origin<B>(req: &Request<B>) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h.trim_end_matches('/'));
    match (origin_host, host(req)) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        _ => true,
    }
}

async fn handle(
    auth: &Authenticator,
    t: Target,
    req: Request<RequestBody>,
) -> Response<ResponseBody> {
    let allowed = matches!(
        (&t, req.method()),
        (Target::Keys, &Method::GET | &Method::POST) | (Target::Key(_), &Method::DELETE)
    );
    if !allowed {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "use GET or POST on the key list, DELETE on one key",
        );
    }
    let Some(creds) = credentials(&req) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "authenticate with your ScaiDrive token (Authorization: Bearer, or Basic with the token as password) or Basic with an access key id and its secret",
        );
    };
    let session = match session_of(auth, creds, &req).await {
        Ok(s) => s,
        Err((status, message)) => return error(status, message),
    };
    if req.method() != Method::GET && cross_origin(&req) {
        return error(
            StatusCode::FORBIDDEN,
            "cross-origin request refused: the Origin header names another site",
        );
    }
    match t {
        Target::Keys if req.method() == Method::GET => list(auth, &session).await,
        Target::Keys => create(auth, &session, req).await,
        Target::Key(id) => revoke(auth, &session, &id).await,
    }
}

fn unavailable(e: &crate::state::StateError) -> Response<ResponseBody> {
    tracing::error!(error = %e, "keys endpoint: state database failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the state database cannot be reached, try again later",
    )
}

async fn list(auth: &Authenticator, session: &Session) -> Response<ResponseBody> {
    let all = match auth.db().list_credentials().await {
        Ok(all) => all,
        Err(e) => return unavailable(&e),
    };
    let keys: Vec<_> = all
        .iter()
        .filter(|c| c.user_id == session.principal())
        .map(|c| {
            json!({
                "access_key_id": c.access_key_id,
                "label": c.label,
                "created": time(&c.created_at),
                "last_used": c.last_used_at.as_ref().map(time),
            })
        })
        .collect();
    answer(StatusCode::OK, Some(json!({ "keys": keys })))
}

async fn create(
    auth: &Authenticator,
    session: &Session,
    req: Request<RequestBody>,
) -> Response<ResponseBody> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is unreadable or larger than {MAX_BODY} bytes"),
            );
        }
    };
    let label = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("the body is not JSON ({e}); send {{\"label\": \"…\"}}"),
                );
            }
        };
        match parsed.get("label") {
            None | Some(serde_json::Value::Null) if parsed.is_object() => None,
            Some(serde_json::Value::String(s)) => Some(s.trim().to_owned()),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "send a JSON object whose \"label\" is a string",
                );
            }
        }
    };
    let label = label.filter(|l| !l.is_empty());
    if let Some(l) = &label
        && (l.chars().count() > MAX_LABEL || l.chars().any(char::is_control))
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("a label is at most {MAX_LABEL} characters, without control characters"),
        );
    }
    let new = NewCredential {
        access_key_id: None,
        secret_access_key: None,
        token: session.token().expose().to_owned(),
        label,
        user_id: session.principal().to_owned(),
    };
    match auth.db().create_credential(new).await {
        Ok(c) => answer(
            StatusCode::CREATED,
            Some(json!({
                "access_key_id": c.access_key_id,
                "secret_access_key": c.secret_access_key,
                "label": c.label,
                "created": time(&c.created_at),
            })),
        ),
        Err(e) => unavailable(&e),
    }
}

async fn revoke(auth: &Authenticator, session: &Session, id: &str) -> Response<ResponseBody> {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "you have no key with this access key id",
        )
    };
    match auth.db().get_credential_fresh(id).await {
        Ok(Some(c)) if c.user_id == session.principal() => {}
        Ok(_) => return not_found(),
        Err(e) => return unavailable(&e),
    }
    match auth.db().revoke_credential(id).await {
        Ok(true) => answer(StatusCode::NO_CONTENT, None),
        Ok(false) => not_found(),
        Err(e) => unavailable(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_endpoint_name_the_list_or_one_key() {
        assert_eq!(target(PATH), Some(Target::Keys));
        assert_eq!(target(&format!("{PATH}/")), Some(Target::Keys));
        assert_eq!(
            target(&format!("{PATH}/AKIA123")),
            Some(Target::Key("AKIA123".to_owned()))
        );
        assert_eq!(target(&format!("{PATH}/a/b")), None);
        assert_eq!(target(&format!("{PATH}x")), None);
        assert_eq!(target("/.well-known/other"), None);
        assert_eq!(target("/Documents/x"), None);
    }

    #[test]
    fn writes_from_another_origin_are_recognised() {
        let req = |origin: Option<&str>| {
            let mut b = Request::builder()
                .uri(PATH)
                .header(header::HOST, "gw.example:8080");
            if let Some(o) = origin {
                b = b.header(header::ORIGIN, o);
            }
            b.body(()).unwrap_or_default()
        };
        assert!(!cross_origin(&req(None)));
        assert!(!cross_origin(&req(Some("https://gw.example:8080"))));
        assert!(cross_origin(&req(Some("https://evil.example"))));
        assert!(cross_origin(&req(Some("https://gw.example"))));
        assert!(cross_origin(&req(Some("null"))));
    }

    #[test]
    fn credentials_come_from_bearer_or_basic() {
        let with = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(())
                .unwrap_or_default()
        };
        assert_eq!(
            credentials(&with("Bearer tok")),
            Some(Credentials::Token("tok".to_owned()))
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("me:tok:with:colons");
        assert_eq!(
            credentials(&with(&format!("Basic {basic}"))),
            Some(Credentials::Basic {
                user: "me".to_owned(),
                password: "tok:with:colons".to_owned()
            })
        );
        assert_eq!(credentials(&with("Digest x")), None);
        assert_eq!(credentials(&with("Bearer  ")), None);
    }
}
