//! Opening files for reading and writing (GET, PUT), and a MOVE or COPY onto an existing file
//! as a new version of it.

use std::sync::Arc;

use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::{FsError, FsResult, OpenOptions};
use futures::StreamExt as _;

use super::{Found, Loc, ScaiFs, fs_error, is_junk, segments};
use crate::namespace::ObjectPath;
use crate::state::ObjectAttrs;
use crate::store::{self as st, FileInfo, Need, ShareInfo};
use crate::webdav::file::{Handle, Reader, SpoolWriter, StreamWriter, Target};
use crate::webdav::meta::Meta;

impl ScaiFs {
    pub(super) async fn do_open(&self, dav_path: &DavPath, oo: OpenOptions) -> FsResult<Handle> {
        let loc = self.locate(dav_path)?;
        let Loc::Item { share, path } = loc else {
            return Err(FsError::Forbidden);
        };
        let ctx = &self.0;
        let junk = path.name().is_some_and(is_junk);
        if !oo.write {
            if junk {
                return Err(FsError::NotFound);
            }
            return match self.find(&share, &path).await? {
                Some(Found::File(parent, f)) => {
                    // Refused here, before dav-server sends an answer head.
                    if !self.may_read(&parent, &f, Need::Content).await? {
                        return Err(FsError::Forbidden);
                    }
                    let attrs = ctx
                        .store
                        .attrs_of(&f)
                        .await
                        .map_err(|e| self.err("attrs", &e))?;
                    let meta = Meta::file(&f, attrs.as_ref());
                    if let Some(segs) = segments(dav_path) {
                        ctx.note_content_type(segs, &meta);
                    }
                    Ok(Handle::Read(Reader {
                        ctx: Arc::clone(ctx),
                        meta,
                        file: Some(f),
                        pos: 0,
                        body: std::sync::Mutex::new(None),
                        leftover: Bytes::new(),
                    }))
                }
                Some(Found::Pending(m)) => Ok(Handle::Read(Reader {
                    ctx: Arc::clone(ctx),
                    meta: m,
                    file: None,
                    pos: 0,
                    body: std::sync::Mutex::new(None),
                    leftover: Bytes::new(),
                })),
                Some(Found::Folder(..)) => Err(FsError::Forbidden),
                None => Err(FsError::NotFound),
            };
        }
        self.writable(&share)?;
        if junk {
            // OS junk is accepted and discarded (docs/webdav.md).
            return Ok(Handle::Sink);
        }
        let parent = ctx
            .store
            .resolve_folder(&ctx.session, &share.id, path.parent_segments())
            .await
            .map_err(|e| self.err("open", &e))?;
        if parent.is_none() {
            return Err(FsError::NotFound);
        }
        let found = self.find(&share, &path).await?;
        let (exists, was_pending) = match &found {
            Some(Found::Folder(..)) => return Err(FsError::Forbidden),
            Some(Found::File(..)) => (true, false),
            Some(Found::Pending(_)) => (false, true),
            None => (false, false),
        };
        if (exists || was_pending) && oo.create_new {
            return Err(FsError::Exists);
        }
        if !(exists || was_pending || oo.create || oo.create_new) {
            return Err(FsError::NotFound);
        }
        let target = Target {
            share_id: share.id.clone(),
            path,
            exists,
            was_pending,
        };
        if !oo.truncate {
            // LOCK on an unmapped URL: an empty resource (pending); or an existing file kept.
            if !exists && !was_pending {
                ctx.pending
                    .add(
                        &ctx.store,
                        &ctx.session,
                        &target.share_id,
                        &target.path,
                        ctx.oc_mtime.clone(),
                    )
                    .await
                    .map_err(|e| fs_error(ctx, "creating an empty file", &e))?;
            }
            return Ok(Handle::Empty {
                ctx: Arc::clone(ctx),
                target: Target {
                    was_pending: true,
                    ..target
                },
                len: 0,
            });
        }
        match oo.size {
            Some(0) if !exists => Ok(Handle::Empty {
                ctx: Arc::clone(ctx),
                target,
                len: 0,
            }),
            Some(size) => Ok(Handle::Stream(StreamWriter::start(
                Arc::clone(ctx),
                target,
                size,
            ))),
            None => Ok(Handle::Spool(
                SpoolWriter::create(Arc::clone(ctx), target).await?,
            )),
        }
    }

    /// Makes `to` (an existing file) a new version with the content of file `from`.
    pub(super) async fn replace_with(
        &self,
        from: &FileInfo,
        to_share: &ShareInfo,
        to_path: &ObjectPath,
    ) -> FsResult<()> {
        let ctx = self.ctx();
        let attrs = ctx
            .store
            .attrs_of(from)
            .await
            .map_err(|e| self.err("attrs", &e))?
            .unwrap_or_default();
        let dl = ctx
            .store
            .read(&ctx.session, &from.id, None, None)
            .await
            .map_err(|e| self.err("read", &e))?;
        let body = dl
            .body
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
            .boxed();
        let req = st::WriteRequest {
            share_id: to_share.id.clone(),
            path: to_path.clone(),
            size: from.size,
            content_type: attrs.content_type.clone().or(from.mime_type.clone()),
            body,
            create_parents: false,
            attrs: ObjectAttrs {
                etag: String::new(),
                ..attrs
            },
            content_md5: None,
        };
        ctx.store
            .write(&ctx.session, req)
            .await
            .map_err(|e| self.err("replace", &e))?;
        Ok(())
    }

    pub(super) fn take_deferred(&self, segs: &[String]) -> bool {
        match self.ctx().deferred_delete.lock() {
            Ok(mut d) if d.as_deref() == Some(segs) => {
                *d = None;
                true
            }
            _ => false,
        }
    }
}
