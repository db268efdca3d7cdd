//! Multipart uploads streamed to ScaiDrive while their parts arrive (local staging only).
//!
//! Every part is still spooled and indexed as before ([`super::staging`]); besides, the
//! instance holding the spool runs one assembler task per upload (started by its first part)
//! that feeds the contiguous prefix of parts (1, 2, 3, …) into one streamed `POST /files` of
//! the object ([`crate::store::PendingCreate`]): recorded parts from their spool files (read
//! around the page cache, [`super::spool_file`]), and the next part in order while it is still being spooled
//! ([`PartFeed`]: what its file holds so far, then each spool buffer as it is written). At
//! Complete only the parts not yet sent are streamed, then the body is ended and ScaiDrive
//! stores the file. Nothing is visible upstream before that: the request body has not ended.
//!
//! Complete falls back to uploading everything from the spool (today's path) whenever the
//! streamed upload cannot be the object: the client's part list is not a continuation of what
//! was sent (a part omitted, re-uploaded after it was sent, another ETag), the upload failed or
//! had nothing to send for `s3.multipart_stream_idle_secs`, the folder is missing or the key
//! exists (a new version needs an upload session of known size), the object would pass the
//! single-request limit, or the assembler never ran on this instance (restart, cap reached).
//! Abort and the clean-up stop the assembler, which cuts the upstream request.
//!
//! Memory per upload: one spool read buffer ([`super::spool_file`]), [`FOLLOW_WINDOW`] spool
//! buffers copied from the part followed and [`crate::store::FEED_WINDOW`] pieces queued for
//! the request.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Gateway;
use super::staging::meta_of;
use crate::auth::Session;
use crate::state::{MultipartPart, MultipartUpload as Upload, ObjectAttrs};
use crate::store::{Finished, PendingCreate, StoreResult, Written};

/// How long Abort waits for an assembler to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Spool buffers (512 KiB) queued from a part being spooled to the assembler following it.
const FOLLOW_WINDOW: usize = 2;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A part being spooled, as seen by the request writing it and the assembler following it.
#[derive(Default)]
pub(super) struct Following {
    /// Bytes in the spool file so far.
    written: u64,
    /// Where the chunks written from now on go (set by the assembler when it follows).
    sink: Option<mpsc::Sender<Bytes>>,
    /// The body has ended (well or not): nothing more is written.
    ended: bool,
}

/// Held by the request spooling a part of an upload that is being streamed: the assembler
/// hears that the part started, and when the part is the next one in order it reads what is
/// in the spool file so far and then takes a copy of each further spool buffer as it is
/// written, so the part goes upstream while it arrives instead of after it was spooled. A
/// buffer is copied only after it is in the spool file, so the file always holds at least what
/// was streamed. Dropped before [`Self::recorded`] (the body failed, a bad digest, the state DB
/// refused it), the assembler hears the part is gone and gives up streaming the upload if it
/// had followed it.
pub(crate) struct PartFeed {
    number: u32,
    path: String,
    shared: Arc<Mutex<Following>>,
    tx: mpsc::UnboundedSender<Cmd>,
    idle: Duration,
    recorded: bool,
}

impl PartFeed {
    /// `data` is now in the spool file: counted, and copied for the assembler when it follows
    /// the part (decided under the same lock the assembler reads the count under, so each
    /// byte reaches it either from the file or from the copy).
    pub(super) fn landed(&self, data: &[u8]) -> Option<Bytes> {
        let following = {
            let mut g = lock(&self.shared);
            g.written += data.len() as u64;
            g.sink.is_some()
        };
        following.then(|| Bytes::copy_from_slice(data))
    }

    /// Hands a copy from [`Self::landed`] to the assembler following the part.
    pub(super) async fn send(&self, chunk: Bytes) {
        let sink = lock(&self.shared).sink.clone();
        if let Some(sink) = sink {
            // A stalled or gone assembler is left behind: the part is spooled either way, and
            // the assembler, short of bytes, gives the upload up when the part is recorded.
            let sent = tokio::time::timeout(self.idle, sink.send(chunk)).await;
            if !matches!(sent, Ok(Ok(()))) {
                lock(&self.shared).sink = None;
            }
        }
    }

    /// The body ended: the assembler's chunk channel closes.
    pub(super) fn ended(&mut self) {
        let mut g = lock(&self.shared);
        g.ended = true;
        g.sink = None;
    }

    /// The part was recorded (its `Cmd::Part` follows).
    pub(super) fn recorded(mut self) {
        self.recorded = true;
    }
}

impl Drop for PartFeed {
    fn drop(&mut self) {
        self.ended();
        if !self.recorded {
            let _ = self.tx.send(Cmd::Gone {
                number: self.number,
                path: std::mem::take(&mut self.path),
            });
        }
    }
}

/// A recorded part as the assembler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartRef {
    pub number: u32,
    pub etag: String,
    pub path: String,
    pub size: u64,
}

impl PartRef {
    pub fn of(p: &MultipartPart) -> Self {
        Self {
            number: p.part_number,
            etag: p.etag.clone(),
            path: p.spool_path.clone(),
            size: p.size,
        }
    }
}

enum Cmd {
    Part(PartRef),
    /// A part began to be spooled at `path`; the assembler may follow it ([`PartFeed`]).
    Started {
        number: u32,
        path: String,
        shared: Arc<Mutex<Following>>,
    },
    /// The part being spooled at `path` ended without being recorded.
    Gone {
        number: u32,
        path: String,
    },
    Complete {
        parts: Vec<PartRef>,
        attrs: ObjectAttrs,
        reply: oneshot::Sender<StoreResult<Written>>,
    },
}

enum Slot {
    Live {
        serial: u64,
        tx: mpsc::UnboundedSender<Cmd>,
        task: tokio::task::JoinHandle<()>,
    },
    /// The upload stopped streaming on this instance; its Complete uploads from the spool.
    GaveUp,
}

/// This instance's assemblers, by upload id, and the cap on how many run at once.
pub(crate) struct Assemblers {
    slots: Mutex<HashMap<String, Slot>>,
    permits: std::sync::Arc<Semaphore>,
    serial: std::sync::atomic::AtomicU64,
}

impl Assemblers {
    pub fn new(max: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            permits: std::sync::Arc::new(Semaphore::new(max)),
            serial: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the assembler `serial` of `upload_id` as given up (when it is still the one
    /// registered).
    fn gave_up(&self, upload_id: &str, serial: u64) {
        let mut slots = self.slots();
        if let Some(Slot::Live { serial: s, .. }) = slots.get(upload_id)
            && *s == serial
        {
            slots.insert(upload_id.to_owned(), Slot::GaveUp);
        }
    }
}

impl Gateway {
    /// A part of `up` was recorded: the upload's assembler hears of it, or one is started.
    pub(super) fn part_recorded(&self, s: &Session, up: &Upload, part: &MultipartPart) {
        if part.spool_path.is_empty() {
            return;
        }
        if let Some(tx) = self.assembler(s, up) {
            // A closed channel: the assembler has ended; Complete finds out.
            let _ = tx.send(Cmd::Part(PartRef::of(part)));
        }
    }

    /// A part of `up` is about to be spooled at `path`: the upload's assembler (started now if
    /// there is none) hears of it and may follow it.
    pub(super) fn part_feed(
        &self,
        s: &Session,
        up: &Upload,
        number: u32,
        path: &str,
    ) -> Option<PartFeed> {
        let tx = self.assembler(s, up)?;
        let shared = Arc::new(Mutex::new(Following::default()));
        tx.send(Cmd::Started {
            number,
            path: path.to_owned(),
            shared: shared.clone(),
        })
        .ok()?;
        Some(PartFeed {
            number,
            path: path.to_owned(),
            shared,
            tx,
            idle: self.opts.stream_idle,
            recorded: false,
        })
    }

    /// The channel to the upload's assembler, started when there is none yet (`None`: the
    /// upload is not streamed on this instance).
    fn assembler(&self, s: &Session, up: &Upload) -> Option<mpsc::UnboundedSender<Cmd>> {
        if meta_of(up).staging_folder.is_some() {
            return None;
        }
        let mut slots = self.assemblers.slots();
        match slots.get(&up.upload_id) {
            Some(Slot::Live { tx, .. }) => Some(tx.clone()),
            Some(Slot::GaveUp) => None,
            None => {
                let Ok(permit) = self.assemblers.permits.clone().try_acquire_owned() else {
                    tracing::debug!(upload_id = %up.upload_id, "multipart streaming at its cap: this upload is assembled at Complete");
                    return None;
                };
                let serial = self
                    .assemblers
                    .serial
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (tx, rx) = mpsc::unbounded_channel();
                let run = Assembler {
                    gw: self.clone(),
                    s: s.clone(),
                    up: up.clone(),
                    serial,
                    pending: BTreeMap::new(),
                    spooling: Vec::new(),
                    awaiting: None,
                    sent: Vec::new(),
                    bytes: 0,
                    create: None,
                };
                // A span of its own: the task outlives the request that started it.
                let span = tracing::info_span!(parent: None, "multipart_stream", upload_id = %up.upload_id, key = %up.key);
                let task = tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        let _permit = permit;
                        run.run(rx).await;
                    },
                    span,
                ));
                slots.insert(
                    up.upload_id.clone(),
                    Slot::Live {
                        serial,
                        tx: tx.clone(),
                        task,
                    },
                );
                Some(tx)
            }
        }
    }

    /// Complete through the upload's assembler: `None` when there is none or it cannot be the
    /// object (the caller uploads from the spool), else the result of storing it.
    pub(super) async fn assembled(
        &self,
        upload_id: &str,
        parts: &[&MultipartPart],
        attrs: ObjectAttrs,
    ) -> Option<StoreResult<Written>> {
        let slot = self.assemblers.slots().remove(upload_id);
        let Some(Slot::Live { tx, .. }) = slot else {
            return None;
        };
        let (reply, answer) = oneshot::channel();
        let parts = parts.iter().map(|p| PartRef::of(p)).collect();
        tx.send(Cmd::Complete {
            parts,
            attrs,
            reply,
        })
        .ok()?;
        answer.await.ok()
    }

    /// Stops the upload's assembler, if any (Abort, clean-up): the upstream request is cut.
    pub(super) async fn stop_assembler(&self, upload_id: &str) {
        let slot = self.assemblers.slots().remove(upload_id);
        if let Some(Slot::Live { tx, task, .. }) = slot {
            drop(tx);
            task.abort();
            let _ = tokio::time::timeout(STOP_WAIT, task).await;
        }
    }
}

/// One upload's assembler.
struct Assembler {
    gw: Gateway,
    s: Session,
    up: Upload,
    serial: u64,
    /// Recorded parts not sent yet, by number.
    pending: BTreeMap<u32, PartRef>,
    /// Parts being spooled now: (number, spool path, what the assembler may follow).
    spooling: Vec<(u32, String, Arc<Mutex<Following>>)>,
    /// A part followed while it was spooled: all of it has gone upstream, its record has not
    /// arrived yet (number, spool path, bytes sent).
    awaiting: Option<(u32, String, u64)>,
    /// Parts sent, in order: numbers 1, 2, 3, …
    sent: Vec<PartRef>,
    bytes: u64,
    create: Option<PendingCreate>,
}

impl Assembler {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        if let Err(why) = self.start().await {
            return self.give_up(&why);
        }
        let idle = self.gw.opts.stream_idle;
        loop {
            if let Err(why) = self.advance().await {
                return self.give_up(&why);
            }
            let cmd = match tokio::time::timeout(idle, rx.recv()).await {
                Ok(cmd) => cmd,
                Err(_) => return self.give_up("nothing to send for a while"),
            };
            match cmd {
                // Aborted or gone: dropping the request body cuts the upload.
                None => return,
                Some(Cmd::Part(p)) => {
                    if let Err(why) = self.note(p) {
                        return self.give_up(&why);
                    }
                }
                Some(Cmd::Started {
                    number,
                    path,
                    shared,
                }) => self.spooling.push((number, path, shared)),
                Some(Cmd::Gone { number, path }) => {
                    self.spooling
                        .retain(|(n, p, _)| !(*n == number && *p == path));
                    if self
                        .awaiting
                        .as_ref()
                        .is_some_and(|(n, p, _)| *n == number && *p == path)
                    {
                        return self.give_up("a part streamed while it arrived was not stored");
                    }
                }
                Some(Cmd::Complete {
                    parts,
                    attrs,
                    reply,
                }) => {
                    match self.complete(parts, attrs).await {
                        Ok(done) => {
                            let _ = reply.send(done);
                        }
                        // Dropping `reply` sends the Complete to the spool path.
                        Err(why) => {
                            tracing::info!(reason = %why, "multipart upload assembled from the spool instead");
                        }
                    }
                    return;
                }
            }
        }
    }

    fn give_up(mut self, why: &str) {
        tracing::info!(
            reason = why,
            "multipart upload no longer streamed; Complete will upload it from the spool"
        );
        self.create = None;
        self.gw.assemblers.gave_up(&self.up.upload_id, self.serial);
    }

    /// Starts the upstream upload; the parts already recorded (a restart, parts recorded
    /// before the cap let this one start) are queued.
    async fn start(&mut self) -> Result<(), String> {
        let gw = &self.gw;
        let db = gw.store().db();
        let stored = db
            .list_parts(&self.up.upload_id)
            .await
            .map_err(|e| format!("reading the parts: {e}"))?;
        for p in &stored {
            if p.spool_path.is_empty() {
                return Err("a part is not spooled here".into());
            }
            self.pending
                .entry(p.part_number)
                .or_insert_with(|| PartRef::of(p));
        }
        let bucket = gw
            .bucket(&self.s, &self.up.bucket)
            .await
            .map_err(|e| format!("the bucket: {e:?}"))?;
        let path = bucket
            .path(&self.up.key)
            .map_err(|e| format!("the key: {e:?}"))?;
        let content_type = meta_of(&self.up).attrs.content_type;
        self.create = gw
            .store()
            .start_create(&self.s, &bucket.share_id, &path, content_type)
            .await
            .map_err(|e| format!("starting the upload: {e}"))?;
        if self.create.is_none() {
            return Err("the key exists or its folder does not".into());
        }
        Ok(())
    }

    /// A part recorded after the assembler started.
    fn note(&mut self, p: PartRef) -> Result<(), String> {
        self.spooling
            .retain(|(n, path, _)| !(*n == p.number && *path == p.path));
        if let Some((number, path, size)) = &self.awaiting
            && *number == p.number
        {
            if *path != p.path || *size != p.size {
                return Err(format!(
                    "part {} was uploaded again while it was streamed",
                    p.number
                ));
            }
            self.awaiting = None;
            self.sent.push(p);
            return Ok(());
        }
        let n = usize::try_from(p.number).unwrap_or(usize::MAX);
        if n <= self.sent.len() {
            // Sent already: the same part (from the start-up's listing) is fine.
            return match self.sent.get(n.wrapping_sub(1)) {
                Some(old) if *old == p => Ok(()),
                _ => Err(format!(
                    "part {} was uploaded again after it was sent",
                    p.number
                )),
            };
        }
        self.pending.insert(p.number, p);
        Ok(())
    }

    /// Streams the parts that continue the sent prefix: recorded ones from their spool
    /// files, and the next one while it is being spooled when it is the only send of its
    /// number in progress.
    async fn advance(&mut self) -> Result<(), String> {
        while self.awaiting.is_none() {
            let next = u32::try_from(self.sent.len() + 1).unwrap_or(u32::MAX);
            if let Some(p) = self.pending.remove(&next) {
                self.send(p).await?;
                continue;
            }
            let mut sends = self.spooling.iter().filter(|(n, _, _)| *n == next);
            if let (Some((_, path, shared)), None) = (sends.next(), sends.next()) {
                let (path, shared) = (path.clone(), shared.clone());
                self.follow(next, path, &shared).await?;
            }
            return Ok(());
        }
        Ok(())
    }

    /// Feeds one chunk upstream.
    async fn push(&mut self, chunk: Bytes) -> Result<(), String> {
        let Some(create) = self.create.as_mut() else {
            return Err("the upstream upload has ended".into());
        };
        match tokio::time::timeout(self.gw.opts.stream_idle, create.send(chunk)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the upstream upload failed".into()),
            Err(_) => Err("the upstream upload stalled".into()),
        }
    }

    /// Streams part `number` while it is spooled at `path`: what the file holds now, then each
    /// chunk as it is written, until its body ends. The part counts as sent when its record
    /// arrives with that path and size (`note`).
    async fn follow(
        &mut self,
        number: u32,
        path: String,
        shared: &Mutex<Following>,
    ) -> Result<(), String> {
        let (tx, mut rx) = mpsc::channel(FOLLOW_WINDOW);
        let offset = {
            let mut g = lock(shared);
            // A part whose body has ended gets no sink: `tx` is dropped here, so the channel
            // is closed and only what the file holds is sent.
            g.sink = (!g.ended).then_some(tx);
            g.written
        };
        tracing::debug!(
            part = number,
            spooled = offset,
            "streaming a part while it arrives"
        );
        let mut sent = 0u64;
        if offset > 0 {
            let mut body = super::spool_file::read(PathBuf::from(&path), offset)
                .await
                .map_err(|e| format!("opening part {number}: {e}"))?;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| format!("reading part {number}: {e}"))?;
                sent += chunk.len() as u64;
                self.push(chunk).await?;
            }
            if sent != offset {
                return Err(format!("part {number} was cut short on disk"));
            }
        }
        let idle = self.gw.opts.stream_idle;
        loop {
            match tokio::time::timeout(idle, rx.recv()).await {
                Ok(Some(chunk)) => {
                    sent += chunk.len() as u64;
                    self.push(chunk).await?;
                }
                Ok(None) => break,
                Err(_) => return Err(format!("part {number} stalled while it arrived")),
            }
        }
        self.bytes += sent;
        if self.bytes >= self.gw.store().options().session_threshold {
            return Err("the object passes the single-request limit".into());
        }
        self.awaiting = Some((number, path, sent));
        Ok(())
    }

    async fn send(&mut self, p: PartRef) -> Result<(), String> {
        if self.bytes + p.size >= self.gw.store().options().session_threshold {
            return Err("the object passes the single-request limit".into());
        }
        let mut body = super::staging::read_part(&p.path, p.size)
            .await
            .map_err(|e| format!("opening part {}: {e}", p.number))?;
        let mut read = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk: Bytes = chunk.map_err(|e| format!("reading part {}: {e}", p.number))?;
            read += chunk.len() as u64;
            self.push(chunk).await?;
        }
        if read != p.size {
            return Err(format!("part {} changed on disk", p.number));
        }
        self.bytes += read;
        self.sent.push(p);
        Ok(())
    }

    /// Complete with the client's (checked) part list: the rest is streamed and the upload
    /// ended, when what was sent is the start of that list.
    async fn complete(
        &mut self,
        parts: Vec<PartRef>,
        attrs: ObjectAttrs,
    ) -> Result<StoreResult<Written>, String> {
        if self.awaiting.is_some() {
            return Err("a part streamed while it arrived was not stored".into());
        }
        if self.sent.len() > parts.len() || self.sent.iter().zip(&parts).any(|(a, b)| a != b) {
            return Err("the part list differs from what was streamed".into());
        }
        for p in parts.into_iter().skip(self.sent.len()) {
            self.send(p).await?;
        }
        let Some(create) = self.create.take() else {
            return Err("the upstream upload has ended".into());
        };
        match create.finish(self.gw.store(), &self.s, attrs).await {
            Finished::Stored(done) => {
                tracing::info!(
                    size_bytes = self.bytes,
                    "multipart upload stored as streamed"
                );
                Ok(done)
            }
            Finished::NotStored(e) => Err(format!("the streamed upload failed: {e}")),
        }
    }
}
