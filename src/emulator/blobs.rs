//! Content storage: spooling uploads to `tmp/` while hashing, and content-addressed blobs.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The on-disk layout under the data directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Spool files untouched for this long belong to an upload that died with its process. Younger
/// ones may belong to another emulator process on the same data directory (a `credentials`
/// command beside a running `serve`), so they are left alone.
const STALE_SPOOL_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the files in `dir` not modified for `age`.
fn remove_stale(dir: &Path, age: std::time::Duration) -> std::io::Result<()> {
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        if now.duration_since(modified).unwrap_or_default() >= age {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

impl BlobStore {
    /// Creates the directories and clears stale leftovers from `tmp/`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let store = Self {
            root: data_dir.to_path_buf(),
        };
        std::fs::create_dir_all(store.blobs_dir())?;
        std::fs::create_dir_all(store.uploads_dir())?;
        let tmp = store.tmp_dir();
        std::fs::create_dir_all(&tmp)?;
        remove_stale(&tmp, STALE_SPOOL_AGE)?;
        Ok(store)
    }

    /// `DATA/blobs`.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `DATA/tmp`.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `DATA/uploads` (one directory of chunk files per upload session).
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// The chunk directory of one session.
    pub fn session_dir(&self, session_id: &str) -> PathBuf {
        self.uploads_dir().join(session_id)
    }

    /// Path of the blob with this SHA-256 (hex).
    pub fn blob_path(&self, sha: &str) -> PathBuf {
        let prefix = sha.get(0..2).unwrap_or("xx");
        self.blobs_dir().join(prefix).join(sha)
    }

    /// Starts a spool file in `tmp/`.
    pub async fn spool(&self) -> std::io::Result<Spool> {
        Spool::create(&self.tmp_dir()).await
    }

    /// Moves a sealed spool into place as a blob (or drops it when the blob exists).
    /// Call with the database lock held so a concurrent purge cannot interleave.
    pub fn commit(&self, mut sealed: Sealed) -> std::io::Result<()> {
        let dest = self.blob_path(&sealed.sha256);
        if dest.exists() {
            // Identical content already stored; the spool is removed by Drop.
            return Ok(());
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&sealed.path, &dest)?;
        sealed.committed = true;
        if let Some(dir) = dest.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes the blob when no version references it any more. Call under the DB lock.
    pub fn collect(&self, conn: &rusqlite::Connection, sha: &str) -> std::io::Result<()> {
        let refs: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM versions WHERE sha256 = ?1",
                [sha],
                |r| r.get(0),
            )
            .map_err(std::io::Error::other)?;
        if refs == 0 {
            match std::fs::remove_file(self.blob_path(sha)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A file being written while hashed; removed on drop unless sealed.
pub struct Spool {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    len: u64,
}

impl Spool {
    /// Creates a uniquely named spool file in `dir`.
    pub async fn create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(format!("spool-{}", ulid::Ulid::new()));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Self {
            path,
            file: Some(file),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spool already sealed"))?;
        file.write_all(data).await?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Flushes and fsyncs; the result still lives in the spool path.
    pub async fn seal(mut self) -> std::io::Result<Sealed> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all().await?;
        }
        let sealed = Sealed {
            path: std::mem::take(&mut self.path),
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            size: self.len,
            committed: false,
        };
        Ok(sealed)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A complete, fsynced spool file with its hash; removed on drop unless committed.
pub struct Sealed {
    path: PathBuf,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Content length.
    pub size: u64,
    committed: bool,
}

impl Sealed {
    /// Renames the sealed file to `dest` (used for upload chunks).
    pub fn persist_to(mut self, dest: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Sealed {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
