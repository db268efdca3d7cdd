//! Path resolution: which share, folder, file or pending upload a DAV path names, and what the
//! session may do there.

use dav_server::davpath::DavPath;
use dav_server::fs::{FsError, FsResult};
use http::Method;

use super::{ReqCtx, ScaiFs, fs_error, is_junk, segments};
use crate::namespace::ObjectPath;
use crate::store::{self as st, FileInfo, FolderRef, Need, ShareInfo, StoreError};
use crate::webdav::meta::{self, Meta};

pub(crate) enum Loc {
    Root,
    Share(ShareInfo),
    Item { share: ShareInfo, path: ObjectPath },
}

/// What a path names now.
pub(super) enum Found {
    Folder(FolderRef, st::FolderInfo),
    File(FolderRef, FileInfo),
    Pending(meta::Meta),
}

pub(super) fn folder_attrs_key(f: &st::FolderInfo) -> FileInfo {
    // Folder dead properties live in the attribute table under the folder id, size 0 and no
    // modified_at, which always validates.
    FileInfo {
        id: f.id.clone(),
        name: f.name.clone(),
        size: 0,
        mime_type: None,
        modified_at: None,
    }
}

impl ScaiFs {
    pub(super) fn ctx(&self) -> &ReqCtx {
        &self.0
    }

    pub(super) fn err(&self, op: &str, e: &StoreError) -> FsError {
        fs_error(&self.0, op, e)
    }

    pub(crate) fn locate_segments(&self, segs: &[String]) -> FsResult<Loc> {
        let Some((first, rest)) = segs.split_first() else {
            return Ok(Loc::Root);
        };
        let share = self
            .ctx()
            .shares
            .get(first)
            .cloned()
            .ok_or(FsError::NotFound)?;
        if rest.is_empty() {
            return Ok(Loc::Share(share));
        }
        let path = ObjectPath::from_segments(rest.to_vec(), false).map_err(|e| match e {
            crate::namespace::NameError::Reserved => FsError::Forbidden,
            _ => FsError::NotFound,
        })?;
        Ok(Loc::Item { share, path })
    }

    pub(super) fn locate(&self, path: &DavPath) -> FsResult<Loc> {
        let segs = segments(path).ok_or(FsError::NotFound)?;
        self.locate_segments(&segs)
    }

    pub(super) async fn find(
        &self,
        share: &ShareInfo,
        path: &ObjectPath,
    ) -> FsResult<Option<Found>> {
        let ctx = self.ctx();
        match ctx.store.resolve(&ctx.session, &share.id, path, true).await {
            Ok(Some(r)) => Ok(Some(match r.entry {
                st::Entry::Folder(f) => Found::Folder(r.parent, st::FolderInfo::clone(&f)),
                st::Entry::File(f) => Found::File(r.parent, FileInfo::clone(&f)),
            })),
            Ok(None) => Ok(ctx.pending.get(&share.id, path).map(|p| {
                let mtime = p.client_mtime.as_deref().and_then(meta::parse_mtime);
                Found::Pending(Meta::pending_empty(p.created, mtime))
            })),
            Err(e) => Err(self.err("resolve", &e)),
        }
    }

    pub(crate) async fn meta_of(&self, loc: &Loc) -> FsResult<Meta> {
        match loc {
            Loc::Root => Ok(Meta::dir(None, 0, None)),
            Loc::Share(s) => Ok(Meta::dir(
                s.created_at.as_ref().map(meta::system_time),
                s.used_bytes.unwrap_or(0),
                Some(format!("{}-share", s.id)),
            )),
            Loc::Item { share, path } => {
                if path.name().is_some_and(is_junk) {
                    // Junk is discarded when written, so its DELETE succeeds (`remove_file`);
                    // dav-server looks the path up first.
                    if self.ctx().method == Method::DELETE {
                        return Ok(Meta::pending_empty(std::time::SystemTime::now(), None));
                    }
                    return Err(FsError::NotFound);
                }
                match self.find(share, path).await? {
                    Some(Found::Folder(_, f)) => {
                        let dates = self.ctx().store.folder_dates(&self.ctx().session, &f.id);
                        let dates = dates.await.map_err(|e| self.err("folder", &e))?;
                        Ok(meta::folder(dates, f.id))
                    }
                    Some(Found::File(parent, f)) => {
                        if !self.may_read(&parent, &f, Need::Attributes).await? {
                            // Reads answer 403 as ScaiDrive does; other methods (a DELETE
                            // or MOVE the caller may be allowed) see the listed facts only.
                            return match self.reads() {
                                true => Err(FsError::Forbidden),
                                false => Ok(Meta::file(&f, None)),
                            };
                        }
                        let attrs = self
                            .ctx()
                            .store
                            .attrs_of(&f)
                            .await
                            .map_err(|e| self.err("attrs", &e))?;
                        Ok(Meta::file(&f, attrs.as_ref()))
                    }
                    Some(Found::Pending(m)) => Ok(m),
                    None => Err(FsError::NotFound),
                }
            }
        }
    }

    /// A write may go on to ScaiDrive: the share role allows it, or (checked before the request
    /// reached dav-server) ScaiDrive ACL entries do.
    pub(super) fn writable(&self, share: &ShareInfo) -> FsResult<()> {
        if share.can_write() || self.ctx().acl_writable.contains(&share.id) {
            Ok(())
        } else {
            Err(FsError::Forbidden)
        }
    }

    /// Whether this request only reads (GET, HEAD, PROPFIND).
    pub(super) fn reads(&self) -> bool {
        let m = &self.ctx().method;
        *m == Method::GET || *m == Method::HEAD || m.as_str() == "PROPFIND"
    }

    /// Whether the principal may read `f` of `parent` (see `store/access.rs`).
    pub(super) async fn may_read(
        &self,
        parent: &FolderRef,
        f: &FileInfo,
        need: Need,
    ) -> FsResult<bool> {
        let entry = st::Entry::File(std::sync::Arc::new(f.clone()));
        match self
            .ctx()
            .store
            .check_read(&self.ctx().session, parent, &entry, need)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::AccessDenied(_)) => Ok(false),
            Err(e) => Err(self.err("access", &e)),
        }
    }

    /// In a DELETE, or in a MOVE/COPY for the destination tree, dav-server walks the tree to
    /// delete it entry by entry; an empty listing makes it delete the collection in one call.
    pub(super) fn walk_is_delete(&self, segs: &[String]) -> bool {
        let ctx = self.ctx();
        if ctx.method == Method::DELETE {
            return true;
        }
        let is_copymove = ctx.method.as_str() == "MOVE" || ctx.method.as_str() == "COPY";
        match &ctx.destination {
            Some(dest) if is_copymove => segs.starts_with(dest),
            _ => false,
        }
    }
}
