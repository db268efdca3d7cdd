//! The WebDAV front end (dav-server) over the protocol-neutral store.
//!
//! - [`front_end`] authenticates every request (Basic with an access key and secret, or any user
//!   and a ScaiDrive token; Bearer), then hands it to dav-server with a per-request filesystem
//!   ([`fs::ScaiFs`]) and a lock system in the state database ([`locks::DbLs`]).
//! - `fs.rs` maps paths to shares and folders, `file.rs` streams reads and writes with the
//!   commit-at-flush rules, `meta.rs` builds metadata from listings, `pending.rs` holds empty
//!   new files briefly, `props.rs` rewrites PROPPATCH of modification times, `locks.rs` keeps
//!   locks, `propfind.rs` answers PROPFIND Depth 0 and 1 inside a share without dav-server,
//!   `reqpath.rs` checks the path and `Destination` as sent (dot segments, refused names),
//!   `views/` answers the read-only `.scaidrive-versions` and `.scaidrive-trash` trees,
//!   `browser.rs` serves the page a browser gets for a collection and refuses cross-site writes,
//!   `links.rs` makes ScaiDrive share links for the page, `ncpaths.rs` serves the tree under
//!   Nextcloud's `/remote.php/dav/files/<user>/` too, `chunked/` answers Nextcloud chunked
//!   uploads (`/remote.php/dav/uploads/<user>/`) and `rehash.rs` its checksum recalculation.
//!   Decisions are recorded in `docs/webdav.md`.

mod browser;
mod chunked;
mod ctype;
mod file;
mod fs;
mod links;
mod locks;
mod meta;
mod ncpaths;
mod pending;
mod propfind;
mod props;
mod rehash;
mod reqpath;
mod views;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use dav_server::body::Body;
use dav_server::davpath::DavPath;
use dav_server::{DavConfig, DavHandler};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};

use crate::auth::{AuthError, Authenticator, Session};
use crate::namespace::{ShareRef, assign_collection_names};
use crate::scaidrive::acl::ResourceType;
use crate::server::{FrontEnd, GatewayContext, RequestBody};
use crate::store::{FolderRef, ShareInfo, Store, StoreError};

/// The realm of `WWW-Authenticate`.
const REALM: &str = "ScaiDrive";
/// Largest read dav-server asks a file handle for while sending a GET body.
const READ_BUF_SIZE: usize = 256 << 10;

/// The body of every WebDAV answer.
type DavBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// Largest PROPPATCH body read to rewrite modification times.
const MAX_PROPPATCH: usize = 1 << 20;
/// Largest PROPFIND body read.
const MAX_PROPFIND: usize = 1 << 20;

struct Shared {
    store: Store,
    auth: Authenticator,
    handler: DavHandler,
    pending: pending::Pending,
    staging: PathBuf,
    uploads: chunked::Uploads,
}

/// The WebDAV handler for the WebDAV listener.
pub fn front_end(ctx: &GatewayContext) -> FrontEnd {
    let shared = Arc::new(Shared {
        store: ctx.store.clone(),
        auth: ctx.auth.clone(),
        handler: DavHandler::builder()
            .autoindex(true)
            .hide_symlinks(true)
            // GET hands on the upstream's chunks whole (the reader never copies; dav-server's
            // default of 16 KiB would split each into several sends).
            .read_buf_size(READ_BUF_SIZE)
            .build_handler(),
        pending: pending::Pending::new(ctx.config.state.url.is_some()),
        staging: ctx.config.data_dir.join("staging").join("webdav"),
        uploads: chunked::Uploads::new(
            ctx.store.clone(),
            &ctx.config.data_dir,
            ctx.config.upstream.chunk_size_bytes,
            // Pieces go where S3 multipart parts go: ScaiDrive when several instances may
            // share the deployment (`s3.multipart_staging`, by default with PostgreSQL).
            ctx.config
                .s3
                .multipart_staging
                .unwrap_or(match ctx.config.state.url {
                    Some(_) => crate::config::MultipartStaging::ScaiDrive,
                    None => crate::config::MultipartStaging::Local,
                })
                == crate::config::MultipartStaging::ScaiDrive,
        ),
    });
    FrontEnd::new(
        "webdav",
        hyper::service::service_fn(move |req: Request<RequestBody>| {
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(shared.handle(req).await) }
        }),
    )
}

fn status_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text.to_owned()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn unauthorized() -> Response<Body> {
    unauthorized_because("authentication required\n")
}

/// 401 with the Basic challenge, so clients ask for credentials again.
fn unauthorized_because(text: &str) -> Response<Body> {
    let mut resp = status_response(StatusCode::UNAUTHORIZED, text);
    if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"")) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn header_str<'a>(req: &'a Request<RequestBody>, name: &str) -> Option<&'a str> {
    header_value(req.headers(), name)
}

fn header_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Forgets WebDAV chunked uploads idle for 24 hours (the life of a ScaiDrive upload session)
/// and their spools; returns how many went.
pub async fn sweep_chunked_uploads(
    db: &crate::state::StateDb,
    data_dir: &std::path::Path,
) -> usize {
    chunked::sweep(db, data_dir).await
}

/// The user name of Basic credentials (an access key id, or the user given with a token).
fn basic_login(req: &Request<RequestBody>) -> Option<String> {
    let b64 = header_str(req, "authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(u, _)| u.to_owned())
}

/// The answer when ScaiDrive refuses the token behind the credentials (expired or revoked).
const TOKEN_REFUSED: &str =
    "the ScaiDrive token behind these credentials was refused (expired or revoked)\n";

impl Shared {
    /// Whether ScaiDrive ACL entries let a user whose share role is read-only change something
    /// at `segs` (share name first): its effective permissions on the parent folder, one
    /// `GET /permissions/effective`. ScaiDrive still checks the exact bit of the operation.
    async fn acl_allows_write(
        &self,
        session: &Session,
        share: &ShareInfo,
        segs: &[String],
    ) -> bool {
        let parent = segs.get(1..segs.len().saturating_sub(1)).unwrap_or(&[]);
        let (rt, id) = match self.store.resolve_folder(session, &share.id, parent).await {
            Ok(Some(FolderRef {
                folder_id: Some(id),
                ..
            })) => (ResourceType::Folder, id),
            Ok(Some(_)) => (ResourceType::Share, share.id.clone()),
            _ => return false,
        };
        self.store
            .client()
            .effective(session.token(), rt, &id)
            .await
            .is_ok_and(|e| e.can_write || e.can_create || e.can_delete)
    }

    async fn authenticate(&self, req: &Request<RequestBody>) -> Result<Session, Response<Body>> {
        let Some(value) = header_str(req, "authorization") else {
            return Err(unauthorized());
        };
        let result = if let Some(b64) = value.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(unauthorized());
            };
            let session_token = header_str(req, "x-amz-security-token");
            self.auth
                .basic_with_session_token(user, pass, session_token)
                .await
        } else if let Some(token) = value.strip_prefix("Bearer ") {
            self.auth.by_token(token.trim()).await
        } else {
            return Err(unauthorized());
        };
        result.map_err(|e| match e {
            AuthError::Unavailable(m) => {
                tracing::warn!(error = %m, "authentication backend unavailable");
                status_response(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
            }
            _ => unauthorized(),
        })
    }

    async fn handle(&self, req: Request<RequestBody>) -> Response<DavBody> {
        let mut multistatus = None;
        match self.handle_dav(req, &mut multistatus).await {
            Answer::Own(resp) => resp,
            Answer::Dav(resp) => match multistatus {
                Some(ctx) => resp.map(|body| ctype::rewrite_stream(body, ctx).boxed_unsync()),
                None => resp.map(|body| body.boxed_unsync()),
            },
        }
    }

    /// Answers a request; `multistatus` is set when the answer is dav-server's PROPFIND
    /// multistatus, to be rewritten as it streams (`ctype`).
    async fn handle_dav(
        &self,
        req: Request<RequestBody>,
        multistatus: &mut Option<Arc<fs::ReqCtx>>,
    ) -> Answer {
        let session = match self.authenticate(&req).await {
            Ok(s) => s,
            Err(resp) => return resp.into(),
        };
        if browser::cross_origin_write(req.method(), req.headers()) {
            return status_response(
                StatusCode::FORBIDDEN,
                "a request from another site's page may not change anything here\n",
            )
            .into();
        }
        // Nextcloud's paths: `/remote.php/dav/files/<user>/…` is the tree under another
        // prefix, `/remote.php/dav/uploads/<user>/…` the chunked uploads (`chunked/`).
        let login = basic_login(&req);
        let raw_path = req.uri().path().to_owned();
        let mut href_prefix = None;
        let mut uploads_user = None;
        let mut local_path = raw_path.as_str();
        for base in [ncpaths::FILES, ncpaths::UPLOADS] {
            let Some((user, prefix, rest)) = ncpaths::split(&raw_path, base) else {
                continue;
            };
            if !ncpaths::is_self(&user, &session, login.as_deref()) {
                return status_response(
                    StatusCode::FORBIDDEN,
                    "this path names another user; use your own user name\n",
                )
                .into();
            }
            if base == ncpaths::FILES {
                href_prefix = Some(prefix.to_owned());
            } else {
                uploads_user = Some(prefix[base.len()..].to_owned());
            }
            local_path = rest;
        }
        // The path and Destination as sent, before dav-server resolves dot segments.
        let path = match reqpath::segments(local_path) {
            Ok(p) => p,
            Err(why) => {
                return status_response(StatusCode::BAD_REQUEST, &format!("{why}\n")).into();
            }
        };
        let destination = match header_str(&req, "destination")
            .map(|d| {
                let p = reqpath::destination_path(d);
                let p = match ncpaths::split(p, ncpaths::FILES) {
                    Some((user, _, rest))
                        if ncpaths::is_self(&user, &session, login.as_deref()) =>
                    {
                        rest
                    }
                    _ => p,
                };
                reqpath::segments(p)
            })
            .transpose()
        {
            Ok(d) => d,
            Err(why) => {
                return status_response(StatusCode::BAD_REQUEST, &format!("Destination: {why}\n"))
                    .into();
            }
        };
        let shares = match self.store.shares(&session).await {
            Ok(s) => s,
            Err(e @ StoreError::Unauthorized(_)) => {
                tracing::info!(error = %e, "listing shares refused");
                return unauthorized_because(TOKEN_REFUSED).into();
            }
            Err(e) => {
                tracing::warn!(error = %e, "listing shares failed");
                return status_response(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
                    .into();
            }
        };
        let refs: Vec<ShareRef> = shares
            .iter()
            .map(|s| ShareRef {
                id: s.id.clone(),
                name: s.name.clone(),
                created_at: s.created_at.map(|t| t.to_rfc3339()),
            })
            .collect();
        let names = assign_collection_names(&refs);
        let by_name: BTreeMap<String, ShareInfo> = names
            .iter()
            .filter_map(|(name, id)| {
                shares
                    .iter()
                    .find(|s| &s.id == id)
                    .map(|s| (name.clone(), s.clone()))
            })
            .collect();

        if let Some(user_raw) = &uploads_user {
            let call = chunked::Call {
                session: &session,
                user_raw,
                login: login.as_deref(),
                shares: &by_name,
                segs: path,
            };
            return Answer::Dav(self.uploads.answer(call, req).await);
        }

        let method = req.method().clone();
        if method.as_str() == "PROPFIND"
            && header_str(&req, "depth").is_some_and(|d| d.trim().eq_ignore_ascii_case("infinity"))
        {
            let mut resp = Response::new(Body::from(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n".to_owned(),
            ));
            *resp.status_mut() = StatusCode::FORBIDDEN;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
            return resp.into();
        }

        // A share the user may only read refuses every method that would change it (LOCK and
        // PROPPATCH included: their state lives in the gateway, not upstream), unless ScaiDrive
        // ACL entries let the user write in the folder concerned (then noted in the request's
        // context, so the filesystem lets the operation go on to ScaiDrive, which decides).
        let mut acl_writable = std::collections::BTreeSet::new();
        if matches!(
            method.as_str(),
            "PUT" | "MKCOL" | "DELETE" | "MOVE" | "COPY" | "PROPPATCH" | "LOCK"
        ) {
            let dest_written = matches!(method.as_str(), "MOVE" | "COPY");
            let source_written = method.as_str() != "COPY";
            let written = [
                Some(path.as_slice()).filter(|_| source_written),
                destination.as_deref().filter(|_| dest_written),
            ];
            for segs in written.into_iter().flatten() {
                let Some(share) = segs.first().and_then(|name| by_name.get(name)) else {
                    continue;
                };
                if share.can_write() {
                    continue;
                }
                if !self.acl_allows_write(&session, share, segs).await {
                    return status_response(
                        StatusCode::FORBIDDEN,
                        "this share is read-only for you\n",
                    )
                    .into();
                }
                acl_writable.insert(share.id.clone());
            }
        }
        let oc_mtime = header_str(&req, "x-oc-mtime").and_then(fs::mtime_value);
        let ctx = Arc::new(fs::ReqCtx {
            store: self.store.clone(),
            session: session.clone(),
            shares: by_name,
            acl_writable,
            method: method.clone(),
            destination,
            oc_mtime: oc_mtime.clone(),
            content_type: header_str(&req, "content-type").map(str::to_owned),
            pending: self.pending.clone(),
            staging: self.staging.clone(),
            deferred_delete: Mutex::new(None),
            unavailable: Mutex::new(None),
            token_refused: std::sync::atomic::AtomicBool::new(false),
            content_types: Mutex::new(BTreeMap::new()),
            listed: Mutex::new(None),
            path,
        });
        // Nextcloud's checksum recalculation (`rehash.rs`).
        if method.as_str() == "PATCH"
            && let Some(algo) = header_str(&req, "x-recalculate-hash")
        {
            return Answer::Dav(rehash::answer(&ctx, algo).await);
        }
        // The page's "Share link" (`links.rs`).
        if links::is_links(&ctx.path) {
            let (parts, body) = req.into_parts();
            let Ok(body) = Limited::new(body, links::MAX_BODY).collect().await else {
                return status_response(StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into();
            };
            return Answer::Own(links::answer(&ctx, &parts.method, &body.to_bytes()).await);
        }
        // A browser asking for a collection gets the page (`browser.rs`).
        if browser::wants_page(&method, req.headers()) {
            let is_dir = match views::view_of(&ctx.path) {
                Some(_) => true,
                None => {
                    let fs = fs::ScaiFs(Arc::clone(&ctx));
                    match fs.locate_segments(&ctx.path) {
                        Ok(loc) => fs.meta_of(&loc).await.is_ok_and(|m| m.dir),
                        Err(_) => false,
                    }
                }
            };
            if is_dir {
                let uri = req.uri();
                if !uri.path().ends_with('/') {
                    let pq = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
                    return Answer::Own(browser::to_collection(pq));
                }
                return Answer::Own(browser::page(&method));
            }
        }
        // The versions and trash views never reach dav-server.
        if views::concerns(&ctx) {
            let vreq = views::ViewReq::new(&method, req.headers());
            let prefix = href_prefix.clone().unwrap_or_default();
            return Answer::Own(
                views::HREF_PREFIX
                    .scope(prefix, views::answer(&ctx, &vreq))
                    .await,
            );
        }
        let ls = locks::DbLs {
            db: self.store.db().clone(),
            names: Arc::new(names),
            discovered: (method.as_str() == "PROPFIND").then(Arc::default),
        };
        let mut config = DavConfig::new();
        if let Some(prefix) = &href_prefix {
            config = config.strip_prefix(prefix.clone());
        }
        let config = config
            .filesystem(Box::new(fs::ScaiFs(Arc::clone(&ctx))))
            .locksystem(Box::new(ls.clone()))
            .principal(session.principal());

        let mut rewritten = false;
        let mut resp = if method.as_str() == "PROPFIND" {
            let (parts, body) = req.into_parts();
            let bytes = match Limited::new(body, MAX_PROPFIND).collect().await {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    return status_response(StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into();
                }
            };
            let one = match header_value(&parts.headers, "depth").map(str::trim) {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            };
            let dav_path = DavPath::from_uri(&parts.uri).and_then(|mut p| {
                if let Some(prefix) = &href_prefix {
                    p.set_prefix(prefix)?;
                }
                Ok(p)
            });
            if let (Some(one), Some(wanted), Ok(path)) = (one, propfind::parse(&bytes), dav_path) {
                let ua = header_value(&parts.headers, "user-agent").unwrap_or("");
                if let Some(resp) =
                    propfind::answer(Arc::clone(&ctx), ls, path, one, wanted, ua).await
                {
                    return Answer::Own(resp);
                }
            }
            self.handler
                .handle_with(config, Request::from_parts(parts, Full::new(bytes)))
                .await
        } else if method.as_str() == "PROPPATCH" {
            let (parts, body) = req.into_parts();
            let bytes = match Limited::new(body, MAX_PROPPATCH).collect().await {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    return status_response(StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into();
                }
            };
            let bytes = match props::rewrite_proppatch(&bytes) {
                Some(b) => {
                    rewritten = true;
                    Bytes::from(b)
                }
                None => bytes,
            };
            self.handler
                .handle_with(config, Request::from_parts(parts, Full::new(bytes)))
                .await
        } else if method == Method::PUT
            && req.headers().get(header::CONTENT_LENGTH).is_none()
            && let Some(limit) = header_str(&req, "x-expected-entity-length")
                .and_then(|v| v.trim().parse::<usize>().ok())
        {
            // A chunked body longer than announced fails instead of being cut and committed.
            let (parts, body) = req.into_parts();
            self.handler
                .handle_with(
                    config,
                    Request::from_parts(
                        parts,
                        Limited::new(body, limit).map_err(std::io::Error::other),
                    ),
                )
                .await
        } else {
            self.handler.handle_with(config, req).await
        };

        if rewritten {
            let (parts, body) = resp.into_parts();
            let text = match body.collect().await {
                Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
                Err(_) => String::new(),
            };
            resp = Response::from_parts(parts, Body::from(props::restore_answer(&text)));
            resp.headers_mut().remove(header::CONTENT_LENGTH);
        }
        if method.as_str() == "PROPFIND" && resp.status() == StatusCode::MULTI_STATUS {
            // dav-server lists while it streams the body: each entry's type is known by the
            // time its response comes by.
            *multistatus = Some(Arc::clone(&ctx));
            resp.headers_mut().remove(header::CONTENT_LENGTH);
        }
        if (method == Method::GET || method == Method::HEAD)
            && resp.status().is_success()
            && !resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("multipart/"))
            && let Some(ct) = ctx
                .content_type_of(&ctx.path)
                .and_then(|ct| HeaderValue::from_str(&ct).ok())
        {
            resp.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        if ctx.token_refused.load(std::sync::atomic::Ordering::Relaxed)
            && (resp.status().is_client_error() || resp.status().is_server_error())
        {
            return unauthorized_because(TOKEN_REFUSED).into();
        }
        let unavailable = ctx.unavailable.lock().ok().and_then(|u| *u);
        if resp.status() == StatusCode::INTERNAL_SERVER_ERROR
            && let Some(retry) = unavailable
        {
            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            let secs = retry.map(|d| d.as_secs().max(1)).unwrap_or(5);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if method == Method::PUT && oc_mtime.is_some() && resp.status().is_success() {
            resp.headers_mut()
                .insert("x-oc-mtime", HeaderValue::from_static("accepted"));
        }
        if method == Method::OPTIONS {
            resp.headers_mut()
                .insert("ms-author-via", HeaderValue::from_static("DAV"));
        }
        resp.into()
    }
}

/// An answer from dav-server, or one the gateway wrote itself (`propfind`).
enum Answer {
    Dav(Response<Body>),
    Own(Response<DavBody>),
}

impl From<Response<Body>> for Answer {
    fn from(resp: Response<Body>) -> Self {
        Self::Dav(resp)
    }
}
