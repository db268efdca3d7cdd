//! Writes fed piece by piece (WebDAV chunked upload, `webdav/chunked/`): an upload session is
//! opened once the target and the length are known, chunks go up as the front end has them,
//! and the completion is recorded like any other write (listing, attributes, other instances).
//! Nothing is visible at the target before [`Store::finish_session`].

use bytes::Bytes;

use super::{Entry, FolderRef, Store, StoreError, StoreResult, Written};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::scaidrive::CreateUploadSession;
use crate::state::{ObjectAttrs, StoredAttrs};

/// An upload session opened for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession {
    pub session_id: String,
    /// The session's chunk size (every chunk but the last exactly this long).
    pub chunk_size: u64,
    /// The file the upload becomes a new version of.
    pub replace_file_id: Option<String>,
}

impl Store {
    /// Opens an upload session for `size` bytes at `path` in `share_id`, asking for chunks of
    /// `chunk_size` (a power of two, 64 KiB – 4 MiB); a new version when a file is there. The
    /// parent folder must exist (`Conflict` otherwise), and a folder at the path is refused.
    pub async fn open_session(
        &self,
        s: &Session,
        share_id: &str,
        path: &ObjectPath,
        size: u64,
        chunk_size: u64,
        content_type: Option<String>,
    ) -> StoreResult<OpenedSession> {
        let (parent, name) = self.target_parent(s, share_id, path).await?;
        let replace_file_id = match self.list(s, &parent).await?.get(&name) {
            Some(Entry::Folder(_)) => {
                return Err(StoreError::Conflict(format!(
                    "a folder named '{name}' already exists here"
                )));
            }
            Some(Entry::File(f)) => Some(f.id.clone()),
            None => None,
        };
        let session = self
            .inner
            .client
            .create_upload_session(
                s.token(),
                &CreateUploadSession {
                    share_id: share_id.to_owned(),
                    file_name: name,
                    file_size: size,
                    folder_id: parent.folder_id.clone(),
                    chunk_size: Some(chunk_size),
                    mime_type: content_type,
                    checksum_sha256: None,
                    replace_file_id: replace_file_id.clone(),
                },
            )
            .await?;
        Ok(OpenedSession {
            session_id: session.session_id,
            chunk_size: session.chunk_size,
            replace_file_id,
        })
    }

    /// Sends chunk `index` (0-based) of a session.
    pub async fn put_session_chunk(
        &self,
        s: &Session,
        session_id: &str,
        index: u64,
        data: Bytes,
    ) -> StoreResult<()> {
        Ok(self
            .inner
            .client
            .put_chunk(s.token(), session_id, index, data)
            .await?)
    }

    /// The chunk indices a session has received (`GET /uploads/{id}`).
    pub async fn session_received(&self, s: &Session, session_id: &str) -> StoreResult<Vec<u64>> {
        Ok(self
            .inner
            .client
            .upload_progress(s.token(), session_id)
            .await?
            .received_chunks)
    }

    /// Completes a session opened by [`open_session`](Self::open_session) for `path` and
    /// records the file like any write (the writer's listing, `attrs`, other instances told).
    pub async fn finish_session(
        &self,
        s: &Session,
        share_id: &str,
        path: &ObjectPath,
        opened: &OpenedSession,
        attrs: ObjectAttrs,
    ) -> StoreResult<Written> {
        let (parent, name) = self.target_parent(s, share_id, path).await?;
        let declared_type = attrs.content_type.clone();
        let busy = self.busy(share_id);
        let result = self
            .inner
            .client
            .complete_upload(s.token(), &opened.session_id)
            .await
            .map_err(StoreError::from)
            .map(|done| Written {
                file_id: done.file_id,
                version_id: done.version_id,
                size: done.size.unwrap_or(0),
                checksum_sha256: done.checksum_sha256,
                parent: parent.clone(),
                replaced: opened.replace_file_id.is_some(),
                md5: [0; 16],
                etag: attrs.etag.clone(),
            });
        let change = self.after_file_write(s, &parent, &name, declared_type.as_deref(), &result);
        drop(busy);
        let written = result?;
        let entry = StoredAttrs {
            file_id: written.file_id.clone(),
            size: written.size,
            modified_at: None,
            version_id: written.version_id.clone(),
            sha256: written.checksum_sha256.clone(),
            attrs,
        };
        self.store_and_publish(share_id, entry, change.unwrap_or_default())
            .await?;
        Ok(written)
    }

    /// The parent folder of a file path (which must exist) and the file's name.
    async fn target_parent(
        &self,
        s: &Session,
        share_id: &str,
        path: &ObjectPath,
    ) -> StoreResult<(FolderRef, String)> {
        let Some(name) = path.name().map(str::to_owned) else {
            return Err(StoreError::Invalid("cannot write to a share root".into()));
        };
        if path.is_dir() {
            return Err(StoreError::Invalid(
                "cannot write content to a folder".into(),
            ));
        }
        let parent = self
            .resolve_folder(s, share_id, path.parent_segments())
            .await?
            .ok_or_else(|| StoreError::Conflict("the parent folder does not exist".into()))?;
        Ok((parent, name))
    }
}
