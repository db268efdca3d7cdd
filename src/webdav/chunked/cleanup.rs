//! Forgetting chunked uploads and what they hold: the pieces of a chunk sent again, the
//! ScaiDrive staging folders of an upload (at MOVE and DELETE), and uploads idle for 24 hours
//! (the periodic sweep; those with pieces in ScaiDrive when their user next starts an upload,
//! since deleting them needs the uploader's token).

use super::Uploads;
use super::spool::Spool;
use super::staged::{self, Staged};
use crate::auth::Session;
use crate::state::UploadChunk;

impl Uploads {
    /// Deletes the pieces of one chunk kept in ScaiDrive (best effort: the staging folder goes
    /// at MOVE or DELETE anyway).
    pub(super) async fn delete_pieces(&self, session: &Session, st: &Staged) {
        for p in &st.pieces {
            if let Err(e) = self.store.delete_staged_file(session, &p.file).await {
                tracing::warn!(error = %e, "deleting a staged chunk piece failed");
            }
        }
    }

    /// Forgets the uploads of `session`'s user idle for [`MAX_IDLE`] with what they hold: the
    /// periodic sweep leaves those with pieces in ScaiDrive (it has no token to delete them).
    pub(super) async fn sweep_own(&self, session: &Session) {
        let db = self.store.db();
        let cutoff = idle_cutoff();
        let Ok(mine) = db.chunked_uploads_of(session.principal()).await else {
            return;
        };
        for up in mine.into_iter().filter(|u| u.updated_at < cutoff) {
            let lock = self.lock_of(&up.principal, &up.upload);
            let _held = lock.lock().await;
            let Ok(chunks) = db.upload_chunks(&up.principal, &up.upload).await else {
                continue;
            };
            if let Ok(true) = db.delete_chunked_upload(&up.principal, &up.upload).await {
                self.spool(&up.principal, &up.upload).remove().await;
                self.discard_staged(session, &chunks).await;
                tracing::info!(upload = %up.upload, "removed an idle WebDAV chunked upload");
            }
        }
    }

    /// Deletes the ScaiDrive staging folders of an upload's chunks, permanently.
    pub(super) async fn discard_staged(&self, session: &Session, chunks: &[UploadChunk]) {
        for folder in staged::folders_of(chunks) {
            if let Err(e) = self.store.delete_staging_folder(session, &folder).await {
                tracing::warn!(error = %e, "deleting a chunked upload's staging folder failed");
            }
        }
    }
}

/// How long an upload collection may sit idle before it is swept: ScaiDrive's upload
/// sessions expire after 24 hours of inactivity.
pub(crate) const MAX_IDLE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The `updated_at` below which an upload is idle.
fn idle_cutoff() -> String {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(MAX_IDLE).unwrap_or(chrono::Duration::zero());
    cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Forgets the upload collections idle for [`MAX_IDLE`] and their spools (their ScaiDrive
/// sessions expire upstream). Returns how many went.
pub(crate) async fn sweep(db: &crate::state::StateDb, data_dir: &std::path::Path) -> usize {
    let cutoff = idle_cutoff();
    let root = data_dir.join("staging").join("webdav-chunks");
    let idle = match db.chunked_uploads_idle_since(&cutoff).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "listing idle chunked uploads failed");
            return 0;
        }
    };
    let mut n = 0;
    for up in idle {
        // Pieces kept in ScaiDrive need the uploader's token: they go with the uploader's
        // next upload collection (`Uploads::sweep_own`).
        match db.upload_chunks(&up.principal, &up.upload).await {
            Ok(chunks) if chunks.iter().all(|c| c.staged.is_none()) => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "listing an idle upload's chunks failed");
                continue;
            }
        }
        if let Ok(true) = db.delete_chunked_upload(&up.principal, &up.upload).await {
            Spool::new(&root, &up.principal, &up.upload).remove().await;
            n += 1;
        }
    }
    n
}
