//! Nextcloud's checksum recalculation: `PATCH <file>` with `X-Recalculate-Hash: md5|sha1|sha256`
//! answers 204 with `OC-Checksum: <ALG>:<hex>`. rclone's `vendor=nextcloud` asks it after every
//! upload whose PROPFIND shows no SHA-1. The gateway streams the file from ScaiDrive once and
//! hashes it (SHA-256 comes from ScaiDrive's own checksum when the attributes hold it); nothing
//! is stored.

use dav_server::body::Body;
use futures::StreamExt as _;
use http::{HeaderValue, Response, StatusCode};
use md5::Digest as _;
use s3s::crypto::Checksum as _;

use super::fs::ReqCtx;
use crate::namespace::ObjectPath;
use crate::store::{Entry, StoreError};

/// The hash a PATCH asks for.
enum Algo {
    Md5(md5::Md5),
    Sha1(s3s::crypto::Sha1),
    Sha256(sha2::Sha256),
}

impl Algo {
    fn named(name: &str) -> Option<(Self, &'static str)> {
        match name.trim().to_ascii_lowercase().as_str() {
            "md5" => Some((Self::Md5(md5::Md5::new()), "MD5")),
            "sha1" => Some((Self::Sha1(s3s::crypto::Sha1::new()), "SHA1")),
            "sha256" => Some((Self::Sha256(sha2::Sha256::new()), "SHA256")),
            _ => None,
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Self::Md5(h) => h.update(b),
            Self::Sha1(h) => h.update(b),
            Self::Sha256(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        match self {
            Self::Md5(h) => hex::encode(h.finalize()),
            Self::Sha1(h) => hex::encode(h.finalize()),
            Self::Sha256(h) => hex::encode(h.finalize()),
        }
    }
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("{msg}\n")));
    *resp.status_mut() = status;
    resp
}

/// Answers `PATCH` with `X-Recalculate-Hash` (`algo`) of the file at `ctx.path`.
pub(crate) async fn answer(ctx: &ReqCtx, algo: &str) -> Response<Body> {
    let Some((mut hasher, label)) = Algo::named(algo) else {
        return text(
            StatusCode::BAD_REQUEST,
            "X-Recalculate-Hash must be md5, sha1 or sha256",
        );
    };
    let Some((share, rest)) = ctx
        .path
        .split_first()
        .and_then(|(n, rest)| Some((ctx.shares.get(n)?, rest)))
    else {
        return text(StatusCode::NOT_FOUND, "no such file");
    };
    let Ok(path) = ObjectPath::from_segments(rest.to_vec(), false) else {
        return text(StatusCode::NOT_FOUND, "no such file");
    };
    let store = &ctx.store;
    let file = match store.resolve(&ctx.session, &share.id, &path, false).await {
        Ok(Some(r)) => match r.entry {
            Entry::File(f) => f,
            Entry::Folder(_) => return text(StatusCode::NOT_FOUND, "no such file"),
        },
        Ok(None) => return text(StatusCode::NOT_FOUND, "no such file"),
        Err(e) => return failed(&e),
    };
    let mut download = match store.read(&ctx.session, &file.id, None, None).await {
        Ok(d) => d,
        Err(e) => return failed(&e),
    };
    while let Some(chunk) = download.body.next().await {
        match chunk {
            Ok(b) => hasher.update(&b),
            Err(e) => {
                tracing::warn!(error = %e, "reading a file to hash it failed");
                return text(
                    StatusCode::BAD_GATEWAY,
                    "reading the file from ScaiDrive failed",
                );
            }
        }
    }
    let mut resp = text(StatusCode::NO_CONTENT, "");
    *resp.body_mut() = Body::from(String::new());
    if let Ok(v) = HeaderValue::from_str(&format!("{label}:{}", hasher.hex())) {
        resp.headers_mut().insert("oc-checksum", v);
    }
    resp
}

fn failed(e: &StoreError) -> Response<Body> {
    match e {
        StoreError::NotFound => text(StatusCode::NOT_FOUND, "no such file"),
        StoreError::AccessDenied(_) => text(StatusCode::FORBIDDEN, "access denied"),
        _ => {
            tracing::warn!(error = %e, "checksum recalculation failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "try again later")
        }
    }
}
