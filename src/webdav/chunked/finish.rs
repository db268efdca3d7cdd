//! `MOVE <upload>/.file`: the chunks are checked against the total, what still waits goes
//! up (from the local disk or from ScaiDrive), the ScaiDrive session is completed, and the
//! upload is forgotten with what it held.

use dav_server::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::names::coverage;
use super::{
    Call, Refusal, Uploads, etag_of, fs, header, now, refuse, sent, state_error, store_refusal,
    text, total_length,
};
use crate::state::ObjectAttrs;
use crate::store::{OpenedSession, StoreError};

impl Uploads {
    /// `MOVE <upload>/.file`: checks, sends what waits, completes the session.
    pub(super) async fn finish(
        &self,
        call: &Call<'_>,
        upload: &str,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, Refusal> {
        let principal = call.session.principal();
        let mut up = self.load(call, upload).await?;
        let Some(dest_value) = header(headers, "destination") else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "MOVE of .file needs a Destination",
            ));
        };
        let (share, path, joined) = self.destination(call, dest_value)?;
        if up.destination.as_deref().is_some_and(|d| d != joined) && up.session_id.is_some() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "Destination differs from the one the upload was started with",
            ));
        }
        let spool = self.spool(principal, upload);
        // Place what can be placed, then check that the chunks make the whole file.
        self.drain(call.session, &up, &spool).await?;
        let chunks = self
            .store
            .db()
            .upload_chunks(principal, upload)
            .await
            .map_err(state_error)?;
        if chunks.is_empty() {
            return Err(refuse(StatusCode::BAD_REQUEST, "no chunk was uploaded"));
        }
        let received = coverage(&chunks).map_err(|m| refuse(StatusCode::BAD_REQUEST, m))?;
        for (what, claimed) in [
            ("OC-Total-Length", total_length(headers)?),
            ("the upload's OC-Total-Length", up.total_length),
        ] {
            if let Some(t) = claimed
                && t != received
            {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the chunks hold {received} bytes but {what} is {t}; nothing was written"
                    ),
                ));
            }
        }
        if up.session_id.is_none() {
            up.destination = Some(joined);
            self.open(call, &mut up, &share, &path, received).await?;
            up.updated_at = now();
            self.store
                .db()
                .put_chunked_upload(&up)
                .await
                .map_err(state_error)?;
            // Everything waited on disk; it goes up now.
            self.drain(call.session, &up, &spool).await?;
        }
        let Some(sid) = up.session_id.clone() else {
            return Err(refuse(StatusCode::BAD_REQUEST, "the upload is empty"));
        };
        let grid = up.chunk_size.max(1);
        let chunks = self
            .store
            .db()
            .upload_chunks(principal, upload)
            .await
            .map_err(state_error)?;
        let (left, _) = self.held(call.session, &sid, &spool, &chunks, grid).await?;
        if !left.is_empty() {
            // Pieces of a chunk sent again after its neighbours had gone up: the upstream chunks
            // they belong to are there already (a client sends a chunk again with the same
            // bytes), so they are dropped. Anything else could not be sent.
            let received = self
                .store
                .session_received(call.session, &sid)
                .await
                .map_err(|e| store_refusal(&e))?;
            if !left.iter().all(|p| sent(p, grid, &received)) {
                return Err(refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "held chunk pieces could not be sent upstream",
                ));
            }
            for p in left.iter().filter(|p| p.file_id.is_none()) {
                let _ = tokio::fs::remove_file(&p.path).await;
            }
        }
        let mut attrs = ObjectAttrs {
            etag: etag_of(None, &sid, received.div_ceil(up.chunk_size.max(1))),
            ..ObjectAttrs::default()
        };
        let mtime = header(headers, "x-oc-mtime").and_then(fs::mtime_value);
        attrs.client_mtime = mtime.clone();
        let opened = OpenedSession {
            session_id: sid.clone(),
            chunk_size: up.chunk_size,
            replace_file_id: up.replace_file_id.clone(),
        };
        let written = match self
            .store
            .finish_session(call.session, &share.id, &path, &opened, attrs)
            .await
        {
            Ok(w) => w,
            Err(StoreError::Gone) => {
                let _ = self
                    .store
                    .db()
                    .delete_chunked_upload(principal, upload)
                    .await;
                spool.remove().await;
                self.discard_staged(call.session, &chunks).await;
                return Err(refuse(
                    StatusCode::NOT_FOUND,
                    "the upload expired upstream; start it again",
                ));
            }
            Err(e) => return Err(store_refusal(&e)),
        };
        if let Err(e) = self
            .store
            .db()
            .delete_chunked_upload(principal, upload)
            .await
        {
            tracing::warn!(error = %e, "forgetting a finished chunked upload failed");
        }
        spool.remove().await;
        self.discard_staged(call.session, &chunks).await;
        tracing::info!(upload, file = %written.file_id, size = written.size, "chunked upload: finished");
        let status = if written.replaced {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::CREATED
        };
        let mut resp = text(status, "");
        if status == StatusCode::NO_CONTENT {
            *resp.body_mut() = Body::from(String::new());
        }
        let h = resp.headers_mut();
        let quoted = format!("\"{}\"", written.etag);
        if let Ok(v) = HeaderValue::from_str(&quoted) {
            h.insert(http::header::ETAG, v.clone());
            h.insert("oc-etag", v);
        }
        if let Ok(v) = HeaderValue::from_str(&written.file_id) {
            h.insert("oc-fileid", v);
        }
        if mtime.is_some() {
            h.insert("x-oc-mtime", HeaderValue::from_static("accepted"));
        }
        Ok(resp)
    }
}
