//! The client core: options, one shared `reqwest::Client`, request building,
//! the retry loop, error classification of responses and rate-limit bookkeeping.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{Error, ErrorKind, Result};
use super::retry::{self, RequestClass};
use crate::metrics::UpstreamStats;

pub use super::token::Token;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout of a metadata call (request, response and JSON body). Content streams
    /// (download bodies, streamed uploads) have no total timeout; the same duration is used as
    /// their read/idle timeout instead.
    pub request_timeout: Duration,
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// First back-off step (exponential, full jitter).
    pub base_backoff: Duration,
    /// Largest back-off step.
    pub max_backoff: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// PEM file of root certificates trusted for ScaiDrive's TLS besides the built-in
    /// Mozilla roots (a ScaiDrive whose certificate comes from a private CA).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_retries: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            user_agent: concat!("scaidrive-gateway/", env!("CARGO_PKG_VERSION")).to_owned(),
            ca_file: None,
        }
    }
}

/// The last `X-RateLimit-*` values seen on any response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitState {
    /// `X-RateLimit-Limit`: per-minute budget of the token.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: epoch seconds.
    pub reset: Option<u64>,
    /// When these values were seen.
    pub observed_at: Option<Instant>,
}

impl RateLimitState {
    /// Whether less than 10 % of the budget is left (the documented "slow down" point).
    pub fn is_low(&self) -> bool {
        match (self.limit, self.remaining) {
            (Some(limit), Some(remaining)) if limit > 0 => remaining.saturating_mul(10) < limit,
            _ => false,
        }
    }
}

/// A ScaiDrive API client. Cheap to clone; all clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// For streamed uploads (`POST /files`): no read timeout, since nothing is read while the
    /// body is being sent, which takes as long as the sender needs (a client feeding the
    /// gateway over a slow link).
    upload_http: reqwest::Client,
    base: Url,
    opts: ClientOptions,
    rate: Mutex<RateLimitState>,
    pacer: super::pace::Pacer,
    stats: UpstreamStats,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

/// A request body the retry loop can send again.
#[derive(Debug, Clone)]
pub(crate) enum ReqBody {
    Empty,
    Json(Bytes),
    Raw(Bytes, &'static str),
}

/// Everything needed to (re)build one request.
#[derive(Debug)]
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub token: Option<&'a Token>,
    pub body: ReqBody,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub idempotent: bool,
    /// Total timeout; `None` for content streams (the client's read timeout still applies).
    pub timeout: Option<Duration>,
    /// For deletes: a 404/410 right after a retried 5xx/transport failure means that failed
    /// attempt took effect; report success.
    pub absent_ok_on_retry: bool,
    /// Retry failures by the policy of `retry.rs` (false: one attempt, the caller retries).
    pub retries: bool,
}

/// A successful response, buffered or not.
pub(crate) struct Buffered {
    pub body: Bytes,
}

impl Client {
    /// A client for the ScaiDrive at `base_url` (e.g. `https://scaidrive.scailabs.ai`; a
    /// trailing `/api/v1` is accepted and ignored).
    pub fn new(base_url: &str, opts: ClientOptions) -> Result<Client, Error> {
        let mut base = Url::parse(base_url.trim())
            .map_err(|e| Error::invalid(format!("invalid ScaiDrive URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::invalid(format!(
                "ScaiDrive URL must be http(s): {base_url:?}"
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let mut path = base.path().trim_end_matches('/').to_owned();
        if let Some(stripped) = path.strip_suffix("/api/v1") {
            path = stripped.to_owned();
        }
        path.push('/');
        base.set_path(&path);

        let roots = match &opts.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::invalid(format!("reading CA file {}: {e}", path.display()))
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    Error::invalid(format!("CA file {}: {e}", path.display())).with_source(e)
                })?;
                if certs.is_empty() {
                    return Err(Error::invalid(format!(
                        "CA file {} holds no PEM certificate",
                        path.display()
                    )));
                }
                certs
            }
            None => Vec::new(),
        };
        let builder = || {
            roots.iter().fold(
                reqwest::Client::builder()
                    .connect_timeout(opts.connect_timeout)
                    .user_agent(opts.user_agent.clone())
                    .pool_idle_timeout(Duration::from_secs(90))
                    .tcp_nodelay(true)
                    .redirect(reqwest::redirect::Policy::none()),
                |b, cert| b.add_root_certificate(cert.clone()),
            )
        };
        let built = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| Error::invalid(format!("building HTTP client: {e}")).with_source(e))
        };
        let http = built(builder().read_timeout(opts.request_timeout))?;
        let upload_http = built(builder())?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                upload_http,
                base,
                opts,
                rate: Mutex::new(RateLimitState::default()),
                pacer: super::pace::Pacer::default(),
                stats: UpstreamStats::default(),
            }),
        })
    }

    /// The base URL (always ending in `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Counts of the calls this client (and its clones) made, by endpoint and status.
    pub fn upstream_stats(&self) -> &UpstreamStats {
        &self.inner.stats
    }

    /// The last rate-limit headers seen on any response (all fields `None` until the server
    /// sends them; the emulator sends them only with rate limiting on).
    pub fn rate_limit_state(&self) -> RateLimitState {
        match self.inner.rate.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The budget ScaiDrive last reported for `token`: (limit, remaining) per window, when
    /// seen within the last window (background work uses it to leave the user's budget alone).
    pub fn rate_budget(&self, token: &super::token::Token) -> Option<(u64, u64)> {
        self.inner.pacer.budget(token)
    }

    /// `base/api/v1/<segments…>`, each segment percent-encoded (IDs are opaque).
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::invalid("base URL cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v1"])
            .extend(segments);
        Ok(url)
    }

    /// A request with the default metadata timeout.
    pub(crate) fn req<'a>(&self, method: Method, url: Url, token: Option<&'a Token>) -> Req<'a> {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        Req {
            method,
            url,
            token,
            body: ReqBody::Empty,
            headers: Vec::new(),
            idempotent,
            timeout: Some(self.inner.opts.request_timeout),
            absent_ok_on_retry: false,
            retries: true,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The HTTP client for streamed uploads (no read timeout).
    pub(crate) fn upload_http(&self) -> &reqwest::Client {
        &self.inner.upload_http
    }

    /// Build a reqwest request from a spec (once per attempt).
    fn build(&self, req: &Req<'_>) -> Result<reqwest::RequestBuilder> {
        let mut rb = self.inner.http.request(req.method.clone(), req.url.clone());
        if let Some(t) = req.token {
            rb = rb.header(AUTHORIZATION, t.header_value()?);
        }
        for (k, v) in &req.headers {
            rb = rb.header(k.clone(), v.clone());
        }
        rb = match &req.body {
            ReqBody::Empty => rb,
            ReqBody::Json(b) => rb.header(CONTENT_TYPE, "application/json").body(b.clone()),
            ReqBody::Raw(b, ct) => rb.header(CONTENT_TYPE, *ct).body(b.clone()),
        };
        if let Some(t) = req.timeout {
            rb = rb.timeout(t);
        }
        Ok(rb)
    }

    /// Send once, after the pacing wait of `token` (see `pace.rs`); a non-2xx answer becomes a
    /// classified [`Error`].
    pub(crate) async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        token: Option<&Token>,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        if let Some(t) = token
            && let Some(wait) = self.inner.pacer.delay(t, method, url.path())
        {
            self.inner.stats.record_pace(wait);
            tracing::debug!(
                path = url.path(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "pacing by ScaiDrive's rate limit"
            );
            tokio::time::sleep(wait).await;
        }
        let started = Instant::now();
        let sent = rb.send().await;
        let status = sent.as_ref().ok().map(|r| r.status().as_u16());
        let took = started.elapsed();
        self.inner
            .stats
            .record(method.as_str(), url.path(), status, took);
        tracing::debug!(
            method = method.as_str(),
            path = url.path(),
            status,
            head_ms = took.as_secs_f64() * 1000.0,
            "ScaiDrive answered"
        );
        let resp = sent.map_err(Error::transport)?;
        self.record_rate_limit(token, resp.headers());
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        // The error body is small; a failure to read it still leaves the status to classify.
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(_) => Bytes::new(),
        };
        let err = Error::from_response(status.as_u16(), &headers, &body);
        if let (Some(t), ErrorKind::RateLimited) = (token, err.kind()) {
            let wait = err.retry_after().unwrap_or(self.inner.opts.base_backoff);
            self.inner.pacer.block(t, wait);
        }
        Err(err)
    }

    /// Send with retries until a 2xx response's headers arrive; the body is left unread.
    pub(crate) async fn send_streaming(&self, req: &Req<'_>) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            let result = match self.build(req) {
                Ok(rb) => self.send_once(&req.method, &req.url, req.token, rb).await,
                Err(e) => return Err(e),
            };
            match result {
                Ok(resp) => return Ok(resp),
                Err(err) => self.wait_or_fail(req, err, attempt).await?,
            }
            attempt += 1;
        }
    }

    /// Send with retries and read the whole (small) body; body read failures are retried too.
    pub(crate) async fn send_buffered(&self, req: &Req<'_>) -> Result<Buffered> {
        let mut attempt = 0;
        // The previous attempt failed in a way that may have taken effect (5xx, transport).
        let mut unclear = false;
        loop {
            let result = match self.build(req) {
                Ok(rb) => match self.send_once(&req.method, &req.url, req.token, rb).await {
                    Ok(resp) => resp
                        .bytes()
                        .await
                        .map(|body| Buffered { body })
                        .map_err(Error::transport),
                    Err(e) => Err(e),
                },
                Err(e) => return Err(e),
            };
            match result {
                Ok(b) => return Ok(b),
                Err(err)
                    if unclear
                        && req.absent_ok_on_retry
                        && matches!(err.kind(), ErrorKind::NotFound | ErrorKind::Gone) =>
                {
                    tracing::debug!(
                        path = req.url.path(),
                        "delete retried after an unclear failure found the resource gone"
                    );
                    return Ok(Buffered { body: Bytes::new() });
                }
                Err(err) => {
                    unclear = matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Transport);
                    self.wait_or_fail(req, err, attempt).await?
                }
            }
            attempt += 1;
        }
    }

    /// Sleep before the next attempt, or hand the error back.
    pub(crate) async fn wait_or_fail(&self, req: &Req<'_>, err: Error, attempt: u32) -> Result<()> {
        if !req.retries {
            return Err(err);
        }
        let class = RequestClass {
            idempotent: req.idempotent,
            replayable: true,
        };
        let o = &self.inner.opts;
        match retry::delay_for(
            &err,
            class,
            attempt,
            o.max_retries,
            o.base_backoff,
            o.max_backoff,
        ) {
            Some(delay) => {
                tracing::warn!(
                    method = %req.method,
                    path = req.url.path(),
                    attempt = attempt + 1,
                    max_retries = o.max_retries,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    kind = %err.kind(),
                    status = err.status(),
                    "retrying ScaiDrive request: {}",
                    err.message()
                );
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(err),
        }
    }

    fn record_rate_limit(&self, token: Option<&Token>, headers: &HeaderMap) {
        let num = |name: &str| -> Option<u64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        };
        let limit = num("x-ratelimit-limit");
        let remaining = num("x-ratelimit-remaining");
        let reset = num("x-ratelimit-reset");
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return;
        }
        if let Some(t) = token {
            self.inner.pacer.observe(t, limit, remaining, reset);
        }
        let mut g = match self.inner.rate.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = RateLimitState {
            limit,
            remaining,
            reset,
            observed_at: Some(Instant::now()),
        };
    }

    // --- typed helpers used by the endpoint modules ---------------------------------------

    /// Send and parse a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: &Req<'_>) -> Result<T> {
        let b = self.send_buffered(req).await?;
        parse_json(&b.body)
    }

    /// Send and ignore the answer body.
    pub(crate) async fn no_content(&self, req: &Req<'_>) -> Result<()> {
        self.send_buffered(req).await.map(|_| ())
    }

    /// `GET` a JSON resource.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        token: Option<&Token>,
        url: Url,
    ) -> Result<T> {
        self.json(&self.req(Method::GET, url, token)).await
    }

    /// Send a JSON body and parse a JSON answer.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        token: &Token,
        url: Url,
        body: &B,
    ) -> Result<T> {
        let mut req = self.req(method, url, Some(token));
        req.body = json_body(body)?;
        self.json(&req).await
    }
}

pub(crate) fn json_body<B: Serialize + ?Sized>(body: &B) -> Result<ReqBody> {
    serde_json::to_vec(body)
        .map(|v| ReqBody::Json(Bytes::from(v)))
        .map_err(|e| Error::invalid(format!("encoding request body: {e}")))
}

/// Parse a JSON success body; a `{"data": …}` envelope is unwrapped if the plain parse fails.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            if let Ok(serde_json::Value::Object(mut map)) =
                serde_json::from_slice::<serde_json::Value>(body)
                && let Some(data) = map.remove("data")
                && let Ok(v) = serde_json::from_value::<T>(data)
            {
                return Ok(v);
            }
            Err(Error::protocol(format!(
                "unexpected response body ({} bytes): {first}",
                body.len()
            ))
            .with_source(first))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_debug_hides_the_value() {
        let t = Token::new("s3cr3t-value");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        assert!(!format!("{:?}", Some(&t)).contains("s3cr3t"));
        assert_eq!(t.expose(), "s3cr3t-value");
    }

    #[test]
    fn base_url_is_normalised() {
        for (input, want) in [
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/"),
            ("http://h:1/", "http://h:1/"),
            ("https://h/api/v1", "https://h/"),
            ("https://h/prefix/api/v1/", "https://h/prefix/"),
            ("https://h/prefix", "https://h/prefix/"),
        ] {
            let c = Client::new(input, ClientOptions::default()).unwrap();
            assert_eq!(c.base_url().as_str(), want, "{input}");
        }
        assert!(Client::new("ftp://h", ClientOptions::default()).is_err());
        assert!(Client::new("not a url", ClientOptions::default()).is_err());
    }

    #[test]
    fn endpoint_encodes_segments() {
        let c = Client::new("https://h/prefix", ClientOptions::default()).unwrap();
        let u = c.endpoint(&["files", "fil_01/..?x", "content"]).unwrap();
        assert_eq!(
            u.as_str(),
            "https://h/prefix/api/v1/files/fil_01%2F..%3Fx/content"
        );
    }

    #[test]
    fn rate_limit_headers_are_recorded() {
        let c = Client::new("http://h", ClientOptions::default()).unwrap();
        assert_eq!(c.rate_limit_state().limit, None);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", "1000".parse().unwrap());
        h.insert("x-ratelimit-remaining", "42".parse().unwrap());
        h.insert("x-ratelimit-reset", "1760000000".parse().unwrap());
        c.record_rate_limit(None, &h);
        let s = c.rate_limit_state();
        assert_eq!(
            (s.limit, s.remaining, s.reset),
            (Some(1000), Some(42), Some(1760000000))
        );
        assert!(s.is_low());
        c.record_rate_limit(None, &HeaderMap::new());
        assert_eq!(c.rate_limit_state().remaining, Some(42));
    }

    #[test]
    fn data_envelope_is_unwrapped() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct X {
            a: u32,
        }
        assert_eq!(parse_json::<X>(br#"{"a": 1}"#).unwrap(), X { a: 1 });
        assert_eq!(
            parse_json::<X>(br#"{"status": "success", "data": {"a": 2}}"#).unwrap(),
            X { a: 2 }
        );
        let err = parse_json::<X>(br#"{"b": 1}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }
}
