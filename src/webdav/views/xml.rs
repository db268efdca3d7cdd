//! The multistatus of a read-only view: every resource with the same live properties (a view
//! has no dead properties and no locks), hrefs percent-encoded as dav-server writes them.

use std::fmt::Write as _;
use std::time::SystemTime;

/// One resource of a view.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    /// Path segments from the gateway root (share collection name first).
    pub segs: Vec<String>,
    pub dir: bool,
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub created: Option<SystemTime>,
    /// Unquoted.
    pub etag: Option<String>,
    pub content_type: Option<String>,
}

/// Percent-encodes a path segment as dav-server writes hrefs.
pub(crate) fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The href of a resource (a collection ends in `/`).
pub(crate) fn href(segs: &[String], dir: bool) -> String {
    // Under Nextcloud's `/remote.php/dav/files/<user>` the hrefs carry that prefix.
    let mut out = super::HREF_PREFIX
        .try_with(|p| p.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    for s in segs {
        out.push('/');
        out.push_str(&encode_segment(s));
    }
    if dir || segs.is_empty() {
        out.push('/');
    }
    out
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A multistatus of `items` with all their live properties.
pub(crate) fn multistatus(items: &[Res]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">",
    );
    for r in items {
        let name = r.segs.last().map(String::as_str).unwrap_or("");
        let _ = write!(
            out,
            "<D:response><D:href>{}</D:href><D:propstat><D:prop>",
            escape(&href(&r.segs, r.dir))
        );
        let _ = write!(out, "<D:displayname>{}</D:displayname>", escape(name));
        if r.dir {
            out.push_str("<D:resourcetype><D:collection/></D:resourcetype>");
            out.push_str("<D:getcontenttype>httpd/unix-directory</D:getcontenttype>");
        } else {
            out.push_str("<D:resourcetype/>");
            let _ = write!(out, "<D:getcontentlength>{}</D:getcontentlength>", r.len);
            let ct = r
                .content_type
                .as_deref()
                .unwrap_or("application/octet-stream");
            let _ = write!(out, "<D:getcontenttype>{}</D:getcontenttype>", escape(ct));
        }
        if let Some(t) = r.modified {
            let _ = write!(
                out,
                "<D:getlastmodified>{}</D:getlastmodified>",
                http_date(t)
            );
        }
        if let Some(t) = r.created.or(r.modified) {
            let _ = write!(out, "<D:creationdate>{}</D:creationdate>", rfc3339(t));
        }
        if let Some(e) = &r.etag {
            let _ = write!(out, "<D:getetag>\"{}\"</D:getetag>", escape(e));
        }
        // Read-only (Windows: 0x01).
        let attrs = 0x01 | if r.dir { 0x10 } else { 0x20 };
        let _ = write!(
            out,
            "<Win32FileAttributes xmlns=\"urn:schemas-microsoft-com:\">{attrs:08x}</Win32FileAttributes>"
        );
        out.push_str("<D:supportedlock/><D:lockdiscovery/>");
        out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>");
    }
    out.push_str("</D:multistatus>\n");
    out
}
