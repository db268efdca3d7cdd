//! File handles: a streamed reader over `Store::read`, a streamed writer feeding `Store::write`
//! through a channel (size known), a spooling writer (size unknown), and handles for pending
//! empty files and discarded OS junk.
//!
//! Commit semantics: dav-server commits a PUT at `flush()` and checks the length only after.
//! The writer therefore commits only at `flush()` and only when exactly the announced number
//! of bytes arrived; a handle dropped without `flush()` ends the body stream with an error, so
//! the store stores nothing (no file, no version).

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult};
use futures::FutureExt as _;
use futures::stream::{BoxStream, StreamExt};
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::fs::ctx::{ReqCtx, fs_error};
use super::meta::Meta;
use crate::namespace::ObjectPath;
use crate::scaidrive::ByteRange;
use crate::state::ObjectAttrs;
use crate::store::{FileInfo, StoreResult, WriteRequest, Written};

/// Where a write goes.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub share_id: String,
    pub path: ObjectPath,
    /// The file existed upstream when opened (a replacement, not a new file).
    pub exists: bool,
    /// A pending empty file was there when opened.
    pub was_pending: bool,
}

pub(crate) enum Handle {
    Read(Reader),
    Stream(StreamWriter),
    Spool(SpoolWriter),
    /// Empty file (LOCK on an unmapped URL, zero-byte PUT of a new file): pending, see
    /// `pending.rs`; `len` counts bytes written so a non-empty body is refused.
    Empty {
        ctx: Arc<ReqCtx>,
        target: Target,
        len: u64,
    },
    /// OS junk: accepted and discarded.
    Sink,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Handle::Read(_) => "read",
            Handle::Stream(_) => "stream",
            Handle::Spool(_) => "spool",
            Handle::Empty { .. } => "empty",
            Handle::Sink => "sink",
        };
        f.debug_struct("Handle").field("kind", &kind).finish()
    }
}

pub(crate) struct Reader {
    pub ctx: Arc<ReqCtx>,
    pub file: Option<FileInfo>,
    pub meta: Meta,
    pub pos: u64,
    /// In a mutex only to be `Sync` (always reached through `&mut self`).
    pub body: std::sync::Mutex<Option<BoxStream<'static, Result<Bytes, crate::scaidrive::Error>>>>,
    pub leftover: Bytes,
}

impl Reader {
    async fn read(&mut self, count: usize) -> FsResult<Bytes> {
        if self.pos >= self.meta.len || count == 0 {
            return Ok(Bytes::new());
        }
        let Some(file) = &self.file else {
            return Ok(Bytes::new());
        };
        if self.leftover.is_empty() {
            let slot = self
                .body
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if slot.is_none() {
                let range = (self.pos > 0).then_some(ByteRange::From(self.pos));
                let dl = self
                    .ctx
                    .store
                    .read(&self.ctx.session, &file.id, None, range)
                    .await
                    .map_err(|e| fs_error(&self.ctx, "GET", &e))?;
                *slot = Some(dl.body);
            }
            let Some(body) = slot.as_mut() else {
                return Err(FsError::GeneralFailure);
            };
            match body.next().await {
                Some(Ok(b)) => self.leftover = b,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, file_id = %file.id, "upstream download failed");
                    return Err(FsError::GeneralFailure);
                }
                None => {
                    // Never pad: dav-server would send zeroes for an empty read.
                    tracing::warn!(file_id = %file.id, pos = self.pos, len = self.meta.len,
                        "upstream body ended before the file's length");
                    return Err(FsError::GeneralFailure);
                }
            }
        }
        let take = count.min(self.leftover.len());
        let out = self.leftover.split_to(take);
        self.pos += out.len() as u64;
        Ok(out)
    }

    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.meta.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or(FsError::GeneralFailure)?;
        if target != self.pos {
            *self
                .body
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
            self.leftover = Bytes::new();
            self.pos = target;
        }
        Ok(self.pos)
    }
}

/// Feeds `Store::write` through a channel; the size is known up front.
pub(crate) struct StreamWriter {
    pub ctx: Arc<ReqCtx>,
    pub target: Target,
    pub size: u64,
    pub written: u64,
    pub tx: Option<mpsc::Sender<Bytes>>,
    pub complete: Arc<AtomicBool>,
    pub task: Option<JoinHandle<StoreResult<Written>>>,
    pub result: Option<Meta>,
}

fn aborted() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the WebDAV upload was not completed",
    )
}

/// A body stream over a channel that ends cleanly only when `complete` was set before the
/// sender went away; otherwise it ends with an error, so nothing is stored.
fn channel_body(rx: mpsc::Receiver<Bytes>, complete: Arc<AtomicBool>) -> crate::store::BodyStream {
    futures::stream::unfold(Some((rx, complete)), |state| async move {
        let (mut rx, complete) = state?;
        match rx.recv().await {
            Some(b) => Some((Ok(b), Some((rx, complete)))),
            None if complete.load(Ordering::SeqCst) => None,
            None => Some((Err(aborted()), None)),
        }
    })
    .boxed()
}

/// The store's write of a PUT's body; a long one logs its start and progress (made in the
/// request's span, so its lines carry the request id).
pub(crate) fn write_request(
    ctx: &ReqCtx,
    target: &Target,
    size: u64,
    body: crate::store::BodyStream,
) -> WriteRequest {
    WriteRequest {
        share_id: target.share_id.clone(),
        path: target.path.clone(),
        size,
        content_type: ctx.content_type.clone(),
        body: crate::store::progress::logged(body, "PUT", size),
        create_parents: false,
        attrs: ObjectAttrs {
            client_mtime: ctx.oc_mtime.clone(),
            ..ObjectAttrs::default()
        },
        content_md5: None,
    }
}

impl StreamWriter {
    pub fn start(ctx: Arc<ReqCtx>, target: Target, size: u64) -> Self {
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        let complete = Arc::new(AtomicBool::new(false));
        let body = channel_body(rx, Arc::clone(&complete));
        let req = write_request(&ctx, &target, size, body);
        let store = ctx.store.clone();
        let session = ctx.session.clone();
        if target.was_pending {
            ctx.pending.set_busy(&target.share_id, &target.path, true);
        }
        let task = tokio::spawn(async move { store.write(&session, req).await });
        Self {
            ctx,
            target,
            size,
            written: 0,
            tx: Some(tx),
            complete,
            task: Some(task),
            result: None,
        }
    }

    async fn write(&mut self, bytes: Bytes) -> FsResult<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.written += bytes.len() as u64;
        if self.written > self.size {
            tracing::warn!(size = self.size, "PUT body longer than announced; aborting");
            self.tx = None;
            return Err(FsError::GeneralFailure);
        }
        let sent = match &self.tx {
            Some(tx) => tx.send(bytes).await.is_ok(),
            None => false,
        };
        if !sent {
            // The store gave up (upstream refused): report why.
            return Err(self
                .finish_task()
                .await
                .err()
                .unwrap_or(FsError::GeneralFailure));
        }
        Ok(())
    }

    async fn finish_task(&mut self) -> FsResult<Written> {
        let Some(task) = self.task.take() else {
            return Err(FsError::GeneralFailure);
        };
        match task.await {
            Ok(Ok(w)) => Ok(w),
            Ok(Err(e)) => Err(fs_error(&self.ctx, "PUT", &e)),
            Err(e) => {
                tracing::error!(error = %e, "upload task failed");
                Err(FsError::GeneralFailure)
            }
        }
    }

    async fn flush(&mut self) -> FsResult<()> {
        if self.task.is_none() {
            return if self.result.is_some() {
                Ok(())
            } else {
                Err(FsError::GeneralFailure)
            };
        }
        if self.written != self.size {
            tracing::warn!(
                size = self.size,
                got = self.written,
                "PUT body shorter than announced; aborting"
            );
            self.tx = None;
            let _ = self.finish_task().await;
            return Err(FsError::GeneralFailure);
        }
        self.complete.store(true, Ordering::SeqCst);
        self.tx = None;
        let written = self.finish_task().await?;
        if self.target.was_pending {
            self.ctx
                .pending
                .remove(&self.target.share_id, &self.target.path);
        }
        self.result = Some(written_meta(&self.ctx, &written));
        Ok(())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        // Without `complete`, dropping the sender ends the body with an error: nothing stored.
        self.tx = None;
        if self.target.was_pending && self.result.is_none() {
            self.ctx
                .pending
                .set_busy(&self.target.share_id, &self.target.path, false);
        }
    }
}

fn written_meta(ctx: &ReqCtx, w: &Written) -> Meta {
    Meta {
        dir: false,
        len: w.size,
        modified: ctx
            .oc_mtime
            .as_deref()
            .and_then(super::meta::parse_mtime)
            .or_else(|| Some(std::time::SystemTime::now())),
        created: None,
        etag: Some(w.etag.clone()),
        content_type: ctx
            .content_type
            .as_deref()
            .and_then(super::meta::valid_media_type),
    }
}

/// Spools a body of unknown length (chunked, no `X-Expected-Entity-Length`) to a staging file
/// and uploads it at `flush()` with its now known size.
pub(crate) struct SpoolWriter {
    pub ctx: Arc<ReqCtx>,
    pub target: Target,
    pub path: PathBuf,
    pub file: Option<tokio::fs::File>,
    pub written: u64,
    pub result: Option<Meta>,
}

impl SpoolWriter {
    pub async fn create(ctx: Arc<ReqCtx>, target: Target) -> FsResult<Self> {
        let dir = ctx.staging.clone();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            tracing::error!(error = %e, dir = %dir.display(), "cannot create the staging directory");
            FsError::GeneralFailure
        })?;
        let path = dir.join(format!("put-{}", ulid::Ulid::new()));
        // Read back at flush(): `File::create` would open it write-only.
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot create a staging file");
                FsError::GeneralFailure
            })?;
        Ok(Self {
            ctx,
            target,
            path,
            file: Some(file),
            written: 0,
            result: None,
        })
    }

    async fn write(&mut self, bytes: Bytes) -> FsResult<()> {
        let file = self.file.as_mut().ok_or(FsError::GeneralFailure)?;
        file.write_all(&bytes).await.map_err(|e| {
            tracing::error!(error = %e, "staging write failed");
            FsError::InsufficientStorage
        })?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    async fn flush(&mut self) -> FsResult<()> {
        let Some(mut file) = self.file.take() else {
            return if self.result.is_some() {
                Ok(())
            } else {
                Err(FsError::GeneralFailure)
            };
        };
        let io = |e: std::io::Error| {
            tracing::error!(error = %e, "staging file failed");
            FsError::GeneralFailure
        };
        file.flush().await.map_err(io)?;
        file.seek(SeekFrom::Start(0)).await.map_err(io)?;
        if self.written == 0 && !self.target.exists {
            self.ctx
                .pending
                .add(
                    &self.ctx.store,
                    &self.ctx.session,
                    &self.target.share_id,
                    &self.target.path,
                    self.ctx.oc_mtime.clone(),
                )
                .await
                .map_err(|e| fs_error(&self.ctx, "creating an empty file", &e))?;
            self.result = Some(Meta::pending_empty(std::time::SystemTime::now(), None));
            return Ok(());
        }
        let body = tokio_util::io::ReaderStream::new(file).boxed();
        let req = write_request(&self.ctx, &self.target, self.written, body);
        if self.target.was_pending {
            self.ctx
                .pending
                .set_busy(&self.target.share_id, &self.target.path, true);
        }
        let res = self.ctx.store.write(&self.ctx.session, req).await;
        if self.target.was_pending {
            match &res {
                Ok(_) => {
                    self.ctx
                        .pending
                        .remove(&self.target.share_id, &self.target.path);
                }
                Err(_) => {
                    self.ctx
                        .pending
                        .set_busy(&self.target.share_id, &self.target.path, false)
                }
            }
        }
        let written = res.map_err(|e| fs_error(&self.ctx, "PUT", &e))?;
        self.result = Some(written_meta(&self.ctx, &written));
        Ok(())
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        self.file = None;
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %self.path.display(), "could not remove a staging file");
        }
    }
}

fn buf_to_bytes(mut buf: Box<dyn Buf + Send>) -> Bytes {
    buf.copy_to_bytes(buf.remaining())
}

impl DavFile for Handle {
    fn metadata(&'_ mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        async move {
            let meta: Meta = match self {
                Handle::Read(r) => r.meta.clone(),
                Handle::Stream(w) => w.result.clone().ok_or(FsError::GeneralFailure)?,
                Handle::Spool(w) => w.result.clone().ok_or(FsError::GeneralFailure)?,
                Handle::Empty { .. } => Meta::pending_empty(std::time::SystemTime::now(), None),
                Handle::Sink => return Err(FsError::NotFound),
            };
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn write_buf(&'_ mut self, buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let bytes = buf_to_bytes(buf);
        self.write_bytes(bytes)
    }

    fn write_bytes(&'_ mut self, buf: Bytes) -> FsFuture<'_, ()> {
        async move {
            match self {
                Handle::Read(_) => Err(FsError::Forbidden),
                Handle::Stream(w) => w.write(buf).await,
                Handle::Spool(w) => w.write(buf).await,
                Handle::Empty { len, .. } => {
                    *len += buf.len() as u64;
                    if *len > 0 {
                        return Err(FsError::GeneralFailure);
                    }
                    Ok(())
                }
                Handle::Sink => Ok(()),
            }
        }
        .boxed()
    }

    fn read_bytes(&'_ mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            match self {
                Handle::Read(r) => r.read(count).await,
                _ => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn seek(&'_ mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        async move {
            match self {
                Handle::Read(r) => r.seek(pos),
                Handle::Sink | Handle::Empty { .. } => Ok(0),
                // Writers are sequential only (no partial PUT).
                _ => match pos {
                    SeekFrom::Start(0) => Ok(0),
                    _ => Err(FsError::NotImplemented),
                },
            }
        }
        .boxed()
    }

    fn flush(&'_ mut self) -> FsFuture<'_, ()> {
        async move {
            match self {
                Handle::Read(_) | Handle::Sink => Ok(()),
                Handle::Stream(w) => w.flush().await,
                Handle::Spool(w) => w.flush().await,
                Handle::Empty { ctx, target, len } => {
                    if *len == 0 && !target.was_pending {
                        ctx.pending
                            .add(
                                &ctx.store,
                                &ctx.session,
                                &target.share_id,
                                &target.path,
                                ctx.oc_mtime.clone(),
                            )
                            .await
                            .map_err(|e| fs_error(ctx, "creating an empty file", &e))?;
                    }
                    Ok(())
                }
            }
        }
        .boxed()
    }
}
