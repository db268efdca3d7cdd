//! The page a browser gets for a collection (GET with `Accept: text/html`): one static,
//! dependency-free HTML file (`browser/page.html`) whose script lists the collection with
//! PROPFIND and changes it with the same WebDAV requests any client sends (PUT, MKCOL, MOVE,
//! COPY, DELETE), under the same authentication. It adds no endpoint and no state change on GET.
//!
//! Cross-site requests: a browser keeps Basic credentials for the origin, so the front end
//! refuses every method that changes something when the request carries an `Origin` other than
//! its own ([`cross_origin_write`]); the page's strict Content-Security-Policy allows only its
//! own inline script (by hash) and requests to its own origin. See `docs/webdav.md` § Browser.

use std::sync::OnceLock;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use sha2::Digest as _;

use super::DavBody;

const PAGE: &str = include_str!("browser/page.html");

/// Whether a request is a browser asking for a collection's page.
pub(crate) fn wants_page(method: &Method, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The Content-Security-Policy of the page: its inline script and style by hash, requests to
/// its own origin only, no framing.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |open: &str, close: &str| {
            let body = PAGE
                .split_once(open)
                .and_then(|(_, rest)| rest.split_once(close))
                .map(|(b, _)| b)
                .unwrap_or_default();
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
        };
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; img-src 'self' data:; form-action 'none'; \
             frame-ancestors 'none'; base-uri 'none'",
            hash("<script>", "</script>"),
            hash("<style>", "</style>")
        )
    })
}

/// The page (the same for every collection: its script reads the location).
pub(crate) fn page(method: &Method) -> Response<DavBody> {
    let body = if method == Method::HEAD { "" } else { PAGE };
    let mut resp = Response::new(
        http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(PAGE.len()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert("content-security-policy", v);
    }
    resp
}

/// A redirect to the collection's URL with its trailing slash (the page's relative links and
/// its script rely on it).
pub(crate) fn to_collection(path_and_query: &str) -> Response<DavBody> {
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
    let target = match query {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut resp = Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(&target) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Whether a request that may change something comes from another origin's page: its
/// `Origin` header (browsers send it on every such request) names another host than `Host`.
/// WebDAV clients send no `Origin` and are not concerned.
pub(crate) fn cross_origin_write(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PROPFIND") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn writes_from_another_origin_are_told_apart_from_clients_and_the_page() {
        let put = Method::PUT;
        let own = headers(&[("host", "gw:8080"), ("origin", "http://gw:8080")]);
        let other = headers(&[("host", "gw:8080"), ("origin", "https://evil.example")]);
        let null = headers(&[("host", "gw:8080"), ("origin", "null")]);
        let client = headers(&[("host", "gw:8080")]);
        assert!(!cross_origin_write(&put, &own));
        assert!(cross_origin_write(&put, &other));
        assert!(cross_origin_write(&put, &null));
        assert!(!cross_origin_write(&put, &client));
        assert!(!cross_origin_write(&Method::GET, &other));
        assert!(cross_origin_write(
            &Method::from_bytes(b"MOVE").unwrap(),
            &other
        ));
    }

    #[test]
    fn the_policy_names_the_page_script_by_hash() {
        let p = csp();
        assert!(
            p.contains("script-src 'sha256-") && !p.contains("unsafe-inline"),
            "{p}"
        );
        assert!(
            !p.contains("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            "{p}"
        );
    }
}
