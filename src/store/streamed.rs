//! A new file written upstream while its body is still being produced elsewhere: one streamed
//! `POST /files` of unknown length, fed chunk by chunk (S3 multipart parts as they arrive, see
//! `s3/assemble.rs`). ScaiDrive stores the file only when the request body ends cleanly, which
//! only [`PendingCreate::finish`] does; dropping a [`PendingCreate`] (or a feed that stalls)
//! cuts the request, and nothing is stored.
//!
//! Memory: the feed holds at most [`FEED_WINDOW`] chunks.

use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::mpsc;

use super::{FolderRef, Store, StoreError, StoreResult, Written};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::scaidrive::{UploadFile, UploadedFile};
use crate::state::{ObjectAttrs, StoredAttrs};

/// Chunks queued between the feeder and the upstream request.
pub const FEED_WINDOW: usize = 4;

enum Feed {
    Data(Bytes),
    End,
}

/// A `POST /files` in flight whose body is fed by [`PendingCreate::send`].
pub struct PendingCreate {
    tx: Option<mpsc::Sender<Feed>>,
    upload: tokio::task::JoinHandle<crate::scaidrive::Result<UploadedFile>>,
    share_id: String,
    path: ObjectPath,
    parent: FolderRef,
    name: String,
    content_type: Option<String>,
}

impl std::fmt::Debug for PendingCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCreate")
            .field("parent", &self.parent)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How a [`PendingCreate::finish`] ended.
#[derive(Debug)]
pub enum Finished {
    /// ScaiDrive stored the file; the result of recording its attributes and publishing it.
    Stored(StoreResult<Written>),
    /// Nothing was stored (the upload failed, or the folder moved meanwhile).
    NotStored(StoreError),
}

impl Drop for PendingCreate {
    fn drop(&mut self) {
        // Without an `End` the body ends with an error; the task is stopped too, so the
        // connection closes even when the body is not being read.
        self.tx.take();
        self.upload.abort();
    }
}

/// The request body: the fed chunks, ending cleanly only on `End`.
fn feed_body(rx: mpsc::Receiver<Feed>) -> reqwest::Body {
    let stream = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Feed::Data(b)) => Some((Ok(b), Some(rx))),
            Some(Feed::End) => None,
            None => Some((
                Err(std::io::Error::other("the streamed upload was abandoned")),
                None,
            )),
        }
    });
    reqwest::Body::wrap_stream(stream.boxed())
}

impl Store {
    /// Starts creating the file `path` in `share_id` with a body fed later. `None` when the
    /// file cannot be created as a new file now: its folder does not exist (it is not created
    /// here, nothing may appear before the body is complete) or the name is taken.
    pub async fn start_create(
        &self,
        s: &Session,
        share_id: &str,
        path: &ObjectPath,
        content_type: Option<String>,
    ) -> StoreResult<Option<PendingCreate>> {
        let Some(name) = path.name().map(str::to_owned) else {
            return Ok(None);
        };
        if path.is_dir() {
            return Ok(None);
        }
        let Some(parent) = self
            .resolve_folder(s, share_id, path.parent_segments())
            .await?
        else {
            return Ok(None);
        };
        if self.list(s, &parent).await?.get(&name).is_some() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel(FEED_WINDOW);
        let client = self.client().clone();
        let token = s.token().clone();
        let req = UploadFile {
            share_id: parent.share_id.clone(),
            folder_id: parent.folder_id.clone(),
            name: name.clone(),
            content_type: content_type.clone(),
            size: None,
            body: feed_body(rx),
        };
        let upload = tokio::spawn(async move { client.upload_file(&token, req).await });
        Ok(Some(PendingCreate {
            tx: Some(tx),
            upload,
            share_id: share_id.to_owned(),
            path: path.clone(),
            parent,
            name,
            content_type,
        }))
    }
}

impl PendingCreate {
    /// Feeds a chunk; false when the upload has ended (failed).
    pub async fn send(&mut self, chunk: Bytes) -> bool {
        match &self.tx {
            Some(tx) => tx.send(Feed::Data(chunk)).await.is_ok(),
            None => false,
        }
    }

    /// Ends the body cleanly and waits for ScaiDrive's answer; on success records the file's
    /// attributes (`attrs`, with the ETag) and publishes the write as [`Store::write`] does.
    /// The folder is resolved again first: when it was moved or replaced meanwhile nothing is
    /// stored.
    pub async fn finish(mut self, store: &Store, s: &Session, attrs: ObjectAttrs) -> Finished {
        match store
            .resolve_folder(s, &self.share_id, self.path.parent_segments())
            .await
        {
            Ok(Some(now)) if now == self.parent => {}
            Ok(_) => {
                return Finished::NotStored(StoreError::Conflict(
                    "the folder changed while the upload was streamed".into(),
                ));
            }
            Err(e) => return Finished::NotStored(e),
        }
        let busy = store.busy(&self.parent.share_id);
        if let Some(tx) = self.tx.take() {
            // A failed send means the upload has already ended; its answer says how.
            let _ = tx.send(Feed::End).await;
        }
        let uploaded = match (&mut self.upload).await {
            Ok(r) => r.map_err(StoreError::from),
            Err(e) => Err(StoreError::Internal(format!("the upload task failed: {e}"))),
        };
        let result = uploaded.map(|u| Written {
            file_id: u.id,
            version_id: u.version_id,
            size: u.size,
            checksum_sha256: u.checksum_sha256,
            parent: self.parent.clone(),
            replaced: false,
            md5: [0; 16],
            etag: attrs.etag.clone(),
        });
        let change = store.after_file_write(
            s,
            &self.parent,
            &self.name,
            self.content_type.as_deref(),
            &result,
        );
        drop(busy);
        let written = match result {
            Ok(w) => w,
            Err(e) => return Finished::NotStored(e),
        };
        let entry = StoredAttrs {
            file_id: written.file_id.clone(),
            size: written.size,
            modified_at: None,
            version_id: written.version_id.clone(),
            sha256: written.checksum_sha256.clone(),
            attrs,
        };
        Finished::Stored(
            store
                .store_and_publish(&self.parent.share_id, entry, change.unwrap_or_default())
                .await
                .map(|()| written),
        )
    }
}
