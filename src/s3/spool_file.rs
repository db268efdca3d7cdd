//! A part's spool file, written around the page cache.
//!
//! A spooled part is read back only when Complete cannot use the upload streamed while the
//! parts arrived ([`super::assemble`]), so copying every byte into the page cache is work
//! spent for the rare case: on the benchmark machine a buffered write of 1 GiB costs about 3 s
//! of kernel CPU, the same write with `O_DIRECT` 0.2–0.3 s. The writer gathers the body into
//! one aligned buffer of [`BLOCK`]-multiple size and writes it with `O_DIRECT` when it is full
//! (about half a millisecond, while the socket keeps receiving); the tail is padded to a block
//! and the file cut back to its size. Where the file system refuses `O_DIRECT` (tmpfs before Linux 6.6, some FUSE mounts: at open or at the
//! first write) the same buffers are written through the page cache.
//!
//! Each buffer is shown to the caller once it is in the file (and copied only when an assembler
//! follows the part), so an assembler never streams a byte the file does not hold, and a part
//! nobody follows costs its buffer and nothing more.
//!
//! Parts are read back ([`read`]: by the assembler, for the parts that arrived while another
//! was being streamed, and by Complete's fallback) the same way, `O_DIRECT` into aligned
//! buffers handed on as they are: a buffered read costs as much kernel CPU as the write.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// Alignment of `O_DIRECT` buffers, offsets and lengths (the largest logical block size in use).
const BLOCK: usize = 4096;
/// One write: large enough for the disk to stream, small enough per concurrent part.
const BUFFER: usize = 512 << 10;

/// A buffer whose usable part starts on a [`BLOCK`] boundary (safe code: an over-allocated
/// `Vec` and an offset into it).
struct Aligned {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new() -> Self {
        let raw = vec![0u8; BUFFER + BLOCK];
        let start = raw.as_ptr().align_offset(BLOCK);
        Self { raw, start, len: 0 }
    }

    fn room(&self) -> usize {
        BUFFER - self.len
    }

    fn fill(&mut self, data: &[u8]) {
        let at = self.start + self.len;
        self.raw[at..at + data.len()].copy_from_slice(data);
        self.len += data.len();
    }

    /// The bytes to write: the content, padded with zeros to whole blocks when `pad`.
    fn block_slice(&mut self, pad: bool) -> &[u8] {
        let end = if pad {
            self.len.div_ceil(BLOCK) * BLOCK
        } else {
            self.len
        };
        self.raw[self.start + self.len..self.start + end].fill(0);
        &self.raw[self.start..self.start + end]
    }
}

/// The file and how it is written.
struct Target {
    file: File,
    path: PathBuf,
    direct: bool,
}

impl Target {
    /// Writes `buf` at `offset`; a file system that turns `O_DIRECT` down at the first write
    /// gets it again through the page cache.
    fn write_at(&mut self, buf: &mut Aligned, offset: u64) -> io::Result<()> {
        if self.direct {
            match self.file.write_all_at(buf.block_slice(true), offset) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!(path = %self.path.display(), "O_DIRECT refused at write: spooling through the page cache");
                    self.file = std::fs::OpenOptions::new().write(true).open(&self.path)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        self.file.write_all_at(buf.block_slice(false), offset)
    }
}

/// A spool file being written (see the module).
pub(super) struct SpoolFile {
    /// The file and the buffer being filled (`None` after a write failed).
    state: Option<(Target, Aligned)>,
    /// Bytes in the file.
    size: u64,
}

impl SpoolFile {
    /// Creates `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::create_with(path, true)
    }

    fn create_with(path: &Path, try_direct: bool) -> io::Result<Self> {
        let open = |direct: bool| {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            if direct {
                o.custom_flags(libc::O_DIRECT);
            }
            o.open(path)
        };
        let (file, direct) = match try_direct.then(|| open(true)) {
            Some(Ok(f)) => (f, true),
            Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => (open(false)?, false),
            Some(Err(e)) => return Err(e),
            None => (open(false)?, false),
        };
        let target = Target {
            file,
            path: path.to_owned(),
            direct,
        };
        Ok(Self {
            state: Some((target, Aligned::new())),
            size: 0,
        })
    }

    /// Takes `chunk`. Each buffer written to the file meanwhile is shown to `landed`, in
    /// order; what it returns (a copy, for an assembler following the part) is returned.
    pub async fn write(
        &mut self,
        chunk: &[u8],
        landed: &mut impl FnMut(&[u8]) -> Option<Bytes>,
    ) -> io::Result<Vec<Bytes>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let (_, buf) = self.state.as_mut().ok_or_else(gone)?;
            let n = rest.len().min(buf.room());
            buf.fill(&rest[..n]);
            rest = &rest[n..];
            if buf.room() == 0 {
                out.extend(self.flush(landed).await?);
            }
        }
        Ok(out)
    }

    /// Writes what is left (shown to `landed` as in [`Self::write`]) and cuts the file to its
    /// size.
    pub async fn finish(
        mut self,
        landed: &mut impl FnMut(&[u8]) -> Option<Bytes>,
    ) -> io::Result<Option<Bytes>> {
        let out = self.flush(landed).await?;
        let (target, _) = self.state.take().ok_or_else(gone)?;
        let size = self.size;
        if target.direct {
            tokio::task::spawn_blocking(move || target.file.set_len(size))
                .await
                .map_err(io::Error::other)??;
        }
        Ok(out)
    }

    /// Writes the buffer to the file (on a blocking thread) and shows it to `landed`.
    async fn flush(
        &mut self,
        landed: &mut impl FnMut(&[u8]) -> Option<Bytes>,
    ) -> io::Result<Option<Bytes>> {
        let (mut target, mut buf) = self.state.take().ok_or_else(gone)?;
        if buf.len == 0 {
            self.state = Some((target, buf));
            return Ok(None);
        }
        let offset = self.size;
        let (target, mut buf) = tokio::task::spawn_blocking(move || {
            let r = target.write_at(&mut buf, offset);
            r.map(|()| (target, buf))
        })
        .await
        .map_err(io::Error::other)??;
        self.size += buf.len as u64;
        let out = landed(&buf.raw[buf.start..buf.start + buf.len]);
        buf.len = 0;
        self.state = Some((target, buf));
        Ok(out)
    }
}

/// Opens `path` for reading around the page cache where the file system allows it.
fn open_read(path: &Path) -> io::Result<(File, bool)> {
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    match direct {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((File::open(path)?, false)),
        Err(e) => Err(e),
    }
}

/// One reader of a spool file.
struct Reader {
    file: File,
    path: PathBuf,
    direct: bool,
    offset: u64,
    left: u64,
}

impl Reader {
    /// The next piece (at most [`BUFFER`] bytes, `None` at the end); a file shorter than
    /// announced is an error.
    fn next(&mut self) -> io::Result<Option<Bytes>> {
        if self.left == 0 {
            return Ok(None);
        }
        let want = usize::try_from(self.left).map_or(BUFFER, |l| l.min(BUFFER));
        let mut buf = Aligned::new();
        // Direct reads ask for whole blocks; the piece is cut to `want`.
        let ask = if self.direct {
            want.div_ceil(BLOCK) * BLOCK
        } else {
            want
        };
        let mut got = 0;
        while got < want {
            let at = buf.start + got;
            match self
                .file
                .read_at(&mut buf.raw[at..buf.start + ask], self.offset + got as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!(path = %self.path.display(), "O_DIRECT refused at read: reading through the page cache");
                    self.file = File::open(&self.path)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
            // A direct read that stopped short of a block boundary is at the file's end.
            if self.direct && got % BLOCK != 0 {
                break;
            }
        }
        if got < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the spooled part {} ends {} bytes early",
                    self.path.display(),
                    self.left - got as u64
                ),
            ));
        }
        self.offset += want as u64;
        self.left -= want as u64;
        let start = buf.start;
        Ok(Some(Bytes::from(buf.raw).slice(start..start + want)))
    }
}

/// The first `len` bytes of the spool file `path`, in pieces of at most [`BUFFER`] bytes, read
/// around the page cache where the file system allows it; an error if the file holds fewer.
pub(super) async fn read(
    path: PathBuf,
    len: u64,
) -> io::Result<futures::stream::BoxStream<'static, io::Result<Bytes>>> {
    let reader = tokio::task::spawn_blocking(move || {
        let (file, direct) = open_read(&path)?;
        Ok::<_, io::Error>(Reader {
            file,
            path,
            direct,
            offset: 0,
            left: len,
        })
    })
    .await
    .map_err(io::Error::other)??;
    let pieces = futures::stream::try_unfold(reader, |mut r| async move {
        let (r, piece) = tokio::task::spawn_blocking(move || {
            let piece = r.next();
            (r, piece)
        })
        .await
        .map_err(io::Error::other)?;
        Ok(piece?.map(|p| (p, r)))
    });
    Ok(futures::StreamExt::boxed(pieces))
}

fn gone() -> io::Error {
    io::Error::other("a spool write failed earlier")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Writes `data` in `chunk`-sized pieces; returns what was shown as landed.
    async fn spool(path: &Path, data: &[u8], chunk: usize, direct: bool) -> Vec<u8> {
        let mut f = SpoolFile::create_with(path, direct).expect("create");
        let mut landed = Vec::new();
        let mut copy = |d: &[u8]| Some(Bytes::copy_from_slice(d));
        for piece in data.chunks(chunk.max(1)) {
            for b in f.write(piece, &mut copy).await.expect("write") {
                landed.extend_from_slice(&b);
            }
        }
        if let Some(b) = f.finish(&mut copy).await.expect("finish") {
            landed.extend_from_slice(&b);
        }
        landed
    }

    #[tokio::test]
    async fn the_file_and_the_chunks_handed_back_are_the_body() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sizes = [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            BUFFER - 1,
            BUFFER,
            BUFFER + 1,
            3 * BUFFER + 12_345,
        ];
        for direct in [true, false] {
            for (i, &len) in sizes.iter().enumerate() {
                for chunk in [1000, 65_536, BUFFER + 7] {
                    let data = body(len, i as u8);
                    let path = dir.path().join(format!("p-{direct}-{len}-{chunk}"));
                    let back = spool(&path, &data, chunk, direct).await;
                    assert_eq!(
                        back.len(),
                        data.len(),
                        "handed back, {len} bytes by {chunk}"
                    );
                    assert!(back == data, "handed back differs, {len} bytes by {chunk}");
                    let on_disk = std::fs::read(&path).expect("read");
                    assert_eq!(on_disk.len(), len, "file size, {len} bytes by {chunk}");
                    assert!(on_disk == data, "file differs, {len} bytes by {chunk}");
                }
            }
        }
    }

    async fn read_all(path: &Path, len: u64) -> io::Result<Vec<u8>> {
        use futures::TryStreamExt as _;
        let pieces: Vec<Bytes> = read(path.to_owned(), len).await?.try_collect().await?;
        assert!(pieces.iter().all(|p| p.len() <= BUFFER));
        Ok(pieces.concat())
    }

    #[tokio::test]
    async fn parts_read_back_are_what_was_spooled_and_a_short_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for len in [0, 1, BLOCK + 1, BUFFER, 2 * BUFFER + 5] {
            let data = body(len, 9);
            let path = dir.path().join(format!("r-{len}"));
            spool(&path, &data, 65_536, true).await;
            assert!(read_all(&path, len as u64).await.expect("read") == data);
            // A prefix (what an assembler following a part reads).
            let half = len / 2;
            assert!(read_all(&path, half as u64).await.expect("read") == data[..half]);
            let short = read_all(&path, len as u64 + 1).await;
            assert_eq!(
                short.map(|_| ()).map_err(|e| e.kind()),
                Err(io::ErrorKind::UnexpectedEof),
                "{len} bytes read as {}",
                len + 1
            );
        }
    }

    #[tokio::test]
    async fn a_spool_on_tmpfs_holds_the_same_bytes() {
        // tmpfs refused O_DIRECT at open before Linux 6.6 and takes it since.
        let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
            return;
        };
        let data = body(BUFFER + 4097, 7);
        let path = dir.path().join("p");
        let mut f = SpoolFile::create(&path).expect("create");
        f.write(&data, &mut |_| None).await.expect("write");
        f.finish(&mut |_| None).await.expect("finish");
        assert!(std::fs::read(&path).expect("read") == data);
        assert!(read_all(&path, data.len() as u64).await.expect("read back") == data);
    }

    #[tokio::test]
    async fn a_buffer_is_shown_only_once_it_is_in_the_file_and_copied_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p");
        let mut f = SpoolFile::create(&path).expect("create");
        // What the file holds whenever a buffer is shown, and how much was shown.
        let shown = std::cell::RefCell::new(Vec::<(u64, usize)>::new());
        let mut watch = |d: &[u8]| {
            let on_disk = std::fs::metadata(&path).expect("stat").len();
            shown.borrow_mut().push((on_disk, d.len()));
            None
        };
        // Less than a buffer: nothing is written yet, nothing shown.
        assert!(
            f.write(&body(BUFFER - 10, 1), &mut watch)
                .await
                .expect("w")
                .is_empty()
        );
        assert!(shown.borrow().is_empty());
        // The buffer fills: it is written, then shown (10 bytes wait in the next one).
        f.write(&body(20, 2), &mut watch).await.expect("w");
        assert_eq!(*shown.borrow(), vec![(BUFFER as u64, BUFFER)]);
        f.write(&body(BUFFER, 3), &mut watch).await.expect("w");
        assert_eq!(shown.borrow()[1], (2 * BUFFER as u64, BUFFER));
        // Nothing asked for a copy: none came back.
        assert!(f.finish(&mut watch).await.expect("finish").is_none());
        let shown = shown.into_inner();
        assert_eq!(shown.len(), 3);
        assert_eq!(shown[2].1, 10);
        assert!(shown[2].0 >= 2 * BUFFER as u64 + 10, "{shown:?}");
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            2 * BUFFER as u64 + 10
        );
    }
}
