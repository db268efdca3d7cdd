//! A part's spool file, written around the page cache.
//!
//! A spooled part is read back only when Complete cannot use the upload streamed while the
//! parts arrived ([`super::assemble`]), so copying every byte into the page cache is work
//! spent for the rare case: on the benchmark machine a buffered write of 1 GiB costs about 3 s
//! of kernel CPU, the same write with `O_DIRECT` 0.2–0.3 s. The writer gathers the body into
//! an aligned buffer of [`BLOCK`]-multiple size and writes it with `O_DIRECT` while the next
//! one fills; the tail is padded to a block and the file cut back to its size. Where the file
//! system refuses `O_DIRECT` (tmpfs before Linux 6.6, some FUSE mounts: at open or at the first write) the same
//! buffers are written through the page cache.
//!
//! What the file holds is handed back as the chunks that came in ([`SpoolFile::write`]
//! returns them once they are in the file), so an assembler following the part never streams
//! a byte the file does not hold.
//!
//! Parts are read back ([`read`]: by the assembler, for the parts that arrived while another
//! was being streamed, and by Complete's fallback) the same way, `O_DIRECT` into aligned
//! buffers handed on as they are: a buffered read costs as much kernel CPU as the write.

use std::collections::VecDeque;
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

type Flight = tokio::task::JoinHandle<(Target, Aligned, io::Result<()>)>;

/// A spool file being written (see the module).
pub(super) struct SpoolFile {
    target: Option<Target>,
    filling: Aligned,
    /// The other buffer, while it is being written.
    flight: Option<(Flight, usize)>,
    /// The file's size once everything handed in is written.
    size: u64,
    /// Chunks handed in and not yet returned: kept only when `keep`.
    held: VecDeque<Bytes>,
    keep: bool,
    spare: Option<Aligned>,
}

impl SpoolFile {
    /// Creates `path`; `keep`: [`Self::write`] returns the chunks once they are in the file.
    pub fn create(path: &Path, keep: bool) -> io::Result<Self> {
        Self::create_with(path, keep, true)
    }

    fn create_with(path: &Path, keep: bool, try_direct: bool) -> io::Result<Self> {
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
        Ok(Self {
            target: Some(Target {
                file,
                path: path.to_owned(),
                direct,
            }),
            filling: Aligned::new(),
            flight: None,
            size: 0,
            held: VecDeque::new(),
            keep,
            spare: None,
        })
    }

    /// Takes `chunk`; returns the chunks (or their leading pieces) now in the file, in order.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<Vec<Bytes>> {
        let mut done = Vec::new();
        let mut rest: &[u8] = &chunk;
        if self.keep {
            self.held.push_back(chunk.clone());
        }
        while !rest.is_empty() {
            let n = rest.len().min(self.filling.room());
            self.filling.fill(&rest[..n]);
            rest = &rest[n..];
            if self.filling.room() == 0 {
                done.extend(self.launch().await?);
            }
        }
        Ok(done)
    }

    /// Writes what is left and cuts the file to its size; returns the last chunks.
    pub async fn finish(mut self) -> io::Result<Vec<Bytes>> {
        let mut done = Vec::new();
        if self.filling.len > 0 {
            done.extend(self.launch().await?);
        }
        done.extend(self.land().await?);
        let target = self.target.take().ok_or_else(gone)?;
        let size = self.size;
        tokio::task::spawn_blocking(move || {
            if target.direct {
                target.file.set_len(size)?;
            }
            Ok::<_, io::Error>(())
        })
        .await
        .map_err(io::Error::other)??;
        Ok(done)
    }

    /// Sends the full buffer to be written (after the one in flight has landed); returns the
    /// chunks that landing put in the file.
    async fn launch(&mut self) -> io::Result<Vec<Bytes>> {
        let done = self.land().await?;
        let mut target = self.target.take().ok_or_else(gone)?;
        let next = self.spare.take().unwrap_or_else(Aligned::new);
        let mut buf = std::mem::replace(&mut self.filling, next);
        let (offset, len) = (self.size, buf.len);
        self.size += len as u64;
        let task = tokio::task::spawn_blocking(move || {
            let r = target.write_at(&mut buf, offset);
            (target, buf, r)
        });
        self.flight = Some((task, len));
        Ok(done)
    }

    /// Waits for the buffer in flight; returns the chunks it put in the file.
    async fn land(&mut self) -> io::Result<Vec<Bytes>> {
        let Some((task, len)) = self.flight.take() else {
            return Ok(Vec::new());
        };
        let (target, mut buf, result) = task.await.map_err(io::Error::other)?;
        self.target = Some(target);
        result?;
        buf.len = 0;
        self.spare = Some(buf);
        Ok(self.release(len))
    }

    /// The first `n` bytes held, as the chunks (and a piece of the last) they came in.
    fn release(&mut self, mut n: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        while n > 0 && self.keep {
            let Some(front) = self.held.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                out.extend(self.held.pop_front());
            } else {
                out.push(front.split_to(n));
                n = 0;
            }
        }
        out
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
pub(super) fn read(
    path: &Path,
    len: u64,
) -> io::Result<futures::stream::BoxStream<'static, io::Result<Bytes>>> {
    let (file, direct) = open_read(path)?;
    let reader = Reader {
        file,
        path: path.to_owned(),
        direct,
        offset: 0,
        left: len,
    };
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

    /// Writes `data` in `chunk`-sized pieces; returns what was handed back.
    async fn spool(path: &Path, data: &[u8], chunk: usize, direct: bool) -> Vec<u8> {
        let mut f = SpoolFile::create_with(path, true, direct).expect("create");
        let mut back = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            for b in f.write(Bytes::copy_from_slice(piece)).await.expect("write") {
                back.extend_from_slice(&b);
            }
        }
        for b in f.finish().await.expect("finish") {
            back.extend_from_slice(&b);
        }
        back
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
        let pieces: Vec<Bytes> = read(path, len)?.try_collect().await?;
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
        let mut f = SpoolFile::create(&path, false).expect("create");
        f.write(Bytes::from(data.clone())).await.expect("write");
        f.finish().await.expect("finish");
        assert!(std::fs::read(&path).expect("read") == data);
        assert!(read_all(&path, data.len() as u64).await.expect("read back") == data);
    }

    #[tokio::test]
    async fn chunks_come_back_only_once_they_are_in_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p");
        let mut f = SpoolFile::create(&path, true).expect("create");
        // Less than a buffer: nothing is written yet, nothing comes back.
        let first = f.write(Bytes::from(body(BUFFER - 10, 1))).await.expect("w");
        assert!(first.is_empty());
        // The buffer fills and is sent; its bytes come back when the next one is sent.
        assert!(
            f.write(Bytes::from(body(20, 2)))
                .await
                .expect("w")
                .is_empty()
        );
        let back = f.write(Bytes::from(body(BUFFER, 3))).await.expect("w");
        assert_eq!(back.iter().map(Bytes::len).sum::<usize>(), BUFFER);
        let on_disk = std::fs::metadata(&path).expect("stat").len();
        assert!(on_disk >= BUFFER as u64, "{on_disk} bytes in the file");
        let rest = f.finish().await.expect("finish");
        assert_eq!(rest.iter().map(Bytes::len).sum::<usize>(), BUFFER + 10);
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            2 * BUFFER as u64 + 10
        );
    }

    #[tokio::test]
    async fn without_keep_nothing_is_held_or_handed_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p");
        let mut f = SpoolFile::create(&path, false).expect("create");
        let mut back = 0;
        for _ in 0..5 {
            back += f
                .write(Bytes::from(body(BUFFER, 4)))
                .await
                .expect("w")
                .len();
            assert!(f.held.is_empty());
        }
        back += f.finish().await.expect("finish").len();
        assert_eq!(back, 0);
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            5 * BUFFER as u64
        );
    }
}
