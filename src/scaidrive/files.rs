//! Files: metadata, streamed download (with ranges), streamed multipart upload, patch, delete,
//! copy, move, versions.

use std::fmt;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use http::Method;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE};

use super::client::{Client, Token, parse_json};
use super::error::{Error, ErrorKind, Result};
use super::range::{ByteRange, ContentRange};
use super::types::{File, FilePatch, RestoredVersion, Target, UploadedFile, Version, VersionList};

/// A download in progress: status and headers are known, the body streams.
pub struct Download {
    /// 200 (whole file) or 206 (the requested range).
    pub status: u16,
    /// `Content-Length` of this response (the range length for a 206).
    pub content_length: Option<u64>,
    /// Parsed `Content-Range` of a 206.
    pub content_range: Option<ContentRange>,
    /// `Content-Type` (the file's MIME type).
    pub content_type: Option<String>,
    /// The bytes. Ends with an [`ErrorKind::Transport`] error if the connection ends before
    /// `content_length` bytes arrived — never with a short success.
    pub body: BoxStream<'static, Result<Bytes, Error>>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("content_range", &self.content_range)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// Whether the server answered with the requested range (206) rather than the whole file.
    pub fn is_partial(&self) -> bool {
        self.status == 206
    }

    /// Collect the whole body into memory (tests, small files).
    pub async fn bytes(self) -> Result<Bytes> {
        let mut body = self.body;
        let mut buf = Vec::with_capacity(
            usize::try_from(self.content_length.unwrap_or(0).min(64 << 20)).unwrap_or(0),
        );
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(buf))
    }
}

/// A new file for [`Client::upload_file`]. The body streams; it is sent once.
#[derive(Debug)]
pub struct UploadFile {
    pub share_id: String,
    /// `None` = share root.
    pub folder_id: Option<String>,
    pub name: String,
    /// The part's `Content-Type` (default `application/octet-stream`, which lets the server
    /// derive the MIME type from the extension).
    pub content_type: Option<String>,
    /// Exact byte count when known: the request then has a `Content-Length` instead of
    /// chunked transfer encoding.
    pub size: Option<u64>,
    /// The content, e.g. `reqwest::Body::wrap_stream(..)` or `Bytes`.
    pub body: reqwest::Body,
}

impl Client {
    /// `GET /files/{id}`.
    pub async fn get_file(&self, t: &Token, id: &str) -> Result<File> {
        self.get_json(Some(t), self.endpoint(&["files", id])?).await
    }

    /// `GET /files/{id}/content[?version=N]` with an optional `Range`.
    ///
    /// Retried (5xx, 429, transport) until the response headers arrive; the body is then
    /// streamed with no total timeout (only the idle/read timeout). A 416 is an error of kind
    /// [`ErrorKind::RangeNotSatisfiable`] carrying the size from `Content-Range: bytes */N`.
    pub async fn download(
        &self,
        t: &Token,
        id: &str,
        version: Option<u64>,
        range: Option<ByteRange>,
    ) -> Result<Download> {
        let mut url = self.endpoint(&["files", id, "content"])?;
        if let Some(v) = version {
            url.query_pairs_mut().append_pair("version", &v.to_string());
        }
        let mut req = self.req(Method::GET, url, Some(t));
        req.timeout = None;
        if let Some(r) = range {
            if !r.is_valid() {
                return Err(Error::invalid(format!("invalid byte range {r}")));
            }
            let v = HeaderValue::from_str(&r.header_value())
                .map_err(|_| Error::invalid("unencodable range"))?;
            req.headers.push((RANGE, v));
        }
        let resp = self.send_streaming(&req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers();
        let header_str = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let content_length = match header_str(CONTENT_LENGTH) {
            Some(v) => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| Error::protocol(format!("bad Content-Length {v:?}")))?,
            ),
            None => None,
        };
        let content_range = if status == 206 {
            let raw = header_str(CONTENT_RANGE)
                .ok_or_else(|| Error::protocol("206 without Content-Range"))?;
            let cr = ContentRange::parse(raw)
                .ok_or_else(|| Error::protocol(format!("bad Content-Range {raw:?}")))?;
            if content_length.is_some_and(|len| len != cr.len()) {
                return Err(Error::protocol(format!(
                    "Content-Range {raw:?} disagrees with Content-Length {content_length:?}"
                )));
            }
            Some(cr)
        } else {
            None
        };
        let content_type = header_str(CONTENT_TYPE).map(str::to_owned);
        Ok(Download {
            status,
            content_length,
            content_range,
            content_type,
            body: guarded_body(resp, content_length),
        })
    }

    /// `POST /files` as multipart/form-data (`share_id`, `folder_id`, `name`, `file`), the
    /// file part streamed from `req.body`.
    ///
    /// Never retried: the body stream cannot be replayed. That includes a 429 answered before
    /// any byte was accepted and a 5xx — the caller (which may still hold the data) decides.
    /// A timeout after the body was sent may still have created the file; look it up by name
    /// before trying again (a blind retry gets 409 `NAME_CONFLICT`).
    pub async fn upload_file(&self, t: &Token, req: UploadFile) -> Result<UploadedFile> {
        use reqwest::multipart::{Form, Part};
        let UploadFile {
            share_id,
            folder_id,
            name,
            content_type,
            size,
            body,
        } = req;
        let part = match size {
            Some(n) => Part::stream_with_length(body, n),
            None => Part::stream(body),
        }
        .file_name(name.clone())
        .mime_str(
            content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        )
        .map_err(|e| Error::invalid(format!("bad content type: {e}")))?;
        let mut form = Form::new().text("share_id", share_id);
        if let Some(f) = folder_id {
            form = form.text("folder_id", f);
        }
        let form = form.text("name", name).part("file", part);
        let url = self.endpoint(&["files"])?;
        let auth = t.header_value()?;
        // Sending the body takes as long as its producer needs (the S3 or WebDAV client behind
        // it, possibly on a slow link): no read or total timeout while it goes. The call lives
        // as long as the request that feeds it; a stalled ScaiDrive stalls that client, whose
        // own timeout ends the request, which drops this call and the upload with it.
        let rb = self
            .upload_http()
            .post(url.clone())
            .header(http::header::AUTHORIZATION, auth)
            .multipart(form);
        let resp = self.send_once(&Method::POST, &url, Some(t), rb).await?;
        let body = tokio::time::timeout(self.options().request_timeout, resp.bytes())
            .await
            .map_err(|_| Error::new(ErrorKind::Transport, "timed out reading upload answer"))?
            .map_err(Error::transport)?;
        parse_json(&body)
    }

    /// `PATCH /files/{id}`: rename, move within the share, restore. Only set fields are sent.
    pub async fn update_file(&self, t: &Token, id: &str, patch: &FilePatch) -> Result<File> {
        self.send_json(Method::PATCH, t, self.endpoint(&["files", id])?, patch)
            .await
    }

    /// `PATCH /files/{id}` with `{restore: true}`.
    pub async fn restore_file(&self, t: &Token, id: &str) -> Result<File> {
        let patch = FilePatch {
            restore: Some(true),
            ..FilePatch::default()
        };
        self.update_file(t, id, &patch).await
    }

    /// `DELETE /files/{id}[?permanent=true]` → 204 (default: to the trash).
    pub async fn delete_file(&self, t: &Token, id: &str, permanent: bool) -> Result<()> {
        let mut url = self.endpoint(&["files", id])?;
        if permanent {
            url.query_pairs_mut().append_pair("permanent", "true");
        }
        let mut req = self.req(Method::DELETE, url, Some(t));
        req.absent_ok_on_retry = true;
        self.no_content(&req).await
    }

    /// `POST /files/{id}/copy` → 201, a new file. Not retried on 5xx.
    pub async fn copy_file(
        &self,
        t: &Token,
        id: &str,
        target: &Target,
        name: Option<&str>,
    ) -> Result<File> {
        self.send_json(
            Method::POST,
            t,
            self.endpoint(&["files", id, "copy"])?,
            &target.to_body(name),
        )
        .await
    }

    /// `POST /files/{id}/move`. Not retried on 5xx.
    pub async fn move_file(
        &self,
        t: &Token,
        id: &str,
        target: &Target,
        name: Option<&str>,
    ) -> Result<File> {
        self.send_json(
            Method::POST,
            t,
            self.endpoint(&["files", id, "move"])?,
            &target.to_body(name),
        )
        .await
    }

    /// `GET /files/{id}/versions`, newest first.
    pub async fn list_versions(&self, t: &Token, id: &str) -> Result<Vec<Version>> {
        let list: VersionList = self
            .get_json(Some(t), self.endpoint(&["files", id, "versions"])?)
            .await?;
        Ok(list.versions)
    }

    /// `POST /files/{id}/versions/{n}/restore`: a new version with version `n`'s content.
    pub async fn restore_version(
        &self,
        t: &Token,
        id: &str,
        version: u64,
    ) -> Result<RestoredVersion> {
        let n = version.to_string();
        let url = self.endpoint(&["files", id, "versions", &n, "restore"])?;
        self.json(&self.req(Method::POST, url, Some(t))).await
    }
}

/// The response body as a stream that fails instead of ending short.
fn guarded_body(
    resp: reqwest::Response,
    expected: Option<u64>,
) -> BoxStream<'static, Result<Bytes, Error>> {
    struct State {
        inner: BoxStream<'static, reqwest::Result<Bytes>>,
        received: u64,
        expected: Option<u64>,
        done: bool,
    }
    let state = State {
        inner: resp.bytes_stream().boxed(),
        received: 0,
        expected,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        match st.inner.next().await {
            Some(Ok(chunk)) => {
                st.received += chunk.len() as u64;
                if let Some(exp) = st.expected
                    && st.received > exp
                {
                    st.done = true;
                    let err = Error::protocol(format!(
                        "body longer than Content-Length {exp} ({} bytes)",
                        st.received
                    ));
                    return Some((Err(err), st));
                }
                Some((Ok(chunk), st))
            }
            Some(Err(e)) => {
                st.done = true;
                let err = Error::transport(e);
                let err = Error::new(
                    ErrorKind::Transport,
                    format!(
                        "download interrupted after {} bytes: {}",
                        st.received,
                        err.message()
                    ),
                )
                .with_source(err);
                Some((Err(err), st))
            }
            None => {
                st.done = true;
                match st.expected {
                    Some(exp) if st.received < exp => Some((
                        Err(Error::new(
                            ErrorKind::Transport,
                            format!("connection ended after {} of {exp} bytes", st.received),
                        )),
                        st,
                    )),
                    _ => None,
                }
            }
        }
    })
    .boxed()
}
