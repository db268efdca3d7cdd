//! ScaiDrive's trash as the store sees it: the soft-deleted items of one folder (a listing with
//! `include_deleted`, never cached: the trash is looked at rarely and must be current), restore
//! and permanent delete. ScaiDrive has no trash listing of its own; items are found folder by
//! folder, and a deleted folder's content is listed the same way.

use super::{FolderRef, Store, StoreResult};
use crate::auth::Session;
use crate::scaidrive::Item;

/// A folder's items, deleted or not, as ScaiDrive lists them with `include_deleted`.
#[derive(Debug, Clone, Default)]
pub struct TrashListing {
    pub items: Vec<Item>,
}

impl TrashListing {
    /// The item named `name`, deleted ones first (a live item may have taken the name since).
    pub fn get(&self, name: &str) -> Option<&Item> {
        let deleted = |i: &&Item| match i {
            Item::Folder(f) => f.is_deleted,
            Item::File(f) => f.is_deleted,
        };
        let named = || self.items.iter().filter(|i| i.name() == name);
        named().find(deleted).or_else(|| named().next())
    }
}

/// Whether a listed item is in the trash.
pub fn is_deleted(item: &Item) -> bool {
    match item {
        Item::Folder(f) => f.is_deleted,
        Item::File(f) => f.is_deleted,
    }
}

impl Store {
    /// Every item of `folder`, the deleted ones included (one upstream call, not cached). A
    /// deleted folder is listed too.
    pub async fn list_with_trash(
        &self,
        s: &Session,
        folder: &FolderRef,
    ) -> StoreResult<TrashListing> {
        let listing = self
            .inner
            .client
            .list_children_with(
                s.token(),
                &folder.share_id,
                folder.folder_id.as_deref(),
                true,
            )
            .await?;
        let mut items: Vec<Item> = listing
            .items
            .into_iter()
            .filter(|i| folder.folder_id.is_some() || i.name() != crate::namespace::STAGING_FOLDER)
            .collect();
        items.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
        Ok(TrashListing { items })
    }

    /// Walks `segments` from the share root through listings that include deleted folders.
    /// `Ok(None)` when a segment is missing or names a file.
    pub async fn resolve_with_trash(
        &self,
        s: &Session,
        share_id: &str,
        segments: &[String],
    ) -> StoreResult<Option<FolderRef>> {
        let mut here = FolderRef::root(share_id);
        for name in segments {
            let listing = self.list_with_trash(s, &here).await?;
            match listing.get(name) {
                Some(Item::Folder(f)) => here.folder_id = Some(f.id.clone()),
                _ => return Ok(None),
            }
        }
        Ok(Some(here))
    }

    /// Restores a trashed item of `parent` (ScaiDrive's restore: the item returns under the
    /// name it has in the trash). A folder comes back with what was deleted with it.
    pub async fn restore_trashed(
        &self,
        s: &Session,
        parent: &FolderRef,
        item: &Item,
    ) -> StoreResult<()> {
        let client = &self.inner.client;
        let result = match item {
            Item::File(f) => client.restore_file(s.token(), &f.id).await.map(drop),
            Item::Folder(f) => client.restore_folder(s.token(), &f.id).await.map(drop),
        };
        match item {
            Item::File(_) => self.invalidate_folder(parent).await,
            Item::Folder(_) => self.invalidate_share(&parent.share_id).await,
        }
        result.map_err(Into::into)
    }

    /// Deletes a trashed item for good, where ScaiDrive allows it (legal holds and retention
    /// may refuse).
    pub async fn purge_trashed(&self, s: &Session, item: &Item) -> StoreResult<()> {
        let client = &self.inner.client;
        match item {
            Item::File(f) => client.delete_file(s.token(), &f.id, true).await?,
            Item::Folder(f) => client.delete_folder(s.token(), &f.id, true).await?,
        }
        Ok(())
    }
}
