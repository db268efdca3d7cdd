//! Deletes, and the sweep that finishes deletes a crash cut short.
//!
//! ScaiDrive keeps a trashed item's name reserved in its folder, while S3 and WebDAV clients
//! re-create names right after deleting them. So a delete to the trash renames the item to its
//! [`trash_name`] first and trashes it second. A row in the state DB (`delete_intents`), written
//! before the rename and removed after the trash call, lets [`Store::recover_deletes`] finish a
//! delete whose process died in between: at start, and periodically for rows older than
//! [`INTENT_GRACE`]. See `docs/mapping.md` § Deletes.

use std::time::Duration;

use crate::auth::Session;
use crate::scaidrive::{ErrorKind, FilePatch, Token};
use crate::state::{DeleteIntent, IntentKind};

use super::cache::Patch;
use super::coherence::ShareChange;
use super::trash::TrashRef;
use super::{FileInfo, FolderInfo, FolderRef, Store, StoreError, StoreResult};

/// ScaiDrive's longest name, in bytes.
const MAX_NAME_BYTES: usize = crate::namespace::MAX_SEGMENT_BYTES;

/// An extension longer than this is part of the stem (it is not one a person recognises).
const MAX_EXTENSION_BYTES: usize = 32;

/// A delete in progress younger than this may still be running (in this process or, on a shared
/// PostgreSQL state database, in another instance): the periodic sweep leaves it alone.
pub const INTENT_GRACE: Duration = Duration::from_secs(600);

/// The name an item gets just before it goes to ScaiDrive's trash:
/// `name (deleted <UTC time>)`, recognisable and recoverable from the trash, never longer than
/// ScaiDrive's 255 bytes (the part before the extension is shortened on a character boundary).
pub fn trash_name(name: &str) -> String {
    trash_name_with(name, &trash_stamp())
}

/// The UTC time stamp of a trash name, now: `20261205T083310.123Z`.
pub fn trash_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// [`trash_name`] with a given stamp.
pub fn trash_name_with(name: &str, stamp: &str) -> String {
    let suffix = format!(" (deleted {stamp})");
    let name = if name.is_empty() { "_" } else { name };
    let budget = MAX_NAME_BYTES.saturating_sub(suffix.len());
    if name.len() <= budget {
        return format!("{name}{suffix}");
    }
    let ext = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => &name[dot..],
        _ => "",
    };
    let stem = &name[..name.len() - ext.len()];
    let mut cut = budget.saturating_sub(ext.len()).min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = if cut == 0 { "_" } else { &stem[..cut] };
    format!("{stem}{ext}{suffix}")
}

/// The item a delete is about.
#[derive(Debug, Clone, Copy)]
pub enum DeletedItem<'a> {
    File(&'a FileInfo),
    Folder(&'a FolderInfo),
}

impl DeletedItem<'_> {
    fn id(&self) -> &str {
        match self {
            Self::File(f) => &f.id,
            Self::Folder(f) => &f.id,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::File(f) => &f.name,
            Self::Folder(f) => &f.name,
        }
    }

    fn kind(&self) -> IntentKind {
        match self {
            Self::File(_) => IntentKind::File,
            Self::Folder(_) => IntentKind::Folder,
        }
    }
}

/// What a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Items found under their trash name and trashed.
    pub finished: usize,
    /// Rows whose item was already in the trash, gone, or never renamed.
    pub cleared: usize,
    /// Rows kept for the next sweep (ScaiDrive failed or refused).
    pub kept: usize,
}

impl Store {
    /// Deletes a file: to ScaiDrive's trash (unless configured permanent), under its
    /// [`trash_name`] so that the name is free again at once. Where it went in the trash
    /// (`None` when deletes are permanent).
    pub async fn delete_file(
        &self,
        s: &Session,
        parent: &FolderRef,
        file: &FileInfo,
    ) -> StoreResult<Option<TrashRef>> {
        let _busy = self.inner.own_changes.busy(&parent.share_id);
        let item = DeletedItem::File(file);
        let stamp = trash_stamp();
        let renamed = self
            .rename_for_delete_at(s, &parent.share_id, item, &stamp)
            .await;
        let permanent = self.inner.opts.permanent_delete;
        let res = self
            .inner
            .client
            .delete_file(s.token(), &file.id, permanent)
            .await;
        self.after_trash_call(s, item, renamed, res.as_ref().err().map(|e| e.kind()))
            .await;
        if let Err(e) = res {
            self.invalidate_folder(parent).await;
            return Err(e.into());
        }
        let change = ShareChange::by(s)
            .expect(&file.id, 1 + u32::from(renamed), None)
            .patch(
                parent,
                Patch::Remove {
                    name: file.name.clone(),
                    id: file.id.clone(),
                },
            )
            .attrs(&file.id);
        self.apply_here(&parent.share_id, &change, false);
        self.forget_attrs(&file.id).await;
        self.publish(&parent.share_id, change).await?;
        Ok((!permanent).then(|| TrashRef {
            file_id: file.id.clone(),
            stamp: renamed.then_some(stamp),
        }))
    }

    /// Deletes a folder and everything under it, in one upstream call (to the trash under its
    /// [`trash_name`], as files).
    pub async fn delete_folder(
        &self,
        s: &Session,
        parent: &FolderRef,
        folder: &FolderInfo,
    ) -> StoreResult<()> {
        let item = DeletedItem::Folder(folder);
        let renamed = self.rename_for_delete(s, &parent.share_id, item).await;
        let permanent = self.inner.opts.permanent_delete;
        let res = self
            .inner
            .client
            .delete_folder(s.token(), &folder.id, permanent)
            .await;
        self.after_trash_call(s, item, renamed, res.as_ref().err().map(|e| e.kind()))
            .await;
        self.invalidate_share(&parent.share_id).await;
        res.map_err(StoreError::from)
    }

    /// The first step of a delete to the trash: records the delete in progress, then renames
    /// the item to its [`trash_name`]. Whether it was renamed (not when deletes are permanent;
    /// a failed rename leaves the delete to go ahead under the old name). A crash after this
    /// step leaves the item under its trash name for [`Store::recover_deletes`] to trash.
    #[doc(hidden)]
    pub async fn rename_for_delete(
        &self,
        s: &Session,
        share_id: &str,
        item: DeletedItem<'_>,
    ) -> bool {
        self.rename_for_delete_at(s, share_id, item, &trash_stamp())
            .await
    }

    /// [`Store::rename_for_delete`] with the trash name's stamp given.
    async fn rename_for_delete_at(
        &self,
        s: &Session,
        share_id: &str,
        item: DeletedItem<'_>,
        stamp: &str,
    ) -> bool {
        if self.inner.opts.permanent_delete {
            return false;
        }
        let intent = DeleteIntent {
            resource_id: item.id().to_owned(),
            kind: item.kind(),
            share_id: share_id.to_owned(),
            name: item.name().to_owned(),
            trash_name: trash_name_with(item.name(), stamp),
            token: s.token().expose().to_owned(),
            created_at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let new_name = intent.trash_name.clone();
        if let Err(e) = self.inner.db.put_intent(intent).await {
            // Without the row a crash in the next moment would leave the renamed item live:
            // delete under the old name instead (the name stays taken by the trash).
            tracing::warn!(error = %e, "could not record a delete in progress; deleting under the old name");
            return false;
        }
        let client = &self.inner.client;
        let res = match item {
            DeletedItem::File(f) => {
                let patch = FilePatch {
                    name: Some(new_name),
                    ..Default::default()
                };
                client.update_file(s.token(), &f.id, &patch).await.map(drop)
            }
            DeletedItem::Folder(f) => client
                .rename_folder(s.token(), &f.id, &new_name)
                .await
                .map(drop),
        };
        match res {
            Ok(()) => true,
            Err(e) => {
                if already_deleted(e.kind()) {
                    // The trash call that follows answers the same; it says so once.
                    tracing::debug!(error = %e, id = item.id(), "not renamed before delete: already deleted");
                } else {
                    tracing::warn!(error = %e, "renaming before delete failed; deleting under the old name");
                }
                self.forget_intent(item.id()).await;
                false
            }
        }
    }

    /// The last step, given how the trash call failed if it did. A refused or failed trash call
    /// leaves the item as it was, under its own name. One answered 410 or 404 found the item in
    /// the trash already, or gone: a concurrent delete of the same item came first (the last
    /// deletes of a folder's keys each prune the emptied folder, as in `aws s3 rm
    /// --recursive`). The item is deleted as asked and there is no name to restore (ScaiDrive
    /// refuses to rename a trashed item). Either way the delete is no longer in progress.
    async fn after_trash_call(
        &self,
        s: &Session,
        item: DeletedItem<'_>,
        renamed: bool,
        failed: Option<ErrorKind>,
    ) {
        let already = failed.is_some_and(already_deleted);
        if already {
            tracing::info!(
                id = item.id(),
                "already deleted: a concurrent delete of the same item came first"
            );
        }
        if !renamed {
            return;
        }
        if failed.is_some() && !already {
            let client = &self.inner.client;
            let back = match item {
                DeletedItem::File(f) => {
                    let patch = FilePatch {
                        name: Some(f.name.clone()),
                        ..Default::default()
                    };
                    client.update_file(s.token(), &f.id, &patch).await.map(drop)
                }
                DeletedItem::Folder(f) => client
                    .rename_folder(s.token(), &f.id, &f.name)
                    .await
                    .map(drop),
            };
            if let Err(e) = back {
                // The row stays: the sweep finishes the delete of the renamed item.
                tracing::error!(error = %e, id = item.id(), "restoring the name after a failed delete failed");
                return;
            }
        }
        self.forget_intent(item.id()).await;
    }

    async fn forget_intent(&self, id: &str) {
        if let Err(e) = self.inner.db.delete_intent(id).await {
            tracing::warn!(error = %e, id, "could not clear a delete in progress");
        }
    }

    /// Finishes deletes that a crash cut between the rename and the trash call: each item still
    /// live under its trash name goes to the trash; rows whose item is in the trash, gone or not
    /// renamed are dropped. `all`: every row (at start, when no delete of this instance runs and
    /// no other instance shares the state database); otherwise rows older than
    /// [`INTENT_GRACE`].
    pub async fn recover_deletes(&self, all: bool) -> Recovered {
        let mut done = Recovered::default();
        let now = chrono::Utc::now().timestamp_millis();
        let grace = i64::try_from(INTENT_GRACE.as_millis()).unwrap_or(i64::MAX);
        let before = (!all).then(|| now.saturating_sub(grace));
        let intents = match self.inner.db.list_intents(before).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the deletes in progress");
                return done;
            }
        };
        for intent in intents {
            match self.recover_one(&intent).await {
                Ok(true) => done.finished += 1,
                Ok(false) => done.cleared += 1,
                Err(e) => {
                    tracing::warn!(error = %e, id = %intent.resource_id, "could not finish a delete in progress; trying again later");
                    done.kept += 1;
                    continue;
                }
            }
            self.forget_intent(&intent.resource_id).await;
            self.invalidate_share(&intent.share_id).await;
        }
        if done != Recovered::default() {
            tracing::info!(
                finished = done.finished,
                cleared = done.cleared,
                kept = done.kept,
                "swept deletes in progress"
            );
        }
        done
    }

    /// Whether the item was found under its trash name and trashed now.
    async fn recover_one(&self, intent: &DeleteIntent) -> Result<bool, crate::scaidrive::Error> {
        let client = &self.inner.client;
        let token = Token::new(intent.token.clone());
        let id = intent.resource_id.as_str();
        let current = match intent.kind {
            IntentKind::File => client
                .get_file(&token, id)
                .await
                .map(|f| (f.name, f.is_deleted)),
            IntentKind::Folder => client
                .get_folder(&token, id)
                .await
                .map(|f| (f.name, f.is_deleted)),
        };
        let (name, deleted) = match current {
            Ok(found) => found,
            // In the trash already, or purged, or out of this user's reach for good.
            Err(e) if gone_for_good(e.kind()) => return Ok(false),
            Err(e) => return Err(e),
        };
        if deleted || name != intent.trash_name {
            return Ok(false);
        }
        let res = match intent.kind {
            IntentKind::File => client.delete_file(&token, id, false).await,
            IntentKind::Folder => client.delete_folder(&token, id, false).await,
        };
        match res {
            Ok(()) => {
                if intent.kind == IntentKind::File {
                    self.forget_attrs(id).await;
                }
                Ok(true)
            }
            Err(e) if gone_for_good(e.kind()) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Answers to a rename or a trash call saying the item is in the trash already (410) or gone
/// (404): a delete of it has nothing left to do.
fn already_deleted(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::NotFound | ErrorKind::Gone)
}

/// Answers after which a sweep can do nothing more for an item.
fn gone_for_good(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound | ErrorKind::Gone | ErrorKind::Unauthorized | ErrorKind::Forbidden
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trash_names_fit_255_bytes_and_keep_the_extension() {
        let short = trash_name("report.txt");
        assert!(short.starts_with("report.txt (deleted "), "{short}");
        assert!(short.ends_with("Z)"), "{short}");
        for name in [
            "文".repeat(76) + ".txt",
            "文".repeat(85),
            "a".repeat(255),
            "é".repeat(100) + "." + &"x".repeat(40),
            ".".repeat(255),
        ] {
            let t = trash_name(&name);
            assert!(t.len() <= 255, "{} bytes: {t}", t.len());
            assert!(t.contains(" (deleted "), "{t}");
            if name.ends_with(".txt") {
                assert!(
                    t.starts_with("文文文") && t.contains(".txt (deleted "),
                    "{t}"
                );
            }
            assert!(crate::namespace::validate_segment(&t).is_ok(), "{t}");
        }
    }
}
