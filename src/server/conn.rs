//! One client connection: counts the bytes it moves (metrics), notes when it last moved one and
//! whether a request is being handled (idle timeout).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics::ListenerCounters;

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    handling: AtomicUsize,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
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
}

impl<IO> Counted<IO> {
    pub(crate) fn new(io: IO, counters: Arc<ListenerCounters>, activity: Arc<Activity>) -> Self {
        Self {
            io,
            counters,
            activity,
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
            this.activity.touch();
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
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
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
