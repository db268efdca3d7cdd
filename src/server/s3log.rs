//! S3 error answers in the log: one line each, with the S3 code, the access key id (never the
//! secret) and the request id; INFO for the client's errors, WARN when one key repeats one
//! many times a minute (a misconfigured client or a guessed key), ERROR for failures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, header};
use http_body::Body as _;
use http_body_util::{BodyExt as _, Full};

use super::ResponseBody;

/// From this many errors with the same code for the same key within [`REPEAT_WINDOW`], each is
/// logged at WARN.
pub(crate) const REPEAT_WARN: u32 = 20;
const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Most (key, code) pairs remembered; older windows go first when full.
const REPEAT_KEYS: usize = 10_000;

/// Recent client errors by (access key id, S3 code): the start of the window and the count.
#[derive(Debug, Default)]
pub(crate) struct Repeats(Mutex<HashMap<(String, String), (Instant, u32)>>);

impl Repeats {
    /// Counts one error; `Some(n)` when it is the `REPEAT_WARN`th or later within the window.
    fn note(&self, access_key: &str, code: &str) -> Option<u32> {
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= REPEAT_KEYS {
            map.retain(|_, (start, _)| now.duration_since(*start) < REPEAT_WINDOW);
            if map.len() >= REPEAT_KEYS {
                map.clear();
            }
        }
        let entry = map
            .entry((access_key.to_owned(), code.to_owned()))
            .or_insert((now, 0));
        if now.duration_since(entry.0) >= REPEAT_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1 >= REPEAT_WARN).then_some(entry.1)
    }
}

/// The access key id a request is signed with (SigV4 or SigV2, header or query); never the
/// signature or the secret.
pub(super) fn access_key_id(headers: &HeaderMap, uri: &http::Uri) -> Option<String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(auth) = auth {
        if let Some(rest) = auth.split("Credential=").nth(1) {
            return rest.split('/').next().map(str::to_owned);
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            return rest.split(':').next().map(str::to_owned);
        }
    }
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes()).find_map(|(k, v)| match k.as_ref() {
        "X-Amz-Credential" => v.split('/').next().map(str::to_owned),
        "AWSAccessKeyId" => Some(v.into_owned()),
        _ => None,
    })
}

/// Logs an S3 error answer once, with its S3 code, the access key id and (from the span) the
/// request id: at INFO for the client's errors (4xx: `NoSuchKey`, `AccessDenied`,
/// `SignatureDoesNotMatch`, …; WARN from the [`REPEAT_WARN`]th time a key gets the same code
/// within a minute), at ERROR for the gateway's or ScaiDrive's (5xx). s3s's own
/// ERROR line for every error answer is filtered out (`logging`). The error document is small
/// and whole in memory already; it is read for its `<Code>` and put back.
pub(super) async fn note_s3_error(
    repeats: &Repeats,
    resp: Response<ResponseBody>,
    span: &tracing::Span,
    access_key: Option<&str>,
) -> Response<ResponseBody> {
    const MAX_ERROR_DOC: u64 = 64 << 10;
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|n| n > 0 && n <= MAX_ERROR_DOC);
    let (code, body) = if small {
        match body.collect().await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                let code = error_code(&bytes);
                (code, full_body(bytes))
            }
            Err(e) => {
                tracing::warn!(parent: span, error = %e, "S3 error answer could not be read");
                (None, full_body(Bytes::new()))
            }
        }
    } else {
        (None, body)
    };
    let code = code.as_deref().unwrap_or("-");
    let access_key = access_key.unwrap_or("-");
    if status >= 500 {
        tracing::error!(parent: span, status, s3_code = code, access_key, "S3 request failed");
    } else {
        match repeats.note(access_key, code) {
            Some(times) => tracing::warn!(
                parent: span,
                status,
                s3_code = code,
                access_key,
                times_in_last_minute = times,
                "S3 client error, repeated"
            ),
            None => {
                tracing::info!(parent: span, status, s3_code = code, access_key, "S3 client error")
            }
        }
    }
    Response::from_parts(parts, body)
}

fn full_body(bytes: Bytes) -> ResponseBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The `<Code>` of an S3 error document.
fn error_code(doc: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(doc).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].to_owned())
}
