//! The S3 service's outer layer: what s3s answers unlike S3 is corrected here, before s3s
//! sees the request or on its error answer.
//!
//! - Before: a presigned URL whose `X-Amz-Signature` is not a SHA-256 hex digest is 403
//!   `SignatureDoesNotMatch` (s3s: a 400); an `X-Amz-Expires` above 604800 (7 days) or below 0
//!   is 400 `AuthorizationQueryParametersError` (s3s accepts any `u32`).
//! - Before: a SigV4 credential scope (header, presigned `X-Amz-Credential`, POST form field)
//!   naming another region than `s3.region` is S3's 400 naming the expected region
//!   ([`auth::wrong_region`]; s3s accepts any region).
//! - Before: an XML body (everything but object data and POST forms) over
//!   [`xml_cap::MAX_XML_BODY`] is 400 `MaxMessageLengthExceeded`, at once when its
//!   `Content-Length` says so, else when the count passes it (s3s: up to 20 MiB in memory,
//!   then 500).
//! - Before: in a browser POST, `${filename}` in the `key` field becomes the name of the
//!   uploaded file (s3s does not substitute it). The form fields precede the file part, so
//!   only they are read ahead (at most [`MAX_FORM_PREFIX`] bytes); the file streams on.
//!   A form with a policy but no signature is 400 `InvalidArgument` (s3s: an anonymous upload).
//! - After: a signed browser POST whose form breaks a condition of its policy is 403
//!   `AccessDenied` (s3s: 400 `InvalidPolicyDocument`), as is one whose `bucket` field names
//!   another bucket than the URL; every XML error body carries `<RequestId>`, the request's
//!   `x-amz-request-id` (s3s renders none), and a `<Message>` where s3s sends only a code
//!   (`SignatureDoesNotMatch`, `InvalidBucketName`, …).
//! - Before: a SigV2 presigned URL's `x-amz-security-token` parameter (temporary credentials)
//!   is also given as the header of that name, so s3s signs it as the client did (s3s leaves
//!   query parameters out of a SigV2 string to sign).
//! - After: an S3 error body answering an STS request (a refused signature or key) is put in
//!   STS's `<ErrorResponse>` envelope, which STS clients parse.
//! - Before: a preflight `OPTIONS` (no credentials; s3s routes no OPTIONS) is answered from
//!   the bucket's stored CORS rules ([`cors::preflight`]). After: an answer to a request with
//!   an `Origin` carries the `Access-Control-*` headers of the first matching rule.
//! - After: a HEAD answering one part of an object (`?partNumber=`, with a Content-Range) is
//!   206, as GET is (s3s sends 200 whatever the handler's status).
//! - After: the `success_action_redirect` of a browser POST carries the ETag quoted
//!   (`etag=%22…%22`), as S3 sends it (s3s sends it bare).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt as _;
use s3s::service::S3Service;

use super::auth::{self, CredentialSource, WrongRegion};
use super::cors;
use super::xml_cap::{self, CapError};
use crate::server::request::RequestId;
use crate::server::{BodyError, RequestBody};

/// Longest presigned URL lifetime S3 accepts, in seconds.
const MAX_PRESIGNED_EXPIRES: i64 = 604_800;
/// Error bodies up to this size are rewritten; s3s's are a few hundred bytes.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// How much of a POST form is read ahead to find `${filename}` in the key: the fields before
/// the file part. A longer run of fields is passed on unchanged.
const MAX_FORM_PREFIX: usize = 64 << 10;
/// The variable of a POST key that names the uploaded file.
const FILENAME_VARIABLE: &str = "${filename}";

/// The wrapper around s3s's service.
#[derive(Debug, Clone)]
pub struct Edge {
    inner: S3Service,
    /// The region every SigV4 credential scope must name (`s3.region`).
    region: std::sync::Arc<str>,
    /// `s3.domain`: `bucket.<domain>` hosts are virtual-host style.
    domain: Option<std::sync::Arc<str>>,
    /// Where the CORS rules are.
    db: crate::state::StateDb,
}

impl Edge {
    pub fn new(
        inner: S3Service,
        region: &str,
        domain: Option<&str>,
        db: crate::state::StateDb,
    ) -> Self {
        Self {
            inner,
            region: region.into(),
            domain: domain.map(|d| auth::normalise_domain(d).into()),
            db,
        }
    }

    /// The bucket a request names (virtual-host style or the first path segment), if any.
    fn bucket_name<B>(&self, req: &Request<B>) -> Option<String> {
        if let Some(domain) = self.domain.as_deref() {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .or_else(|| req.uri().host());
            if let Some(b) = host.and_then(|h| auth::host_bucket(domain, h)) {
                return Some(b);
            }
        }
        let first = req.uri().path().trim_start_matches('/').split('/').next()?;
        let name = percent_encoding::percent_decode_str(first)
            .decode_utf8()
            .ok()?
            .into_owned();
        (!name.is_empty()).then_some(name)
    }

    /// True when the request names an object (a key), not only a bucket or the service.
    fn names_key<B>(&self, req: &Request<B>) -> bool {
        let path = req.uri().path().trim_start_matches('/');
        let virtual_host = self.domain.as_deref().is_some_and(|domain| {
            req.headers()
                .get(header::HOST)
                .or_else(|| req.headers().get(":authority"))
                .and_then(|v| v.to_str().ok())
                .or_else(|| req.uri().host())
                .is_some_and(|host| auth::host_bucket(domain, host).is_some())
        });
        if virtual_host {
            !path.is_empty()
        } else {
            path.split_once('/').is_some_and(|(_, key)| !key.is_empty())
        }
    }
}

/// S3's answer to an XML body over the cap; the connection closes (the body is not read on).
fn too_large() -> Response<s3s::Body> {
    let mut resp = xml_error(
        StatusCode::BAD_REQUEST,
        "MaxMessageLengthExceeded",
        "Your request was too big.",
    );
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Reads a capped XML body whole, or answers why it could not be.
async fn capped_request(
    req: Request<RequestBody>,
) -> Result<Request<s3s::Body>, Response<s3s::Body>> {
    let (parts, body) = req.into_parts();
    match xml_cap::read_capped(body).await {
        Ok(bytes) if !xml_cap::matches_signed_sha256(&parts.headers, &bytes) => Err(xml_error(
            StatusCode::BAD_REQUEST,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )),
        Ok(bytes) => Ok(Request::from_parts(parts, s3s::Body::from(bytes))),
        Err(CapError::TooLarge) => Err(too_large()),
        Err(CapError::Broken(e)) => {
            tracing::debug!(error = %e, "an XML request body broke off");
            let mut resp = xml_error(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            );
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(resp)
        }
    }
}

fn query_values<'a>(query: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(move |pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn malformed_presigned_signature(query: Option<&str>) -> bool {
    query_values(query, "X-Amz-Signature")
        .any(|sig| !(sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// What S3 says about an `X-Amz-Expires` out of range, if it is.
fn bad_expires(query: Option<&str>) -> Option<&'static str> {
    let value = query_values(query, "X-Amz-Expires").next()?;
    let n: i64 = value.parse().ok()?;
    if n < 0 {
        Some("X-Amz-Expires must be non-negative")
    } else if n > MAX_PRESIGNED_EXPIRES {
        Some("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    } else {
        None
    }
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    xml_error_with(status, code, message, "")
}

/// An S3 error body with `extra` (escaped XML elements) after the message.
fn xml_error_with(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: &str,
) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}</Error>"
    );
    let mut resp = Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// S3's answer to a credential scoped to another region.
fn region_error(wrong: &WrongRegion) -> Response<s3s::Body> {
    let (code, message, extra) = wrong.answer();
    xml_error_with(StatusCode::BAD_REQUEST, code, &message, &extra)
}

/// Answers a request s3s would answer unlike S3, before s3s sees it.
fn refuse_early<B>(req: &Request<B>, region: &str) -> Option<Response<s3s::Body>> {
    let query = req.uri().query();
    if malformed_presigned_signature(query) {
        return Some(xml_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    if query_values(query, "X-Amz-Algorithm").next().is_some()
        && let Some(message) = bad_expires(query)
    {
        return Some(xml_error(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            message,
        ));
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    auth::wrong_region(authorization, query, region).map(|wrong| region_error(&wrong))
}

/// Quotes the `etag` parameter of a PostObject redirect's `Location`, as S3 does.
fn quote_redirect_etag(headers: &mut http::HeaderMap) {
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let Ok(mut url) = url::Url::parse(location) else {
        return;
    };
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "etag" if !v.starts_with('"') => (k.into_owned(), format!("\"{v}\"")),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        headers.insert(header::LOCATION, v);
    }
}

/// A browser upload: `POST /bucket` (or `/` on a virtual host) with a form body.
fn is_post_form<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}

/// The corrected text of an XML error body, and its status.
pub(crate) fn rewrite_error_body(
    text: &str,
    status: StatusCode,
    request_id: Option<&str>,
    signed_form: bool,
) -> Option<(String, StatusCode)> {
    let end = text.rfind("</Error>")?;
    let mut out = text.to_owned();
    let mut status = status;
    // A form field that breaks its policy, or a `bucket` field naming another bucket than the
    // URL: S3 answers 403 "Invalid according to Policy".
    if signed_form && out.contains("<Code>InvalidPolicyDocument</Code>") {
        for cause in ["Policy condition", "Bucket in form field"] {
            let from = format!("<Message>{cause}");
            if out.contains(&from) {
                out = out
                    .replacen(
                        "<Code>InvalidPolicyDocument</Code>",
                        "<Code>AccessDenied</Code>",
                        1,
                    )
                    .replacen(
                        &from,
                        &format!("<Message>Invalid according to Policy: {cause}"),
                        1,
                    );
                status = StatusCode::FORBIDDEN;
                break;
            }
        }
    }
    // s3s answers some errors without a message; S3 always says what is wrong.
    if !out.contains("<Message>")
        && let Some(message) = default_message(&out)
        && let Some(at) = out.find("</Code>")
    {
        out.insert_str(
            at + "</Code>".len(),
            &format!("<Message>{message}</Message>"),
        );
    }
    if let Some(id) = request_id
        && !out.contains("<RequestId>")
    {
        let end = out.rfind("</Error>").unwrap_or(end);
        out.insert_str(end, &format!("<RequestId>{id}</RequestId>"));
    }
    Some((out, status))
}

/// S3's message for an error code s3s may send without one.
fn default_message(body: &str) -> Option<&'static str> {
    const MESSAGES: &[(&str, &str)] = &[
        (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ),
        ("InvalidBucketName", "The specified bucket is not valid."),
        (
            "InvalidAccessKeyId",
            "The AWS access key Id you provided does not exist in our records.",
        ),
        ("AccessDenied", "Access Denied"),
        (
            "MissingSecurityHeader",
            "Your request is missing a required header.",
        ),
    ];
    MESSAGES
        .iter()
        .find(|(code, _)| body.contains(&format!("<Code>{code}</Code>")))
        .map(|(_, m)| *m)
}

async fn finish(
    resp: Response<s3s::Body>,
    request_id: Option<String>,
    signed_form: bool,
) -> Response<s3s::Body> {
    let status = resp.status();
    let xml = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("xml"));
    let small = resp
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n > 0 && n <= MAX_ERROR_BODY);
    if !(status.is_client_error() || status.is_server_error()) || !xml || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes: Bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read an S3 error body");
            return Response::from_parts(parts, s3s::Body::empty());
        }
    };
    let rewritten = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| rewrite_error_body(text, status, request_id.as_deref(), signed_form));
    match rewritten {
        Some((text, new_status)) => {
            parts.status = new_status;
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, s3s::Body::from(text))
        }
        None => Response::from_parts(parts, s3s::Body::from(bytes)),
    }
}

impl hyper::service::Service<Request<RequestBody>> for Edge {
    type Response = Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, mut req: Request<RequestBody>) -> Self::Future {
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        auth::v2_presigned_session_token_as_header(&mut req);
        if let Some(resp) = refuse_early(&req, &self.region) {
            return Box::pin(async move { Ok(finish(resp, request_id, false).await) });
        }
        if req.method() == Method::OPTIONS {
            let db = self.db.clone();
            let bucket = self.bucket_name(&req);
            let headers = req.headers().clone();
            return Box::pin(async move {
                let resp = cors::preflight(&db, bucket.as_deref(), &headers).await;
                Ok(finish(resp, request_id, false).await)
            });
        }
        let cors_actual = cors::Actual::of(req.method(), req.headers(), self.bucket_name(&req));
        let db = self.db.clone();
        let post_form = is_post_form(&req);
        let capped =
            !post_form && xml_cap::is_capped(req.method(), self.names_key(&req), req.uri().query());
        if capped && xml_cap::announced_too_large(&req) {
            return Box::pin(async move { Ok(finish(too_large(), request_id, false).await) });
        }
        let inner = self.inner.clone();
        let region = std::sync::Arc::clone(&self.region);
        let work = async move {
            let (req, fields) = if post_form {
                read_form_fields(req).await
            } else if capped {
                match capped_request(req).await {
                    Ok(req) => (req, None),
                    Err(resp) => return Ok(finish(resp, request_id, false).await),
                }
            } else {
                (req.map(s3s::Body::from), None)
            };
            // A policy means nothing unsigned: S3 refuses such a form (s3s would take it for
            // an anonymous upload and check the policy anyway).
            if let Some(wrong) = fields.as_ref().and_then(|f| {
                let credential = f.credential.as_deref()?;
                auth::check_region(CredentialSource::Form, credential, &region)
            }) {
                return Ok(finish(region_error(&wrong), request_id, false).await);
            }
            if fields.as_ref().is_some_and(|f| f.policy && !f.signed) {
                let resp = xml_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "Bucket POST must contain a field named 'Signature'.",
                );
                return Ok(finish(resp, request_id, false).await);
            }
            let signed_form = fields.as_ref().is_some_and(|f| f.signed);
            let head = req.method() == Method::HEAD;
            let sts = super::sts::is_sts(req.method(), req.uri(), req.headers());
            let mut resp = inner.call(req).await?;
            // s3s drops a handler's status; a HEAD answering one part (it alone carries a
            // Content-Range) is 206, as S3 answers it.
            if head
                && resp.status() == StatusCode::OK
                && resp.headers().contains_key(header::CONTENT_RANGE)
            {
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            if post_form && resp.status() == StatusCode::SEE_OTHER {
                quote_redirect_etag(resp.headers_mut());
            }
            let mut resp = finish(resp, request_id, signed_form).await;
            if let Some(actual) = cors_actual {
                actual.decorate(&db, &mut resp).await;
            }
            Ok(if sts {
                super::sts::envelope(resp).await
            } else {
                resp
            })
        };
        // A request that changes something runs in a task of its own from the listener on
        // (`server::Connection`): a Complete whose client hangs up is finished either way.
        Box::pin(work)
    }
}

/// A body that yields `prefix` first, then the rest of the request body.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Option<RequestBody>,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self
            .rest
            .as_ref()
            .map(|r| r.size_hint())
            .unwrap_or_default();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + prefix);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + prefix);
        }
        hint
    }
}

/// The boundary of a `multipart/form-data` content type.
fn form_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    })
}

/// What the fields of a POST form say, once they have been read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormFields {
    /// A `policy` field.
    policy: bool,
    /// A `signature` (SigV2) or `x-amz-signature` (SigV4) field.
    signed: bool,
    /// The value of an `x-amz-credential` field (SigV4).
    credential: Option<String>,
}

/// The fields before the file part, when its headers are in `buf`.
fn form_fields(buf: &[u8], boundary: &str) -> Option<FormFields> {
    file_part_filename(buf, boundary)?;
    let parts = form_parts(buf, boundary);
    let named: Vec<(String, Option<&[u8]>)> = parts
        .into_iter()
        .filter_map(|(headers, value)| {
            disposition_param(headers, "name").map(|n| (n.to_ascii_lowercase(), value))
        })
        .collect();
    let has = |n: &str| named.iter().any(|(x, _)| x == n);
    let credential = named
        .iter()
        .find(|(n, _)| n == "x-amz-credential")
        .and_then(|(_, value)| std::str::from_utf8((*value)?).ok())
        .map(|v| v.trim().to_owned());
    Some(FormFields {
        policy: has("policy"),
        signed: has("signature") || has("x-amz-signature"),
        credential,
    })
}

/// Reads a POST form up to the end of its file part's headers and substitutes `${filename}`
/// in its `key` field; the rest of the body streams on untouched. Also tells what the fields
/// say (`None` when the file part was not found within [`MAX_FORM_PREFIX`]).
async fn read_form_fields(req: Request<RequestBody>) -> (Request<s3s::Body>, Option<FormFields>) {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(form_boundary);
    let (mut parts, mut body) = req.into_parts();
    let Some(boundary) = boundary else {
        return (Request::from_parts(parts, s3s::Body::from(body)), None);
    };
    let mut buf = BytesMut::new();
    let mut ended = false;
    while !form_prefix_complete(&buf, &boundary) && buf.len() <= MAX_FORM_PREFIX {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            // A broken body: s3s meets the same end (nothing more to read) and refuses the form.
            Some(Err(e)) => {
                tracing::debug!(error = %e, "POST form body failed while reading its fields");
                ended = true;
                break;
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let mut prefix = buf.freeze();
    let fields = form_fields(&prefix, &boundary);
    if let Some(changed) = substitute_filename(&prefix, &boundary) {
        let delta = changed.len() as i64 - prefix.len() as i64;
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(n) = length
            && let Ok(v) = HeaderValue::from_str(&(n + delta).to_string())
        {
            parts.headers.insert(header::CONTENT_LENGTH, v);
        }
        prefix = Bytes::from(changed);
    }
    let body = Prefixed {
        prefix: Some(prefix),
        rest: (!ended).then_some(body),
    };
    (
        Request::from_parts(parts, s3s::Body::http_body_unsync(body)),
        fields,
    )
}

/// True once `buf` holds the headers of the form's file part.
fn form_prefix_complete(buf: &[u8], boundary: &str) -> bool {
    file_part_filename(buf, boundary).is_some()
}

/// The parts of a form prefix: (headers, value) of each complete part, and the headers of the
/// part whose value has not arrived whole.
fn form_parts<'a>(buf: &'a [u8], boundary: &str) -> Vec<(&'a [u8], Option<&'a [u8]>)> {
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = buf;
    let Some(first) = find(rest, delimiter.as_bytes()) else {
        return out;
    };
    rest = &rest[first + delimiter.len()..];
    loop {
        let Some(rest_after_crlf) = rest.strip_prefix(b"\r\n") else {
            return out;
        };
        let Some(head_end) = find(rest_after_crlf, b"\r\n\r\n") else {
            return out;
        };
        let headers = &rest_after_crlf[..head_end];
        let content = &rest_after_crlf[head_end + 4..];
        let next = format!("\r\n{delimiter}");
        match find(content, next.as_bytes()) {
            Some(end) => {
                out.push((headers, Some(&content[..end])));
                rest = &content[end + next.len()..];
            }
            None => {
                out.push((headers, None));
                return out;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A `Content-Disposition` parameter of a part's headers (`name`, `filename`).
fn disposition_param(headers: &[u8], param: &str) -> Option<String> {
    let text = std::str::from_utf8(headers).ok()?;
    let line = text.split("\r\n").find(|l| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The file name of the form's file part, once its headers are in `buf`.
fn file_part_filename(buf: &[u8], boundary: &str) -> Option<String> {
    form_parts(buf, boundary)
        .into_iter()
        .find_map(|(headers, _)| {
            disposition_param(headers, "name")
                .filter(|n| n.eq_ignore_ascii_case("file"))
                .map(|_| disposition_param(headers, "filename").unwrap_or_default())
        })
}

/// The form prefix with `${filename}` in its `key` field replaced by the file part's name, or
/// `None` when there is nothing to replace (no such key, or the file part has no name).
fn substitute_filename(buf: &[u8], boundary: &str) -> Option<Vec<u8>> {
    let filename = file_part_filename(buf, boundary).filter(|f| !f.is_empty())?;
    let (_, value) = form_parts(buf, boundary)
        .into_iter()
        .find(|(headers, value)| {
            value.is_some()
                && disposition_param(headers, "name").is_some_and(|n| n.eq_ignore_ascii_case("key"))
        })?;
    let value = value?;
    let text = std::str::from_utf8(value).ok()?;
    if !text.contains(FILENAME_VARIABLE) {
        return None;
    }
    let replaced = text.replace(FILENAME_VARIABLE, &filename);
    // `value` borrows from `buf`: its offset locates it.
    let start = value.as_ptr() as usize - buf.as_ptr() as usize;
    let mut out = Vec::with_capacity(buf.len() + replaced.len());
    out.extend_from_slice(&buf[..start]);
    out.extend_from_slice(replaced.as_bytes());
    out.extend_from_slice(&buf[start + value.len()..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_post_redirect_gets_its_etag_quoted() {
        let mut h = http::HeaderMap::new();
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("http://x/b?a=1&bucket=b&key=k+1&etag=abc"),
        );
        quote_redirect_etag(&mut h);
        assert_eq!(
            h[header::LOCATION],
            "http://x/b?a=1&bucket=b&key=k+1&etag=%22abc%22"
        );
        quote_redirect_etag(&mut h);
        assert_eq!(
            h[header::LOCATION],
            "http://x/b?a=1&bucket=b&key=k+1&etag=%22abc%22"
        );
    }

    #[test]
    fn only_malformed_presigned_signatures_are_caught() {
        let good = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=".to_owned() + &"a".repeat(64);
        assert!(!malformed_presigned_signature(Some(&good)));
        assert!(malformed_presigned_signature(Some(&(good.clone() + "0"))));
        assert!(malformed_presigned_signature(Some("X-Amz-Signature=xyz")));
        assert!(!malformed_presigned_signature(Some("list-type=2")));
        assert!(!malformed_presigned_signature(None));
    }

    #[test]
    fn presigned_lifetimes_beyond_a_week_or_negative_are_refused() {
        assert_eq!(bad_expires(Some("X-Amz-Expires=604800")), None);
        assert_eq!(bad_expires(Some("X-Amz-Expires=0")), None);
        assert!(bad_expires(Some("X-Amz-Expires=604801")).is_some());
        assert!(bad_expires(Some("a=1&X-Amz-Expires=-7")).is_some());
        assert_eq!(bad_expires(Some("list-type=2")), None);
    }

    #[test]
    fn error_bodies_get_the_request_id_and_policy_failures_become_access_denied() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        let (text, status) =
            rewrite_error_body(body, StatusCode::NOT_FOUND, Some("01ID"), false).unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text.ends_with("<Message>m</Message><RequestId>01ID</RequestId></Error>"));

        let policy = "<Error><Code>InvalidPolicyDocument</Code><Message>Policy condition 'eq' for field 'x' failed</Message></Error>";
        let (text, status) =
            rewrite_error_body(policy, StatusCode::BAD_REQUEST, Some("01ID"), true).unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
        assert!(text.contains("<Message>Invalid according to Policy: Policy condition"));
        // A policy that cannot be parsed stays a 400, and only POST forms are touched.
        let unparsable = "<Error><Code>InvalidPolicyDocument</Code><Message>failed to parse POST policy</Message></Error>";
        let (_, status) =
            rewrite_error_body(unparsable, StatusCode::BAD_REQUEST, None, true).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, status) = rewrite_error_body(policy, StatusCode::BAD_REQUEST, None, false).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(rewrite_error_body("not xml", StatusCode::BAD_REQUEST, Some("x"), false).is_none());
    }

    fn form(key: &str, filename: &str) -> Vec<u8> {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\ncG9s\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: text/plain\r\n\r\nbody bytes"
        )
        .into_bytes()
    }

    #[test]
    fn filename_in_a_post_key_becomes_the_uploaded_file_name() {
        let buf = form("up/${filename}", "a b.txt");
        assert!(form_prefix_complete(&buf, "XyZ"));
        assert!(!form_prefix_complete(&buf[..40], "XyZ"));
        let out = String::from_utf8(substitute_filename(&buf, "XyZ").unwrap()).unwrap();
        assert!(out.contains("\r\n\r\nup/a b.txt\r\n--XyZ"), "{out}");
        assert!(out.ends_with("\r\n\r\nbody bytes"));
        assert_eq!(out.len(), buf.len() - "${filename}".len() + "a b.txt".len());
        assert_eq!(
            form_fields(&buf, "XyZ"),
            Some(FormFields {
                policy: true,
                signed: false,
                credential: None,
            })
        );
        assert_eq!(form_fields(&buf[..40], "XyZ"), None);
        // Nothing to replace: no variable, or no file name.
        assert!(substitute_filename(&form("plain.txt", "a.txt"), "XyZ").is_none());
        assert!(substitute_filename(&form("${filename}", ""), "XyZ").is_none());
        assert_eq!(
            form_boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
    }
}
