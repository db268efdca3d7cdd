//! Listeners: binds the S3, WebDAV and admin sockets, serves each with hyper-util's connection
//! builder, and shuts down gracefully.
//!
//! - [`FrontEnd`] wraps any clone-able hyper service (s3s's `S3Service`, a dav-server handler, an
//!   axum router) behind one boxed type, so [`serve`] does not care what is plugged in.
//! - [`Listeners::bind`] binds the three addresses from [`Config`] (port 0 allowed) and reports
//!   the bound ones ([`BoundAddrs`]).
//! - [`serve_with`] runs until the shutdown future resolves, then stops accepting, asks every
//!   open connection to finish its in-flight request, and waits up to a grace period before
//!   cutting what is left. It speaks TLS on the S3 and WebDAV listeners when given a [`tls::Tls`],
//!   enforces the connection limits (`limits.*`) and wraps every request ([`request`]): request
//!   id and span, operation name, object size limit, metrics.
//! - [`keys`] puts the self-service keys endpoint (`/.well-known/scaidrive-gateway/keys`) in
//!   front of the S3 and WebDAV front ends.
//! - [`gateway`] wires it all together: state DB, upstream or embedded emulator, front ends —
//!   [`start_gateway`] / [`run_gateway`] are the entry points of `serve` and of the tests.

pub mod admin;
mod body;
pub mod commands;
mod conn;
pub mod gateway;
pub mod keys;
mod range;
pub mod request;
mod s3log;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::config::{self, Config, LimitsConfig};
use crate::metrics::RequestMetrics;
use conn::{Activity, Counted};
use request::ListenerCtx;

pub use body::{BodyError, RequestBody};
pub use gateway::{GatewayContext, GatewayHandle, run_gateway, start_gateway};
pub use request::ClientConn;

/// Boxed error of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body every [`FrontEnd`] answers with.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long in-flight connections may run on after shutdown was asked for.
pub const DEFAULT_SHUTDOWN_GRACE: Duration =
    Duration::from_secs(config::DEFAULT_SHUTDOWN_GRACE_SECS);

type HandlerFn =
    dyn Fn(Request<RequestBody>) -> BoxFuture<'static, Response<ResponseBody>> + Send + Sync;

/// One HTTP front end (S3, WebDAV, admin): a cheap-to-clone boxed hyper service.
#[derive(Clone)]
pub struct FrontEnd {
    name: &'static str,
    handler: Arc<HandlerFn>,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("name", &self.name)
            .finish()
    }
}

impl FrontEnd {
    /// Wraps a hyper service. Its errors are logged and answered with a bare 500 (they carry no
    /// detail that should reach a client).
    pub fn new<S, B>(name: &'static str, service: S) -> Self
    where
        S: hyper::service::Service<Request<RequestBody>, Response = Response<B>>
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = Arc::new(service);
        let handler =
            move |req: Request<RequestBody>| -> BoxFuture<'static, Response<ResponseBody>> {
                let fut = service.call(req);
                Box::pin(async move {
                    match fut.await {
                        Ok(resp) => resp.map(|body| body.map_err(Into::into).boxed_unsync()),
                        Err(e) => {
                            let e: BoxError = e.into();
                            tracing::error!(front_end = name, error = %e, "front end failed");
                            text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
                        }
                    }
                })
            };
        Self {
            name,
            handler: Arc::new(handler),
        }
    }

    /// Wraps an axum router (or any tower service) by way of hyper-util's adapter.
    pub fn from_router(name: &'static str, router: axum::Router) -> Self {
        Self::new(
            name,
            hyper_util::service::TowerToHyperService::new(router.into_service()),
        )
    }

    /// A front end that answers every request with 503 and `message` (a listener whose service
    /// is switched off; the listener tests use it as a fixed answer).
    pub fn placeholder(name: &'static str, message: &'static str) -> Self {
        let handler =
            move |_req: Request<RequestBody>| -> BoxFuture<'static, Response<ResponseBody>> {
                Box::pin(async move { text_response(StatusCode::SERVICE_UNAVAILABLE, message) })
            };
        Self {
            name,
            handler: Arc::new(handler),
        }
    }

    /// The name used in logs.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl hyper::service::Service<Request<RequestBody>> for FrontEnd {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<RequestBody>) -> Self::Future {
        let fut = (self.handler)(req);
        Box::pin(async move { Ok(fut.await) })
    }
}

/// A short `text/plain` response.
pub fn text_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The three front ends [`serve`] runs.
#[derive(Debug, Clone)]
pub struct FrontEnds {
    /// Served on `s3.listen`.
    pub s3: FrontEnd,
    /// Served on `webdav.listen`.
    pub webdav: FrontEnd,
    /// Served on `admin.listen`.
    pub admin: FrontEnd,
}

/// Addresses the listeners are bound to (the real ports when port 0 was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundAddrs {
    /// S3 endpoint.
    pub s3: SocketAddr,
    /// WebDAV endpoint.
    pub webdav: SocketAddr,
    /// Admin endpoint.
    pub admin: SocketAddr,
}

/// The bound listening sockets.
#[derive(Debug)]
pub struct Listeners {
    s3: TcpListener,
    webdav: TcpListener,
    admin: TcpListener,
}

impl Listeners {
    /// Binds `s3.listen`, `webdav.listen` and `admin.listen`.
    pub async fn bind(cfg: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            s3: bind("S3", cfg.s3.listen).await?,
            webdav: bind("WebDAV", cfg.webdav.listen).await?,
            admin: bind("admin", cfg.admin.listen).await?,
        })
    }

    /// The bound addresses.
    pub fn addrs(&self) -> anyhow::Result<BoundAddrs> {
        Ok(BoundAddrs {
            s3: self.s3.local_addr()?,
            webdav: self.webdav.local_addr()?,
            admin: self.admin.local_addr()?,
        })
    }
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// How [`serve_with`] runs the listeners: TLS, limits, metrics, shutdown grace.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long open connections may run on once shutdown was asked for.
    pub grace: Duration,
    /// TLS of the S3 and WebDAV listeners (the admin listener stays plain HTTP).
    pub tls: Option<tls::Tls>,
    /// Header size, timeouts, connections.
    pub limits: LimitsConfig,
    /// Largest announced upload accepted (S3 `EntityTooLarge`, WebDAV 413 above it).
    pub max_object_size: Option<u64>,
    /// Domain of virtual-host style S3 requests (for operation names in metrics).
    pub s3_domain: Option<String>,
    /// Where request metrics go.
    pub metrics: Arc<RequestMetrics>,
}

impl ServeOptions {
    /// Defaults (no TLS, default limits, no object size limit) with this grace period.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            tls: None,
            limits: LimitsConfig::default(),
            max_object_size: None,
            s3_domain: None,
            metrics: Arc::default(),
        }
    }
}

/// Serves the three front ends until `shutdown` resolves, then shuts down gracefully: stop
/// accepting, let each connection finish its in-flight request, and after `grace` abort the
/// connections still open.
pub async fn serve(
    listeners: Listeners,
    front_ends: FrontEnds,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    serve_with(listeners, front_ends, shutdown, ServeOptions::new(grace)).await;
}

/// [`serve`] with TLS, limits and metrics.
pub async fn serve_with(
    listeners: Listeners,
    front_ends: FrontEnds,
    shutdown: impl Future<Output = ()>,
    opts: ServeOptions,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (listener, front_end, protocol) in [
        (listeners.s3, front_ends.s3, "s3"),
        (listeners.webdav, front_ends.webdav, "webdav"),
        (listeners.admin, front_ends.admin, "admin"),
    ] {
        let ctx = Arc::new(ListenerCtx {
            front_end,
            protocol,
            counters: opts.metrics.listener(protocol),
            metrics: Arc::clone(&opts.metrics),
            max_object_size: opts.max_object_size,
            s3_domain: opts.s3_domain.clone(),
            body_timeout: Duration::from_secs(opts.limits.body_read_timeout_secs.max(1)),
            client_errors: s3log::Repeats::default(),
        });
        let tls = if protocol == "admin" {
            None
        } else {
            opts.tls.clone()
        };
        tasks.spawn(serve_listener(
            listener,
            ctx,
            tls,
            opts.clone(),
            stop_rx.clone(),
        ));
    }
    shutdown.await;
    tracing::info!(grace_secs = opts.grace.as_secs(), "shutting down listeners");
    // Receivers wait for `true`; a send error only means every listener has ended already.
    let _ = stop_tx.send(true);
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "listener task failed");
        }
    }
    tracing::info!("listeners stopped");
}

/// Resolves once the stop flag is `true` (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not in the caller.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Accepts connections on one listener until `stop` turns true, then drains.
async fn serve_listener(
    listener: TcpListener,
    ctx: Arc<ListenerCtx>,
    tls: Option<tls::Tls>,
    opts: ServeOptions,
    mut stop: watch::Receiver<bool>,
) {
    let name = ctx.front_end.name();
    let local = listener
        .local_addr()
        .map_or_else(|e| format!("unknown ({e})"), |a| a.to_string());
    tracing::info!(front_end = name, addr = %local, tls = tls.is_some(), "listening");
    let limits = &opts.limits;
    let header_timeout = Duration::from_secs(limits.header_read_timeout_secs.max(1));
    let idle =
        (limits.idle_timeout_secs > 0).then(|| Duration::from_secs(limits.idle_timeout_secs));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer enables hyper's header-read timeout (slowloris protection); a head over
    // `max_buf_size` is answered 431.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(limits.max_header_bytes.max(config::MIN_MAX_HEADER_BYTES));
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let detached = TaskTracker::new();

    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(front_end = name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Responses are written in pieces (headers, then a streamed body): without
                // TCP_NODELAY the second small write waits for the client's delayed ACK (40 ms).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(front_end = name, error = %e, "could not set TCP_NODELAY");
                }
                let permit = Arc::clone(&permits).try_acquire_owned().ok();
                if permit.is_none() {
                    ctx.counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(front_end = name, %peer, "too many open connections; answering 503");
                }
                let conn = Connection {
                    ctx: Arc::clone(&ctx),
                    builder: Arc::clone(&builder),
                    stop: stop.clone(),
                    peer,
                    idle,
                    busy: permit.is_none(),
                    silent: header_timeout,
                    detached: detached.clone(),
                };
                let tls = tls.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    conn.run(stream, tls, header_timeout).await;
                });
            }
        }
    }
    drop(listener);

    let open = connections.len();
    if open > 0 {
        tracing::info!(front_end = name, open, "waiting for open connections");
    }
    // Requests whose client has left run on in `detached`: they are waited for as well.
    detached.close();
    let drained = tokio::time::timeout(opts.grace, async {
        while connections.join_next().await.is_some() {}
        detached.wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            front_end = name,
            remaining = connections.len(),
            "shutdown grace period over, closing connections"
        );
        connections.shutdown().await;
    }
}

/// One accepted connection.
struct Connection {
    ctx: Arc<ListenerCtx>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
    peer: SocketAddr,
    idle: Option<Duration>,
    /// Over `limits.max_connections`: every request is answered 503 and the connection closes.
    busy: bool,
    /// A connection that sends no byte at all within this is closed (the header read timeout;
    /// hyper's own starts only with the first byte).
    silent: Duration,
    /// Where requests that change something run ([`changes_state`]), so shutdown can wait for
    /// those whose connection has gone.
    detached: TaskTracker,
}

/// Whether a request may change something (every method but the ones RFC 9110 §9.2.1 and
/// RFC 4918 make safe): such a request runs to its end once received.
fn changes_state(method: &http::Method) -> bool {
    !matches!(
        method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PROPFIND"
    )
}

/// Decrements the open-connections gauge when dropped.
struct OpenGuard(Arc<crate::metrics::ListenerCounters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<tls::Tls>, handshake_timeout: Duration) {
        let name = self.ctx.front_end.name();
        let peer = self.peer;
        // Small writes (response heads) go out at once.
        let _ = stream.set_nodelay(true);
        self.ctx
            .counters
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        let _open = OpenGuard(Arc::clone(&self.ctx.counters));
        match tls {
            None => self.serve_io(stream, false).await,
            Some(tls) => {
                match tokio::time::timeout(handshake_timeout, tls.acceptor().accept(stream)).await {
                    Ok(Ok(stream)) => self.serve_io(stream, true).await,
                    Ok(Err(e)) => {
                        tracing::debug!(front_end = name, %peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::debug!(front_end = name, %peer, "TLS handshake timed out");
                    }
                }
            }
        }
    }

    async fn serve_io<IO>(self, io: IO, secure: bool)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            ctx,
            builder,
            mut stop,
            peer,
            idle,
            busy,
            silent,
            detached,
        } = self;
        let name = ctx.front_end.name();
        let activity = Arc::new(Activity::new());
        let io = Counted::new(io, Arc::clone(&ctx.counters), Arc::clone(&activity));
        let service = {
            let ctx = Arc::clone(&ctx);
            let activity = Arc::clone(&activity);
            hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let ctx = Arc::clone(&ctx);
                let activity = Arc::clone(&activity);
                req.extensions_mut().insert(ClientConn { peer, secure });
                // hyper drops a request's future when its connection closes, even one it has
                // read whole and not yet polled. A request that changes something therefore
                // runs in a task of its own, started here: a client that leaves right after
                // sending it (its answer unread) does not stop it half-way. Its body, if cut
                // short, still reads as an error (hyper's drop guard on the body sender).
                let handled: BoxFuture<'static, Response<ResponseBody>> = if busy {
                    Box::pin(std::future::ready(request::busy(&ctx)))
                } else if changes_state(req.method()) {
                    let failed = Arc::clone(&ctx);
                    let task = detached.spawn(request::handle(ctx, activity, req));
                    Box::pin(async move {
                        task.await
                            .unwrap_or_else(|e| request::handler_failed(&failed, &e))
                    })
                } else {
                    Box::pin(request::handle(ctx, activity, req))
                };
                async move { Ok::<_, Infallible>(handled.await) }
            })
        };
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
            () = Arc::clone(&activity).silent(silent) => {
                tracing::debug!(front_end = name, %peer, "no request head in time, closing the connection");
                return;
            }
            () = Arc::clone(&activity).idle(idle) => {
                ctx.counters.connections_idle_closed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(front_end = name, %peer, "idle timeout, closing the connection");
                return;
            }
        };
        if let Err(e) = result {
            tracing::debug!(front_end = name, %peer, error = %e, "connection ended with an error");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::sync::{Notify, mpsc, oneshot};

    fn port_zero_config() -> Config {
        let mut cfg = Config::default();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        cfg.s3.listen = any;
        cfg.webdav.listen = any;
        cfg.admin.listen = any;
        cfg
    }

    /// A front end that answers 200 "done" only once `release` is notified.
    fn slow_front_end(started: Arc<Notify>, release: Arc<Notify>) -> FrontEnd {
        FrontEnd::new(
            "slow",
            hyper::service::service_fn(move |_req: Request<RequestBody>| {
                let started = Arc::clone(&started);
                let release = Arc::clone(&release);
                async move {
                    started.notify_one();
                    release.notified().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
                }
            }),
        )
    }

    #[tokio::test]
    async fn shutdown_lets_in_flight_requests_finish_and_stops_accepting() {
        let listeners = Listeners::bind(&port_zero_config()).await.unwrap();
        let addrs = listeners.addrs().unwrap();
        assert_ne!(addrs.s3.port(), 0);
        let started = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let front_ends = FrontEnds {
            s3: slow_front_end(Arc::clone(&started), Arc::clone(&release)),
            webdav: FrontEnd::placeholder("webdav", "off\n"),
            admin: FrontEnd::placeholder("admin", "off\n"),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listeners,
            front_ends,
            async {
                let _ = stop_rx.await;
            },
            Duration::from_secs(30),
        ));

        let in_flight = tokio::spawn(reqwest::get(format!("http://{}/", addrs.s3)));
        started.notified().await;
        stop_tx.send(()).unwrap();
        // New connections are refused once the listener is dropped.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addrs.webdav).await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "still accepting");
            tokio::task::yield_now().await;
        }
        // The in-flight request still completes.
        release.notify_one();
        let resp = in_flight.await.unwrap().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "done");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_cuts_connections_still_open_after_the_grace_period() {
        let listeners = Listeners::bind(&port_zero_config()).await.unwrap();
        let addrs = listeners.addrs().unwrap();
        let started = Arc::new(Notify::new());
        let never = Arc::new(Notify::new());
        let front_ends = FrontEnds {
            s3: slow_front_end(Arc::clone(&started), never),
            webdav: FrontEnd::placeholder("webdav", "off\n"),
            admin: FrontEnd::placeholder("admin", "off\n"),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listeners,
            front_ends,
            async {
                let _ = stop_rx.await;
            },
            Duration::from_millis(200),
        ));
        let in_flight = tokio::spawn(reqwest::get(format!("http://{}/", addrs.s3)));
        started.notified().await;
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            in_flight.await.unwrap().is_err(),
            "the cut request cannot succeed"
        );
    }

    /// A front end that reads the whole body, works on for a moment (as a real handler checks
    /// a signature before it acts), then reports what it received.
    fn recording_front_end(got: mpsc::UnboundedSender<Result<Bytes, String>>) -> FrontEnd {
        FrontEnd::new(
            "recording",
            hyper::service::service_fn(move |req: Request<RequestBody>| {
                let got = got.clone();
                async move {
                    let body = req.into_body().collect().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = got.send(body.map(|b| b.to_bytes()).map_err(|e| e.to_string()));
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
                }
            }),
        )
    }

    async fn serve_recording() -> (
        BoundAddrs,
        mpsc::UnboundedReceiver<Result<Bytes, String>>,
        oneshot::Sender<()>,
    ) {
        let listeners = Listeners::bind(&port_zero_config()).await.unwrap();
        let addrs = listeners.addrs().unwrap();
        let (got_tx, got_rx) = mpsc::unbounded_channel();
        let front_ends = FrontEnds {
            s3: recording_front_end(got_tx),
            webdav: FrontEnd::placeholder("webdav", "off\n"),
            admin: FrontEnd::placeholder("admin", "off\n"),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(serve(
            listeners,
            front_ends,
            async {
                let _ = stop_rx.await;
            },
            Duration::from_secs(5),
        ));
        (addrs, got_rx, stop_tx)
    }

    /// Sends `head` and `body` on a fresh connection and closes it without reading.
    async fn send_and_close(addr: SocketAddr, head: &str, body: &[u8]) {
        use tokio::io::AsyncWriteExt as _;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut all = head.as_bytes().to_vec();
        all.extend_from_slice(body);
        stream.write_all(&all).await.unwrap();
        drop(stream);
    }

    #[tokio::test]
    async fn a_request_that_changes_something_runs_to_its_end_when_the_client_leaves_after_sending_it()
     {
        let (addrs, mut got, _stop) = serve_recording().await;
        for i in 0..20 {
            let body = format!("<CompleteMultipartUpload>{i}</CompleteMultipartUpload>");
            let head = format!(
                "POST /b/k?uploadId=u{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            send_and_close(addrs.s3, &head, body.as_bytes()).await;
            let ran = tokio::time::timeout(Duration::from_secs(5), got.recv())
                .await
                .unwrap_or_else(|_| panic!("request {i}: the handler never finished"))
                .unwrap();
            assert_eq!(ran.unwrap(), body.as_bytes(), "request {i}");
        }
    }

    #[tokio::test]
    async fn a_body_cut_short_by_a_leaving_client_is_an_error_to_a_handler_that_runs_on() {
        let (addrs, mut got, _stop) = serve_recording().await;
        let head = "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
        send_and_close(addrs.s3, head, &[7u8; 1000]).await;
        let ran = tokio::time::timeout(Duration::from_secs(5), got.recv())
            .await
            .expect("the handler never finished")
            .unwrap();
        assert!(ran.is_err(), "a cut body read as whole: {ran:?}");
    }

    #[tokio::test]
    async fn placeholder_answers_503_with_its_message() {
        let listeners = Listeners::bind(&port_zero_config()).await.unwrap();
        let addrs = listeners.addrs().unwrap();
        let front_ends = FrontEnds {
            s3: FrontEnd::placeholder("s3", "S3 front end not enabled in this build\n"),
            webdav: FrontEnd::placeholder("webdav", "off\n"),
            admin: FrontEnd::placeholder("admin", "off\n"),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listeners,
            front_ends,
            async {
                let _ = stop_rx.await;
            },
            Duration::from_secs(5),
        ));
        let resp = reqwest::get(format!("http://{}/bucket/key", addrs.s3))
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(
            resp.text().await.unwrap(),
            "S3 front end not enabled in this build\n"
        );
        stop_tx.send(()).unwrap();
        server.await.unwrap();
    }
}
