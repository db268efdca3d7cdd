//! Listing a collection: the shares at `/`, a folder's entries below, with the attributes of all
//! of them from one state-DB query.

use dav_server::fs::{FsError, FsResult};

use super::{Listed, Loc, ScaiFs, folder_attrs_key, is_junk};
use crate::store::{self as st, FileInfo, Need, ShareInfo};
use crate::webdav::meta::{self, Entry, Meta};

impl ScaiFs {
    pub(crate) async fn list(&self, loc: &Loc, segs: &[String]) -> FsResult<Vec<Entry>> {
        let ctx = self.ctx();
        match loc {
            Loc::Root => Ok(ctx
                .shares
                .iter()
                .map(|(name, s)| Entry {
                    name: name.clone(),
                    id: None,
                    meta: Meta::dir(
                        s.created_at.as_ref().map(meta::system_time),
                        s.used_bytes.unwrap_or(0),
                        Some(format!("{}-share", s.id)),
                    ),
                })
                .collect()),
            Loc::Share(_) | Loc::Item { .. } => {
                if self.walk_is_delete(segs) {
                    return Ok(Vec::new());
                }
                let (share, dir): (&ShareInfo, &[String]) = match loc {
                    Loc::Share(s) => (s, &[]),
                    Loc::Item { share, path } => (share, path.segments()),
                    Loc::Root => return Ok(Vec::new()),
                };
                let folder = ctx
                    .store
                    .resolve_folder(&ctx.session, &share.id, dir)
                    .await
                    .map_err(|e| self.err("list", &e))?
                    .ok_or(FsError::NotFound)?;
                let listing = ctx
                    .store
                    .list(&ctx.session, &folder)
                    .await
                    .map_err(|e| self.err("list", &e))?;
                let propfind = ctx.method.as_str() == "PROPFIND";
                // Folders carry dead properties only; look them up when a PROPFIND asks.
                let folder_keys: Vec<FileInfo> = match propfind {
                    true => listing
                        .entries
                        .iter()
                        .filter_map(|e| match e {
                            st::Entry::Folder(f) => Some(folder_attrs_key(f)),
                            st::Entry::File(_) => None,
                        })
                        .collect(),
                    false => Vec::new(),
                };
                let files: Vec<&FileInfo> = listing
                    .entries
                    .iter()
                    .filter_map(|e| match e {
                        st::Entry::File(f) => Some(&**f),
                        st::Entry::Folder(_) => None,
                    })
                    .chain(folder_keys.iter())
                    .collect();
                // One state-DB query for the whole folder, no upstream call per entry.
                let mut attrs = ctx
                    .store
                    .attrs_for(&files)
                    .await
                    .map_err(|e| self.err("attrs", &e))?;
                // What the state DB keeps is served only with READ on the entry; without it
                // the entry shows what ScaiDrive's listing shows (see `store/access.rs`).
                let kept: Vec<&st::Entry> = listing
                    .entries
                    .iter()
                    .filter(|e| attrs.contains_key(e.id()))
                    .collect();
                if !kept.is_empty() {
                    let denied = ctx
                        .store
                        .unreadable(&ctx.session, &listing, &kept, Need::Attributes)
                        .await
                        .map_err(|e| self.err("access", &e))?;
                    attrs.retain(|id, _| !denied.contains(id));
                }
                let mut out: Vec<Entry> = listing
                    .entries
                    .iter()
                    .filter(|e| !is_junk(e.name()))
                    .map(|e| match e {
                        st::Entry::Folder(f) => Entry {
                            name: f.name.clone(),
                            id: Some(f.id.clone()),
                            meta: meta::folder(
                                ctx.store
                                    .known_folder_dates(&ctx.session, &f.id)
                                    .unwrap_or_default(),
                                f.id.clone(),
                            ),
                        },
                        st::Entry::File(f) => Entry {
                            name: f.name.clone(),
                            id: Some(f.id.clone()),
                            meta: Meta::file(f, attrs.get(&f.id)),
                        },
                    })
                    .collect();
                for (name, p) in ctx.pending.in_folder(&share.id, dir) {
                    if listing.get(&name).is_none() {
                        let mtime = p.client_mtime.as_deref().and_then(meta::parse_mtime);
                        out.push(Entry {
                            name,
                            id: None,
                            meta: Meta::pending_empty(p.created, mtime),
                        });
                    }
                }
                if propfind && let Ok(mut listed) = ctx.listed.lock() {
                    *listed = Some(Listed {
                        dir: segs.to_vec(),
                        listing,
                        attrs,
                    });
                }
                Ok(out)
            }
        }
    }
}
