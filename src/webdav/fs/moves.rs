//! MOVE and COPY of files and collections.

use dav_server::davpath::DavPath;
use dav_server::fs::{FsError, FsResult};

use super::{Found, Loc, ScaiFs, is_junk, segments};
use crate::store::FolderRef;

impl ScaiFs {
    pub(super) async fn copy_or_move(
        &self,
        from: &DavPath,
        to: &DavPath,
        is_move: bool,
    ) -> FsResult<()> {
        let ctx = &self.0;
        let from_segs = segments(from).ok_or(FsError::NotFound)?;
        let to_segs = segments(to).ok_or(FsError::NotFound)?;
        let (
            Loc::Item {
                share: fs,
                path: fp,
            },
            Loc::Item {
                share: ts,
                path: tp,
            },
        ) = (
            self.locate_segments(&from_segs)?,
            self.locate_segments(&to_segs)?,
        )
        else {
            return Err(FsError::Forbidden);
        };
        self.writable(&ts)?;
        if is_move {
            self.writable(&fs)?;
        }
        if tp.name().is_some_and(is_junk) {
            return Ok(());
        }
        // A pending empty source is created first (it has nothing upstream to move yet).
        ctx.pending
            .materialize(&ctx.store, &ctx.session, &fs.id, &fp)
            .await;
        let deferred = self.take_deferred(&to_segs);
        let source = self.find(&fs, &fp).await?.ok_or(FsError::NotFound)?;
        let dest = self.find(&ts, &tp).await?;
        if let Some(Found::Pending(_)) = dest {
            ctx.pending.remove(&ts.id, &tp);
        }
        let dest_parent = ctx
            .store
            .resolve_folder(&ctx.session, &ts.id, tp.parent_segments())
            .await
            .map_err(|e| self.err("resolve", &e))?
            .ok_or(FsError::NotFound)?;
        let name = tp.name().ok_or(FsError::Forbidden)?.to_owned();
        match (source, dest) {
            (Found::File(from_parent, f), Some(Found::File(_, _))) => {
                // Safe-save: the destination keeps its history and gets a new version.
                self.replace_with(&f, &ts, &tp).await?;
                if is_move {
                    self.trash_file(&from_parent, &f).await?;
                }
                Ok(())
            }
            (source, Some(Found::File(dp, d))) if deferred => {
                // A folder onto a file: the file goes first.
                self.trash_file(&dp, &d).await?;
                self.move_or_copy_new(source, &dest_parent, &name, is_move)
                    .await
            }
            (_, Some(Found::File(..) | Found::Folder(..))) => Err(FsError::Exists),
            (source, _) => {
                self.move_or_copy_new(source, &dest_parent, &name, is_move)
                    .await
            }
        }
    }

    pub(super) async fn move_or_copy_new(
        &self,
        source: Found,
        dest: &FolderRef,
        name: &str,
        is_move: bool,
    ) -> FsResult<()> {
        let ctx = self.ctx();
        let res = match (source, is_move) {
            (Found::File(from, f), true) => ctx
                .store
                .move_file(&ctx.session, &f, &from, dest, name)
                .await
                .map(drop),
            (Found::File(_, f), false) => ctx
                .store
                .copy_file(&ctx.session, &f, dest, name, None)
                .await
                .map(drop),
            (Found::Folder(from, f), true) => {
                ctx.store
                    .move_folder(&ctx.session, &f.id, &from, dest, name, &f.name)
                    .await
            }
            // dav-server copies collections itself (create_dir + copy per file).
            (Found::Folder(..), false) | (Found::Pending(_), _) => return Err(FsError::Forbidden),
        };
        res.map_err(|e| self.err(if is_move { "move" } else { "copy" }, &e))
    }
}
