//! A file's earlier versions: restore one as the newest (ScaiDrive's restore, a new version).
//! Listing them is [`Store::versions`], one upstream call per file.

use super::{FolderRef, Store, StoreResult};
use crate::auth::Session;

impl Store {
    /// Makes version `n` of `file_id` (in folder `parent`) the newest: ScaiDrive copies its
    /// content into a new version. One upstream call; the folder's cached listings are dropped.
    pub async fn restore_version(
        &self,
        s: &Session,
        parent: &FolderRef,
        file_id: &str,
        n: u64,
    ) -> StoreResult<()> {
        let result = self
            .inner
            .client
            .restore_version(s.token(), file_id, n)
            .await;
        self.invalidate_folder(parent).await;
        result.map(drop).map_err(Into::into)
    }
}
