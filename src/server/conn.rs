//! One client connection: counts the bytes it moves (metrics), notes when it last moved one and
//! whether a request is being handled (idle timeout), whether it ever sent a byte (a silent
//! connection is closed after the header read timeout), and writes the `100 Continue` hyper
//! leaves out for an empty body that expects one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics::ListenerCounters;

/// The interim answer written before the final one of an empty request that expects it.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    handling: AtomicUsize,
    /// The client sent at least one byte.
    heard: AtomicBool,
    /// An HTTP/1.1 request with `Expect: 100-continue` and an empty body is being answered:
    /// hyper sends no `100 Continue` for it, so the connection writes one before the answer.
    owe_continue: AtomicBool,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            heard: AtomicBool::new(false),
            owe_continue: AtomicBool::new(false),
        }
    }

    /// Asks for `100 Continue` to be written before the next bytes of the answer.
    pub(crate) fn owe_continue(&self) {
        self.owe_continue.store(true, Ordering::Relaxed);
    }

    /// Resolves once `timeout` has passed without the client sending a single byte; never
    /// once it has sent one.
    pub(crate) async fn silent(self: Arc<Self>, timeout: Duration) {
        tokio::time::sleep(timeout).await;
        if self.heard.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Marks a request as being handled until the guard drops (its response head is ready).
    pub(crate) fn handling(self: &Arc<Self>) -> HandlingGuard {
        self.handling.fetch_add(1, Ordering::Relaxed);
        HandlingGuard(Arc::clone(self))
    }

    /// Resolves once the connection has moved no byte for `idle` while no request was being
    /// handled; never when `idle` is `None`.
    pub(crate) async fn idle(self: Arc<Self>, idle: Option<Duration>) {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        loop {
            let since = self.idle_for();
            if since >= idle && self.handling.load(Ordering::Relaxed) == 0 {
                return;
            }
            let wait = idle
                .checked_sub(since)
                .unwrap_or(idle)
                .max(Duration::from_millis(50));
            tokio::time::sleep(wait).await;
        }
    }
}

/// See [`Activity::handling`].
pub(crate) struct HandlingGuard(Arc<Activity>);

impl Drop for HandlingGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client stream that counts bytes read and written and touches its [`Activity`].
pub(crate) struct Counted<IO> {
    io: IO,
    counters: Arc<ListenerCounters>,
    activity: Arc<Activity>,
    /// Bytes of [`CONTINUE`] still to write before the answer (0 = none owed).
    continue_left: usize,
}

impl<IO> Counted<IO> {
    pub(crate) fn new(io: IO, counters: Arc<ListenerCounters>, activity: Arc<Activity>) -> Self {
        Self {
            io,
            counters,
            activity,
            continue_left: 0,
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.counters
                .bytes_sent
                .fetch_add(n as u64, Ordering::Relaxed);
            self.activity.touch();
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            this.counters
                .bytes_received
                .fetch_add(n as u64, Ordering::Relaxed);
            this.activity.heard.store(true, Ordering::Relaxed);
            this.activity.touch();
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> Counted<IO> {
    /// Writes what is owed of [`CONTINUE`]; `Ready(Ok)` once nothing is.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.activity.owe_continue.swap(false, Ordering::Relaxed) {
            self.continue_left = CONTINUE.len();
        }
        while self.continue_left > 0 {
            let sent = CONTINUE.len() - self.continue_left;
            let tail = CONTINUE.get(sent..).unwrap_or_default();
            match Pin::new(&mut self.io).poll_write(cx, tail) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.wrote(n);
                    self.continue_left = self.continue_left.saturating_sub(n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_continue(cx))?;
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            this.wrote(*n);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_continue(cx))?;
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result {
            this.wrote(*n);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_continue(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
