//! `POST /.well-known/scaidrive-gateway/links` with `{"path": "/<Share>/<path>"}`: a ScaiDrive
//! external link (view and download) of that file or folder, for the browser page's "Share
//! link". Answers 201 `{"id", "url", "expires_at"}`; ScaiDrive decides who may (SHARE on the
//! item: share admins and owners, or an ACL entry), its refusal is 403 with its reason.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use serde::Deserialize;

use super::DavBody;
use super::fs::ReqCtx;
use crate::namespace::ObjectPath;
use crate::store::StoreError;

/// The path of the endpoint.
pub(crate) const LINKS_PATH: [&str; 3] = [".well-known", "scaidrive-gateway", "links"];
/// Largest request body.
pub(crate) const MAX_BODY: usize = 16 << 10;

#[derive(Deserialize)]
struct Ask {
    path: String,
}

/// Whether `segs` is the links endpoint.
pub(crate) fn is_links(segs: &[String]) -> bool {
    segs.len() == 3 && segs.iter().zip(LINKS_PATH).all(|(a, b)| a == b)
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<DavBody> {
    let mut resp = Response::new(
        http_body_util::Full::new(Bytes::from(value.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refuse(status: StatusCode, why: &str) -> Response<DavBody> {
    json(status, &serde_json::json!({ "error": why }))
}

/// Answers the endpoint (`body` is the request body, already bounded).
pub(crate) async fn answer(ctx: &ReqCtx, method: &http::Method, body: &[u8]) -> Response<DavBody> {
    if method != http::Method::POST {
        let mut resp = refuse(StatusCode::METHOD_NOT_ALLOWED, "POST a JSON {\"path\": …}");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let Ok(ask) = serde_json::from_slice::<Ask>(body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body must be JSON {\"path\": \"/<share>/<path>\"}",
        );
    };
    let segs: Vec<String> = ask
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let Some((first, rest)) = segs.split_first() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a link is made for a file or folder of a share",
        );
    };
    let Some(share) = ctx.shares.get(first) else {
        return refuse(StatusCode::NOT_FOUND, "no such share");
    };
    if rest.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a link is made for a file or folder of a share",
        );
    }
    let Ok(path) = ObjectPath::from_segments(rest.to_vec(), false) else {
        return refuse(StatusCode::NOT_FOUND, "no such file or folder");
    };
    let store = &ctx.store;
    let entry = match store.resolve(&ctx.session, &share.id, &path, true).await {
        Ok(Some(r)) => r.entry,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no such file or folder"),
        Err(e) => return failed(&e),
    };
    match store.create_link(&ctx.session, &share.id, &entry).await {
        Ok(link) => json(
            StatusCode::CREATED,
            &serde_json::json!({
                "id": link.id,
                "url": link.short_url.or(link.url),
                "expires_at": link.expires_at,
            }),
        ),
        Err(e) => failed(&e),
    }
}

fn failed(e: &StoreError) -> Response<DavBody> {
    let status = match e {
        StoreError::AccessDenied(_) => StatusCode::FORBIDDEN,
        StoreError::NotFound | StoreError::Gone | StoreError::NoSuchShare => StatusCode::NOT_FOUND,
        StoreError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        StoreError::SlowDown { .. } | StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Invalid(_) | StoreError::InvalidName(_) => StatusCode::BAD_REQUEST,
        _ => {
            tracing::warn!(error = %e, "creating a share link failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let why = match e {
        StoreError::AccessDenied(_) => "ScaiDrive does not let you share this".to_owned(),
        other => other.to_string(),
    };
    refuse(status, &why)
}
