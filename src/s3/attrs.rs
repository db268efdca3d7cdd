//! S3 object headers ↔ the store's object attributes (design §5): Content-Type, Cache-Control,
//! Content-Disposition, Content-Encoding, Content-Language, Expires, `x-amz-meta-*`, checksums;
//! rclone's `x-amz-meta-mtime` also becomes the client mtime shared with WebDAV.

use std::collections::BTreeMap;

use s3s::dto::{Metadata, Timestamp, TimestampFormat};

use crate::state::ObjectAttrs;

/// The standard headers S3 stores with an object.
#[derive(Debug, Default, Clone)]
pub(crate) struct StdHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: Option<Metadata>,
}

/// Attributes for a new object (etag left empty: the store fills in the body MD5).
pub(crate) fn from_headers(h: StdHeaders) -> ObjectAttrs {
    let mut headers = BTreeMap::new();
    let mut put = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            headers.insert(name.to_owned(), v);
        }
    };
    put("cache-control", h.cache_control);
    put("content-disposition", h.content_disposition);
    // aws-chunked is a transfer detail, not the object's encoding.
    put(
        "content-encoding",
        h.content_encoding
            .map(|e| {
                e.split(',')
                    .map(str::trim)
                    .filter(|p| !p.eq_ignore_ascii_case("aws-chunked") && !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|e| !e.is_empty()),
    );
    put("content-language", h.content_language);
    put("expires", h.expires.as_ref().and_then(http_date));
    let user_meta: BTreeMap<String, String> = h
        .metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let client_mtime = user_meta.get("mtime").and_then(|m| rclone_mtime(m));
    ObjectAttrs {
        etag: String::new(),
        content_type: h.content_type,
        headers,
        user_meta,
        checksums: BTreeMap::new(),
        client_mtime,
        dead_props: BTreeMap::new(),
        part_sizes: None,
    }
}

/// rclone's `mtime` metadata (Unix seconds with a fraction) as RFC 3339.
fn rclone_mtime(v: &str) -> Option<String> {
    let (secs, frac) = v.trim().split_once('.').unwrap_or((v.trim(), "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: u32 = format!("{digits:0<9}").parse().ok()?;
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// The stored headers as S3 output values.
pub(crate) fn to_headers(a: &ObjectAttrs) -> StdHeaders {
    let get = |n: &str| a.headers.get(n).cloned();
    StdHeaders {
        content_type: a.content_type.clone(),
        cache_control: get("cache-control"),
        content_disposition: get("content-disposition"),
        content_encoding: get("content-encoding"),
        content_language: get("content-language"),
        expires: get("expires").and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, &e).ok()),
        metadata: (!a.user_meta.is_empty()).then(|| {
            a.user_meta
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn headers_round_trip_and_rclone_mtime_becomes_client_mtime() {
        let mut meta = Metadata::new();
        meta.insert("Mtime".into(), "1700000000.5".into());
        meta.insert("color".into(), "blue".into());
        let attrs = from_headers(StdHeaders {
            content_type: Some("text/plain".into()),
            cache_control: Some("no-cache".into()),
            content_encoding: Some("aws-chunked,gzip".into()),
            expires: Some(
                Timestamp::parse(TimestampFormat::HttpDate, "Wed, 21 Oct 2015 07:28:00 GMT")
                    .unwrap(),
            ),
            metadata: Some(meta),
            ..Default::default()
        });
        assert_eq!(
            attrs.client_mtime.as_deref(),
            Some("2023-11-14T22:13:20.500Z")
        );
        assert_eq!(
            attrs.headers.get("content-encoding").map(String::as_str),
            Some("gzip")
        );
        let back = to_headers(&attrs);
        assert_eq!(back.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(
            back.metadata.unwrap().get("color").map(String::as_str),
            Some("blue")
        );
        assert!(back.expires.is_some());
    }
}
