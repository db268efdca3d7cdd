//! `getcontenttype` and `Content-Type` from ScaiDrive: dav-server guesses a file's media type
//! from its extension and has no hook for another source, so the front end rewrites its answers
//! with the types the request's filesystem noted (`ReqCtx::content_types`): the type the writing
//! client declared (valid stored attributes) or ScaiDrive's `mime_type`.

use dav_server::davpath::DavPath;

use super::fs;

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
