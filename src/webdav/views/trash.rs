//! `.scaidrive-trash/`: each folder of the share with the items ScaiDrive's trash holds there.
//! Live folders are shown too (to reach deeper deleted items); live files are not.

use http::{Method, StatusCode};

use super::xml::Res;
use super::{Refusal, ViewReq, ViewResult, empty, in_share, index, multistatus, options, rest};
use crate::namespace::{ObjectPath, TRASH_DIR};
use crate::scaidrive::Item;
use crate::store::{FileInfo, FolderRef, ShareInfo, is_deleted};
use crate::webdav::fs::ReqCtx;
use crate::webdav::meta::system_time;

/// What a path of the view names.
enum Node {
    /// A folder (the share root has no item), live or in the trash.
    Folder {
        folder: FolderRef,
        parent: Option<FolderRef>,
        item: Option<Item>,
    },
    /// A file in the trash.
    File { parent: FolderRef, item: Item },
}

async fn resolve(ctx: &ReqCtx, share: &ShareInfo, rest: &[String]) -> Result<Node, Refusal> {
    let Some((last, dirs)) = rest.split_last() else {
        return Ok(Node::Folder {
            folder: FolderRef::root(&share.id),
            parent: None,
            item: None,
        });
    };
    let parent = ctx
        .store
        .resolve_with_trash(&ctx.session, &share.id, dirs)
        .await?
        .ok_or_else(Refusal::not_found)?;
    let listing = ctx.store.list_with_trash(&ctx.session, &parent).await?;
    match listing.get(last) {
        Some(item @ Item::Folder(f)) => Ok(Node::Folder {
            folder: FolderRef {
                share_id: share.id.clone(),
                folder_id: Some(f.id.clone()),
            },
            parent: Some(parent),
            item: Some(item.clone()),
        }),
        Some(item @ Item::File(_)) if is_deleted(item) => Ok(Node::File {
            parent,
            item: item.clone(),
        }),
        _ => Err(Refusal::not_found()),
    }
}

fn res(ctx: &ReqCtx, segs: Vec<String>, item: &Item) -> Res {
    match item {
        Item::File(f) => {
            let t = f.modified_at.as_ref().map(system_time);
            Res {
                segs,
                dir: false,
                len: f.size,
                modified: t,
                created: None,
                etag: Some(format!("{}-trash-{}", f.id, f.size)),
                content_type: f.mime_type.clone(),
            }
        }
        Item::Folder(f) => folder_res(ctx, segs, Some(&f.id)),
    }
}

fn folder_res(ctx: &ReqCtx, segs: Vec<String>, id: Option<&String>) -> Res {
    let d = id
        .and_then(|id| ctx.store.known_folder_dates(&ctx.session, id))
        .unwrap_or_default();
    Res {
        segs,
        dir: true,
        len: 0,
        modified: d.modified_at.or(d.created_at).as_ref().map(system_time),
        created: d.created_at.as_ref().map(system_time),
        etag: None,
        content_type: None,
    }
}

async fn describe(ctx: &ReqCtx, node: &Node, members: bool) -> Result<(Res, Vec<Res>), Refusal> {
    let here = ctx.path.clone();
    match node {
        Node::File { item, .. } => Ok((res(ctx, here, item), Vec::new())),
        Node::Folder { folder, item, .. } => {
            let me = folder_res(ctx, here.clone(), folder.folder_id.as_ref());
            let mut out = Vec::new();
            if members {
                let in_trash = item.as_ref().is_some_and(is_deleted);
                let listing = ctx.store.list_with_trash(&ctx.session, folder).await?;
                for i in &listing.items {
                    // In a deleted folder everything is in the trash with it.
                    if in_trash || is_deleted(i) || matches!(i, Item::Folder(_)) {
                        let mut segs = here.clone();
                        segs.push(i.name().to_owned());
                        out.push(res(ctx, segs, i));
                    }
                }
            }
            Ok((me, out))
        }
    }
}

pub(super) async fn answer(ctx: &ReqCtx, req: &ViewReq, share: &ShareInfo) -> ViewResult {
    if req.method == Method::OPTIONS {
        return Ok(options("OPTIONS, GET, HEAD, PROPFIND, MOVE, DELETE"));
    }
    let node = resolve(ctx, share, rest(ctx)).await?;
    match req.method.as_str() {
        "PROPFIND" => {
            let (me, members) = describe(ctx, &node, req.depth_one).await?;
            let mut all = vec![me];
            all.extend(members);
            Ok(multistatus(&all))
        }
        "GET" | "HEAD" => match &node {
            Node::Folder { .. } => {
                let (me, members) = describe(ctx, &node, true).await?;
                Ok(index(req, &me, &members))
            }
            Node::File { .. } => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!("a file in '{TRASH_DIR}' cannot be read; MOVE it out to restore it"),
            )),
        },
        "MOVE" => {
            writable(ctx, share)?;
            restore(ctx, req, share, node).await
        }
        "DELETE" => {
            writable(ctx, share)?;
            let item = match &node {
                Node::File { item, .. } => item,
                Node::Folder {
                    item: Some(item), ..
                } if is_deleted(item) => item,
                Node::Folder { .. } => {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "this folder is not in the trash; only what is can be purged",
                    ));
                }
            };
            ctx.store.purge_trashed(&ctx.session, item).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(Refusal::read_only()),
    }
}

fn writable(ctx: &ReqCtx, share: &ShareInfo) -> Result<(), Refusal> {
    if share.can_write() || ctx.acl_writable.contains(&share.id) {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this share is read-only for you",
        ))
    }
}

/// MOVE out of the trash: ScaiDrive's restore, then a move or rename if the Destination is not
/// where (and what) the item was.
async fn restore(ctx: &ReqCtx, req: &ViewReq, share: &ShareInfo, node: Node) -> ViewResult {
    let (parent, item) = match node {
        Node::File { parent, item } => (parent, item),
        Node::Folder {
            parent: Some(parent),
            item: Some(item),
            ..
        } if is_deleted(&item) => (parent, item),
        Node::Folder { .. } => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "this folder is not in the trash; only what is can be restored",
            ));
        }
    };
    let Some((dest_share, dest)) = ctx.destination.as_deref().and_then(|d| in_share(ctx, d)) else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "MOVE out of the trash needs a Destination in the same share",
        ));
    };
    if dest_share.id != share.id {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "an item is restored into its own share; move it elsewhere afterwards",
        ));
    }
    let Some((name, dest_dirs)) = dest.split_last() else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "the share itself cannot be replaced",
        ));
    };
    let path = ObjectPath::from_segments(dest.to_vec(), false)
        .map_err(|e| Refusal::new(StatusCode::FORBIDDEN, e.to_string()))?;
    let store = &ctx.store;
    let s = &ctx.session;
    let dest_parent = store
        .resolve_folder(s, &share.id, dest_dirs)
        .await
        .map_err(Refusal::from)?
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::CONFLICT,
                "the destination folder does not exist",
            )
        })?;
    if store.resolve(s, &share.id, &path, true).await?.is_some() {
        let why = if req.overwrite {
            "something exists at the destination: move or delete it first (a restore never \
             replaces a live item)"
        } else {
            "something exists at the destination and the request says Overwrite: F"
        };
        return Err(Refusal::new(StatusCode::PRECONDITION_FAILED, why));
    }
    store.restore_trashed(s, &parent, &item).await?;
    if dest_parent != parent || name != item.name() {
        match &item {
            Item::File(f) => {
                let info = FileInfo {
                    id: f.id.clone(),
                    name: f.name.clone(),
                    size: f.size,
                    mime_type: f.mime_type.clone(),
                    modified_at: f.modified_at,
                };
                store
                    .move_file(s, &info, &parent, &dest_parent, name)
                    .await?;
            }
            Item::Folder(f) => {
                store
                    .move_folder(s, &f.id, &parent, &dest_parent, name, &f.name)
                    .await?;
            }
        }
    }
    Ok(empty(StatusCode::CREATED))
}
