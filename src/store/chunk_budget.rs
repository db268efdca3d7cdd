//! The memory that upload-session chunks on their way to ScaiDrive may hold, across all uploads
//! (`upstream.chunk_memory_bytes`).
//!
//! An upload session (an overwrite, or a new file above ScaiDrive's per-request limit) cuts the
//! body into chunks and keeps each one until ScaiDrive has taken it, so that it can be sent
//! again after a 429 or a transport error. With up to `upstream.parallel_chunks` chunks of 4 MiB
//! in flight per upload, eight concurrent overwrites of large objects held 220–240 MiB. A chunk
//! now takes a lease on this budget before it is sent and returns it once ScaiDrive has
//! answered; an upload waits for a lease with its next chunk filled, while the chunks already
//! sent (its own and the others') finish without needing anything more, so uploads cannot hold
//! each other up forever. Waiting is first come, first served.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{StoreError, StoreResult};
use crate::metrics::CacheStats;

/// The budget's unit: chunk sizes are powers of two of at least this.
const UNIT: u64 = 64 << 10;

pub(crate) struct ChunkBudget {
    permits: Arc<Semaphore>,
    units: u32,
    stats: Arc<CacheStats>,
}

/// A chunk's share of the budget, returned when dropped.
pub(crate) struct ChunkLease {
    _permit: OwnedSemaphorePermit,
    bytes: i64,
    stats: Arc<CacheStats>,
}

impl ChunkBudget {
    /// A budget of `bytes` (at least one unit), counted in `stats`.
    pub(crate) fn new(bytes: u64, stats: Arc<CacheStats>) -> Self {
        let units = u32::try_from((bytes / UNIT).max(1)).unwrap_or(u32::MAX);
        let permits = usize::try_from(units).unwrap_or(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits.min(Semaphore::MAX_PERMITS))),
            units,
            stats,
        }
    }

    /// Waits until a chunk of `len` bytes fits (a chunk larger than the whole budget takes all
    /// of it).
    pub(crate) async fn lease(&self, len: usize) -> StoreResult<ChunkLease> {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        let units = u32::try_from(len.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(self.units);
        let permit = Arc::clone(&self.permits)
            .acquire_many_owned(units)
            .await
            .map_err(|_| StoreError::Internal("chunk budget closed".into()))?;
        let bytes = i64::try_from(len).unwrap_or(i64::MAX);
        self.stats
            .upload_chunk_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        Ok(ChunkLease {
            _permit: permit,
            bytes,
            stats: Arc::clone(&self.stats),
        })
    }
}

impl Drop for ChunkLease {
    fn drop(&mut self) {
        self.stats
            .upload_chunk_bytes
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn chunks_wait_for_the_budget_and_give_it_back() {
        let stats = Arc::new(CacheStats::default());
        let budget = ChunkBudget::new(2 * UNIT, Arc::clone(&stats));
        let a = budget.lease(64 << 10).await.unwrap();
        let b = budget.lease(64 << 10).await.unwrap();
        assert_eq!(stats.upload_chunk_bytes.load(Ordering::Relaxed), 128 << 10);
        // A third chunk waits until one of the two is answered.
        let third = budget.lease(64 << 10);
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending());
        drop(a);
        let c = third.await.unwrap();
        drop((b, c));
        assert_eq!(stats.upload_chunk_bytes.load(Ordering::Relaxed), 0);
        // A chunk larger than the budget takes all of it, and still goes.
        let big = budget.lease(4 << 20).await.unwrap();
        assert!(futures::poll!(std::pin::pin!(budget.lease(1))).is_pending());
        drop(big);
        assert_eq!(stats.upload_chunk_bytes.load(Ordering::Relaxed), 0);
    }
}
