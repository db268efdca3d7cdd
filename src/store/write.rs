//! Streamed writes: a new file goes up as one multipart `POST /files` (an upload session only
//! above ScaiDrive's per-request limit); an existing file gets a new version through an upload
//! session with `replace_file_id`. Nothing holds the whole body: the multipart body streams,
//! and a session keeps the chunk it fills plus at most `parallel_chunks` chunks in flight, and
//! all sessions together at most `chunk_memory` bytes in flight (`chunk_budget.rs`). The
//! body's MD5 (the ETag) is computed on a blocking thread beside the upload for large bodies,
//! so hashing and forwarding use two cores.
//!
//! Integrity and abort: the body stream may end with an error (client went away, digest
//! mismatch found by the front end at the end of the stream). Then the multipart request is
//! cut before its end — ScaiDrive stores nothing — or the session is never completed.

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt};

use super::chunk_budget::ChunkLease;
use super::coherence::ShareChange;
use super::md5::Md5;
use super::{Entry, FolderRef, Store, StoreError, StoreResult};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::scaidrive::{CreateUploadSession, UploadFile};
use crate::state::{ObjectAttrs, StoredAttrs};

/// A body to store: a stream of chunks that ends with an error when the body must not be
/// committed.
pub type BodyStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// What to write, and where.
pub struct WriteRequest {
    pub share_id: String,
    /// The file's path in the share (not a directory path).
    pub path: ObjectPath,
    /// Exact body length.
    pub size: u64,
    pub content_type: Option<String>,
    pub body: BodyStream,
    /// Create missing parent folders (S3 semantics) instead of failing (WebDAV: 409).
    pub create_parents: bool,
    /// Attributes to keep for the file. An empty `etag` means "the MD5 of the body", which the
    /// store computes while streaming; multipart uploads set their own.
    pub attrs: ObjectAttrs,
    /// The MD5 the body must have (S3 `Content-MD5`): on a mismatch the body ends with
    /// [`BodyAbort::BadDigest`] before the upload is committed, so nothing is stored.
    pub content_md5: Option<[u8; 16]>,
}

/// The stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub file_id: String,
    pub version_id: Option<String>,
    pub size: u64,
    pub checksum_sha256: Option<String>,
    /// The folder that holds the file.
    pub parent: FolderRef,
    /// True when an existing file got a new version.
    pub replaced: bool,
    /// MD5 of the body (all zero when it was not needed: the caller set the ETag and gave no
    /// `content_md5`).
    pub md5: [u8; 16],
    /// The ETag recorded for the file (unquoted).
    pub etag: String,
}

impl Store {
    /// Writes a file: creates it, or makes the body a new version of the existing file.
    pub async fn write(&self, s: &Session, req: WriteRequest) -> StoreResult<Written> {
        let Some(name) = req.path.name().map(str::to_owned) else {
            return Err(StoreError::Invalid("cannot write to a share root".into()));
        };
        if req.path.is_dir() {
            return Err(StoreError::Invalid(
                "cannot write content to a folder".into(),
            ));
        }
        let parent = if req.create_parents {
            self.ensure_folder(s, &req.share_id, req.path.parent_segments())
                .await?
        } else {
            self.resolve_folder(s, &req.share_id, req.path.parent_segments())
                .await?
                .ok_or_else(|| StoreError::Conflict("the parent folder does not exist".into()))?
        };
        let existing = match self.list(s, &parent).await?.get(&name) {
            Some(Entry::Folder(_)) => {
                return Err(StoreError::Conflict(format!(
                    "a folder named '{name}' already exists here"
                )));
            }
            Some(Entry::File(f)) => Some(f.id.clone()),
            None => None,
        };
        // The MD5 is needed for the ETag (unless given) and to check a Content-MD5.
        let (body, md5) = if req.attrs.etag.is_empty() || req.content_md5.is_some() {
            let (body, slot) = hash_md5(req.body, req.size, req.content_md5);
            (body, Some(slot))
        } else {
            (req.body, None)
        };
        let mut attrs = req.attrs;
        let req = WriteRequest {
            body,
            attrs: ObjectAttrs::default(),
            ..req
        };
        let declared_type = req.content_type.clone();
        let busy = self.busy(&parent.share_id);
        let created = existing.is_none();
        let result = match existing {
            None if req.size < self.inner.opts.session_threshold => {
                self.post_new(s, &parent, &name, req).await
            }
            replace => self.via_session(s, &parent, &name, replace, req).await,
        };
        let change = self.after_file_write(s, &parent, &name, declared_type.as_deref(), &result);
        drop(busy);
        if created && matches!(result, Err(StoreError::Conflict(_))) {
            self.stale_create(s, &parent, &name).await?;
        }
        let mut written = result?;
        if let Some(md5) = md5 {
            written.md5 = md5.digest().ok_or_else(|| {
                StoreError::Internal("the body was stored but not hashed to its end".into())
            })?;
        }
        if attrs.etag.is_empty() {
            attrs.etag = hex::encode(written.md5);
        }
        written.etag = attrs.etag.clone();
        let entry = StoredAttrs {
            file_id: written.file_id.clone(),
            size: written.size,
            modified_at: None,
            version_id: written.version_id.clone(),
            sha256: written.checksum_sha256.clone(),
            attrs,
        };
        let change = change.unwrap_or_default();
        self.store_and_publish(&parent.share_id, entry, change)
            .await?;
        Ok(written)
    }

    /// After ScaiDrive refused to create `name` because the name exists: when a fresh listing
    /// shows a file of that name, the listing this write trusted was stale (another instance
    /// or client wrote it, for example a retried PUT whose first attempt was stored but not
    /// published while the state DB restarted). The other instances are told and the client is
    /// asked to retry (503), which then replaces the file; otherwise the conflict stands.
    async fn stale_create(&self, s: &Session, parent: &FolderRef, name: &str) -> StoreResult<()> {
        if let Ok(listing) = self.list(s, parent).await
            && matches!(listing.get(name), Some(Entry::File(_)))
        {
            // Here the fresh listing replaced the stale one; elsewhere it is dropped.
            let change = ShareChange::anonymous().drop_folder(parent);
            if let Err(e) = self.publish(&parent.share_id, change).await {
                tracing::warn!(error = %e, "publishing a stale listing failed");
            }
            return Err(StoreError::Unavailable(format!(
                "'{name}' was written meanwhile by another client; retry"
            )));
        }
        Ok(())
    }

    /// Writes a new file `name` into `parent` outside the namespace: no listing, no cache, no
    /// attributes (multipart parts staged in ScaiDrive). `size` is exact; the MD5 of the body
    /// is returned in [`Written::md5`], and with `content_md5` a different digest ends the
    /// body before the upload is committed ([`StoreError::BadDigest`]).
    pub async fn write_hidden(
        &self,
        s: &Session,
        parent: &FolderRef,
        name: &str,
        size: u64,
        body: BodyStream,
        content_md5: Option<[u8; 16]>,
    ) -> StoreResult<Written> {
        let (body, md5) = hash_md5(body, size, content_md5);
        let req = WriteRequest {
            share_id: parent.share_id.clone(),
            path: ObjectPath::from_segments(vec![name.to_owned()], false)?,
            size,
            content_type: Some("application/octet-stream".to_owned()),
            body,
            create_parents: false,
            attrs: ObjectAttrs::default(),
            content_md5: None,
        };
        let mut written = if size < self.inner.opts.session_threshold {
            self.post_new(s, parent, name, req).await?
        } else {
            self.via_session(s, parent, name, None, req).await?
        };
        written.md5 = md5.digest().ok_or_else(|| {
            StoreError::Internal("the body was stored but not hashed to its end".into())
        })?;
        written.etag = hex::encode(written.md5);
        Ok(written)
    }

    async fn post_new(
        &self,
        s: &Session,
        parent: &FolderRef,
        name: &str,
        req: WriteRequest,
    ) -> StoreResult<Written> {
        let size = req.size;
        let (body, failure) = watch_failure(exact_length(req.body, size));
        let body = reqwest::Body::wrap_stream(body);
        let uploaded = self
            .inner
            .client
            .upload_file(
                s.token(),
                UploadFile {
                    share_id: parent.share_id.clone(),
                    folder_id: parent.folder_id.clone(),
                    name: name.to_owned(),
                    content_type: req.content_type,
                    size: Some(size),
                    body,
                },
            )
            .await
            .map_err(|e| match failure.take() {
                // Our own body failed (client gone, bad digest): that is the cause to report.
                Some(body_err) => body_err,
                None => e.into(),
            })?;
        Ok(Written {
            file_id: uploaded.id,
            version_id: uploaded.version_id,
            size: uploaded.size,
            checksum_sha256: uploaded.checksum_sha256,
            parent: parent.clone(),
            replaced: false,
            md5: [0; 16],
            etag: String::new(),
        })
    }

    async fn via_session(
        &self,
        s: &Session,
        parent: &FolderRef,
        name: &str,
        replace_file_id: Option<String>,
        req: WriteRequest,
    ) -> StoreResult<Written> {
        let client = &self.inner.client;
        let opts = &self.inner.opts;
        let chunk_size = session_chunk_size(req.size, opts.chunk_size);
        let replaced = replace_file_id.is_some();
        let session = client
            .create_upload_session(
                s.token(),
                &CreateUploadSession {
                    share_id: parent.share_id.clone(),
                    file_name: name.to_owned(),
                    file_size: req.size,
                    folder_id: parent.folder_id.clone(),
                    chunk_size: Some(chunk_size),
                    mime_type: req.content_type.clone(),
                    checksum_sha256: None,
                    replace_file_id,
                },
            )
            .await?;
        let chunk_size = session.chunk_size;
        let chunk_len = usize::try_from(chunk_size)
            .map_err(|_| StoreError::Internal("chunk size does not fit in memory".into()))?;

        let mut body = exact_length(req.body, req.size);
        // Chunk uploads run as tasks so they progress while the body is read; at most
        // `parallel` are in flight (dropping the set on an early return aborts them).
        let mut in_flight = tokio::task::JoinSet::new();
        let parallel = opts.parallel_chunks.max(1);
        let mut buf = BytesMut::with_capacity(chunk_len);
        let mut index = 0u64;
        // A chunk is sent with its lease on the process's chunk budget, given back once
        // ScaiDrive has answered it (retries included).
        let spawn_chunk =
            |set: &mut tokio::task::JoinSet<_>, index: u64, chunk: Bytes, lease: ChunkLease| {
                let client = client.clone();
                let token = s.token().clone();
                let sid = session.session_id.clone();
                set.spawn(async move {
                    let answer = client.put_chunk(&token, &sid, index, chunk).await;
                    drop(lease);
                    answer
                });
            };
        while let Some(next) = body.next().await {
            // The body failed: never complete; the session expires upstream.
            let mut bytes = next.map_err(|e| io_error(&e))?;
            while !bytes.is_empty() {
                let take = (chunk_len - buf.len()).min(bytes.len());
                buf.extend_from_slice(&bytes.split_to(take));
                if buf.len() == chunk_len {
                    while in_flight.len() >= parallel {
                        join_chunk(in_flight.join_next().await)?;
                    }
                    let lease = self.inner.chunk_budget.lease(chunk_len).await?;
                    // The next chunk gets a buffer of exactly its size: refilling the emptied
                    // one would grow it by doubling, to up to twice the chunk.
                    let chunk = std::mem::replace(&mut buf, BytesMut::with_capacity(chunk_len));
                    spawn_chunk(&mut in_flight, index, chunk.freeze(), lease);
                    index += 1;
                }
            }
        }
        if !buf.is_empty() {
            let lease = self.inner.chunk_budget.lease(buf.len()).await?;
            spawn_chunk(&mut in_flight, index, buf.split().freeze(), lease);
        }
        while let Some(joined) = in_flight.join_next().await {
            join_chunk(Some(joined))?;
        }
        let done = client
            .complete_upload(s.token(), &session.session_id)
            .await?;
        Ok(Written {
            file_id: done.file_id,
            version_id: done.version_id,
            size: done.size.unwrap_or(req.size),
            checksum_sha256: done.checksum_sha256,
            parent: parent.clone(),
            replaced,
            md5: [0; 16],
            etag: String::new(),
        })
    }
}

/// The MD5 of a body, known once the stream has ended cleanly.
#[derive(Clone, Default)]
struct Md5Slot(std::sync::Arc<std::sync::Mutex<Option<[u8; 16]>>>);

impl Md5Slot {
    fn digest(&self) -> Option<[u8; 16]> {
        self.0.lock().ok().and_then(|d| *d)
    }
}

/// Bodies at least this large are hashed on a blocking thread beside the upload; smaller ones
/// inline (for them a thread hop costs more than the hash).
const THREADED_HASH_MIN: u64 = 1 << 20;
/// Chunks go to the hashing thread in batches of at least this many bytes: a body arrives in
/// pieces of at most 64 KiB (the HTTP read buffer), and handing each over woke the thread (and
/// switched tasks) 16,000 times per GiB.
const HASH_BATCH: usize = 256 << 10;
/// Batches queued for the hashing thread: how far the hash may lag behind the upload (with the
/// batch being filled, about 1 MiB of the body kept alive for it).
const HASH_QUEUE: usize = 3;

/// An MD5 computation fed chunk by chunk.
enum Md5Hasher {
    Inline(Md5),
    Threaded {
        tx: tokio::sync::mpsc::Sender<Vec<Bytes>>,
        batch: Vec<Bytes>,
        batched: usize,
        done: tokio::task::JoinHandle<[u8; 16]>,
    },
}

impl Md5Hasher {
    fn new(size: u64) -> Self {
        if size < THREADED_HASH_MIN {
            return Self::Inline(Md5::new());
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(HASH_QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut hasher = Md5::new();
            while let Some(batch) = rx.blocking_recv() {
                for b in &batch {
                    hasher.update(b);
                }
            }
            hasher.finalize()
        });
        Self::Threaded {
            tx,
            batch: Vec::new(),
            batched: 0,
            done,
        }
    }

    /// Feeds a chunk; false when the hashing thread is gone.
    async fn update(&mut self, b: &Bytes) -> bool {
        match self {
            Self::Inline(h) => {
                h.update(b);
                true
            }
            Self::Threaded {
                tx, batch, batched, ..
            } => {
                *batched += b.len();
                batch.push(b.clone());
                if *batched < HASH_BATCH {
                    return true;
                }
                *batched = 0;
                tx.send(std::mem::take(batch)).await.is_ok()
            }
        }
    }

    async fn finish(self) -> Option<[u8; 16]> {
        match self {
            Self::Inline(h) => Some(h.finalize()),
            Self::Threaded {
                tx, batch, done, ..
            } => {
                if !batch.is_empty() && tx.send(batch).await.is_err() {
                    return None;
                }
                drop(tx);
                done.await.ok()
            }
        }
    }
}

/// Hashes the body with MD5 as it streams; the digest lands in the slot when the stream ends
/// without error. With `expected`, a different digest ends the stream with `BadDigest` instead
/// of a clean end (so the upload is never committed).
fn hash_md5(body: BodyStream, size: u64, expected: Option<[u8; 16]>) -> (BodyStream, Md5Slot) {
    let slot = Md5Slot::default();
    let out = slot.clone();
    let hashing_failed = || std::io::Error::other("the body could not be hashed");
    let stream = futures::stream::unfold(Some((body, Md5Hasher::new(size))), move |state| {
        let slot = slot.clone();
        async move {
            let (mut body, mut hasher) = state?;
            match body.next().await {
                Some(Ok(b)) => {
                    if !hasher.update(&b).await {
                        return Some((Err(hashing_failed()), None));
                    }
                    Some((Ok(b), Some((body, hasher))))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None => match hasher.finish().await {
                    Some(d) if expected.is_some_and(|e| e != d) => {
                        tracing::info!("Content-MD5 mismatch");
                        Some((Err(BodyAbort::BadDigest.into_io()), None))
                    }
                    Some(d) => {
                        if let Ok(mut g) = slot.0.lock() {
                            *g = Some(d);
                        }
                        None
                    }
                    None => Some((Err(hashing_failed()), None)),
                },
            }
        }
    })
    .boxed();
    (stream, out)
}

fn join_chunk(
    joined: Option<Result<crate::scaidrive::Result<()>, tokio::task::JoinError>>,
) -> StoreResult<()> {
    match joined {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(e))) => Err(e.into()),
        Some(Err(e)) => Err(StoreError::Internal(format!(
            "chunk upload task failed: {e}"
        ))),
    }
}

/// The session chunk size for a body: the configured size, or less for small bodies (a power
/// of two ≥ 64 KiB, so a small replacement does not allocate a whole 4 MiB chunk).
fn session_chunk_size(size: u64, configured: u64) -> u64 {
    let configured = configured.clamp(64 << 10, 4 << 20).next_power_of_two();
    size.next_power_of_two().clamp(64 << 10, configured)
}

/// Passes the body through and fails it if it is longer or shorter than announced, so a
/// short body can never be committed as a complete file.
fn exact_length(body: BodyStream, expected: u64) -> BodyStream {
    // State: the body, bytes seen so far, and whether the stream has ended (with an error).
    futures::stream::unfold(
        (body, 0u64, false),
        move |(mut body, seen, ended)| async move {
            if ended {
                return None;
            }
            match body.next().await {
                Some(Ok(b)) => {
                    let seen = seen + b.len() as u64;
                    if seen > expected {
                        Some((Err(too_long()), (body, seen, true)))
                    } else {
                        Some((Ok(b), (body, seen, false)))
                    }
                }
                Some(Err(e)) => Some((Err(e), (body, seen, true))),
                None if seen == expected => None,
                None => Some((Err(too_short()), (body, seen, true))),
            }
        },
    )
    .boxed()
}

fn too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "body longer than its announced length",
    )
}

fn too_short() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "body shorter than its announced length",
    )
}

/// Maps a body failure to the store's kinds: a digest mismatch stays a digest mismatch, an
/// early end is an incomplete body.
pub(crate) fn io_error(e: &std::io::Error) -> StoreError {
    if let Some(inner) = e.get_ref()
        && let Some(se) = inner.downcast_ref::<BodyAbort>()
    {
        return match se {
            BodyAbort::BadDigest => StoreError::BadDigest,
            BodyAbort::ContentSha256Mismatch => StoreError::ContentSha256Mismatch,
            BodyAbort::Invalid(m) => StoreError::Invalid(m.clone()),
        };
    }
    match e.kind() {
        std::io::ErrorKind::InvalidData if e.to_string().contains("longer") => {
            StoreError::Invalid(e.to_string())
        }
        _ => StoreError::IncompleteBody,
    }
}

/// The first failure of a body stream, kept so that the caller can tell "the upstream call
/// failed because our body failed" from an upstream failure.
#[derive(Clone, Default)]
struct BodyFailure(std::sync::Arc<std::sync::Mutex<Option<StoreError>>>);

impl BodyFailure {
    fn set(&self, e: StoreError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
    }

    fn take(&self) -> Option<StoreError> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

fn watch_failure(body: BodyStream) -> (BodyStream, BodyFailure) {
    let failure = BodyFailure::default();
    let seen = failure.clone();
    let body = body
        .map(move |item| {
            if let Err(e) = &item {
                seen.set(io_error(e));
            }
            item
        })
        .boxed();
    (body, failure)
}

/// A reason a front end aborts a body it hands to the store (carried inside `io::Error`).
#[derive(Debug, thiserror::Error)]
pub enum BodyAbort {
    #[error("the body does not match its digest")]
    BadDigest,
    /// The body does not match the SHA-256 its signature covers (S3 `x-amz-content-sha256`).
    #[error("the body does not match its signed SHA-256")]
    ContentSha256Mismatch,
    #[error("{0}")]
    Invalid(String),
}

impl BodyAbort {
    /// Wraps the reason as the `io::Error` a body stream ends with.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn chunk_size_shrinks_for_small_bodies_and_stays_a_power_of_two() {
        assert_eq!(session_chunk_size(0, 4 << 20), 64 << 10);
        assert_eq!(session_chunk_size(10, 4 << 20), 64 << 10);
        assert_eq!(session_chunk_size(100 << 10, 4 << 20), 128 << 10);
        assert_eq!(session_chunk_size(1 << 30, 4 << 20), 4 << 20);
        assert_eq!(session_chunk_size(1 << 30, 1 << 20), 1 << 20);
        assert_eq!(session_chunk_size(1 << 30, 64 << 20), 4 << 20);
    }

    #[tokio::test]
    async fn exact_length_fails_short_and_long_bodies() {
        let body = |parts: Vec<&'static [u8]>| -> BodyStream {
            futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
        };
        let ok: Vec<_> = exact_length(body(vec![b"ab", b"c"]), 3).collect().await;
        assert!(ok.iter().all(Result::is_ok));
        let short: Vec<_> = exact_length(body(vec![b"ab"]), 3).collect().await;
        assert!(short.last().unwrap().is_err());
        let long: Vec<_> = exact_length(body(vec![b"ab", b"cd"]), 3).collect().await;
        assert!(long.last().unwrap().is_err());
    }
}
