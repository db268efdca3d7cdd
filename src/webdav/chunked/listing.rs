//! PROPFIND of the chunked uploads tree: the uploads home lists the user's upload
//! collections, a collection the chunks it has received (name, size, date), from the state DB.

use dav_server::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::{Call, Refusal, Uploads, header as header_of, refuse, state_error};
use crate::state::UploadChunk;
use crate::webdav::ncpaths;

impl Uploads {
    /// PROPFIND of the uploads home, an upload collection or a chunk.
    pub(super) async fn propfind(
        &self,
        call: &Call<'_>,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, Refusal> {
        let depth_one = header_of(headers, "depth") == Some("1");
        let base = format!("{}{}/", ncpaths::UPLOADS, call.user_raw);
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">",
        );
        let dir = |out: &mut String, href: &str| {
            out.push_str(&format!(
                "<D:response><D:href>{}</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
                escape(href)
            ));
        };
        match call.segs.as_slice() {
            [] => {
                dir(&mut out, &base);
                if depth_one {
                    let ups = self
                        .store
                        .db()
                        .chunked_uploads_of(call.session.principal())
                        .await
                        .map_err(state_error)?;
                    for up in ups {
                        dir(&mut out, &format!("{base}{}/", encode(&up.upload)));
                    }
                }
            }
            [upload, rest @ ..] if rest.len() <= 1 => {
                let up = self.load(call, upload).await?;
                let chunks = self
                    .store
                    .db()
                    .upload_chunks(call.session.principal(), upload)
                    .await
                    .map_err(state_error)?;
                let href_up = format!("{base}{}/", encode(&up.upload));
                let file = |out: &mut String, c: &UploadChunk| {
                    let date = chrono::DateTime::parse_from_rfc3339(&c.created_at)
                        .map(|d| {
                            d.with_timezone(&chrono::Utc)
                                .format("%a, %d %b %Y %H:%M:%S GMT")
                                .to_string()
                        })
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "<D:response><D:href>{}{}</D:href><D:propstat><D:prop><D:resourcetype/><D:getcontentlength>{}</D:getcontentlength><D:getlastmodified>{date}</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
                        escape(&href_up),
                        encode(&c.name),
                        c.size
                    ));
                };
                let received = chunks.iter();
                match rest {
                    [] => {
                        dir(&mut out, &href_up);
                        if depth_one {
                            for c in received {
                                file(&mut out, c);
                            }
                        }
                    }
                    [name] => match received.into_iter().find(|c| &c.name == name) {
                        Some(c) => file(&mut out, c),
                        None => {
                            return Err(refuse(StatusCode::NOT_FOUND, "no such chunk"));
                        }
                    },
                    _ => {}
                }
            }
            _ => return Err(refuse(StatusCode::NOT_FOUND, "no such resource")),
        }
        out.push_str("</D:multistatus>\n");
        let mut resp = Response::new(Body::from(out));
        *resp.status_mut() = StatusCode::MULTI_STATUS;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        Ok(resp)
    }
}

/// Escapes text for XML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-encodes a name for an href.
fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
}
