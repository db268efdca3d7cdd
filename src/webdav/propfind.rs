//! PROPFIND with Depth 0 or 1 inside a share, answered by the gateway itself.
//!
//! dav-server builds an XML element tree for every property of every entry and writes it through
//! xml-rs; for a folder of 10,000 entries that was two thirds of a listing's time. Here the
//! multistatus of a listed collection is written directly in one pass over the listing the
//! filesystem already holds (`fs::ScaiFs::list`, one state-DB query for the attributes of all
//! entries, one lock query for the collection), streamed in batches of responses, with the
//! ScaiDrive media type and the quoted ETag written right the first time.
//!
//! What is answered (RFC 4918 §9.1): `allprop` (also an empty body, and `include`), and `prop`,
//! where every requested property is found (200 propstat) or reported missing (404 propstat).
//! Properties are the live ones below, dead properties stored by PROPPATCH, and `oc:checksums`.
//! `propname`, the gateway root (the list of shares), a missing Depth header and every request
//! this module cannot read are left to dav-server, which also answers every error.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem as _};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt as _;

use super::DavBody;
use super::fs::{self, Loc, ReqCtx, ScaiFs};
use super::locks::DbLs;
use super::meta::{Entry, Meta};
use crate::state::ObjectAttrs;

const NS_DAV: &str = "DAV:";
const NS_MS: &str = "urn:schemas-microsoft-com:";
/// Responses written per chunk of the body.
const BATCH: usize = 128;

/// A property by namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropName {
    ns: Option<String>,
    name: String,
}

impl PropName {
    fn new(ns: &str, name: &str) -> Self {
        Self {
            ns: Some(ns.to_owned()),
            name: name.to_owned(),
        }
    }

    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// The key dead properties are stored under (`fs::deadprops::prop_key`).
    fn key(&self) -> String {
        format!("{{{}}}{}", self.ns.as_deref().unwrap_or(""), self.name)
    }

    /// An empty element naming the property (for the 404 propstat).
    fn write_empty(&self, out: &mut String) {
        match self.ns.as_deref() {
            Some(NS_DAV) => {
                let _ = write!(out, "<D:{}/>", self.name);
            }
            Some(ns) => {
                let _ = write!(out, "<{} xmlns=\"{}\"/>", self.name, escape(ns));
            }
            None => {
                let _ = write!(out, "<{} xmlns=\"\"/>", self.name);
            }
        }
    }
}

/// What a PROPFIND body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// `allprop` (or an empty body), with the `include`d properties.
    All { include: Vec<PropName> },
    /// `prop`: these properties, in order, each once.
    Named(Vec<PropName>),
}

/// Reads a PROPFIND body; `None` for what dav-server should answer (`propname`, or a body it
/// refuses with its own error).
pub(crate) fn parse(body: &[u8]) -> Option<Wanted> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Wanted::All {
            include: Vec::new(),
        });
    }
    let root = xmltree::Element::parse(body).ok()?;
    if root.name != "propfind" || root.namespace.as_deref() != Some(NS_DAV) {
        return None;
    }
    let names = |e: &xmltree::Element| -> Vec<PropName> {
        let mut out: Vec<PropName> = Vec::new();
        for c in e.children.iter().filter_map(xmltree::XMLNode::as_element) {
            let p = PropName {
                ns: c.namespace.clone().filter(|n| !n.is_empty()),
                name: c.name.clone(),
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    };
    let children: Vec<&xmltree::Element> = root
        .children
        .iter()
        .filter_map(xmltree::XMLNode::as_element)
        .filter(|e| e.namespace.as_deref() == Some(NS_DAV))
        .collect();
    // The first of propname, prop or allprop decides, as in dav-server.
    let first = children
        .iter()
        .find(|e| matches!(e.name.as_str(), "propname" | "prop" | "allprop"))?;
    match first.name.as_str() {
        "prop" => Some(Wanted::Named(names(first))),
        "allprop" => Some(Wanted::All {
            include: children
                .iter()
                .find(|e| e.name == "include")
                .map(|e| names(e))
                .unwrap_or_default(),
        }),
        _ => None,
    }
}

/// The live properties `allprop` returns (RFC 4918 §14.2), plus the Win32 ones for Microsoft's
/// Mini-Redirector.
fn allprop_live(microsoft: bool) -> Vec<PropName> {
    let mut v: Vec<PropName> = [
        "creationdate",
        "getcontentlength",
        "getcontenttype",
        "getetag",
        "getlastmodified",
        "lockdiscovery",
        "resourcetype",
        "supportedlock",
    ]
    .iter()
    .map(|n| PropName::new(NS_DAV, n))
    .collect();
    if microsoft {
        v.extend(
            [
                "Win32CreationTime",
                "Win32FileAttributes",
                "Win32LastModifiedTime",
            ]
            .iter()
            .map(|n| PropName::new(NS_MS, n)),
        );
    }
    v
}

/// Escapes text for element content and attribute values.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// dav-server's guess from the extension, for files without a stored media type.
fn guessed_type(name: &str) -> &'static str {
    name.rsplit_once('.')
        .and_then(|(_, ext)| mime_guess::from_ext(ext).first_raw())
        .unwrap_or("application/octet-stream")
}

const SUPPORTEDLOCK: &str = "<D:supportedlock>\
    <D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
    <D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
    </D:supportedlock>";

/// A dead property's stored XML (written by xml-rs, declaration first) without the declaration.
fn stored_xml(xml: &str) -> &str {
    let s = xml.trim_start();
    match s.strip_prefix("<?") {
        Some(rest) => rest.split_once("?>").map_or(s, |(_, r)| r.trim_start()),
        None => s,
    }
}

/// Writes an `activelock` (RFC 4918 §14.1).
fn write_lock(out: &mut String, lock: &DavLock) {
    let scope = if lock.shared { "shared" } else { "exclusive" };
    let depth = if lock.deep { "Infinity" } else { "0" };
    let timeout = match lock.timeout {
        Some(d) => format!("Second-{}", d.as_secs()),
        None => "Infinite".to_owned(),
    };
    let _ = write!(
        out,
        "<D:activelock><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>\
         <D:depth>{depth}</D:depth><D:timeout>{timeout}</D:timeout>\
         <D:locktoken><D:href>{}</D:href></D:locktoken>\
         <D:lockroot><D:href>{}</D:href></D:lockroot>",
        escape(&lock.token),
        escape(&lock.path.with_prefix().as_url_string()),
    );
    if let Some(owner) = &lock.owner {
        let mut buf = Vec::new();
        let config = xmltree::EmitterConfig::new()
            .write_document_declaration(false)
            .perform_indent(false)
            .normalize_empty_elements(false);
        if owner.write_with_config(&mut buf, config).is_ok() {
            out.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    out.push_str("</D:activelock>");
}

/// The request's view, shared by every response of the multistatus.
struct Writer {
    ls: DbLs,
    wanted: Wanted,
    /// For `allprop`: the live properties to return.
    live: Vec<PropName>,
    principal: String,
    /// `WebDAVFS` (macOS) reads quota sizes only zero-padded to 14 digits.
    webdavfs: bool,
    /// The share's used bytes and free space, for the quota properties.
    quota: Option<(u64, Option<u64>)>,
    /// The listed entries' attributes, by id (from the listing's one state-DB query).
    attrs: HashMap<String, ObjectAttrs>,
}

/// One resource to describe.
struct Item {
    /// Percent-encoded, as the href.
    href: String,
    /// The last path segment (empty for a share).
    name: String,
    meta: Meta,
    is_share: bool,
}

impl Writer {
    /// The value of a live property, or `None` when it is not live (or has no value here).
    async fn live(&self, p: &PropName, item: &Item, out: &mut String) -> Option<bool> {
        let m = &item.meta;
        match p.ns.as_deref() {
            Some(NS_DAV) => match p.name.as_str() {
                "creationdate" => {
                    let Some(t) = m.created.or(m.modified) else {
                        return Some(false);
                    };
                    let _ = write!(out, "<D:creationdate>{}</D:creationdate>", rfc3339(t));
                    Some(true)
                }
                "getcontentlength" => {
                    if m.dir {
                        return Some(false);
                    }
                    let _ = write!(out, "<D:getcontentlength>{}</D:getcontentlength>", m.len);
                    Some(true)
                }
                "getcontenttype" => {
                    let ct = match (&m.content_type, m.dir) {
                        (_, true) => "httpd/unix-directory",
                        (Some(ct), false) => ct.as_str(),
                        (None, false) => guessed_type(&item.name),
                    };
                    let _ = write!(out, "<D:getcontenttype>{}</D:getcontenttype>", escape(ct));
                    Some(true)
                }
                "getetag" => {
                    let Some(etag) = &m.etag else {
                        return Some(false);
                    };
                    let _ = write!(out, "<D:getetag>\"{}\"</D:getetag>", escape(etag));
                    Some(true)
                }
                "getlastmodified" => {
                    let Some(t) = m.modified else {
                        return Some(false);
                    };
                    let _ = write!(
                        out,
                        "<D:getlastmodified>{}</D:getlastmodified>",
                        http_date(t)
                    );
                    Some(true)
                }
                "resourcetype" => {
                    out.push_str(if m.dir {
                        "<D:resourcetype><D:collection/></D:resourcetype>"
                    } else {
                        "<D:resourcetype/>"
                    });
                    Some(true)
                }
                "supportedlock" => {
                    out.push_str(SUPPORTEDLOCK);
                    Some(true)
                }
                "lockdiscovery" => {
                    // The href is parsed only when the collection has locks at all.
                    let locks = if self.ls.loaded_none() {
                        Vec::new()
                    } else {
                        match DavPath::new(&item.href) {
                            Ok(path) => self.ls.discover(&path).await,
                            Err(_) => Vec::new(),
                        }
                    };
                    if locks.is_empty() {
                        out.push_str("<D:lockdiscovery/>");
                    } else {
                        out.push_str("<D:lockdiscovery>");
                        for l in &locks {
                            write_lock(out, l);
                        }
                        out.push_str("</D:lockdiscovery>");
                    }
                    Some(true)
                }
                "current-user-principal" => {
                    let _ = write!(
                        out,
                        "<D:current-user-principal><D:href>{}</D:href></D:current-user-principal>",
                        escape(&self.principal)
                    );
                    Some(true)
                }
                "quota-used-bytes" | "quota-available-bytes" => {
                    let Some((used, free)) = self.quota else {
                        return Some(false);
                    };
                    let value = if p.name == "quota-used-bytes" {
                        if item.is_share { used } else { m.len }
                    } else {
                        let Some(free) = free else {
                            return Some(false);
                        };
                        free
                    };
                    let value = if self.webdavfs {
                        format!("{value:014}")
                    } else {
                        value.to_string()
                    };
                    let _ = write!(out, "<D:{0}>{value}</D:{0}>", p.name);
                    Some(true)
                }
                _ => None,
            },
            Some(NS_MS) => match p.name.as_str() {
                "Win32CreationTime" => {
                    let Some(t) = m.created.or(m.modified) else {
                        return Some(false);
                    };
                    let _ = write!(
                        out,
                        "<Win32CreationTime xmlns=\"{NS_MS}\">{}</Win32CreationTime>",
                        http_date(t)
                    );
                    Some(true)
                }
                "Win32LastModifiedTime" => {
                    let Some(t) = m.modified else {
                        return Some(false);
                    };
                    let _ = write!(
                        out,
                        "<Win32LastModifiedTime xmlns=\"{NS_MS}\">{}</Win32LastModifiedTime>",
                        http_date(t)
                    );
                    Some(true)
                }
                "Win32FileAttributes" => {
                    let mut attr = 0u32;
                    if item.name.starts_with('.') {
                        attr |= 0x02;
                    }
                    attr |= if m.dir { 0x10 } else { 0x20 };
                    let _ = write!(
                        out,
                        "<Win32FileAttributes xmlns=\"{NS_MS}\">{attr:08x}</Win32FileAttributes>"
                    );
                    Some(true)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// A stored (dead) property, or `oc:checksums`.
    fn dead(p: &PropName, attrs: &ObjectAttrs, out: &mut String) -> bool {
        if p.is(super::props::OC_NS, "checksums")
            && let Some(xml) = fs::checksums_xml(attrs)
        {
            out.push_str(&xml);
            return true;
        }
        match attrs.dead_props.get(&p.key()) {
            Some(xml) => {
                out.push_str(stored_xml(xml));
                true
            }
            None => false,
        }
    }

    /// Writes one `<D:response>`.
    async fn write(&self, item: &Item, attrs: &ObjectAttrs, out: &mut String) {
        let _ = write!(out, "<D:response><D:href>{}</D:href>", item.href);
        // The 200 propstat, dropped again when it stays empty.
        let mark = out.len();
        out.push_str("<D:propstat><D:prop>");
        let first = out.len();
        let mut missing: Vec<&PropName> = Vec::new();
        match &self.wanted {
            Wanted::All { include } => {
                for p in &self.live {
                    self.live(p, item, out).await;
                }
                // Every dead property, then the checksums (as ownCloud lists them).
                for xml in attrs.dead_props.values() {
                    out.push_str(stored_xml(xml));
                }
                if let Some(xml) = fs::checksums_xml(attrs) {
                    out.push_str(&xml);
                }
                for p in include {
                    let covered = self.live.contains(p)
                        || attrs.dead_props.contains_key(&p.key())
                        || p.is(super::props::OC_NS, "checksums");
                    if !covered && self.live(p, item, out).await != Some(true) {
                        missing.push(p);
                    }
                }
            }
            Wanted::Named(props) => {
                for p in props {
                    let found = match self.live(p, item, out).await {
                        Some(found) => found,
                        None => Self::dead(p, attrs, out),
                    };
                    if !found {
                        missing.push(p);
                    }
                }
            }
        }
        if out.len() == first {
            out.truncate(mark);
        } else {
            out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        }
        if !missing.is_empty() {
            out.push_str("<D:propstat><D:prop>");
            for p in missing {
                p.write_empty(out);
            }
            out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
        }
        out.push_str("</D:response>");
    }
}

/// Percent-encodes a path segment as dav-server writes hrefs.
fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Answers a PROPFIND of `path` with `depth` 0 or 1, or `None` to leave it to dav-server (the
/// root, and every error: dav-server answers it the same way again).
pub(crate) async fn answer(
    ctx: Arc<ReqCtx>,
    ls: DbLs,
    path: DavPath,
    one: bool,
    wanted: Wanted,
    user_agent: &str,
) -> Option<Response<DavBody>> {
    let fs = ScaiFs(Arc::clone(&ctx));
    let segs = fs::segments(&path)?;
    let loc = fs.locate_segments(&segs).ok()?;
    let share = match &loc {
        Loc::Root => return None,
        Loc::Share(s) | Loc::Item { share: s, .. } => s.clone(),
    };
    let meta = fs.meta_of(&loc).await.ok()?;
    let is_share = matches!(loc, Loc::Share(_));
    let target_attrs = fs.prop_attrs(&path).await.ok()?;
    let children = if one && meta.dir {
        Some(fs.list(&loc, &segs).await.ok()?)
    } else {
        None
    };
    // The listing's attributes move here: nothing else asks the memo in this request.
    let attrs = ctx
        .listed
        .lock()
        .ok()
        .and_then(|mut l| l.take())
        .map(|l| l.attrs)
        .unwrap_or_default();

    let mut href = path.with_prefix().as_url_string();
    let mut content_location = None;
    if meta.dir && !href.ends_with('/') {
        href.push('/');
        content_location = Some(href.clone());
    }
    let microsoft = user_agent.contains("Microsoft");
    let writer = Arc::new(Writer {
        ls,
        live: match &wanted {
            Wanted::All { .. } => allprop_live(microsoft),
            Wanted::Named(_) => Vec::new(),
        },
        wanted,
        principal: ctx.session.principal().to_owned(),
        webdavfs: user_agent.contains("WebDAVFS"),
        quota: share
            .used_bytes
            .map(|used| (used, share.quota_bytes.map(|q| q.saturating_sub(used)))),
        attrs,
    });
    let target = Item {
        name: segs
            .last()
            .filter(|_| !is_share)
            .cloned()
            .unwrap_or_default(),
        href: href.clone(),
        meta,
        is_share,
    };
    let entries: Vec<Entry> = children.unwrap_or_default();

    let head = "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:multistatus xmlns:D=\"DAV:\">";
    struct State {
        writer: Arc<Writer>,
        target: Option<(Item, ObjectAttrs)>,
        entries: std::vec::IntoIter<Entry>,
        base: String,
        done: bool,
    }
    let state = State {
        writer,
        target: Some((target, target_attrs)),
        entries: entries.into_iter(),
        base: href,
        done: false,
    };
    let body = futures::stream::unfold(state, move |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = String::with_capacity(BATCH * 1024);
        if let Some((t, attrs)) = st.target.take() {
            out.push_str(head);
            st.writer.write(&t, &attrs, &mut out).await;
        }
        for _ in 0..BATCH {
            let Some(e) = st.entries.next() else {
                out.push_str("</D:multistatus>");
                st.done = true;
                break;
            };
            let mut href = format!("{}{}", st.base, encode_segment(&e.name));
            if e.meta.dir {
                href.push('/');
            }
            let item = Item {
                href,
                name: e.name,
                meta: e.meta,
                is_share: false,
            };
            let none = ObjectAttrs::default();
            let attrs =
                e.id.and_then(|id| st.writer.attrs.get(&id))
                    .unwrap_or(&none);
            st.writer.write(&item, attrs, &mut out).await;
        }
        Some((
            Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(out))),
            st,
        ))
    });
    let mut resp = Response::new(http_body_util::StreamBody::new(body).boxed_unsync());
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(loc) = content_location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::CONTENT_LOCATION, loc);
    }
    Some(resp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_as_dav_server_reads_them() {
        assert_eq!(
            parse(b""),
            Some(Wanted::All {
                include: Vec::new()
            })
        );
        let named = br#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="http://owncloud.org/ns"><d:prop><d:getetag/><o:checksums/><d:getetag/><x xmlns=""/></d:prop></d:propfind>"#;
        assert_eq!(
            parse(named),
            Some(Wanted::Named(vec![
                PropName::new("DAV:", "getetag"),
                PropName::new("http://owncloud.org/ns", "checksums"),
                PropName {
                    ns: None,
                    name: "x".into()
                },
            ]))
        );
        let include = br#"<propfind xmlns="DAV:"><allprop/><include><quota-used-bytes/></include></propfind>"#;
        assert_eq!(
            parse(include),
            Some(Wanted::All {
                include: vec![PropName::new("DAV:", "quota-used-bytes")]
            })
        );
        assert_eq!(
            parse(br#"<propfind xmlns="DAV:"><propname/></propfind>"#),
            None
        );
        assert_eq!(parse(br#"<propfind><allprop/></propfind>"#), None);
        assert_eq!(parse(b"<propfind xmlns=\"DAV:\"><allprop/>"), None);
    }

    proptest::proptest! {
        /// Any body: an answer or `None`, never a panic.
        #[test]
        fn any_body_is_read_without_panicking(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&body);
        }

        /// A `prop` request for any names in any namespaces (escaped as a client would) reads
        /// back as those names, in order, each once; an empty-name write of each parses back.
        #[test]
        fn named_properties_read_back_in_order_each_once(
            props in proptest::collection::vec(
                ("[A-Za-z_][A-Za-z0-9._-]{0,12}", proptest::option::of("[ -~]{1,24}")),
                0..12,
            ),
        ) {
            let mut body = String::from(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>"#);
            let mut want: Vec<PropName> = Vec::new();
            for (name, ns) in &props {
                match ns {
                    Some(ns) => body.push_str(&format!("<{name} xmlns=\"{}\"/>", escape(ns))),
                    None => body.push_str(&format!("<{name} xmlns=\"\"/>")),
                }
                let p = PropName { ns: ns.clone(), name: name.clone() };
                if !want.contains(&p) {
                    want.push(p);
                }
            }
            body.push_str("</D:prop></D:propfind>");
            proptest::prop_assert_eq!(parse(body.as_bytes()), Some(Wanted::Named(want.clone())));
            // The 404 propstat names each property so that it parses back as itself.
            for p in &want {
                let mut out = String::from(r#"<D:prop xmlns:D="DAV:">"#);
                p.write_empty(&mut out);
                out.push_str("</D:prop>");
                let e = xmltree::Element::parse(out.as_bytes()).unwrap();
                let c = e.children[0].as_element().unwrap();
                proptest::prop_assert_eq!(&c.name, &p.name);
                proptest::prop_assert_eq!(c.namespace.clone().filter(|n| !n.is_empty()), p.ns.clone());
            }
        }
    }

    #[test]
    fn stored_dead_properties_lose_only_their_declaration() {
        assert_eq!(
            stored_xml(r#"<?xml version="1.0" encoding="utf-8"?><Z:c xmlns:Z="u">v</Z:c>"#),
            r#"<Z:c xmlns:Z="u">v</Z:c>"#
        );
        assert_eq!(stored_xml("<a xmlns=\"u\"/>"), "<a xmlns=\"u\"/>");
    }

    #[test]
    fn missing_properties_are_named_in_their_namespace() {
        let mut out = String::new();
        PropName::new("DAV:", "foo").write_empty(&mut out);
        PropName::new("http://x/?a&b", "bar").write_empty(&mut out);
        PropName {
            ns: None,
            name: "baz".into(),
        }
        .write_empty(&mut out);
        assert_eq!(
            out,
            "<D:foo/><bar xmlns=\"http://x/?a&amp;b\"/><baz xmlns=\"\"/>"
        );
    }

    #[test]
    fn hrefs_encode_like_dav_server() {
        assert_eq!(encode_segment("a b&c/ü.txt"), "a%20b%26c%2F%C3%BC.txt");
        assert_eq!(
            http_date(std::time::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
