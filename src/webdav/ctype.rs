//! `getcontenttype` and `Content-Type` from ScaiDrive: dav-server guesses a file's media type
//! from its extension and has no hook for another source, so the front end rewrites its answers
//! with the types the request's filesystem noted (`ReqCtx::content_types`): the type the writing
//! client declared (valid stored attributes) or ScaiDrive's `mime_type`.
//!
//! A multistatus is rewritten as it streams, one batch of whole `<D:response>` elements at a
//! time (dav-server sends each response as soon as it is written), so a listing of any size
//! is never held in memory whole.

use std::sync::Arc;

use bytes::Bytes;
use dav_server::body::Body;
use dav_server::davpath::DavPath;
use futures::StreamExt as _;
use http_body_util::StreamBody;

use super::fs;

const RESPONSE_END: &[u8] = b"</D:response>";

/// Rewrites one part of a multistatus that ends on a response boundary.
fn rewrite_part(part: &[u8], ctx: &fs::ReqCtx) -> Bytes {
    let text = String::from_utf8_lossy(part);
    let text = rewrite_multistatus(&text, |segs| ctx.content_type_of(segs));
    Bytes::from(quote_etags(&text))
}

/// Where the last complete `<D:response>` of `buf` ends.
fn last_response_end(buf: &[u8]) -> Option<usize> {
    buf.windows(RESPONSE_END.len())
        .rposition(|w| w == RESPONSE_END)
        .map(|i| i + RESPONSE_END.len())
}

/// A PROPFIND answer with its content types and ETags rewritten on the way out.
pub(crate) fn rewrite_stream(
    body: Body,
    ctx: Arc<fs::ReqCtx>,
) -> StreamBody<impl futures::Stream<Item = std::io::Result<http_body::Frame<Bytes>>>> {
    struct State {
        body: std::pin::Pin<Box<Body>>,
        /// Bytes after the last complete response seen.
        carry: Vec<u8>,
        done: bool,
        ctx: Arc<fs::ReqCtx>,
    }
    let state = State {
        body: Box::pin(body),
        carry: Vec::new(),
        done: false,
        ctx,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    // Only the tail can hold the end of a response that was cut in two.
                    let from = st.carry.len().saturating_sub(RESPONSE_END.len() - 1);
                    st.carry.extend_from_slice(&chunk);
                    if let Some(end) = last_response_end(&st.carry[from..]).map(|e| e + from) {
                        let out = rewrite_part(&st.carry[..end], &st.ctx);
                        st.carry.drain(..end);
                        return Some((Ok(http_body::Frame::data(out)), st));
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "PROPFIND answer failed");
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    if st.carry.is_empty() {
                        return None;
                    }
                    let out = rewrite_part(&std::mem::take(&mut st.carry), &st.ctx);
                    return Some((Ok(http_body::Frame::data(out)), st));
                }
            }
        }
    });
    StreamBody::new(stream)
}

const HREF: (&str, &str) = ("<D:href>", "</D:href>");
const CTYPE: (&str, &str) = ("<D:getcontenttype>", "</D:getcontenttype>");

fn between(s: &str, (open, close): (&str, &str)) -> Option<(usize, usize)> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some((start, end))
}

/// Rewrites the `getcontenttype` of every `<D:response>` whose href `lookup` knows.
pub(crate) fn rewrite_multistatus(
    xml: &str,
    lookup: impl Fn(&[String]) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut parts = xml.split("<D:response>");
    if let Some(head) = parts.next() {
        out.push_str(head);
    }
    for part in parts {
        out.push_str("<D:response>");
        let wanted = between(part, HREF)
            .and_then(|(a, b)| DavPath::new(&part[a..b]).ok())
            .and_then(|p| fs::segments(&p))
            .and_then(|segs| lookup(&segs));
        match (wanted, between(part, CTYPE)) {
            (Some(ct), Some((a, b))) => {
                out.push_str(&part[..a]);
                out.push_str(&ct);
                out.push_str(&part[b..]);
            }
            _ => out.push_str(part),
        }
    }
    out
}

const ETAG: (&str, &str) = ("<D:getetag>", "</D:getetag>");

/// Quotes every `getetag` value: RFC 4918 §15.6 has it as an entity-tag (`"…"`), the same text
/// as the `ETag` header, while dav-server writes the bare opaque value.
pub(crate) fn quote_etags(xml: &str) -> String {
    let (open, close) = ETAG;
    let mut out = String::with_capacity(xml.len() + 64);
    let mut rest = xml;
    while let Some(i) = rest.find(open) {
        let start = i + open.len();
        let Some(len) = rest[start..].find(close) else {
            break;
        };
        let value = &rest[start..start + len];
        out.push_str(&rest[..start]);
        if value.starts_with('"') || value.starts_with("W/\"") {
            out.push_str(value);
        } else {
            out.push('"');
            out.push_str(value);
            out.push('"');
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_complete_response_is_found_across_parts() {
        assert_eq!(
            last_response_end(b"<D:response>a</D:response><D:resp"),
            Some(26)
        );
        assert_eq!(last_response_end(b"<D:response>a</D:respo"), None);
    }

    #[test]
    fn getetag_values_are_quoted_once() {
        let xml = "<D:prop><D:getetag>abc-1</D:getetag></D:prop><D:prop><D:getetag>\"q\"</D:getetag></D:prop>";
        assert_eq!(
            quote_etags(xml),
            "<D:prop><D:getetag>\"abc-1\"</D:getetag></D:prop><D:prop><D:getetag>\"q\"</D:getetag></D:prop>"
        );
        assert_eq!(quote_etags("<x/>"), "<x/>");
    }

    #[test]
    fn rewrites_only_known_hrefs() {
        let xml = "<D:multistatus xmlns:D=\"DAV:\">\
            <D:response><D:href>/Documents/</D:href><D:propstat><D:prop><D:getcontenttype>httpd/unix-directory</D:getcontenttype></D:prop></D:propstat></D:response>\
            <D:response><D:href>/Documents/a%20b.dat</D:href><D:propstat><D:prop><D:getcontenttype>application/octet-stream</D:getcontenttype></D:prop></D:propstat></D:response>\
            <D:response><D:href>/Documents/c.txt</D:href><D:propstat><D:prop><D:getcontenttype>text/plain</D:getcontenttype></D:prop></D:propstat></D:response>\
            </D:multistatus>";
        let out = rewrite_multistatus(xml, |segs| {
            (segs == ["Documents", "a b.dat"]).then(|| "image/png".to_owned())
        });
        assert!(out.contains("a%20b.dat</D:href><D:propstat><D:prop><D:getcontenttype>image/png<"));
        assert!(out.contains("<D:getcontenttype>text/plain<"));
        assert!(out.contains("<D:getcontenttype>httpd/unix-directory<"));
        assert_eq!(
            out.len(),
            xml.len() - "application/octet-stream".len() + "image/png".len()
        );
    }
}
