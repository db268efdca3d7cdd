//! Read-only views at the top of every share, answered by the gateway itself (dav-server never
//! sees these paths):
//!
//! - `.scaidrive-versions/` mirrors the share's tree; each file is a collection of its versions
//!   (`report.pdf/v3 2026-12-01 10-15-00Z.pdf`). GET reads a version; COPY of a version onto
//!   the file's live path restores it (ScaiDrive's restore: a new version). Listing a file's
//!   versions is one upstream call; a folder of the mirror is the folder's cached listing.
//! - `.scaidrive-trash/` mirrors the share's folders with what ScaiDrive's trash holds in each
//!   (a listing with `include_deleted`); MOVE out of it restores, DELETE purges.
//!
//! Neither name is ever listed (not in S3, not in a PROPFIND of the share, so no sync tool
//! copies them) and both are refused as real names at the top of a share (`namespace`).
//! Decisions are in `docs/webdav.md` § Versions and trash.

mod trash;
mod versions;
mod xml;

use bytes::Bytes;

tokio::task_local! {
    /// The prefix of every href of this answer (`/remote.php/dav/files/<user>`, or empty).
    pub(crate) static HREF_PREFIX: String;
}
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt as _;

use super::DavBody;
use super::fs::ReqCtx;
use crate::namespace::{TRASH_DIR, VERSIONS_DIR};
use crate::scaidrive::ByteRange;
use crate::store::{ShareInfo, StoreError};

/// Which view a path is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Versions,
    Trash,
}

/// The view `segs` (share collection name first) lies in, if any.
pub(crate) fn view_of(segs: &[String]) -> Option<View> {
    match segs.get(1).map(String::as_str) {
        Some(VERSIONS_DIR) => Some(View::Versions),
        Some(TRASH_DIR) => Some(View::Trash),
        _ => None,
    }
}

/// Whether the request touches a view (its path, or the Destination of a COPY or MOVE).
pub(crate) fn concerns(ctx: &ReqCtx) -> bool {
    view_of(&ctx.path).is_some()
        || ctx
            .destination
            .as_deref()
            .is_some_and(|d| view_of(d).is_some())
}

/// What one view request needs from its headers.
pub(crate) struct ViewReq {
    pub method: Method,
    pub depth_one: bool,
    pub overwrite: bool,
    /// A single byte range asked for (several ranges, or none: the whole body).
    pub range: Option<ByteRange>,
}

impl ViewReq {
    pub(crate) fn new(method: &Method, headers: &HeaderMap) -> Self {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
        Self {
            method: method.clone(),
            // A missing Depth means infinity, which a view answers as 1.
            depth_one: h("depth") != Some("0"),
            overwrite: !h("overwrite").is_some_and(|v| v.eq_ignore_ascii_case("F")),
            range: h("range").and_then(ByteRange::parse),
        }
    }
}

/// Answers a request that touches a view.
pub(crate) async fn answer(ctx: &ReqCtx, req: &ViewReq) -> Response<DavBody> {
    let result = match (view_of(&ctx.path), &ctx.destination) {
        (_, Some(dest)) if view_of(dest).is_some() => Err(Refusal::read_only()),
        (None, _) => Err(Refusal::read_only()),
        (Some(view), _) if !allowed(view, &req.method) => Err(Refusal::read_only()),
        (Some(view), _) => {
            let share = ctx.path.first().and_then(|n| ctx.shares.get(n));
            match share {
                None => Err(Refusal::new(StatusCode::NOT_FOUND, "no such share")),
                Some(share) => match view {
                    View::Versions => versions::answer(ctx, req, share).await,
                    View::Trash => trash::answer(ctx, req, share).await,
                },
            }
        }
    };
    result.unwrap_or_else(|r| text(r.status, &r.message))
}

/// The methods a view answers (every other one changes something: 403).
fn allowed(view: View, method: &Method) -> bool {
    match method.as_str() {
        "OPTIONS" | "GET" | "HEAD" | "PROPFIND" => true,
        "COPY" => view == View::Versions,
        "MOVE" | "DELETE" => view == View::Trash,
        _ => false,
    }
}

/// A refusal with a message that says what is wrong.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn read_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!(
                "'{VERSIONS_DIR}' and '{TRASH_DIR}' are read-only views: read a version, COPY it \
                 onto its file to restore it; MOVE an item out of the trash to restore it, \
                 DELETE it there to purge it"
            ),
        )
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound | StoreError::NoSuchShare | StoreError::Gone => {
                StatusCode::NOT_FOUND
            }
            StoreError::AccessDenied(_) | StoreError::InvalidName(_) | StoreError::Invalid(_) => {
                StatusCode::FORBIDDEN
            }
            StoreError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            StoreError::Conflict(_) | StoreError::NotEmpty => StatusCode::CONFLICT,
            StoreError::QuotaExceeded(_) => StatusCode::INSUFFICIENT_STORAGE,
            StoreError::SlowDown { .. } | StoreError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => {
                tracing::warn!(error = %e, "view request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

type ViewResult = Result<Response<DavBody>, Refusal>;

fn body(b: impl Into<Bytes>) -> DavBody {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn text(status: StatusCode, message: &str) -> Response<DavBody> {
    let mut resp = Response::new(body(format!("{message}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn empty(status: StatusCode) -> Response<DavBody> {
    let mut resp = Response::new(body(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// OPTIONS of a view: what may be done there.
fn options(allow: &'static str) -> Response<DavBody> {
    let mut resp = empty(StatusCode::OK);
    let h = resp.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allow));
    h.insert("dav", HeaderValue::from_static("1"));
    h.insert("ms-author-via", HeaderValue::from_static("DAV"));
    resp
}

fn multistatus(items: &[xml::Res]) -> Response<DavBody> {
    let mut resp = Response::new(body(xml::multistatus(items)));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

/// A collection's answer to GET or HEAD: a small HTML index to browse and download from.
fn index(req: &ViewReq, dir: &xml::Res, items: &[xml::Res]) -> Response<DavBody> {
    let mut html = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>");
    let here = xml::href(&dir.segs, true);
    let title = percent_encoding::percent_decode_str(&here)
        .decode_utf8_lossy()
        .into_owned();
    html.push_str(&xml::escape(&title));
    html.push_str("</title></head><body><h1>");
    html.push_str(&xml::escape(&title));
    html.push_str("</h1><table><tr><th>Name</th><th>Size</th><th>Modified</th></tr>");
    for r in items {
        let name = r.segs.last().map(String::as_str).unwrap_or("");
        let size = if r.dir {
            String::new()
        } else {
            r.len.to_string()
        };
        let date = r.modified.map(xml::http_date).unwrap_or_default();
        html.push_str(&format!(
            "<tr><td><a href=\"{}\">{}{}</a></td><td>{size}</td><td>{date}</td></tr>",
            xml::escape(&xml::href(&r.segs, r.dir)),
            xml::escape(name),
            if r.dir { "/" } else { "" },
        ));
    }
    html.push_str("</table></body></html>\n");
    let len = html.len();
    let mut resp = Response::new(body(if req.method == Method::HEAD {
        String::new()
    } else {
        html
    }));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// The share-relative segments below the view's name.
fn rest(ctx: &ReqCtx) -> &[String] {
    ctx.path.get(2..).unwrap_or(&[])
}

/// The share an item of `segs` (a Destination) lies in, and its share-relative segments.
fn in_share<'a>(ctx: &'a ReqCtx, segs: &'a [String]) -> Option<(&'a ShareInfo, &'a [String])> {
    let (first, rest) = segs.split_first()?;
    Some((ctx.shares.get(first)?, rest))
}
