//! ScaiDrive's trash as the store sees it: the soft-deleted items of one folder (a listing with
//! `include_deleted`, never cached: the trash is looked at rarely and must be current), restore
//! and permanent delete. ScaiDrive has no trash listing of its own; items are found folder by
//! folder, and a deleted folder's content is listed the same way.

use super::{FolderRef, Store, StoreError, StoreResult};
use crate::auth::Session;
use crate::scaidrive::{FileEntry, FilePatch, Item, Timestamp};

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

/// Where a deleted file is in ScaiDrive's trash: its id and, when it was renamed to its
/// [`super::trash_name`] before the trash call, the stamp of that name. Stable for as long as
/// the file stays in the trash, and derived from ScaiDrive alone (no state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashRef {
    pub file_id: String,
    pub stamp: Option<String>,
}

/// A trashed folder on the way to a [`Trashed`] file, or a live one.
#[derive(Debug, Clone)]
pub struct ChainLink {
    /// The folder holding this one.
    pub parent: FolderRef,
    pub id: String,
    /// Its name in ScaiDrive (a trash name when trashed by the gateway).
    pub name: String,
    /// The name it had before it went to the trash.
    pub original: String,
    pub deleted: bool,
}

/// A file in ScaiDrive's trash, found under the key it had.
#[derive(Debug, Clone)]
pub struct Trashed {
    pub at: TrashRef,
    pub file: FileEntry,
    /// The folder it is in (live or in the trash).
    pub parent: FolderRef,
    /// The folders from the share root (or the bucket's base) down to `parent`.
    pub chain: Vec<ChainLink>,
    /// When it went to the trash: its trash name's stamp, else the listing's `modified_at`
    /// (ScaiDrive sets it when a file is trashed).
    pub deleted_at: Option<Timestamp>,
}

/// The name an item had before the gateway trashed it, and the stamp of its trash name:
/// `report.txt (deleted 20261205T083310.123Z)` → (`report.txt`, `Some("20261205T083310.123Z")`).
/// A name without that suffix is its own (trashed in ScaiDrive itself, or with its folder).
pub fn original_name(name: &str) -> (&str, Option<&str>) {
    let Some(body) = name.strip_suffix(')') else {
        return (name, None);
    };
    let Some(i) = body.rfind(" (deleted ") else {
        return (name, None);
    };
    let stamp = &body[i + " (deleted ".len()..];
    if parse_stamp(stamp).is_none() || i == 0 {
        return (name, None);
    }
    (&name[..i], Some(stamp))
}

/// The time of a trash name's stamp.
pub fn parse_stamp(stamp: &str) -> Option<Timestamp> {
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .ok()
        .map(|t| t.and_utc())
}

impl Trashed {
    /// A trashed file of `parent` (a listing entry), if `item` is one.
    pub fn from_item(
        item: &Item,
        parent: &FolderRef,
        chain: &[ChainLink],
        in_trashed_folder: bool,
    ) -> Option<(String, Trashed)> {
        let Item::File(f) = item else { return None };
        if !(f.is_deleted || in_trashed_folder) {
            return None;
        }
        let (name, stamp) = original_name(&f.name);
        let deleted_at = stamp.and_then(parse_stamp).or(f.modified_at);
        Some((
            name.to_owned(),
            Trashed {
                at: TrashRef {
                    file_id: f.id.clone(),
                    stamp: stamp.map(str::to_owned),
                },
                file: f.clone(),
                parent: parent.clone(),
                chain: chain.to_vec(),
                deleted_at,
            },
        ))
    }

    /// Whether a folder on the way is in the trash too.
    pub fn in_trashed_folder(&self) -> bool {
        self.chain.iter().any(|l| l.deleted)
    }
}

impl Store {
    /// Every folder, live or in the trash, at `base/dirs` (`dirs` by the names they had before
    /// the trash), with the folders on its way: one listing with `include_deleted` per folder
    /// met below `base`.
    pub async fn folders_named(
        &self,
        s: &Session,
        share_id: &str,
        base: &[String],
        dirs: &[String],
    ) -> StoreResult<Vec<(FolderRef, Vec<ChainLink>)>> {
        let mut here = match self.resolve_folder(s, share_id, base).await {
            Ok(Some(f)) => vec![(f, Vec::<ChainLink>::new())],
            Ok(None) | Err(StoreError::Conflict(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        for seg in dirs {
            let mut next = Vec::new();
            for (folder, chain) in &here {
                let listing = match self.list_with_trash(s, folder).await {
                    Ok(l) => l,
                    // Gone meanwhile, or not readable by this user: nothing of it to show.
                    Err(StoreError::NotFound | StoreError::Gone | StoreError::AccessDenied(_)) => {
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let parent_deleted = chain.last().is_some_and(|l| l.deleted);
                for item in &listing.items {
                    let Item::Folder(f) = item else { continue };
                    let (orig, _) = original_name(&f.name);
                    if orig != seg {
                        continue;
                    }
                    let mut chain = chain.clone();
                    chain.push(ChainLink {
                        parent: folder.clone(),
                        id: f.id.clone(),
                        name: f.name.clone(),
                        original: orig.to_owned(),
                        deleted: f.is_deleted || parent_deleted,
                    });
                    next.push((
                        FolderRef {
                            share_id: share_id.to_owned(),
                            folder_id: Some(f.id.clone()),
                        },
                        chain,
                    ));
                }
            }
            here = next;
        }
        Ok(here)
    }

    /// The trashed files that had the key `base/dirs/name`, oldest deletion first: found
    /// through listings with `include_deleted` of every folder, live or trashed, that had
    /// the names of `dirs` (one upstream call per such folder; a key deleted, re-created and
    /// deleted again has several).
    pub async fn trashed_of(
        &self,
        s: &Session,
        share_id: &str,
        base: &[String],
        dirs: &[String],
        name: &str,
    ) -> StoreResult<Vec<Trashed>> {
        let here = self.folders_named(s, share_id, base, dirs).await?;
        let mut out = Vec::new();
        for (folder, chain) in &here {
            let listing = match self.list_with_trash(s, folder).await {
                Ok(l) => l,
                // Gone meanwhile, or not readable by this user: nothing of it to show.
                Err(StoreError::NotFound | StoreError::Gone | StoreError::AccessDenied(_)) => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let in_trash = chain.last().is_some_and(|l| l.deleted);
            for item in &listing.items {
                if let Some((orig, t)) = Trashed::from_item(item, folder, chain, in_trash)
                    && orig == name
                {
                    out.push(t);
                }
            }
        }
        out.sort_by_key(|t| t.deleted_at);
        Ok(out)
    }

    /// Brings a trashed file back under its old name: the trashed folders on its way first
    /// (each restored under its old name, where no live folder has taken it), then the file.
    /// A live item that took a name meanwhile is a [`StoreError::Conflict`]: a restore never
    /// replaces or merges into a live item.
    pub async fn undelete(&self, s: &Session, t: &Trashed, name: &str) -> StoreResult<()> {
        let client = &self.inner.client;
        for link in t.chain.iter().filter(|l| l.deleted) {
            let live = self.list_with_trash(s, &link.parent).await?;
            if live
                .items
                .iter()
                .any(|i| !is_deleted(i) && i.name() == link.original && i.id() != link.id)
            {
                return Err(StoreError::Conflict(format!(
                    "the deleted object's folder '{}' was deleted too, and a live '{}' has \
                     taken its name since: restore it through WebDAV's trash view instead",
                    link.original, link.original
                )));
            }
            let res = client
                .restore_folder_as(s.token(), &link.id, &link.original)
                .await;
            self.invalidate_share(&t.parent.share_id).await;
            match res {
                Ok(_) => {}
                // Restored with an earlier link (deleted in the same operation).
                Err(e) if e.kind() == crate::scaidrive::ErrorKind::Conflict => {}
                Err(e) => return Err(e.into()),
            }
        }
        let patch = FilePatch {
            name: Some(name.to_owned()),
            restore: Some(true),
            ..Default::default()
        };
        let res = client.update_file(s.token(), &t.file.id, &patch).await;
        self.invalidate_folder(&t.parent).await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == crate::scaidrive::ErrorKind::Conflict => {
                Err(StoreError::Conflict(format!(
                    "a live object has the key '{name}' now: delete it first to restore the \
                     deleted one (a restore never replaces a live object)"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}
