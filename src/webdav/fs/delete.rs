//! DELETE of files and collections: to ScaiDrive's trash, or permanently.

use dav_server::fs::FsResult;

use super::ScaiFs;
use crate::store::{self as st, FileInfo, FolderRef};

impl ScaiFs {
    /// Deletes a file (to the trash under a fresh name: see [`st::trash_name`]).
    pub(super) async fn trash_file(&self, parent: &FolderRef, f: &FileInfo) -> FsResult<()> {
        let ctx = self.ctx();
        ctx.store
            .delete_file(&ctx.session, parent, f)
            .await
            .map(drop)
            .map_err(|e| self.err("delete", &e))
    }

    /// Deletes a folder (one call; to the trash under a fresh name).
    pub(super) async fn trash_folder(
        &self,
        parent: &FolderRef,
        f: &st::FolderInfo,
    ) -> FsResult<()> {
        let ctx = self.ctx();
        ctx.store
            .delete_folder(&ctx.session, parent, f)
            .await
            .map_err(|e| self.err("delete", &e))
    }
}
