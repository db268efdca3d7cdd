//! The per-request filesystem dav-server drives: `/` lists the user's shares under their
//! collection names; below, each share's folder tree through the store.
//!
//! One [`ScaiFs`] is built per request (it carries the session and what the request's headers
//! say: method, destination, `X-OC-Mtime`, `Content-Type`, `OC-Checksum`), so it can apply
//! request-level decisions dav-server's trait cannot express: a collection DELETE is one
//! upstream call, and a MOVE or COPY onto an existing file becomes a new version of it.
//!
//! Split by operation: `ctx` (what the request knows, error mapping), `resolve` (paths),
//! `list`, `write` (open for GET and PUT), `moves`, `delete`, `deadprops` (PROPPATCH and the
//! stored properties); the [`DavFileSystem`] implementation here dispatches to them.

use std::sync::Arc;

use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsStream,
    OpenOptions, ReadDirMeta,
};
use futures::FutureExt as _;
use http::StatusCode;

pub(crate) mod ctx;
mod deadprops;
mod delete;
mod list;
mod moves;
mod resolve;
mod write;

use ctx::{Listed, Memo};
pub(crate) use ctx::{ReqCtx, fs_error, is_junk, segments};
pub(crate) use deadprops::{checksums_xml, mtime_value};
pub(crate) use resolve::Loc;
use resolve::{Found, folder_attrs_key};

/// The filesystem of one request.
#[derive(Clone)]
pub(crate) struct ScaiFs(pub Arc<ReqCtx>);

impl DavFileSystem for ScaiFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move { Ok(Box::new(self.do_open(path, options).await?) as Box<dyn DavFile>) }.boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let loc = self.locate_segments(&segs)?;
            let entries = self.list(&loc, &segs).await?;
            let memoized = self
                .ctx()
                .listed
                .lock()
                .is_ok_and(|l| l.as_ref().is_some_and(|l| l.dir == segs));
            if !memoized {
                for e in &entries {
                    let mut child = segs.clone();
                    child.push(e.name.clone());
                    self.ctx().note_content_type(child, &e.meta);
                }
            }
            let stream = futures::stream::iter(
                entries
                    .into_iter()
                    .map(|e| Ok(Box::new(e) as Box<dyn DavDirEntry>)),
            );
            Ok(Box::pin(stream) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let loc = self.locate_segments(&segs)?;
            let meta = self.meta_of(&loc).await?;
            self.ctx().note_content_type(segs, &meta);
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let ctx = self.ctx();
            let loc = self.locate(path)?;
            let (share, path) = match loc {
                Loc::Item { share, path } => (share, path),
                _ => return Err(FsError::Exists),
            };
            self.writable(&share)?;
            if self.find(&share, &path).await?.is_some() {
                return Err(FsError::Exists);
            }
            let parent = ctx
                .store
                .resolve_folder(&ctx.session, &share.id, path.parent_segments())
                .await
                .map_err(|e| self.err("mkcol", &e))?
                .ok_or(FsError::NotFound)?;
            let name = path.name().ok_or(FsError::Forbidden)?;
            ctx.store
                .create_folder_in(&ctx.session, &parent, name)
                .await
                .map_err(|e| self.err("mkcol", &e))?;
            Ok(())
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let Loc::Item { share, path } = self.locate(path)? else {
                return Err(FsError::Forbidden);
            };
            self.writable(&share)?;
            match self.find(&share, &path).await? {
                Some(Found::Folder(parent, f)) => self.trash_folder(&parent, &f).await,
                Some(_) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let ctx = self.ctx();
            let segs = segments(path).ok_or(FsError::NotFound)?;
            let Loc::Item { share, path } = self.locate_segments(&segs)? else {
                return Err(FsError::Forbidden);
            };
            self.writable(&share)?;
            if path.name().is_some_and(is_junk) {
                return Ok(());
            }
            let is_copymove = ctx.method.as_str() == "MOVE" || ctx.method.as_str() == "COPY";
            if is_copymove && ctx.destination.as_deref() == Some(segs.as_slice()) {
                // Overwrite of the destination: decided in rename/copy (new version).
                if let Ok(mut d) = ctx.deferred_delete.lock() {
                    *d = Some(segs);
                }
                return Ok(());
            }
            match self.find(&share, &path).await? {
                Some(Found::File(parent, f)) => self.trash_file(&parent, &f).await,
                Some(Found::Pending(_)) => {
                    ctx.pending.remove(&share.id, &path);
                    Ok(())
                }
                Some(Found::Folder(..)) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        self.copy_or_move(from, to, true).boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        self.copy_or_move(from, to, false).boxed()
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(futures::future::ready(true))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        self.patch_dead_props(path, patch).boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        self.dead_props(path, do_content).boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        self.dead_prop(path, prop).boxed()
    }

    fn get_quota(&'_ self) -> FsFuture<'_, (u64, Option<u64>)> {
        async move {
            let ctx = self.ctx();
            let loc = self.locate_segments(&ctx.path)?;
            let share = match &loc {
                Loc::Root => return Err(FsError::NotImplemented),
                Loc::Share(s) | Loc::Item { share: s, .. } => s.clone(),
            };
            let used = share.used_bytes.unwrap_or(0);
            let Some(quota) = share.quota_bytes else {
                return Ok((used, None));
            };
            // dav-server reports `used` as this resource's length and `available` as
            // total − length; pick the total so available is the share's free space.
            let len = match &loc {
                Loc::Share(_) => used,
                _ => self.meta_of(&loc).await.map(|m| m.len).unwrap_or(0),
            };
            Ok((used, Some(quota.saturating_sub(used).saturating_add(len))))
        }
        .boxed()
    }
}
