//! Around every request of every listener: a request id (answered as `x-amz-request-id` on S3,
//! `x-request-id` elsewhere) and a `tracing` span carrying it, the operation name for metrics,
//! the object size limit checked before a body is read, the body read timeout and the answer to
//! a body that stalled or was cut short (the client's fault, whatever the front end made of
//! it), WebDAV `Range` headers made safe ([`super::range`]), and the metrics recorded once the
//! response body has been sent (or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use tracing::Instrument as _;

use super::body::{BodyFault, Fault, RequestBody};
use super::conn::Activity;
use super::{BoxError, FrontEnd, ResponseBody};
use crate::metrics::{ListenerCounters, RequestMetrics};

/// Header the S3 listener answers the request id in.
pub const S3_REQUEST_ID: &str = "x-amz-request-id";
/// Header the WebDAV and admin listeners answer the request id in.
pub const REQUEST_ID: &str = "x-request-id";

/// What the request wrapper of one listener needs.
#[derive(Debug)]
pub(crate) struct ListenerCtx {
    pub front_end: FrontEnd,
    pub protocol: &'static str,
    pub counters: Arc<ListenerCounters>,
    pub metrics: Arc<RequestMetrics>,
    pub max_object_size: Option<u64>,
    pub s3_domain: Option<String>,
    /// How long a request body may send nothing while it is waited for.
    pub body_timeout: Duration,
    /// Recent S3 client errors, to log a repeated one at WARN.
    pub client_errors: super::s3log::Repeats,
}

impl ListenerCtx {
    fn is_s3(&self) -> bool {
        self.protocol == "s3"
    }
}

/// The id of a request (the value of its `x-amz-request-id` / `x-request-id` answer header),
/// in the request's extensions for front ends that put it in response bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The client connection a request came on: the peer address as the gateway sees it (the
/// proxy's when one is in front; `X-Forwarded-For` is not trusted) and whether it is TLS. In
/// the request's extensions, for bucket policy conditions (`aws:SourceIp`,
/// `aws:SecureTransport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConn {
    /// The TCP peer.
    pub peer: std::net::SocketAddr,
    /// The connection is TLS.
    pub secure: bool,
}

/// A new request id: a ULID (26 characters, sortable by time).
fn request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Handles one request: span, id header, size limit, metrics.
pub(crate) async fn handle(
    ctx: Arc<ListenerCtx>,
    activity: Arc<Activity>,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    // hyper answers `Expect: 100-continue` when the body is first read, and never when the body
    // is empty; botocore then takes the final answer for the interim one and falls out of step
    // on the pooled connection. S3 sends `100 Continue` either way, so does the connection.
    if req.version() == Version::HTTP_11
        && req.body().is_end_stream()
        && expects_continue(req.headers())
    {
        activity.owe_continue();
    }
    // A client waiting for `100 Continue` before it sends a body does not send it when the
    // answer comes first (a refusal before the body is read): what hyper would then read as
    // that body is the client's next request on the connection. Such an answer closes the
    // connection (RFC 9110 §10.1.1), so the next request starts on a fresh one.
    let close_unless_success = !req.body().is_end_stream() && expects_continue(req.headers());
    let fault = Arc::new(BodyFault::default());
    let mut req = req.map(|body| RequestBody::new(body, ctx.body_timeout, Arc::clone(&fault)));
    // WebDAV only: on S3 the header may be signed, and s3s answers what it cannot parse with
    // a 400 of its own.
    if ctx.protocol == "webdav" && matches!(*req.method(), Method::GET | Method::HEAD) {
        super::range::make_safe(req.headers_mut(), super::range::MAX_DAV_RANGES);
    }
    let id = request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let access_key = ctx
        .is_s3()
        .then(|| super::s3log::access_key_id(req.headers(), req.uri()))
        .flatten();
    let operation = operation(&ctx, &req);
    let span = tracing::info_span!(
        "request",
        id = %id,
        protocol = ctx.protocol,
        op = operation,
        method = %req.method(),
        path = %req.uri().path(),
    );
    ctx.counters
        .requests_in_flight
        .fetch_add(1, Ordering::Relaxed);
    let mut finish = Finish {
        ctx: Arc::clone(&ctx),
        operation,
        status: 0,
        start: Instant::now(),
        span: span.clone(),
    };
    let handling = activity.handling();
    let mut resp = match too_large(&ctx, &req, &id) {
        Some(resp) => {
            tracing::info!(parent: &span, "refused: object larger than the limit");
            resp
        }
        None => (ctx.front_end.handler)(req).instrument(span.clone()).await,
    };
    drop(handling);
    if let Some(answer) = fault_answer(&ctx, fault.get(), resp.status(), &id) {
        tracing::info!(parent: &span, status = %resp.status(), fault = ?fault.get(), "request body failed: answering the client's fault");
        resp = answer;
    }
    if close_unless_success && !resp.status().is_success() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let name = if ctx.is_s3() {
        S3_REQUEST_ID
    } else {
        REQUEST_ID
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(name, v);
    }
    if ctx.is_s3() && resp.status().as_u16() >= 400 {
        resp = super::s3log::note_s3_error(&ctx.client_errors, resp, &span, access_key.as_deref())
            .await;
    }
    finish.status = resp.status().as_u16();
    resp.map(|inner| {
        FinishBody {
            inner,
            finish: Some(finish),
        }
        .boxed_unsync()
    })
}

/// Records the request once its response body is done (or dropped).
struct Finish {
    ctx: Arc<ListenerCtx>,
    operation: &'static str,
    status: u16,
    start: Instant,
    span: tracing::Span,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let took = self.start.elapsed();
        self.ctx
            .counters
            .requests_in_flight
            .fetch_sub(1, Ordering::Relaxed);
        self.ctx
            .metrics
            .record(self.ctx.protocol, self.operation, self.status, took);
        tracing::info!(
            parent: &self.span,
            status = self.status,
            duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "request done"
        );
    }
}

/// A response body that drops its [`Finish`] when it ends.
struct FinishBody {
    inner: ResponseBody,
    finish: Option<Finish>,
}

impl Body for FinishBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.finish = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// The answer to a request whose body failed, in place of the front end's: a stall is S3
/// `RequestTimeout` (400) / WebDAV 408 whatever the front end answered; a body cut short or
/// malformed is S3 `IncompleteBody` / WebDAV 400 where the front end blamed itself (5xx). The
/// connection is closed after it: what is left of the body is unknown.
fn fault_answer(
    ctx: &ListenerCtx,
    fault: Option<Fault>,
    status: StatusCode,
    id: &str,
) -> Option<Response<ResponseBody>> {
    let mut resp = match fault? {
        Fault::Stalled if ctx.is_s3() => s3_error(
            StatusCode::BAD_REQUEST,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
            id,
        ),
        Fault::Stalled => super::text_response(
            StatusCode::REQUEST_TIMEOUT,
            "the request body stalled: no byte arrived within the body read timeout\n",
        ),
        Fault::Broken if !status.is_server_error() => return None,
        Fault::Broken if ctx.is_s3() => s3_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            id,
        ),
        Fault::Broken => super::text_response(
            StatusCode::BAD_REQUEST,
            "the request body ended early or its chunked framing is malformed\n",
        ),
    };
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(resp)
}

/// An S3 XML error answer.
pub(crate) fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    id: &str,
) -> Response<ResponseBody> {
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{id}</RequestId></Error>"
    );
    let mut resp = Response::new(
        Full::new(Bytes::from(text))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// The answer to a connection over `limits.max_connections`: 503 (S3: `SlowDown`), then close.
pub(crate) fn busy(ctx: &ListenerCtx) -> Response<ResponseBody> {
    let mut resp = if ctx.is_s3() {
        s3_error_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Too many open connections; reduce your request rate.",
        )
    } else {
        super::text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open connections, try again later\n",
        )
    };
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The answer when a request's handler task panicked or was cancelled: 500, an S3 error on the
/// S3 listener.
pub(crate) fn handler_failed(
    ctx: &ListenerCtx,
    err: &tokio::task::JoinError,
) -> Response<ResponseBody> {
    tracing::error!(protocol = ctx.protocol, error = %err, "a request's handler failed");
    if ctx.is_s3() {
        s3_error_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    } else {
        super::text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
    }
}

/// An S3 error answer made outside any request's wrapper: a request id of its own, in the body
/// and in `x-amz-request-id`.
fn s3_error_answer(status: StatusCode, code: &str, message: &str) -> Response<ResponseBody> {
    let id = request_id();
    let mut r = s3_error(status, code, message, &id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert(S3_REQUEST_ID, v);
    }
    r
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Refuses an upload whose announced size is over the limit before its body is read: S3
/// `EntityTooLarge` (400), WebDAV 413. Bodies of unannounced size are refused by ScaiDrive.
fn too_large(
    ctx: &ListenerCtx,
    req: &Request<RequestBody>,
    id: &str,
) -> Option<Response<ResponseBody>> {
    let max = ctx.max_object_size?;
    if req.method() != Method::PUT {
        return None;
    }
    let h = req.headers();
    let announced = if ctx.is_s3() {
        if h.contains_key("x-amz-copy-source") {
            return None;
        }
        header_u64(h, "x-amz-decoded-content-length").or_else(|| header_u64(h, "content-length"))
    } else if ctx.protocol == "webdav" {
        header_u64(h, "content-length").or_else(|| header_u64(h, "x-expected-entity-length"))
    } else {
        None
    }?;
    if announced <= max {
        return None;
    }
    let message = format!(
        "Your proposed upload ({announced} bytes) exceeds the maximum allowed object size ({max} bytes)."
    );
    let mut resp = if ctx.is_s3() {
        s3_error(StatusCode::BAD_REQUEST, "EntityTooLarge", &message, id)
    } else {
        let mut r = Response::new(
            Full::new(Bytes::from(format!("{message}\n")))
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    // The body is not read: close the connection rather than drain it.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(resp)
}

/// The operation name of a request, for metrics and logs: the S3 operation (path-style, or
/// virtual-host style under `s3.domain`), the WebDAV method, or the admin path.
fn operation(ctx: &ListenerCtx, req: &Request<RequestBody>) -> &'static str {
    match ctx.protocol {
        "s3" => s3_operation(
            req.method(),
            req.uri().path(),
            req.uri().query().unwrap_or(""),
            req.headers(),
            ctx.s3_domain.as_deref(),
        ),
        "webdav" => webdav_operation(req.method()),
        _ => match req.uri().path() {
            "/metrics" => "metrics",
            "/healthz" => "healthz",
            "/readyz" => "readyz",
            _ => "other",
        },
    }
}

fn webdav_operation(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PROPFIND" => "PROPFIND",
        "PROPPATCH" => "PROPPATCH",
        "MKCOL" => "MKCOL",
        "COPY" => "COPY",
        "MOVE" => "MOVE",
        "LOCK" => "LOCK",
        "UNLOCK" => "UNLOCK",
        "POST" => "POST",
        _ => "other",
    }
}

/// Classifies an S3 request the way s3s routes it (the operations the gateway serves; anything
/// else is `Other`).
pub(crate) fn s3_operation(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    domain: Option<&str>,
) -> &'static str {
    let has = |name: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h));
    let virtual_bucket = match (domain, host) {
        (Some(d), Some(h)) => h
            .strip_suffix(d)
            .and_then(|b| b.strip_suffix('.'))
            .is_some_and(|b| !b.is_empty()),
        _ => false,
    };
    let trimmed = path.trim_start_matches('/');
    let (has_bucket, has_key) = if virtual_bucket {
        (true, !trimmed.is_empty())
    } else {
        match trimmed.split_once('/') {
            None => (!trimmed.is_empty(), false),
            Some((_, key)) => (true, !key.is_empty()),
        }
    };
    let copy = headers.contains_key("x-amz-copy-source");
    match (method.as_str(), has_bucket, has_key) {
        ("GET", false, _) => "ListBuckets",
        ("GET", true, false) => {
            if has("uploads") {
                "ListMultipartUploads"
            } else if has("versions") {
                "ListObjectVersions"
            } else if has("location") {
                "GetBucketLocation"
            } else if has("versioning") {
                "GetBucketVersioning"
            } else if has("acl") {
                "GetBucketAcl"
            } else if has("list-type") {
                "ListObjectsV2"
            } else if query.is_empty()
                || ["prefix", "delimiter", "marker", "max-keys", "encoding-type"]
                    .iter()
                    .any(|k| has(k))
            {
                "ListObjects"
            } else {
                "Other"
            }
        }
        ("HEAD", true, false) => "HeadBucket",
        ("PUT", true, false) => {
            if has("acl") {
                "PutBucketAcl"
            } else if has("versioning") {
                "PutBucketVersioning"
            } else if query.is_empty() {
                "CreateBucket"
            } else {
                "Other"
            }
        }
        ("DELETE", true, false) if query.is_empty() => "DeleteBucket",
        ("POST", true, false) if has("delete") => "DeleteObjects",
        ("GET", true, true) => {
            if has("uploadId") {
                "ListParts"
            } else if has("acl") {
                "GetObjectAcl"
            } else {
                "GetObject"
            }
        }
        ("HEAD", true, true) => "HeadObject",
        ("PUT", true, true) => {
            if has("partNumber") && has("uploadId") {
                if copy { "UploadPartCopy" } else { "UploadPart" }
            } else if has("acl") {
                "PutObjectAcl"
            } else if copy {
                "CopyObject"
            } else {
                "PutObject"
            }
        }
        ("POST", true, true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true, true) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", true, true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true, true) => "DeleteObject",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: &str, path: &str, query: &str, copy: bool) -> &'static str {
        let mut headers = HeaderMap::new();
        if copy {
            headers.insert("x-amz-copy-source", HeaderValue::from_static("/b/k"));
        }
        s3_operation(
            &Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
            path,
            query,
            &headers,
            None,
        )
    }

    #[test]
    fn s3_requests_are_named_by_operation() {
        assert_eq!(op("GET", "/", "", false), "ListBuckets");
        assert_eq!(
            op("GET", "/b", "list-type=2&prefix=a", false),
            "ListObjectsV2"
        );
        assert_eq!(op("GET", "/b/", "", false), "ListObjects");
        assert_eq!(op("GET", "/b", "versions", false), "ListObjectVersions");
        assert_eq!(op("PUT", "/b", "", false), "CreateBucket");
        assert_eq!(op("HEAD", "/b", "", false), "HeadBucket");
        assert_eq!(op("POST", "/b", "delete", false), "DeleteObjects");
        assert_eq!(op("PUT", "/b/k/x", "", false), "PutObject");
        assert_eq!(op("PUT", "/b/k", "", true), "CopyObject");
        assert_eq!(
            op("PUT", "/b/k", "partNumber=1&uploadId=u", false),
            "UploadPart"
        );
        assert_eq!(
            op("PUT", "/b/k", "partNumber=1&uploadId=u", true),
            "UploadPartCopy"
        );
        assert_eq!(
            op("POST", "/b/k", "uploads", false),
            "CreateMultipartUpload"
        );
        assert_eq!(
            op("POST", "/b/k", "uploadId=u", false),
            "CompleteMultipartUpload"
        );
        assert_eq!(
            op("DELETE", "/b/k", "uploadId=u", false),
            "AbortMultipartUpload"
        );
        assert_eq!(op("GET", "/b/k", "uploadId=u", false), "ListParts");
        assert_eq!(op("GET", "/b/k", "", false), "GetObject");
        assert_eq!(op("HEAD", "/b/k", "", false), "HeadObject");
        assert_eq!(op("DELETE", "/b/k", "", false), "DeleteObject");
        assert_eq!(op("GET", "/b", "policy", false), "Other");
    }

    #[test]
    fn virtual_host_requests_take_the_bucket_from_the_host() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("photos.s3.example.com:9000"),
        );
        let get = |path| s3_operation(&Method::GET, path, "", &headers, Some("s3.example.com"));
        assert_eq!(get("/"), "ListObjects");
        assert_eq!(get("/a/b.jpg"), "GetObject");
        headers.insert(header::HOST, HeaderValue::from_static("s3.example.com"));
        let get = |path| s3_operation(&Method::GET, path, "", &headers, Some("s3.example.com"));
        assert_eq!(get("/"), "ListBuckets");
    }
}
