//! Helpers of the chunked-upload tests (`webdav_chunked.rs`, `webdav_chunked_staging.rs`): a
//! WebDAV client with the uploads tree's paths and the admin `/metrics` upstream chunk count,
//! the gateway configuration, test data, and the pieces held on disk.

#![allow(dead_code)]

use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::server::GatewayHandle;
use sha2::{Digest, Sha256};

/// The upstream chunk size the gateways of these tests ask for.
pub const GRID: usize = 64 << 10;

pub struct Dav {
    pub base: String,
    pub admin: String,
    pub user: String,
    pub pass: String,
    pub http: Client,
}

impl Dav {
    pub fn new(gw: &GatewayHandle, user: &str, pass: &str) -> Self {
        Self {
            base: format!("http://{}", gw.addrs().webdav),
            admin: format!("http://{}", gw.addrs().admin),
            user: user.to_owned(),
            pass: pass.to_owned(),
            http: Client::new(),
        }
    }

    pub fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .basic_auth(&self.user, Some(&self.pass))
    }

    pub fn uploads(&self) -> String {
        format!("/remote.php/dav/uploads/{}", self.user)
    }

    pub fn files_url(&self, path: &str) -> String {
        format!("{}/remote.php/dav/files/{}{path}", self.base, self.user)
    }

    pub async fn status(&self, method: &str, path: &str, headers: &[(&str, String)]) -> StatusCode {
        let mut r = self.req(method, path);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.send().await.unwrap().status()
    }

    pub async fn put_chunk(&self, upload: &str, name: &str, data: &[u8]) -> StatusCode {
        self.req("PUT", &format!("{}/{upload}/{name}", self.uploads()))
            .body(data.to_vec())
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.req("GET", path).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    /// Upstream chunk PUTs so far (admin `/metrics`).
    pub async fn chunk_puts(&self) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| {
                l.starts_with("scaidrive_gateway_upstream_requests_total{")
                    && l.contains("method=\"PUT\"")
                    && l.contains("chunks")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

pub fn config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.embedded.listen = "127.0.0.1:0".parse().unwrap();
    cfg.upstream.chunk_size_bytes = GRID as u64;
    cfg
}

pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

pub fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Files held on disk for chunked uploads.
pub fn held_files(data_dir: &std::path::Path) -> usize {
    let root = data_dir.join("staging").join("webdav-chunks");
    std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|d| std::fs::read_dir(d.path()).map_or(0, |f| f.count()))
                .sum()
        })
        .unwrap_or(0)
}
