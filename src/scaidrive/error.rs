//! Errors of the ScaiDrive client: one [`Error`] type carrying an [`ErrorKind`], classified once
//! from the HTTP status and the body (all three documented body shapes), plus `Retry-After`.

use std::fmt;
use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;

/// Result alias of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as far as a caller needs to know to react.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 404: not found, or not visible to the caller (ScaiDrive does not distinguish).
    NotFound,
    /// 403: missing scope, role or permission; suspended user.
    Forbidden,
    /// 409: name conflict, missing chunks at complete, stale version, …
    Conflict,
    /// 410: soft-deleted resource, expired upload session or link.
    Gone,
    /// 413: over the tenant per-file size cap.
    TooLarge,
    /// 507 (or a `QUOTA_EXCEEDED` code): a quota would be exceeded.
    QuotaExceeded,
    /// 429: rate limited; see [`Error::retry_after`].
    RateLimited,
    /// 5xx (except 507) and 408: the service is unavailable or degraded.
    Unavailable,
    /// 400 / 422 and other 4xx: the request was malformed or failed validation.
    Invalid,
    /// 401: token missing, invalid, expired or from the wrong issuer.
    Unauthorized,
    /// 416: the requested byte range is not satisfiable; see [`Error::total_size`].
    RangeNotSatisfiable,
    /// `CHECKSUM_MISMATCH`: an upload's content did not match its declared SHA-256.
    ChecksumMismatch,
    /// Connect failure, reset, timeout, or a body shorter than its `Content-Length`.
    Transport,
    /// The response did not have the expected shape (unparseable JSON, bad headers, …).
    Protocol,
}

impl ErrorKind {
    /// A short stable name, used in `Display` and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Gone => "gone",
            ErrorKind::TooLarge => "too large",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RangeNotSatisfiable => "range not satisfiable",
            ErrorKind::ChecksumMismatch => "checksum mismatch",
            ErrorKind::Transport => "transport error",
            ErrorKind::Protocol => "protocol error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of a ScaiDrive call. Small (one pointer); the details live behind a box.
#[derive(Debug)]
pub struct Error(Box<Repr>);

#[derive(Debug)]
struct Repr {
    kind: ErrorKind,
    status: Option<u16>,
    message: String,
    code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    total_size: Option<u64>,
    source: Option<BoxError>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scaidrive: {}", self.detail())
    }
}

/// What a transport failure came down to, in words: `connection refused`, `DNS name not found
/// (…)`, `TLS certificate not trusted (…)`, `timed out`; else the innermost cause's text.
fn root_cause(err: &reqwest::Error) -> Option<String> {
    use std::error::Error as _;
    let mut texts = Vec::new();
    let mut src = err.source();
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let words = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Some("connection refused"),
                std::io::ErrorKind::TimedOut => Some("timed out"),
                std::io::ErrorKind::ConnectionReset => Some("connection reset by the server"),
                std::io::ErrorKind::HostUnreachable => Some("host unreachable"),
                std::io::ErrorKind::NetworkUnreachable => Some("network unreachable"),
                _ => None,
            };
            if let Some(words) = words {
                return Some(words.to_owned());
            }
        }
        texts.push(e.to_string());
        src = e.source();
    }
    if err.is_timeout() {
        return Some("timed out".to_owned());
    }
    let innermost = texts.last()?.clone();
    let all = texts.join(" ").to_lowercase();
    Some(
        if all.contains("dns error")
            || all.contains("lookup address")
            || all.contains("name or service not known")
        {
            format!("DNS name not found ({innermost})")
        } else if all.contains("certificate") {
            format!("TLS certificate not trusted ({innermost})")
        } else if all.contains("tls") || all.contains("handshake") {
            format!("TLS handshake failed ({innermost})")
        } else {
            innermost
        },
    )
}

impl Error {
    /// The error without the `scaidrive:` prefix of its `Display`, for messages that name
    /// ScaiDrive themselves.
    pub fn detail(&self) -> String {
        use std::fmt::Write as _;
        let r = &self.0;
        let mut f = String::new();
        let _ = write!(f, "{}", r.kind);
        if let Some(status) = r.status {
            let _ = write!(f, " (HTTP {status})");
        }
        if !r.message.is_empty() {
            let _ = write!(f, ": {}", r.message);
        }
        if let Some(id) = &r.request_id {
            let _ = write!(f, " [request {id}]");
        }
        f
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// A new error of `kind` with a message and no HTTP status.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            status: None,
            message: message.into(),
            code: None,
            request_id: None,
            retry_after: None,
            total_size: None,
            source: None,
        }))
    }

    /// The kind, for callers to branch on.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The server's message (`detail`, joined validation messages or `error.message`), or ours.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// A machine-readable code when the server gave one: `error.code` of the envelope, or an
    /// upper-case code leading the `detail` text (`NAME_CONFLICT: …`).
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// `meta.request_id` of the envelope, when present.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// How long the server asked us to wait (`Retry-After` header or `error.retry_after`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// For [`ErrorKind::RangeNotSatisfiable`]: the resource size from `Content-Range: bytes */N`.
    pub fn total_size(&self) -> Option<u64> {
        self.0.total_size
    }

    /// Whether this error is worth retrying for an idempotent request.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Transport
        )
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, message)
    }

    /// A transport failure from reqwest (connect, reset, timeout, body read).
    pub(crate) fn transport(err: reqwest::Error) -> Error {
        let what = if err.is_connect() {
            "connect failed"
        } else if err.is_timeout() {
            "timed out"
        } else if err.is_body() || err.is_decode() {
            "body transfer failed"
        } else {
            "request failed"
        };
        // The URL holds ids only, never the token (a header).
        let message = match (root_cause(&err), err.url()) {
            (Some(cause), Some(url)) => format!("{what}: {cause} ({url})"),
            (Some(cause), None) => format!("{what}: {cause}"),
            (None, _) => format!("{what}: {err}"),
        };
        Error::new(ErrorKind::Transport, message).with_source(err)
    }

    /// Classify an error response from its status, headers and (possibly empty) body.
    pub fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let parsed = ParsedBody::parse(body);
        let kind = classify(status, parsed.code.as_deref());
        let retry_after = retry_after_header(headers).or(parsed.retry_after);
        let total_size = if status == 416 {
            headers
                .get(http::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(unsatisfied_total)
        } else {
            None
        };
        let message = if parsed.message.is_empty() {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_owned()
        } else {
            parsed.message
        };
        Error(Box::new(Repr {
            kind,
            status: Some(status),
            message,
            code: parsed.code,
            request_id: parsed.request_id,
            retry_after,
            total_size,
            source: None,
        }))
    }
}

/// The error kind for an HTTP status and an optional machine-readable code.
///
/// The status decides, except for codes that name a kind more precisely than their status
/// (the status of `CHECKSUM_MISMATCH` is not documented, so any 4xx carrying it counts).
pub fn classify(status: u16, code: Option<&str>) -> ErrorKind {
    if let Some(code) = code {
        match code {
            "CHECKSUM_MISMATCH" if (400..500).contains(&status) => {
                return ErrorKind::ChecksumMismatch;
            }
            "QUOTA_EXCEEDED" if (400..600).contains(&status) => return ErrorKind::QuotaExceeded,
            _ => {}
        }
    }
    match status {
        400 | 422 => ErrorKind::Invalid,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Unavailable,
        409 => ErrorKind::Conflict,
        410 => ErrorKind::Gone,
        413 => ErrorKind::TooLarge,
        416 => ErrorKind::RangeNotSatisfiable,
        429 => ErrorKind::RateLimited,
        507 => ErrorKind::QuotaExceeded,
        500..=599 => ErrorKind::Unavailable,
        402..=499 => ErrorKind::Invalid,
        _ => ErrorKind::Protocol,
    }
}

/// `Retry-After` as delta-seconds (integer or decimal) or an HTTP date.
pub(crate) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return secs_to_duration(secs);
    }
    let date = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    if secs.is_finite() && (0.0..1e9).contains(&secs) {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

/// `bytes */N` (or any `…/N`) → N.
fn unsatisfied_total(v: &str) -> Option<u64> {
    v.trim().rsplit_once('/')?.1.trim().parse().ok()
}

/// What the client extracts from an error body, whichever shape it has.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ParsedBody {
    pub message: String,
    pub code: Option<String>,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct RawErrorBody {
    #[serde(default)]
    detail: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    meta: Option<RawMeta>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct RawEnvelopeError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawValidationItem {
    #[serde(default)]
    loc: Vec<serde_json::Value>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Longest server text kept in an error message.
const MAX_MESSAGE: usize = 1024;

impl ParsedBody {
    /// Parse `{"detail": "…"}`, `{"detail": [{loc, msg, type}]}` or the
    /// `{"status": "error", "error": {code, message, retry_after, details}, "meta": {request_id}}`
    /// envelope; anything else becomes a (truncated) plain-text message.
    pub(crate) fn parse(body: &[u8]) -> ParsedBody {
        let mut out = ParsedBody::default();
        let Ok(raw) = serde_json::from_slice::<RawErrorBody>(body) else {
            let text = String::from_utf8_lossy(body);
            out.message = truncate(text.trim());
            return out;
        };
        out.request_id = raw.meta.and_then(|m| m.request_id);
        match raw.detail {
            Some(serde_json::Value::String(text)) => {
                out.code = leading_code(&text);
                out.message = text;
            }
            Some(serde_json::Value::Array(items)) => {
                let parts: Vec<String> = items
                    .into_iter()
                    .map(
                        |item| match serde_json::from_value::<RawValidationItem>(item.clone()) {
                            Ok(v) => {
                                let loc: Vec<String> = v
                                    .loc
                                    .iter()
                                    .map(|l| match l {
                                        serde_json::Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    })
                                    .collect();
                                let msg = v.msg.or(v.kind).unwrap_or_default();
                                if loc.is_empty() {
                                    msg
                                } else {
                                    format!("{}: {msg}", loc.join("."))
                                }
                            }
                            Err(_) => item.to_string(),
                        },
                    )
                    .collect();
                out.message = parts.join("; ");
            }
            Some(serde_json::Value::Null) | None => {}
            Some(other) => out.message = other.to_string(),
        }
        match raw.error {
            Some(serde_json::Value::String(text)) if out.message.is_empty() => {
                out.code = leading_code(&text);
                out.message = text;
            }
            Some(obj @ serde_json::Value::Object(_)) => {
                if let Ok(env) = serde_json::from_value::<RawEnvelopeError>(obj) {
                    if env.code.is_some() {
                        out.code = env.code;
                    }
                    if let Some(m) = env.message.filter(|m| !m.is_empty()) {
                        out.message = m;
                    }
                    out.retry_after = env.retry_after.and_then(|v| match v {
                        serde_json::Value::Number(n) => n.as_f64().and_then(secs_to_duration),
                        serde_json::Value::String(s) => {
                            s.trim().parse().ok().and_then(secs_to_duration)
                        }
                        _ => None,
                    });
                }
            }
            _ => {}
        }
        if out.message.is_empty()
            && let Some(m) = raw.message
        {
            out.message = m;
        }
        out.message = truncate(&out.message);
        out
    }
}

/// An upper-snake code leading a detail text: `NAME_CONFLICT: …` → `NAME_CONFLICT`.
fn leading_code(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let candidate = &text[..end];
    let rest = &text[end..];
    let well_formed = candidate.len() >= 3
        && candidate.contains('_')
        && candidate.starts_with(|c: char| c.is_ascii_uppercase());
    if well_formed && (rest.is_empty() || rest.starts_with(':') || rest.starts_with(' ')) {
        Some(candidate.to_owned())
    } else {
        None
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn classification_table() {
        let json = |s: &str| s.as_bytes().to_vec();
        let cases: Vec<(u16, Vec<u8>, ErrorKind)> = vec![
            (400, json(r#"{"detail": "bad query"}"#), ErrorKind::Invalid),
            (
                400,
                json(r#"{"detail": "CHECKSUM_MISMATCH: expected ab, got cd"}"#),
                ErrorKind::ChecksumMismatch,
            ),
            (
                409,
                json(r#"{"detail": "CHECKSUM_MISMATCH: whole file"}"#),
                ErrorKind::ChecksumMismatch,
            ),
            (
                401,
                json(r#"{"detail": "Not authenticated"}"#),
                ErrorKind::Unauthorized,
            ),
            (
                403,
                json(r#"{"detail": "Permission denied: WRITE on file/fil_01J3M"}"#),
                ErrorKind::Forbidden,
            ),
            (
                404,
                json(r#"{"detail": "File not found"}"#),
                ErrorKind::NotFound,
            ),
            (
                409,
                json(
                    r#"{"detail": "NAME_CONFLICT: a file or folder named 'a.txt' already exists"}"#,
                ),
                ErrorKind::Conflict,
            ),
            (
                410,
                json(r#"{"detail": "upload session expired"}"#),
                ErrorKind::Gone,
            ),
            (
                413,
                json(r#"{"detail": "PAYLOAD_TOO_LARGE: over 5 GB"}"#),
                ErrorKind::TooLarge,
            ),
            (416, Vec::new(), ErrorKind::RangeNotSatisfiable),
            (
                422,
                json(
                    r#"{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]}"#,
                ),
                ErrorKind::Invalid,
            ),
            (
                429,
                json(
                    r#"{"status": "error", "error": {"code": "RATE_LIMITED", "message": "slow down", "retry_after": 22, "details": {"dimension": "token", "limit": 1000, "window_seconds": 60}}, "meta": {"request_id": "req_1"}}"#,
                ),
                ErrorKind::RateLimited,
            ),
            (500, json("Internal Server Error"), ErrorKind::Unavailable),
            (502, Vec::new(), ErrorKind::Unavailable),
            (
                503,
                json(r#"{"detail": "degraded"}"#),
                ErrorKind::Unavailable,
            ),
            (504, Vec::new(), ErrorKind::Unavailable),
            (
                507,
                json(r#"{"detail": "QUOTA_EXCEEDED: share quota exceeded"}"#),
                ErrorKind::QuotaExceeded,
            ),
            (
                403,
                json(r#"{"detail": "QUOTA_EXCEEDED: user quota"}"#),
                ErrorKind::QuotaExceeded,
            ),
            (405, Vec::new(), ErrorKind::Invalid),
            (408, Vec::new(), ErrorKind::Unavailable),
            (302, Vec::new(), ErrorKind::Protocol),
        ];
        for (status, body, want) in cases {
            let err = Error::from_response(status, &HeaderMap::new(), &body);
            assert_eq!(
                err.kind(),
                want,
                "status {status} body {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(err.status(), Some(status));
        }
    }

    #[test]
    fn detail_string_gives_message_and_leading_code() {
        let err = Error::from_response(
            409,
            &HeaderMap::new(),
            br#"{"detail": "NAME_CONFLICT: a file or folder named 'a.txt' already exists"}"#,
        );
        assert_eq!(err.code(), Some("NAME_CONFLICT"));
        assert!(err.message().contains("'a.txt' already exists"));
        let plain = Error::from_response(404, &HeaderMap::new(), br#"{"detail": "Not found"}"#);
        assert_eq!(plain.code(), None);
        assert_eq!(plain.message(), "Not found");
    }

    #[test]
    fn validation_array_is_joined() {
        let err = Error::from_response(
            422,
            &HeaderMap::new(),
            br#"{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"},
                            {"loc": ["query", "limit", 0], "msg": "too big", "type": "value_error"}]}"#,
        );
        assert_eq!(
            err.message(),
            "body.name: field required; query.limit.0: too big"
        );
    }

    #[test]
    fn envelope_gives_code_message_retry_after_and_request_id() {
        let err = Error::from_response(
            429,
            &HeaderMap::new(),
            br#"{"status": "error", "error": {"code": "RATE_LIMITED", "message": "Rate limit exceeded", "retry_after": 22, "details": {"dimension": "token"}}, "meta": {"request_id": "req_01"}}"#,
        );
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.code(), Some("RATE_LIMITED"));
        assert_eq!(err.message(), "Rate limit exceeded");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(22)));
        assert_eq!(err.request_id(), Some("req_01"));
    }

    #[test]
    fn retry_after_header_wins_over_body() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        let err = Error::from_response(
            429,
            &headers,
            br#"{"status": "error", "error": {"code": "RATE_LIMITED", "message": "x", "retry_after": 22}}"#,
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn retry_after_http_date_in_the_past_is_zero() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_header(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn range_not_satisfiable_carries_total() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_RANGE, "bytes */1234".parse().unwrap());
        let err = Error::from_response(416, &headers, b"");
        assert_eq!(err.kind(), ErrorKind::RangeNotSatisfiable);
        assert_eq!(err.total_size(), Some(1234));
        assert_eq!(err.message(), "Range Not Satisfiable");
    }

    #[test]
    fn non_json_body_becomes_truncated_message() {
        let body = "x".repeat(5000);
        let err = Error::from_response(502, &HeaderMap::new(), body.as_bytes());
        assert!(err.message().len() <= MAX_MESSAGE + 4);
    }

    #[test]
    fn leading_code_requires_upper_snake() {
        assert_eq!(
            leading_code("NAME_CONFLICT: x"),
            Some("NAME_CONFLICT".into())
        );
        assert_eq!(
            leading_code("CHECKSUM_MISMATCH"),
            Some("CHECKSUM_MISMATCH".into())
        );
        assert_eq!(leading_code("Not found"), None);
        assert_eq!(leading_code("OK then"), None);
        assert_eq!(leading_code("ABC_DEFghi"), None);
    }
}
