//! `.scaidrive-versions/`: the share's tree with each file as a collection of its versions.

use futures::StreamExt as _;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt as _;

use super::xml::Res;
use super::{Refusal, ViewReq, ViewResult, empty, in_share, index, multistatus, options, rest};
use crate::namespace::{ObjectPath, VERSIONS_DIR};
use crate::scaidrive::Version;
use crate::store::{self as st, FileInfo, FolderRef, ShareInfo, StoreError};
use crate::webdav::fs::ReqCtx;
use crate::webdav::meta::system_time;

/// What a path of the view names.
enum Node {
    /// A folder of the share (its root: `folder_id` is `None`), mirrored.
    Folder(FolderRef),
    /// A file: the collection of its versions.
    File(FileInfo),
    /// One version of a file.
    Version(FolderRef, FileInfo, Version),
}

/// The name a version is shown under: `v3 2026-12-01 10-15-00Z.pdf` (the number, the UTC time
/// it was written with `-` for `:` so Windows takes it, and the file's extension so the right
/// application opens it).
pub(crate) fn version_name(file_name: &str, v: &Version) -> String {
    let ext = match file_name.rfind('.') {
        Some(i) if i > 0 && file_name.len() - i <= 33 => &file_name[i..],
        _ => "",
    };
    match &v.created_at {
        Some(t) => format!(
            "v{} {}{ext}",
            v.version_number,
            t.format("%Y-%m-%d %H-%M-%SZ")
        ),
        None => format!("v{}{ext}", v.version_number),
    }
}

async fn resolve(ctx: &ReqCtx, share: &ShareInfo, rest: &[String]) -> Result<Node, Refusal> {
    if rest.is_empty() {
        return Ok(Node::Folder(FolderRef::root(&share.id)));
    }
    let path = ObjectPath::from_segments(rest.to_vec(), false).map_err(|_| Refusal::not_found())?;
    if let Some(r) = ctx
        .store
        .resolve(&ctx.session, &share.id, &path, true)
        .await?
    {
        return Ok(match r.entry {
            st::Entry::Folder(f) => Node::Folder(FolderRef {
                share_id: share.id.clone(),
                folder_id: Some(f.id.clone()),
            }),
            st::Entry::File(f) => Node::File(FileInfo::clone(&f)),
        });
    }
    // `<file>/<version name>`.
    let (name, file_segs) = rest.split_last().ok_or_else(Refusal::not_found)?;
    if file_segs.is_empty() || !name.starts_with('v') {
        return Err(Refusal::not_found());
    }
    let path =
        ObjectPath::from_segments(file_segs.to_vec(), false).map_err(|_| Refusal::not_found())?;
    let Some(st::Resolved {
        parent,
        entry: st::Entry::File(f),
    }) = ctx
        .store
        .resolve(&ctx.session, &share.id, &path, false)
        .await?
    else {
        return Err(Refusal::not_found());
    };
    let versions = ctx.store.versions(&ctx.session, &f.id).await?;
    let v = versions
        .into_iter()
        .find(|v| version_name(&f.name, v) == *name)
        .ok_or_else(Refusal::not_found)?;
    Ok(Node::Version(parent, FileInfo::clone(&f), v))
}

fn file_res(segs: Vec<String>, f: &FileInfo) -> Res {
    let t = f.modified_at.as_ref().map(system_time);
    Res {
        segs,
        dir: true,
        len: 0,
        modified: t,
        created: None,
        etag: Some(format!("{}-versions-{}", f.id, f.size)),
        content_type: None,
    }
}

fn version_res(segs: Vec<String>, f: &FileInfo, v: &Version) -> Res {
    let t = v.created_at.as_ref().map(system_time);
    Res {
        segs,
        dir: false,
        len: v.size,
        modified: t,
        created: t,
        etag: Some(v.id.clone()),
        content_type: f.mime_type.clone(),
    }
}

/// The resource itself and, for a collection listed with Depth 1 (or an index), its members.
async fn describe(ctx: &ReqCtx, node: &Node, members: bool) -> Result<(Res, Vec<Res>), Refusal> {
    let here = ctx.path.clone();
    let child = |name: &str| {
        let mut s = here.clone();
        s.push(name.to_owned());
        s
    };
    Ok(match node {
        Node::Folder(folder) => {
            let dates = match &folder.folder_id {
                Some(id) if !members => ctx.store.folder_dates(&ctx.session, id).await.ok(),
                Some(id) => ctx.store.known_folder_dates(&ctx.session, id),
                None => None,
            }
            .unwrap_or_default();
            let modified = dates.modified_at.or(dates.created_at);
            let me = Res {
                segs: here.clone(),
                dir: true,
                len: 0,
                modified: modified.as_ref().map(system_time),
                created: dates.created_at.as_ref().map(system_time),
                etag: None,
                content_type: None,
            };
            let mut out = Vec::new();
            if members {
                let listing = ctx.store.list(&ctx.session, folder).await?;
                for e in &listing.entries {
                    out.push(match e {
                        st::Entry::Folder(f) => {
                            let d = ctx
                                .store
                                .known_folder_dates(&ctx.session, &f.id)
                                .unwrap_or_default();
                            Res {
                                segs: child(&f.name),
                                dir: true,
                                len: 0,
                                modified: d.modified_at.or(d.created_at).as_ref().map(system_time),
                                created: d.created_at.as_ref().map(system_time),
                                etag: None,
                                content_type: None,
                            }
                        }
                        st::Entry::File(f) => file_res(child(&f.name), f),
                    });
                }
            }
            (me, out)
        }
        Node::File(f) => {
            let mut out = Vec::new();
            if members {
                for v in ctx.store.versions(&ctx.session, &f.id).await? {
                    out.push(version_res(child(&version_name(&f.name, &v)), f, &v));
                }
            }
            (file_res(here.clone(), f), out)
        }
        Node::Version(_, f, v) => (version_res(here.clone(), f, v), Vec::new()),
    })
}

pub(super) async fn answer(ctx: &ReqCtx, req: &ViewReq, share: &ShareInfo) -> ViewResult {
    if req.method == Method::OPTIONS {
        return Ok(options("OPTIONS, GET, HEAD, PROPFIND, COPY"));
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
            Node::Version(_, f, v) => read(ctx, req, f, v).await,
            _ => {
                let (me, members) = describe(ctx, &node, true).await?;
                Ok(index(req, &me, &members))
            }
        },
        "COPY" => restore(ctx, req, share, node).await,
        _ => Err(Refusal::read_only()),
    }
}

/// GET or HEAD of a version: its bytes (or one range of them), streamed from ScaiDrive.
async fn read(ctx: &ReqCtx, req: &ViewReq, f: &FileInfo, v: &Version) -> ViewResult {
    let mut length = v.size;
    let mut resp = if req.method == Method::HEAD {
        empty(StatusCode::OK)
    } else {
        let range = req.range.filter(|_| v.size > 0);
        let dl = match ctx
            .store
            .read(&ctx.session, &f.id, Some(v.version_number), range)
            .await
        {
            Ok(dl) => dl,
            Err(StoreError::RangeNotSatisfiable { .. }) => {
                let mut resp = empty(StatusCode::RANGE_NOT_SATISFIABLE);
                if let Ok(cr) = HeaderValue::from_str(&format!("bytes */{}", v.size)) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, cr);
                }
                return Ok(resp);
            }
            Err(e) => return Err(e.into()),
        };
        let partial = dl.content_range;
        let stream = dl
            .body
            .map(|r| r.map(http_body::Frame::data).map_err(std::io::Error::other));
        let mut resp = Response::new(http_body_util::StreamBody::new(stream).boxed_unsync());
        if let Some(cr) = partial {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            length = cr.len();
            let value = format!("bytes {}-{}/{}", cr.start, cr.end, v.size);
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::CONTENT_RANGE, value);
            }
        }
        resp
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(ct) = f
        .mime_type
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", v.id)) {
        h.insert(header::ETAG, etag);
    }
    if let Some(t) = &v.created_at
        && let Ok(lm) = HeaderValue::from_str(&super::xml::http_date(system_time(t)))
    {
        h.insert(header::LAST_MODIFIED, lm);
    }
    Ok(resp)
}

/// COPY of a version onto its file's live path: ScaiDrive's restore (a new version).
async fn restore(ctx: &ReqCtx, req: &ViewReq, share: &ShareInfo, node: Node) -> ViewResult {
    let Node::Version(parent, f, v) = node else {
        return Err(Refusal::read_only());
    };
    let file_path = rest(ctx).split_last().map(|(_, p)| p).unwrap_or(&[]);
    let onto_own_file = ctx
        .destination
        .as_deref()
        .and_then(|d| in_share(ctx, d))
        .is_some_and(|(s, segs)| s.id == share.id && segs == file_path);
    if !onto_own_file {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!(
                "a version in '{VERSIONS_DIR}' can be copied only onto its own file, which \
                 restores it; to keep it under another name, GET it and PUT it there"
            ),
        ));
    }
    if !req.overwrite {
        return Err(Refusal::new(
            StatusCode::PRECONDITION_FAILED,
            "restoring a version overwrites the file, and the request says Overwrite: F",
        ));
    }
    if !(share.can_write() || ctx.acl_writable.contains(&share.id)) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this share is read-only for you",
        ));
    }
    ctx.store
        .restore_version(&ctx.session, &parent, &f.id, v.version_number)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
