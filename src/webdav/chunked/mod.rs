//! Nextcloud chunked upload v2 (`/remote.php/dav/uploads/<user>/<upload>/…`), mapped onto one
//! ScaiDrive upload session per upload collection (see `docs/webdav.md` § Big uploads):
//!
//! - `MKCOL <upload>` (optional `Destination`, `OC-Total-Length`) records the upload; with both,
//!   the session is opened at once, otherwise by the first chunk that brings them, or by `MOVE`;
//! - `PUT <upload>/<n>` (n = 1…10000, or rclone's `<start>-<end>` byte ranges): every upstream
//!   chunk the client chunk covers in full goes up as it streams in (one upstream chunk in
//!   memory); the head and tail that only partly cover one, and everything while the session
//!   cannot be opened yet, wait on disk (`spool.rs`) or, with several instances, in ScaiDrive
//!   (`staged.rs`) until their upstream chunk is whole;
//! - `PROPFIND <upload>` lists the chunks received (how a client resumes), from the state DB;
//! - `MOVE <upload>/.file` checks the chunks and the total, sends what waits, completes the
//!   session and answers like Nextcloud (`OC-ETag`, `ETag`, `OC-FileId`); `DELETE` aborts.

mod cleanup;
mod finish;
mod listing;
mod names;
mod spool;
mod staged;

pub(crate) use self::cleanup::sweep;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use dav_server::body::Body;
use futures::StreamExt as _;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;

use self::names::{ChunkName, MAX_CHUNK_NUMBER, parse_chunk_name, placeable};
use self::spool::{PieceWriter, Spool};
use self::staged::{RemoteWriter, Staged};
use super::{fs, ncpaths, reqpath};
use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::server::RequestBody;
use crate::state::{ChunkedUpload, UploadChunk};
use crate::store::{ShareInfo, Store, StoreError};

/// Upstream chunks sent at once when held pieces are drained (at MOVE, everything rclone sent).
const PARALLEL_SENDS: usize = 4;

/// The chunked uploads of the WebDAV listener.
pub(crate) struct Uploads {
    store: Store,
    /// `<data_dir>/staging/webdav-chunks`.
    root: PathBuf,
    /// Upstream chunk size asked for (the store's `upstream.chunk_size_bytes`).
    grid: u64,
    /// Pieces are kept in ScaiDrive (`staged.rs`), not on the local disk.
    remote: bool,
    /// One lock per upload for the steps that read and delete held pieces.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A request for the uploads tree, after authentication.
pub(crate) struct Call<'a> {
    pub session: &'a Session,
    /// The user name as in the URL (`<user>`), for the hrefs.
    pub user_raw: &'a str,
    /// The login the client authenticated with (to match `Destination`'s user).
    pub login: Option<&'a str>,
    /// The collections (shares) by name.
    pub shares: &'a BTreeMap<String, ShareInfo>,
    /// Decoded segments below `/remote.php/dav/uploads/<user>/`.
    pub segs: Vec<String>,
}

/// A refusal: status and a message that says what is wrong.
pub(super) type Refusal = (StatusCode, String);

pub(super) fn refuse(status: StatusCode, msg: impl Into<String>) -> Refusal {
    (status, msg.into())
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("{msg}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn total_length(h: &HeaderMap) -> Result<Option<u64>, Refusal> {
    header(h, "oc-total-length")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "OC-Total-Length is not a byte count",
                )
            })
        })
        .transpose()
}

/// The ETag of a file made by a chunked upload: not an MD5 of the body (the gateway never sees
/// the body in order), so it has the multipart form (`<hex>-<chunks>`) that tells S3 clients not
/// to compare it with an MD5.
fn etag_of(sha256: Option<&str>, session_id: &str, chunks: u64) -> String {
    let basis = match sha256 {
        Some(s) if s.len() >= 32 => s[..32].to_owned(),
        _ => {
            use md5::Digest as _;
            hex::encode(md5::Md5::digest(session_id.as_bytes()))
        }
    };
    format!("{basis}-{chunks}")
}

/// The upstream chunk size for client chunks of `size` bytes: the largest power of two that
/// divides it (at least 64 KiB, at most `max`), so that chunks of one size in order never leave
/// a partial upstream chunk behind; `max` when `size` is not a multiple of 64 KiB.
fn grid_for(size: u64, max: u64) -> u64 {
    const MIN: u64 = 64 << 10;
    if size == 0 || !size.is_multiple_of(MIN) {
        return max;
    }
    (1u64 << size.trailing_zeros()).clamp(MIN, max)
}

/// Upload names: one path segment, not `.file`.
fn valid_upload_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name != ".file" && !name.starts_with('.')
}

impl Uploads {
    /// `remote`: keep pieces in ScaiDrive (several instances), not under `data_dir`.
    pub fn new(store: Store, data_dir: &std::path::Path, grid: u64, remote: bool) -> Self {
        Self {
            store,
            remote,
            root: data_dir.join("staging").join("webdav-chunks"),
            grid: grid.clamp(64 << 10, 4 << 20).next_power_of_two(),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn spool(&self, principal: &str, upload: &str) -> Spool {
        Spool::new(&self.root, principal, upload)
    }

    fn lock_of(&self, principal: &str, upload: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key = format!("{principal}\0{upload}");
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 4096 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Arc::clone(map.entry(key).or_default())
    }

    /// Answers a request below `/remote.php/dav/uploads/<user>/`.
    pub async fn answer(&self, call: Call<'_>, req: Request<RequestBody>) -> Response<Body> {
        let method = req.method().clone();
        let result = match (method.as_str(), call.segs.as_slice()) {
            ("OPTIONS", _) => {
                let mut resp = text(StatusCode::OK, "");
                resp.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("OPTIONS, PROPFIND, MKCOL, PUT, MOVE, DELETE"),
                );
                resp.headers_mut()
                    .insert("dav", HeaderValue::from_static("1, 2"));
                return resp;
            }
            ("PROPFIND", _) => self.propfind(&call, req.headers()).await,
            ("MKCOL", [upload]) => self.mkcol(&call, upload, req.headers()).await,
            ("DELETE", [upload]) => self.delete(&call, upload).await,
            ("PUT", [upload, chunk]) if chunk.as_str() != ".file" => {
                let (upload, chunk) = (upload.clone(), chunk.clone());
                self.put(&call, &upload, &chunk, req).await
            }
            ("MOVE", [upload, file]) if file.as_str() == ".file" => {
                self.finish(&call, upload, req.headers()).await
            }
            ("MKCOL" | "DELETE", []) => Err(refuse(
                StatusCode::FORBIDDEN,
                "the uploads home exists and cannot be changed",
            )),
            ("DELETE", [_, _]) => Err(refuse(
                StatusCode::FORBIDDEN,
                "chunks cannot be deleted one by one; DELETE the upload collection to abort",
            )),
            (_, [_, _]) if method == Method::GET || method == Method::HEAD => Err(refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "chunks cannot be read back",
            )),
            _ => Err(refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not part of the chunked upload protocol here"),
            )),
        };
        result.unwrap_or_else(|(status, msg)| text(status, &msg))
    }

    async fn load(&self, call: &Call<'_>, upload: &str) -> Result<ChunkedUpload, Refusal> {
        self.store
            .db()
            .get_chunked_upload(call.session.principal(), upload)
            .await
            .map_err(state_error)?
            .ok_or_else(|| {
                refuse(
                    StatusCode::NOT_FOUND,
                    format!("no upload named '{upload}'; create it with MKCOL first"),
                )
            })
    }

    /// The target of a `Destination` header: share, path in it, and the `/`-joined form kept.
    fn destination(
        &self,
        call: &Call<'_>,
        value: &str,
    ) -> Result<(ShareInfo, ObjectPath, String), Refusal> {
        let raw = reqpath::destination_path(value);
        let raw = match ncpaths::split(raw, ncpaths::FILES) {
            Some((user, _, rest)) => {
                if !ncpaths::is_self(&user, call.session, call.login) {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        "Destination names another user's files",
                    ));
                }
                rest
            }
            None => raw,
        };
        let segs = reqpath::segments(raw)
            .map_err(|why| refuse(StatusCode::BAD_REQUEST, format!("Destination: {why}")))?;
        self.target(call, segs)
    }

    /// The share and path of a target given as decoded segments (share name first).
    fn target(
        &self,
        call: &Call<'_>,
        segs: Vec<String>,
    ) -> Result<(ShareInfo, ObjectPath, String), Refusal> {
        let Some((share_name, rest)) = segs.split_first() else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "Destination must name a file inside a share",
            ));
        };
        let share = call.shares.get(share_name).cloned().ok_or_else(|| {
            refuse(
                StatusCode::CONFLICT,
                format!("Destination: no share named '{share_name}'"),
            )
        })?;
        if rest.is_empty() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "Destination must name a file inside a share",
            ));
        }
        if !share.can_write() {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "this share is read-only for you",
            ));
        }
        let path = ObjectPath::from_segments(rest.to_vec(), false)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("Destination: {e}")))?;
        Ok((share, path, segs.join("/")))
    }

    async fn mkcol(
        &self,
        call: &Call<'_>,
        upload: &str,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, Refusal> {
        if !valid_upload_name(upload) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "an upload name is one path segment, not starting with '.'",
            ));
        }
        let principal = call.session.principal();
        self.sweep_own(call.session).await;
        if self
            .store
            .db()
            .get_chunked_upload(principal, upload)
            .await
            .map_err(state_error)?
            .is_some()
        {
            return Err(refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("the upload '{upload}' exists already"),
            ));
        }
        let total = total_length(headers)?;
        let dest = header(headers, "destination")
            .map(|d| self.destination(call, d))
            .transpose()?;
        let at = now();
        let up = ChunkedUpload {
            principal: principal.to_owned(),
            upload: upload.to_owned(),
            destination: dest.as_ref().map(|d| d.2.clone()),
            total_length: total,
            session_id: None,
            chunk_size: self.grid,
            replace_file_id: None,
            created_at: at.clone(),
            updated_at: at,
        };
        // The session opens with the first chunk, whose size chooses the upstream chunk size.
        self.store
            .db()
            .put_chunked_upload(&up)
            .await
            .map_err(state_error)?;
        Ok(text(StatusCode::CREATED, "upload created"))
    }

    /// Opens the upload session of `up` (a file of `total` bytes at `path`).
    async fn open(
        &self,
        call: &Call<'_>,
        up: &mut ChunkedUpload,
        share: &ShareInfo,
        path: &ObjectPath,
        total: u64,
    ) -> Result<(), Refusal> {
        if total == 0 {
            return Ok(());
        }
        let opened = self
            .store
            .open_session(call.session, &share.id, path, total, up.chunk_size, None)
            .await
            .map_err(|e| store_refusal(&e))?;
        tracing::info!(upload = %up.upload, session = %opened.session_id, total, "chunked upload: session opened");
        up.session_id = Some(opened.session_id);
        up.chunk_size = opened.chunk_size;
        up.replace_file_id = opened.replace_file_id;
        up.total_length = Some(total);
        Ok(())
    }

    async fn delete(&self, call: &Call<'_>, upload: &str) -> Result<Response<Body>, Refusal> {
        let principal = call.session.principal();
        let lock = self.lock_of(principal, upload);
        let _held = lock.lock().await;
        let chunks = self
            .store
            .db()
            .upload_chunks(principal, upload)
            .await
            .map_err(state_error)?;
        let existed = self
            .store
            .db()
            .delete_chunked_upload(principal, upload)
            .await
            .map_err(state_error)?;
        self.spool(principal, upload).remove().await;
        self.discard_staged(call.session, &chunks).await;
        if !existed {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                format!("no upload named '{upload}'"),
            ));
        }
        // The ScaiDrive session is never completed; it expires upstream.
        Ok(text(StatusCode::NO_CONTENT, ""))
    }

    async fn put(
        &self,
        call: &Call<'_>,
        upload: &str,
        chunk: &str,
        req: Request<RequestBody>,
    ) -> Result<Response<Body>, Refusal> {
        let principal = call.session.principal().to_owned();
        let Some(name) = parse_chunk_name(chunk) else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "chunk names are numbers from 1 to {MAX_CHUNK_NUMBER}, or byte ranges <start>-<end>"
                ),
            ));
        };
        let size = header(req.headers(), "content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                refuse(
                    StatusCode::LENGTH_REQUIRED,
                    "a chunk needs a Content-Length",
                )
            })?;
        if let ChunkName::Range(a, b) = name
            && b - a + 1 != size
        {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "the chunk {chunk} names {} bytes but {size} were sent",
                    b - a + 1
                ),
            ));
        }
        let mut up = self.load(call, upload).await?;
        // A chunk may bring the target and the length (Nextcloud's desktop client sends them
        // with every chunk).
        let total = total_length(req.headers())?;
        let dest = header(req.headers(), "destination")
            .map(|d| self.destination(call, d))
            .transpose()?;
        let mut changed = false;
        if let Some(t) = total {
            match up.total_length {
                Some(known) if known != t => {
                    return Err(refuse(
                        StatusCode::BAD_REQUEST,
                        format!("OC-Total-Length {t} differs from the upload's {known}"),
                    ));
                }
                Some(_) => {}
                None => {
                    up.total_length = Some(t);
                    changed = true;
                }
            }
        }
        if let Some((_, _, joined)) = &dest {
            match &up.destination {
                Some(known) if known != joined => {
                    return Err(refuse(
                        StatusCode::BAD_REQUEST,
                        "Destination differs from the upload's",
                    ));
                }
                Some(_) => {}
                None => {
                    up.destination = Some(joined.clone());
                    changed = true;
                }
            }
        }
        if let Some(t) = up.total_length {
            let end = match name {
                ChunkName::Range(_, b) => b + 1,
                ChunkName::Number(_) => size,
            };
            if end > t {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!("the chunk ends past OC-Total-Length ({t} bytes)"),
                ));
            }
        }
        let spool = self.spool(&principal, upload);
        let target = match dest {
            Some(d) => Some(d),
            None => up
                .destination
                .as_deref()
                .map(|j| self.target(call, j.split('/').map(str::to_owned).collect()))
                .transpose()?,
        };
        let known = self
            .store
            .db()
            .upload_chunks(&principal, upload)
            .await
            .map_err(state_error)?;
        if up.session_id.is_none()
            && let (Some((share, path, _)), Some(t)) = (&target, up.total_length)
        {
            // Chunks of one size that the upstream chunk size divides never leave pieces.
            let held = spool
                .pieces()
                .await
                .map_err(|e| io_refusal("reading the chunk spool", &e))?;
            if held.is_empty() && known.iter().all(|c| c.staged.is_none()) {
                up.chunk_size = grid_for(size, self.grid);
            }
            self.open(call, &mut up, share, path, t).await?;
            changed = true;
        }
        if changed {
            up.updated_at = now();
            self.store
                .db()
                .put_chunked_upload(&up)
                .await
                .map_err(state_error)?;
        }

        // Where the chunk starts, when that can be told now.
        let offset = match name {
            ChunkName::Range(a, _) => Some(a),
            ChunkName::Number(1) => Some(0),
            ChunkName::Number(n) => known
                .iter()
                .find(|c| parse_chunk_name(&c.name) == Some(ChunkName::Number(n - 1)))
                .and_then(|c| c.offset.map(|o| o + c.size)),
        };
        if let (Some(o), Some(t)) = (offset, up.total_length)
            && o + size > t
        {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("the chunk ends past OC-Total-Length ({t} bytes)"),
            ));
        }
        spool
            .ensure()
            .await
            .map_err(|e| io_refusal("preparing the chunk spool", &e))?;
        // Where pieces go in ScaiDrive: the upload's staging folder once a chunk made it, else
        // one in the target's share (or, while the target is not known, the first share the
        // user may write to).
        let remote = if self.remote {
            let at = match known.iter().find_map(Staged::of) {
                Some(st) => (st.share, Some(st.folder)),
                None => {
                    let share = target
                        .as_ref()
                        .map(|t| t.0.id.clone())
                        .or_else(|| {
                            call.shares
                                .values()
                                .find(|s| s.can_write())
                                .map(|s| s.id.clone())
                        })
                        .ok_or_else(|| {
                            refuse(
                                StatusCode::FORBIDDEN,
                                "no share you may write to can hold the upload's chunks",
                            )
                        })?;
                    (share, None)
                }
            };
            let grid = up.chunk_size.max(1);
            let name = staged::folder_name(&principal, upload);
            Some(RemoteWriter::new(
                &self.store,
                call.session,
                (at.0, at.1, name),
                grid,
                offset.unwrap_or(0),
            ))
        } else {
            None
        };
        let body = req.into_body();
        let staged = self
            .receive(call.session, &up, &spool, chunk, offset, size, body, remote)
            .await?;
        let record = UploadChunk {
            name: chunk.to_owned(),
            offset,
            size,
            created_at: now(),
            staged: staged.as_ref().and_then(Staged::encode),
        };
        if let Err(e) = self
            .store
            .db()
            .put_upload_chunk(&principal, upload, &record)
            .await
        {
            if let Some(st) = &staged {
                self.delete_pieces(call.session, st).await;
            }
            return Err(state_error(e));
        }
        // A chunk sent again: the pieces of the one it replaces go.
        if let Some(old) = known.iter().find(|c| c.name == chunk).and_then(Staged::of) {
            self.delete_pieces(call.session, &old).await;
        }
        self.drain(call.session, &up, &spool).await?;
        Ok(text(StatusCode::CREATED, "chunk stored"))
    }

    /// Reads a chunk's body: upstream chunks it covers in full go up as they fill (when the
    /// session is open and the place known); the rest goes to the spool.
    #[allow(clippy::too_many_arguments)]
    async fn receive(
        &self,
        session: &Session,
        up: &ChunkedUpload,
        spool: &Spool,
        chunk: &str,
        offset: Option<u64>,
        size: u64,
        mut body: RequestBody,
        mut remote: Option<RemoteWriter<'_>>,
    ) -> Result<Option<Staged>, Refusal> {
        let grid = up.chunk_size.max(1);
        // Upstream sends need the session and the total (for the short last chunk).
        let direct = match (&up.session_id, up.total_length, offset) {
            (Some(sid), Some(total), Some(o)) => Some((sid.clone(), total, o)),
            _ => None,
        };
        let mut unplaced: Option<tokio::fs::File> = None;
        let mut pieces = PieceWriter::new(spool.clone(), grid);
        let mut buf = BytesMut::new();
        let mut pos = offset.unwrap_or(0);
        let end = pos + size;
        let mut seen = 0u64;
        let outcome: Result<(), Refusal> = async {
            if offset.is_none() && remote.is_none() {
                let path = spool.unplaced_path(chunk);
                pieces.written.push(path.clone());
                unplaced = Some(
                    tokio::fs::File::create(&path)
                        .await
                        .map_err(|e| io_refusal("spooling a chunk", &e))?,
                );
            }
            while let Some(frame) = body.frame().await {
                let frame = frame
                    .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the chunk's body ended early"))?;
                let Ok(mut data) = frame.into_data() else {
                    continue;
                };
                let before = seen;
                seen += data.len() as u64;
                if seen > size {
                    return Err(refuse(
                        StatusCode::BAD_REQUEST,
                        "the chunk is longer than its Content-Length",
                    ));
                }
                if let (None, Some(w)) = (offset, &mut remote) {
                    w.write(before, &data)
                        .await
                        .map_err(|e| store_refusal(&e))?;
                    continue;
                }
                if let Some(f) = &mut unplaced {
                    tokio::io::AsyncWriteExt::write_all(f, &data)
                        .await
                        .map_err(|e| io_refusal("spooling a chunk", &e))?;
                    continue;
                }
                while !data.is_empty() {
                    let index = pos / grid;
                    let (a, b) = match direct {
                        Some((_, total, _)) => (index * grid, ((index + 1) * grid).min(total)),
                        None => (0, 0),
                    };
                    let whole = direct.as_ref().is_some_and(|(_, _, o)| a >= *o && b <= end);
                    let upto = ((index + 1) * grid).min(end);
                    let take =
                        usize::try_from(upto - pos).map_or(data.len(), |n| n.min(data.len()));
                    let part = data.split_to(take);
                    if whole {
                        buf.extend_from_slice(&part);
                        pos += take as u64;
                        if pos == b {
                            let sid = direct.as_ref().map(|d| d.0.as_str()).unwrap_or_default();
                            self.send(session, sid, index, buf.split().freeze()).await?;
                        }
                    } else if let Some(w) = &mut remote {
                        w.write(pos - offset.unwrap_or(0), &part)
                            .await
                            .map_err(|e| store_refusal(&e))?;
                        pos += take as u64;
                    } else {
                        pieces
                            .write(pos, &part)
                            .await
                            .map_err(|e| io_refusal("spooling a chunk", &e))?;
                        pos += take as u64;
                    }
                }
            }
            if seen != size {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "the chunk's body is shorter than its Content-Length",
                ));
            }
            if let Some(mut f) = unplaced.take() {
                tokio::io::AsyncWriteExt::flush(&mut f)
                    .await
                    .map_err(|e| io_refusal("spooling a chunk", &e))?;
            }
            pieces
                .finish()
                .await
                .map_err(|e| io_refusal("spooling a chunk", &e))?;
            if let Some(w) = &mut remote {
                w.flush().await.map_err(|e| store_refusal(&e))?;
            }
            Ok(())
        }
        .await;
        let staged = remote.as_ref().and_then(RemoteWriter::record);
        if outcome.is_err() {
            // Nothing of a failed chunk counts: the client sends it again.
            for p in &pieces.written {
                let _ = tokio::fs::remove_file(p).await;
            }
            if let Some(w) = &remote {
                for p in &w.staged {
                    if let Err(e) = self.store.delete_staged_file(session, &p.file).await {
                        tracing::warn!(error = %e, "deleting a staged chunk piece failed");
                    }
                }
            }
            if let Err(e) = self
                .store
                .db()
                .delete_upload_chunk(&up.principal, &up.upload, chunk)
                .await
            {
                tracing::warn!(error = %e, "forgetting a failed chunk failed");
            }
        }
        outcome.map(|()| staged)
    }

    async fn send(
        &self,
        session: &Session,
        session_id: &str,
        index: u64,
        data: Bytes,
    ) -> Result<(), Refusal> {
        self.store
            .put_session_chunk(session, session_id, index, data)
            .await
            .map_err(|e| store_refusal(&e))
    }

    /// Places the numbered chunks whose place is known now, then sends every upstream chunk
    /// the held pieces cover in full (with the session open and the length known).
    async fn drain(
        &self,
        session: &Session,
        up: &ChunkedUpload,
        spool: &Spool,
    ) -> Result<(), Refusal> {
        let lock = self.lock_of(&up.principal, &up.upload);
        let _held = lock.lock().await;
        let db = self.store.db();
        let mut chunks = db
            .upload_chunks(&up.principal, &up.upload)
            .await
            .map_err(state_error)?;
        for (name, offset) in placeable(&chunks) {
            let Some(c) = chunks.iter_mut().find(|c| c.name == name) else {
                continue;
            };
            // A chunk kept in ScaiDrive is placed by recording its offset; its pieces stay.
            if c.staged.is_none() {
                let from = spool.unplaced_path(&name);
                spool
                    .place(&from, offset, up.chunk_size.max(1))
                    .await
                    .map_err(|e| io_refusal("placing a held chunk", &e))?;
            }
            c.offset = Some(offset);
            c.created_at = now();
            db.put_upload_chunk(&up.principal, &up.upload, c)
                .await
                .map_err(state_error)?;
        }
        let (Some(sid), Some(total)) = (&up.session_id, up.total_length) else {
            return Ok(());
        };
        let grid = up.chunk_size.max(1);
        let (pieces, received) = self.held(session, sid, spool, &chunks, grid).await?;
        let todo: Vec<_> = spool::covered(&pieces, grid, total)
            .into_iter()
            .filter(|(i, _, _)| !received.contains(i))
            .collect();
        // A few upstream chunks at once (each read into memory, one chunk each).
        let pieces = &pieces;
        let mut sends = futures::stream::iter(todo)
            .map(|(index, a, b)| async move {
                let data = staged::read_range(Some((&self.store, session)), pieces, a, b)
                    .await
                    .map_err(|e| io_refusal("reading held chunk pieces", &e))?;
                self.send(session, sid, index, data).await?;
                for p in pieces
                    .iter()
                    .filter(|p| p.offset >= a && p.offset + p.len <= b)
                {
                    match &p.file_id {
                        Some(id) => {
                            if let Err(e) = self.store.delete_staged_file(session, id).await {
                                tracing::warn!(error = %e, "deleting a staged chunk piece failed");
                            }
                        }
                        None => {
                            let _ = tokio::fs::remove_file(&p.path).await;
                        }
                    }
                }
                Ok::<_, Refusal>(())
            })
            .buffer_unordered(PARALLEL_SENDS);
        while let Some(sent) = sends.next().await {
            sent?;
        }
        Ok(())
    }

    /// The pieces still waiting (on disk, and in ScaiDrive: those whose upstream chunks have
    /// not all gone up), and the upstream chunks ScaiDrive has (asked only when pieces are kept
    /// there: a piece sent there is not forgotten in its chunk's row, another instance may be
    /// reading the row).
    async fn held(
        &self,
        session: &Session,
        sid: &str,
        spool: &Spool,
        chunks: &[UploadChunk],
        grid: u64,
    ) -> Result<(Vec<spool::Piece>, Vec<u64>), Refusal> {
        let mut pieces = spool
            .pieces()
            .await
            .map_err(|e| io_refusal("reading the chunk spool", &e))?;
        let mut remote = staged::pieces_of(chunks);
        let mut received = Vec::new();
        if !remote.is_empty() {
            received = self
                .store
                .session_received(session, sid)
                .await
                .map_err(|e| store_refusal(&e))?;
            remote.retain(|p| !sent(p, grid, &received));
        }
        pieces.extend(remote);
        pieces.sort_by_key(|p| p.offset);
        Ok((pieces, received))
    }
}

/// Whether every upstream chunk `p` touches is in `received`.
fn sent(p: &spool::Piece, grid: u64, received: &[u64]) -> bool {
    (p.offset / grid..=(p.offset + p.len.max(1) - 1) / grid).all(|i| received.contains(&i))
}

pub(super) fn state_error(e: crate::state::StateError) -> Refusal {
    tracing::warn!(error = %e, "state database failed");
    refuse(StatusCode::SERVICE_UNAVAILABLE, "try again later")
}

fn io_refusal(what: &str, e: &std::io::Error) -> Refusal {
    tracing::warn!(error = %e, "{what} failed");
    refuse(StatusCode::INSUFFICIENT_STORAGE, format!("{what} failed"))
}

/// A store failure as the status and message the client gets.
fn store_refusal(e: &StoreError) -> Refusal {
    let (status, msg) = match e {
        StoreError::NotFound | StoreError::NoSuchShare => (
            StatusCode::CONFLICT,
            "the target folder does not exist".to_owned(),
        ),
        StoreError::AccessDenied(_) => (StatusCode::FORBIDDEN, "access denied".to_owned()),
        StoreError::Unauthorized(_) => (
            StatusCode::UNAUTHORIZED,
            "the ScaiDrive token behind these credentials was refused".to_owned(),
        ),
        StoreError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
        StoreError::InvalidName(n) => (StatusCode::BAD_REQUEST, n.to_string()),
        StoreError::Invalid(m) => (StatusCode::BAD_REQUEST, m.clone()),
        StoreError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        StoreError::QuotaExceeded(m) => (StatusCode::INSUFFICIENT_STORAGE, m.clone()),
        StoreError::Gone => (
            StatusCode::NOT_FOUND,
            "the upload expired upstream; start it again".to_owned(),
        ),
        _ => {
            tracing::warn!(error = %e, "chunked upload: upstream failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "try again later".to_owned(),
            )
        }
    };
    (status, msg)
}

#[cfg(test)]
mod tests {
    use super::grid_for;

    #[test]
    fn the_upstream_chunk_divides_uniform_client_chunks() {
        let max = 4 << 20;
        assert_eq!(grid_for(8 << 20, max), 4 << 20);
        assert_eq!(grid_for(10 << 20, max), 2 << 20);
        assert_eq!(grid_for(3 * (64 << 10), max), 64 << 10);
        assert_eq!(grid_for(100_000, max), max);
        assert_eq!(grid_for(0, max), max);
    }
}
