//! Shared helpers for the emulator integration tests: a started emulator on port 0 in a tempdir
//! and a few typed request shortcuts over real HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;

use reqwest::{Client, Response};
use scaidrive_gateway::emulator::{self, EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// A seed with one share, `Team` (`shr_01TEAM`), owned by `usr_01OWNER` (token `owner-token`)
/// with `usr_01READER` (token `reader-token`) as a reader: for the share-role tests.
pub const ROLES_SEED: &str = r#"
[tenant]
name = "Roles"

[[users]]
id = "usr_01OWNER"
email = "owner@example.com"
name = "Owner"
is_admin = false

[[users]]
id = "usr_01READER"
email = "reader@example.com"
name = "Reader"
is_admin = false

[[tokens]]
token = "owner-token"
user = "usr_01OWNER"

[[tokens]]
token = "reader-token"
user = "usr_01READER"

[[shares]]
id = "shr_01TEAM"
name = "Team"
share_type = "central"
owner_id = "usr_01OWNER"
members = [ { principal = "usr_01OWNER", role = "owner" },
            { principal = "usr_01READER", role = "reader" } ]
"#;

/// A running emulator with its data dir and default token.
pub struct Emu {
    pub emu: RunningEmulator,
    pub dir: TempDir,
    pub token: String,
    pub http: Client,
}

/// A config on 127.0.0.1:0 in `dir`.
pub fn config(dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.to_path_buf(),
        ..EmulatorConfig::default()
    }
}

/// Starts an emulator with the default seed.
pub async fn start() -> Emu {
    start_with(|_| {}, None).await
}

/// Starts an emulator after `tweak`ing the config, optionally with a seed TOML text.
pub async fn start_with(tweak: impl FnOnce(&mut EmulatorConfig), seed: Option<&str>) -> Emu {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir.path().join("data"));
    if let Some(seed) = seed {
        let p = dir.path().join("seed.toml");
        std::fs::write(&p, seed).unwrap();
        cfg.seed = Some(p);
    }
    tweak(&mut cfg);
    let emu = emulator::start(cfg).await.unwrap();
    let token = emu.tokens()[0].token.clone();
    Emu {
        emu,
        dir,
        token,
        http: Client::new(),
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Emu {
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.emu.url())
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.token, path).await
    }

    pub async fn json_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Response {
        self.http
            .request(method, self.api(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.json_as(&self.token, reqwest::Method::POST, path, body)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.json_as(&self.token, reqwest::Method::PATCH, path, body)
            .await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http
            .delete(self.api(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// `(id, name)` of the caller's shares.
    pub async fn shares(&self) -> Vec<(String, String)> {
        let v: Value = self.get("/users/me/shares").await.json().await.unwrap();
        v["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Id of the share with this name.
    pub async fn share_id(&self, name: &str) -> String {
        self.shares()
            .await
            .into_iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| id)
            .unwrap()
    }

    /// Multipart upload as `token`; returns the raw response.
    pub async fn upload_as(
        &self,
        token: &str,
        share_id: &str,
        folder_id: Option<&str>,
        name: &str,
        data: Vec<u8>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new().text("share_id", share_id.to_string());
        if let Some(f) = folder_id {
            form = form.text("folder_id", f.to_string());
        }
        let part = reqwest::multipart::Part::bytes(data).file_name(name.to_string());
        form = form.part("file", part);
        self.http
            .post(self.api("/files"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Multipart upload that must succeed; returns the 201 body.
    pub async fn upload(
        &self,
        share_id: &str,
        folder_id: Option<&str>,
        name: &str,
        data: &[u8],
    ) -> Value {
        let r = self
            .upload_as(&self.token, share_id, folder_id, name, data.to_vec())
            .await;
        assert_eq!(r.status(), 201, "upload of {name} failed");
        r.json().await.unwrap()
    }

    /// Creates a folder; returns its object.
    pub async fn mkdir(&self, share_id: &str, parent: Option<&str>, name: &str) -> Value {
        let r = self
            .post(
                "/folders",
                json!({"share_id": share_id, "name": name, "parent_id": parent}),
            )
            .await;
        assert_eq!(r.status(), 201, "mkdir {name}");
        r.json().await.unwrap()
    }

    /// Names in a folder (`root` or an id).
    pub async fn names(&self, share_id: &str, folder: &str) -> Vec<String> {
        self.names_in(&self.token, share_id, folder).await
    }

    /// Names at a share's root as `token`.
    pub async fn names_as(&self, token: &str, share_id: &str) -> Vec<String> {
        self.names_in(token, share_id, "root").await
    }

    async fn names_in(&self, token: &str, share_id: &str, folder: &str) -> Vec<String> {
        let v: Value = self
            .get_as(
                token,
                &format!("/folders/{folder}/children?share_id={share_id}"),
            )
            .await
            .json()
            .await
            .unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    }
}
