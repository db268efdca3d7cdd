//! The request body every front end reads: hyper's body with an inactivity timeout, and a note
//! of how it failed (stalled, or cut short / malformed by the client) so the request wrapper
//! can answer with the client's fault instead of whatever the front end made of the error.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// How a request body failed, shared between the body and the request wrapper.
#[derive(Debug, Default)]
pub(crate) struct BodyFault(AtomicU8);

const NONE: u8 = 0;
const STALLED: u8 = 1;
const BROKEN: u8 = 2;

/// What [`BodyFault`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No byte arrived within the body read timeout.
    Stalled,
    /// The client ended the body early, or sent malformed chunked framing.
    Broken,
}

impl BodyFault {
    pub(crate) fn get(&self) -> Option<Fault> {
        match self.0.load(Ordering::Relaxed) {
            STALLED => Some(Fault::Stalled),
            BROKEN => Some(Fault::Broken),
            _ => None,
        }
    }

    fn set(&self, fault: u8) {
        // The first fault wins.
        let _ = self
            .0
            .compare_exchange(NONE, fault, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Why reading a request body failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// No byte arrived within the body read timeout.
    #[error("the request body sent nothing for {0:?}")]
    Stalled(Duration),
    /// Reading from the client failed (cut short, malformed chunks, connection reset).
    #[error("reading the request body failed: {0}")]
    Client(#[from] hyper::Error),
}

/// A request body with a read inactivity timeout: while the handler waits for the next frame,
/// the client has `timeout` to send one. Time the handler spends elsewhere does not count.
pub struct RequestBody {
    inner: Incoming,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    armed: bool,
    done: bool,
    fault: Arc<BodyFault>,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, timeout: Duration, fault: Arc<BodyFault>) -> Self {
        Self {
            inner,
            timeout,
            timer: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
            done: false,
            fault,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.armed = false;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                this.fault.set(BROKEN);
                Poll::Ready(Some(Err(BodyError::Client(e))))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if !this.armed {
                    this.armed = true;
                    let deadline = Instant::now() + this.timeout;
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.done = true;
                        this.fault.set(STALLED);
                        Poll::Ready(Some(Err(BodyError::Stalled(this.timeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl From<RequestBody> for s3s::Body {
    fn from(body: RequestBody) -> Self {
        s3s::Body::http_body(body)
    }
}
