//! WebDAV dead properties: PROPPATCH and PROPFIND of properties the gateway keeps in an item's
//! attributes (the state DB), the client mtime properties Windows and others set, and
//! ownCloud's `oc:checksums`.

use dav_server::davpath::DavPath;
use dav_server::fs::{DavProp, FsError, FsResult};
use http::StatusCode;

use super::{Found, Loc, Memo, ScaiFs, folder_attrs_key, segments};
use crate::state::ObjectAttrs;
use crate::store::{self as st, FileInfo, Need, StoreError};

impl ScaiFs {
    /// The file or folder at `path` whose attributes carry dead properties.
    async fn prop_target(&self, path: &DavPath) -> FsResult<FileInfo> {
        let ctx = self.ctx();
        let Loc::Item { share, path } = self.locate(path)? else {
            return Err(FsError::Forbidden);
        };
        if ctx
            .pending
            .materialize(&ctx.store, &ctx.session, &share.id, &path)
            .await
        {
            // created just now: look it up afresh
        }
        match self.find(&share, &path).await? {
            Some(Found::File(_, f)) => Ok(f),
            Some(Found::Folder(_, f)) => Ok(folder_attrs_key(&f)),
            _ => Err(FsError::NotFound),
        }
    }

    pub(crate) async fn prop_attrs(&self, path: &DavPath) -> FsResult<ObjectAttrs> {
        let ctx = self.ctx();
        if let Some(segs) = segments(path) {
            match ctx.memo(&segs) {
                Memo::File(_, attrs) | Memo::Folder(attrs) => return Ok(attrs.unwrap_or_default()),
                Memo::Unknown => {}
            }
        }
        let Loc::Item { share, path } = self.locate(path)? else {
            return Ok(ObjectAttrs::default());
        };
        let (parent, entry, target) = match self.find(&share, &path).await? {
            Some(Found::File(p, f)) => (p, st::Entry::File(std::sync::Arc::new(f.clone())), f),
            Some(Found::Folder(p, f)) => {
                let key = folder_attrs_key(&f);
                (p, st::Entry::Folder(std::sync::Arc::new(f)), key)
            }
            Some(Found::Pending(_)) => return Ok(ObjectAttrs::default()),
            None => return Err(FsError::NotFound),
        };
        let Some(attrs) = ctx
            .store
            .attrs_of(&target)
            .await
            .map_err(|e| self.err("attrs", &e))?
        else {
            return Ok(ObjectAttrs::default());
        };
        match ctx
            .store
            .check_read(&ctx.session, &parent, &entry, Need::Attributes)
            .await
        {
            Ok(()) => Ok(attrs),
            Err(StoreError::AccessDenied(_)) => Err(FsError::Forbidden),
            Err(e) => Err(self.err("access", &e)),
        }
    }

    /// PROPPATCH: sets and removes dead properties (and the client mtime) all or nothing.
    pub(super) async fn patch_dead_props(
        &self,
        path: &DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsResult<Vec<(StatusCode, DavProp)>> {
        let ctx = self.ctx();
        let share_id = match self.locate(path)? {
            Loc::Share(share) | Loc::Item { share, .. } => {
                self.writable(&share)?;
                share.id.clone()
            }
            Loc::Root => String::new(),
        };
        let target = self.prop_target(path).await?;
        let mut out = Vec::with_capacity(patch.len());
        let mut mtime: Option<Option<String>> = None;
        let mut changes: Vec<(bool, String, Option<String>)> = Vec::new();
        for (set, prop) in patch {
            let status = if prop
                .namespace
                .as_deref()
                .is_some_and(|n| n.starts_with(crate::webdav::props::MTIME_NS_PREFIX))
            {
                // getlastmodified / lastmodified / Win32LastModifiedTime (rewritten).
                let value = prop.xml.as_deref().and_then(prop_text);
                match (set, value.as_deref().and_then(mtime_value)) {
                    (true, Some(v)) => {
                        mtime = Some(Some(v));
                        StatusCode::OK
                    }
                    (false, _) => {
                        mtime = Some(None);
                        StatusCode::OK
                    }
                    (true, None) => StatusCode::CONFLICT,
                }
            } else {
                let xml = prop
                    .xml
                    .as_deref()
                    .map(|x| String::from_utf8_lossy(x).into_owned());
                changes.push((set, prop_key(&prop), xml));
                StatusCode::OK
            };
            out.push((status, DavProp { xml: None, ..prop }));
        }
        if out.iter().any(|(s, _)| *s != StatusCode::OK) {
            return Ok(out
                .into_iter()
                .map(|(s, p)| {
                    if s == StatusCode::OK {
                        (StatusCode::FAILED_DEPENDENCY, p)
                    } else {
                        (s, p)
                    }
                })
                .collect());
        }
        ctx.store
            .update_attrs(&share_id, &target, |a| {
                for (set, key, xml) in changes {
                    if set {
                        a.dead_props.insert(key, xml.unwrap_or_default());
                    } else {
                        a.dead_props.remove(&key);
                    }
                }
                if let Some(m) = mtime {
                    a.client_mtime = m;
                }
            })
            .await
            .map_err(|e| self.err("proppatch", &e))?;
        Ok(out)
    }

    /// The dead properties of `path` (with their values when `do_content`).
    pub(super) async fn dead_props(
        &self,
        path: &DavPath,
        do_content: bool,
    ) -> FsResult<Vec<DavProp>> {
        let attrs = self.prop_attrs(path).await?;
        let mut props: Vec<DavProp> = attrs
            .dead_props
            .iter()
            .map(|(k, v)| prop_from_key(k, do_content.then_some(v.as_str())))
            .collect();
        // oc:checksums for rclone's owncloud vendor (verify without downloading).
        if let Some(v) = checksums_xml(&attrs) {
            props.push(DavProp {
                name: "checksums".into(),
                prefix: Some("oc".into()),
                namespace: Some(crate::webdav::props::OC_NS.into()),
                xml: do_content.then(|| v.into_bytes()),
            });
        }
        Ok(props)
    }

    /// One dead property's value.
    pub(super) async fn dead_prop(&self, path: &DavPath, prop: DavProp) -> FsResult<Vec<u8>> {
        let attrs = self.prop_attrs(path).await?;
        if prop.namespace.as_deref() == Some(crate::webdav::props::OC_NS)
            && prop.name == "checksums"
        {
            return checksums_xml(&attrs)
                .map(String::into_bytes)
                .ok_or(FsError::NotFound);
        }
        attrs
            .dead_props
            .get(&prop_key(&prop))
            .map(|v| v.as_bytes().to_vec())
            .ok_or(FsError::NotFound)
    }
}

fn prop_key(p: &DavProp) -> String {
    format!("{{{}}}{}", p.namespace.as_deref().unwrap_or(""), p.name)
}

fn prop_from_key(key: &str, xml: Option<&str>) -> DavProp {
    let (ns, name) = match key.strip_prefix('{').and_then(|k| k.split_once('}')) {
        Some((ns, name)) => (Some(ns.to_owned()).filter(|n| !n.is_empty()), name),
        None => (None, key),
    };
    DavProp {
        name: name.to_owned(),
        prefix: None,
        namespace: ns,
        xml: xml.map(|x| x.as_bytes().to_vec()),
    }
}

/// The text content of a property element given as XML (`<a:x xmlns:a="…">TEXT</a:x>`).
fn prop_text(xml: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(xml).ok()?.trim_start();
    // dav-server serializes the element with xml-rs, which writes a declaration first.
    let s = match s.strip_prefix("<?") {
        Some(rest) => rest.split_once("?>")?.1.trim_start(),
        None => s,
    };
    let start = s.find('>')? + 1;
    let end = s.rfind("</")?;
    (start <= end).then(|| s[start..end].trim().to_owned())
}

/// A client mtime property value (HTTP date, RFC 3339 or Unix seconds) as RFC 3339.
pub(crate) fn mtime_value(text: &str) -> Option<String> {
    let t = text.trim();
    let parsed = chrono::DateTime::parse_from_rfc2822(t)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(t))
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            let secs: f64 = t.parse().ok()?;
            chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
        })
        .or_else(|| {
            // HTTP dates say "GMT", which RFC 2822 parsing accepts; "UTC" it may not.
            chrono::NaiveDateTime::parse_from_str(t, "%a, %d %b %Y %H:%M:%S UTC")
                .ok()
                .map(|n| n.and_utc())
        })?;
    Some(parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// `oc:checksums` as ownCloud sends it: `<oc:checksum>SHA1:… MD5:…</oc:checksum>`.
pub(crate) fn checksums_xml(attrs: &ObjectAttrs) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if attrs.etag.len() == 32 && attrs.etag.bytes().all(|b| b.is_ascii_hexdigit()) {
        parts.push(format!("MD5:{}", attrs.etag));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "<oc:checksums xmlns:oc=\"{}\"><oc:checksum>{}</oc:checksum></oc:checksums>",
        crate::webdav::props::OC_NS,
        parts.join(" ")
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{mtime_value, prop_text};

    #[test]
    fn prop_text_skips_the_xml_declaration() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?><Win32LastModifiedTime xmlns="urn:x-scaidrive:mtime:ms">Mon, 20 Nov 2023 10:00:02 GMT</Win32LastModifiedTime>"#;
        let text = prop_text(xml).unwrap();
        assert_eq!(text, "Mon, 20 Nov 2023 10:00:02 GMT");
        assert_eq!(
            mtime_value(&text).as_deref(),
            Some("2023-11-20T10:00:02.000Z")
        );
        assert_eq!(prop_text(b"<a>x</a>").as_deref(), Some("x"));
    }
}
