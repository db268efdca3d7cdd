//! Start and progress lines of long writes (a big S3 PutObject, the Complete of a big multipart
//! upload, a big WebDAV PUT): without them the log says nothing between the request's head and
//! `request done`, which for gigabytes is many seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt as _;

use super::BodyStream;

/// Bodies at least this large are logged: start, then each quarter.
pub const LONG_WRITE_BYTES: u64 = 64 << 20;

/// `body` as it was, logging at INFO when it starts (for `size` ≥ [`LONG_WRITE_BYTES`]) and each
/// time another quarter of it has gone on to ScaiDrive. `what` names the operation.
pub fn logged(body: BodyStream, what: &'static str, size: u64) -> BodyStream {
    if size < LONG_WRITE_BYTES {
        return body;
    }
    tracing::info!(operation = what, size_bytes = size, "long write started");
    // The body is read where the store sends it on, outside the request's span: its lines
    // name the request through the span it was made in.
    let span = tracing::Span::current();
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let quarter = size / 4;
    body.inspect(move |chunk| {
        let Ok(chunk) = chunk else {
            return;
        };
        let before = sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let after = before + chunk.len() as u64;
        if after / quarter > before / quarter {
            let percent = (after.min(size) * 100) / size;
            tracing::info!(
                parent: &span,
                operation = what,
                sent_bytes = after,
                size_bytes = size,
                percent,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "long write progress"
            );
        }
    })
    .boxed()
}
