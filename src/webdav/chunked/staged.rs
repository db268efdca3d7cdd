//! Chunk pieces kept in ScaiDrive instead of the local disk (several instances: the same
//! `s3.multipart_staging = "scaidrive"` that S3 multipart uses, the default with PostgreSQL):
//! hidden files in `<share root>/.scaidrive-gateway-uploads/webdav-<hash>/`, one per piece,
//! written with the uploader's token so any instance reads them back at MOVE. Where a chunk's
//! pieces are is recorded in its state DB row (`webdav_upload_chunks.staged`, JSON [`Staged`]).

use std::io::SeekFrom;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::spool::Piece;
use crate::auth::Session;
use crate::scaidrive::ByteRange;
use crate::state::UploadChunk;
use crate::store::{FolderRef, Store, StoreResult};

/// Where a chunk's pieces are in ScaiDrive (JSON in its state DB row).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Staged {
    pub share: String,
    pub folder: String,
    pub pieces: Vec<StagedPiece>,
}

/// One hidden piece file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StagedPiece {
    /// Where it starts, counted from the start of its chunk.
    pub at: u64,
    pub len: u64,
    /// The ScaiDrive file id.
    pub file: String,
}

impl Staged {
    pub fn of(chunk: &UploadChunk) -> Option<Self> {
        chunk
            .staged
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
    }

    pub fn encode(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

/// The pieces of the chunks whose place is known, by offset.
pub(super) fn pieces_of(chunks: &[UploadChunk]) -> Vec<Piece> {
    let mut out: Vec<Piece> = chunks
        .iter()
        .filter_map(|c| Some((c.offset?, Staged::of(c)?)))
        .flat_map(|(offset, st)| {
            st.pieces.into_iter().map(move |p| Piece {
                offset: offset + p.at,
                len: p.len,
                path: std::path::PathBuf::new(),
                file_id: Some(p.file),
            })
        })
        .collect();
    out.sort_by_key(|p| p.offset);
    out
}

/// The staging folders the chunks use (to delete them).
pub(super) fn folders_of(chunks: &[UploadChunk]) -> Vec<String> {
    let mut out: Vec<String> = chunks
        .iter()
        .filter_map(Staged::of)
        .map(|s| s.folder)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The name of an upload's staging folder: the same on every instance.
pub(super) fn folder_name(principal: &str, upload: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(principal.as_bytes());
    h.update([0]);
    h.update(upload.as_bytes());
    format!("webdav-{}", hex::encode(&h.finalize()[..16]))
}

/// Writes the held bytes of one chunk as hidden files, one per piece (a new piece at every
/// multiple of `grid` counted from `base`); at most one piece in memory.
pub(super) struct RemoteWriter<'a> {
    store: &'a Store,
    session: &'a Session,
    /// Share and folder name to stage in, until the folder is known.
    share: String,
    name: String,
    folder: Option<String>,
    grid: u64,
    base: u64,
    buf: BytesMut,
    buf_at: u64,
    pub staged: Vec<StagedPiece>,
}

impl<'a> RemoteWriter<'a> {
    /// `folder`: the upload's staging folder when another chunk made it already.
    pub fn new(
        store: &'a Store,
        session: &'a Session,
        at: (String, Option<String>, String),
        grid: u64,
        base: u64,
    ) -> Self {
        let (share, folder, name) = at;
        Self {
            store,
            session,
            share,
            name,
            folder,
            grid: grid.max(1),
            base,
            buf: BytesMut::new(),
            buf_at: 0,
            staged: Vec::new(),
        }
    }

    /// Appends `data`, which starts `pos` bytes into the chunk.
    pub async fn write(&mut self, mut pos: u64, mut data: &[u8]) -> StoreResult<()> {
        while !data.is_empty() {
            if !self.buf.is_empty() && self.buf_at + self.buf.len() as u64 != pos {
                self.flush().await?;
            }
            if self.buf.is_empty() {
                self.buf_at = pos;
            }
            let abs = self.base + pos;
            let boundary = (abs / self.grid + 1) * self.grid;
            let take = usize::try_from(boundary - abs).map_or(data.len(), |n| n.min(data.len()));
            self.buf.extend_from_slice(&data[..take]);
            pos += take as u64;
            data = &data[take..];
            if (self.base + pos).is_multiple_of(self.grid) {
                self.flush().await?;
            }
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> StoreResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let folder = match &self.folder {
            Some(f) => f.clone(),
            None => {
                let f = self
                    .store
                    .staging_folder(self.session, &self.share, &self.name)
                    .await?;
                self.folder = Some(f.clone());
                f
            }
        };
        let data: Bytes = self.buf.split().freeze();
        let len = data.len() as u64;
        let parent = FolderRef {
            share_id: self.share.clone(),
            folder_id: Some(folder),
        };
        let name = format!("p{:020}-{}", self.base + self.buf_at, ulid::Ulid::new());
        let body = futures::stream::once(async move { Ok(data) }).boxed();
        let written = self
            .store
            .write_hidden(self.session, &parent, &name, len, body, None)
            .await?;
        self.staged.push(StagedPiece {
            at: self.buf_at,
            len,
            file: written.file_id,
        });
        Ok(())
    }

    /// What was written, for the chunk's row (`None`: nothing).
    pub fn record(&self) -> Option<Staged> {
        let folder = self.folder.clone()?;
        (!self.staged.is_empty()).then(|| Staged {
            share: self.share.clone(),
            folder,
            pieces: self.staged.clone(),
        })
    }
}

/// Reads bytes `a..b` from the pieces that cover them (one upstream chunk), local or in
/// ScaiDrive (`remote`: how to read the latter).
pub(super) async fn read_range(
    remote: Option<(&Store, &Session)>,
    pieces: &[Piece],
    a: u64,
    b: u64,
) -> std::io::Result<Bytes> {
    let len = usize::try_from(b - a).map_err(std::io::Error::other)?;
    let mut out = BytesMut::with_capacity(len);
    let mut at = a;
    for p in pieces {
        if at >= b {
            break;
        }
        if p.offset > at || p.offset + p.len <= at {
            continue;
        }
        let upto = (p.offset + p.len).min(b);
        let n = usize::try_from(upto - at).map_err(std::io::Error::other)?;
        let start = out.len();
        match (&p.file_id, remote) {
            (Some(id), Some((store, s))) => {
                let from = at - p.offset;
                let dl = store
                    .read(
                        s,
                        id,
                        None,
                        Some(ByteRange::FromTo(from, from + n as u64 - 1)),
                    )
                    .await
                    .map_err(|e| std::io::Error::other(format!("staged piece {id}: {e}")))?;
                let mut body = dl.body;
                while let Some(data) = body.next().await {
                    let data = data.map_err(|e| std::io::Error::other(e.to_string()))?;
                    out.extend_from_slice(&data);
                }
                if out.len() != start + n {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "a staged piece is shorter than recorded",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(std::io::Error::other("a staged piece needs a session"));
            }
            (None, _) => {
                let mut f = tokio::fs::File::open(&p.path).await?;
                f.seek(SeekFrom::Start(at - p.offset)).await?;
                out.resize(start + n, 0);
                f.read_exact(&mut out[start..]).await?;
            }
        }
        at = upto;
    }
    if at < b {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the held pieces do not cover the chunk",
        ));
    }
    Ok(out.freeze())
}
