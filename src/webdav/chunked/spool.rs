//! The bytes of a chunked upload that cannot go upstream yet, on disk under
//! `<data_dir>/staging/webdav-chunks/<upload>/`: pieces of a known place in the file
//! (`p<offset>`, each within one upstream chunk: the head and tail of a client chunk that only
//! partly covers an upstream chunk, or whole client chunks while the session cannot be opened
//! yet) and whole chunks whose place is not known yet (`u<name>`: a numbered chunk that came
//! before the chunks in front of it).
//!
//! [`Spool::drain`] sends every upstream chunk the pieces now cover in full, then deletes them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One held piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub offset: u64,
    pub len: u64,
    /// A local piece's file.
    pub path: PathBuf,
    /// A piece kept in ScaiDrive (`staged.rs`): its file id.
    pub file_id: Option<String>,
}

/// An upload's spool directory.
#[derive(Debug, Clone)]
pub(super) struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool of `upload` of `principal` under `root`.
    pub fn new(root: &Path, principal: &str, upload: &str) -> Self {
        let mut h = Sha256::new();
        h.update(principal.as_bytes());
        h.update([0]);
        h.update(upload.as_bytes());
        let name = hex::encode(&h.finalize()[..16]);
        Self {
            dir: root.join(name),
        }
    }

    pub async fn ensure(&self) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.dir).await
    }

    /// Deletes everything held.
    pub async fn remove(&self) {
        match tokio::fs::remove_dir_all(&self.dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.dir.display(), "removing a chunk spool failed")
            }
        }
    }

    pub fn piece_path(&self, offset: u64) -> PathBuf {
        self.dir.join(format!("p{offset:020}"))
    }

    pub fn unplaced_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("u{name}"))
    }

    /// The pieces held, by offset.
    pub async fn pieces(&self) -> std::io::Result<Vec<Piece>> {
        let mut out = Vec::new();
        let mut rd = match tokio::fs::read_dir(&self.dir).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        while let Some(entry) = rd.next_entry().await? {
            let name = entry.file_name();
            let Some(offset) = name
                .to_str()
                .and_then(|n| n.strip_prefix('p'))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let len = entry.metadata().await?.len();
            out.push(Piece {
                offset,
                len,
                path: entry.path(),
                file_id: None,
            });
        }
        out.sort_by_key(|p| p.offset);
        Ok(out)
    }

    /// Splits a whole chunk held in `from` (placed now at `offset`) into pieces along the
    /// upstream chunk grid `grid`, and deletes `from`.
    pub async fn place(&self, from: &Path, offset: u64, grid: u64) -> std::io::Result<()> {
        let mut src = tokio::fs::File::open(from).await?;
        let len = src.metadata().await?.len();
        let mut w = PieceWriter::new(self.clone(), grid);
        let mut pos = offset;
        let mut buf = vec![0u8; 256 << 10];
        let end = offset + len;
        while pos < end {
            let n = src.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a held chunk is shorter than recorded",
                ));
            }
            w.write(pos, &buf[..n]).await?;
            pos += n as u64;
        }
        w.finish().await?;
        tokio::fs::remove_file(from).await
    }
}

/// Writes bytes of known place as pieces, starting a new piece at every multiple of `grid`.
pub(super) struct PieceWriter {
    spool: Spool,
    grid: u64,
    current: Option<(u64, tokio::fs::File)>,
    /// Every piece file written (to remove them when the chunk fails).
    pub written: Vec<PathBuf>,
}

impl PieceWriter {
    pub fn new(spool: Spool, grid: u64) -> Self {
        Self {
            spool,
            grid: grid.max(1),
            current: None,
            written: Vec::new(),
        }
    }

    /// Appends `data`, which starts at file offset `pos` (contiguous with the previous write
    /// unless a new piece begins).
    pub async fn write(&mut self, mut pos: u64, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let boundary = (pos / self.grid + 1) * self.grid;
            let take = usize::try_from(boundary - pos).map_or(data.len(), |n| n.min(data.len()));
            let file = match &mut self.current {
                Some((next, f)) if *next == pos => f,
                _ => {
                    self.finish().await?;
                    let path = self.spool.piece_path(pos);
                    let f = tokio::fs::File::create(&path).await?;
                    self.written.push(path);
                    &mut self.current.insert((pos, f)).1
                }
            };
            file.write_all(&data[..take]).await?;
            pos += take as u64;
            data = &data[take..];
            if let Some((next, _)) = &mut self.current {
                *next = pos;
            }
            if pos.is_multiple_of(self.grid) {
                self.finish().await?;
            }
        }
        Ok(())
    }

    pub async fn finish(&mut self) -> std::io::Result<()> {
        if let Some((_, mut f)) = self.current.take() {
            f.flush().await?;
            f.sync_data().await?;
        }
        Ok(())
    }
}

/// The upstream chunks the pieces cover in full, with the bytes of each: `(index, range)`.
/// `total` is the file's length, `grid` the session's chunk size.
pub(super) fn covered(pieces: &[Piece], grid: u64, total: u64) -> Vec<(u64, u64, u64)> {
    let mut indices: Vec<u64> = pieces
        .iter()
        .filter(|p| p.len > 0 && p.offset < total)
        .flat_map(|p| (p.offset / grid)..=((p.offset + p.len - 1).min(total - 1) / grid))
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
        .into_iter()
        .filter_map(|i| {
            let (a, b) = (i * grid, ((i + 1) * grid).min(total));
            let mut at = a;
            for p in pieces {
                if p.offset <= at && p.offset + p.len > at {
                    at = p.offset + p.len;
                }
                if at >= b {
                    return Some((i, a, b));
                }
            }
            None
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn piece(offset: u64, len: u64) -> Piece {
        Piece {
            offset,
            len,
            path: PathBuf::new(),
            file_id: None,
        }
    }

    #[test]
    fn covered_needs_every_byte_of_a_chunk() {
        // Grid 10, file of 25 bytes: chunks 0..10, 10..20, 20..25.
        let pieces = [piece(0, 4), piece(4, 6), piece(12, 8), piece(20, 5)];
        assert_eq!(covered(&pieces, 10, 25), vec![(0, 0, 10), (2, 20, 25)]);
        let pieces = [piece(10, 2), piece(12, 8)];
        assert_eq!(covered(&pieces, 10, 25), vec![(1, 10, 20)]);
        assert!(covered(&[piece(20, 3)], 10, 25).is_empty());
    }

    #[tokio::test]
    async fn pieces_split_on_the_grid_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::new(root.path(), "usr_1", "up");
        spool.ensure().await.unwrap();
        let mut w = PieceWriter::new(spool.clone(), 8);
        let data: Vec<u8> = (0u8..30).collect();
        w.write(5, &data[..10]).await.unwrap();
        w.write(15, &data[10..30]).await.unwrap();
        w.finish().await.unwrap();
        let pieces = spool.pieces().await.unwrap();
        let offsets: Vec<(u64, u64)> = pieces.iter().map(|p| (p.offset, p.len)).collect();
        assert_eq!(offsets, vec![(5, 3), (8, 8), (16, 8), (24, 8), (32, 3)]);
        let got = super::super::staged::read_range(None, &pieces, 6, 20)
            .await
            .unwrap();
        assert_eq!(&got[..], &data[1..15]);
        assert!(
            super::super::staged::read_range(None, &pieces, 0, 8)
                .await
                .is_err()
        );
        spool.remove().await;
        assert!(spool.pieces().await.unwrap().is_empty());
    }
}
