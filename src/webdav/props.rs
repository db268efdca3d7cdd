//! PROPPATCH of modification times. dav-server refuses `DAV:getlastmodified` (403) and answers
//! `Win32LastModifiedTime` with 200 without storing it; rclone's owncloud vendor sends
//! `DAV:lastmodified`. The front end rewrites these elements into private namespaces before
//! dav-server sees the request, so they reach `patch_props` (which sets the client mtime), and
//! maps the namespaces back in the 207 answer.

use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::name::ResolveResult;

/// ownCloud's namespace (`oc:checksums`).
pub(crate) const OC_NS: &str = "http://owncloud.org/ns";
/// Every private mtime namespace starts with this.
pub(crate) const MTIME_NS_PREFIX: &str = "urn:x-scaidrive:mtime:";
const DAV_STANDIN: &str = "urn:x-scaidrive:mtime:dav";
const MS_STANDIN: &str = "urn:x-scaidrive:mtime:ms";
const MS_NS: &str = "urn:schemas-microsoft-com:";

fn standin(ns: &[u8], local: &[u8]) -> Option<&'static str> {
    match (ns, local) {
        (b"DAV:", b"getlastmodified" | b"lastmodified") => Some(DAV_STANDIN),
        (n, b"Win32LastModifiedTime") if n == MS_NS.as_bytes() => Some(MS_STANDIN),
        _ => None,
    }
}

/// Rewrites mtime properties of a PROPPATCH body; `None` when there are none (or the body is
/// not XML dav-server would accept anyway).
pub(crate) fn rewrite_proppatch(body: &[u8]) -> Option<Vec<u8>> {
    let mut reader = quick_xml::NsReader::from_reader(body);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(body.len() + 64));
    let mut open: Vec<Option<String>> = Vec::new();
    let mut changed = false;
    loop {
        let (res, ev) = reader.read_resolved_event().ok()?;
        let ns = match res {
            ResolveResult::Bound(n) => Some(n.as_ref().to_vec()),
            _ => None,
        };
        match ev {
            Event::Eof => break,
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_vec();
                match ns.as_deref().and_then(|n| standin(n, &local)) {
                    Some(uri) => {
                        let name = String::from_utf8(local).ok()?;
                        let mut start = BytesStart::new(name.clone());
                        start.push_attribute(("xmlns", uri));
                        writer.write_event(Event::Start(start)).ok()?;
                        open.push(Some(name));
                        changed = true;
                    }
                    None => {
                        writer.write_event(Event::Start(e.into_owned())).ok()?;
                        open.push(None);
                    }
                }
            }
            Event::Empty(e) => {
                let local = e.local_name().as_ref().to_vec();
                match ns.as_deref().and_then(|n| standin(n, &local)) {
                    Some(uri) => {
                        let name = String::from_utf8(local).ok()?;
                        let mut start = BytesStart::new(name);
                        start.push_attribute(("xmlns", uri));
                        writer.write_event(Event::Empty(start)).ok()?;
                        changed = true;
                    }
                    None => writer.write_event(Event::Empty(e.into_owned())).ok()?,
                }
            }
            Event::End(e) => match open.pop().flatten() {
                Some(name) => writer.write_event(Event::End(BytesEnd::new(name))).ok()?,
                None => writer.write_event(Event::End(e.into_owned())).ok()?,
            },
            other => writer.write_event(other.into_owned()).ok()?,
        }
    }
    changed.then(|| writer.into_inner())
}

/// Maps the private namespaces in a PROPPATCH answer back to the client's.
pub(crate) fn restore_answer(body: &str) -> String {
    body.replace(DAV_STANDIN, "DAV:").replace(MS_STANDIN, MS_NS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn getlastmodified_is_moved_to_a_private_namespace_and_others_stay() {
        let body = br#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><D:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</D:getlastmodified><Z:Win32LastModifiedTime>Mon, 01 Jan 2024 00:00:00 GMT</Z:Win32LastModifiedTime><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>"#;
        let out = String::from_utf8(rewrite_proppatch(body).unwrap()).unwrap();
        assert!(
            out.contains(r#"<getlastmodified xmlns="urn:x-scaidrive:mtime:dav">Mon"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<Win32LastModifiedTime xmlns="urn:x-scaidrive:mtime:ms">"#),
            "{out}"
        );
        assert!(out.contains("<D:displayname>x</D:displayname>"), "{out}");
        assert!(rewrite_proppatch(b"<D:propertyupdate xmlns:D=\"DAV:\"/>").is_none());
    }
}
