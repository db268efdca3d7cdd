//! A gateway on port 0 with the embedded emulator, and a minimal SigV4 client (header
//! signing, `UNSIGNED-PAYLOAD`) so the S3 tests talk real HTTP without the AWS SDK.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::server::GatewayHandle;
use sha2::{Digest, Sha256};

/// Everything but RFC 3986 unreserved characters.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const PATH: &AsciiSet = &STRICT.remove(b'/');

pub struct S3 {
    pub gateway: GatewayHandle,
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    http: reqwest::Client,
}

pub async fn start(data_dir: &Path) -> S3 {
    start_with(data_dir, |_| {}).await
}

/// [`start`] with `tweak` applied to the configuration.
pub async fn start_with(data_dir: &Path, tweak: impl FnOnce(&mut Config)) -> S3 {
    let mut cfg = Config {
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    tweak(&mut cfg);
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let cred = gateway.embedded_credential().unwrap().clone();
    S3 {
        endpoint: format!("http://{}", gateway.addrs().s3),
        access_key: cred.access_key_id,
        secret: cred.secret_access_key,
        gateway,
        http: reqwest::Client::new(),
    }
}

/// A client for an already started gateway, signing with the given key pair.
pub fn client(gateway: GatewayHandle, access_key: &str, secret: &str) -> S3 {
    S3 {
        endpoint: format!("http://{}", gateway.addrs().s3),
        access_key: access_key.to_owned(),
        secret: secret.to_owned(),
        gateway,
        http: reqwest::Client::new(),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl S3 {
    /// A signed request. `path` is unencoded (`/bucket/key`); `query` pairs are unencoded.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        self.call_as(
            &self.access_key,
            &self.secret,
            method,
            path,
            query,
            headers,
            body,
        )
        .await
    }

    /// SigV4 (`UNSIGNED-PAYLOAD`) for a request to this gateway: see [`sign_v4`].
    pub fn sign(
        &self,
        access_key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (String, Vec<(String, String)>) {
        sign_v4(
            &self.endpoint,
            access_key,
            secret,
            method,
            path,
            query,
            headers,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn call_as(
        &self,
        access_key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let (target, signed) = self.sign(access_key, secret, method, path, query, headers);
        let url = format!("{}{target}", self.endpoint);
        let mut req = self.http.request(method.parse().unwrap(), url).body(body);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        Resp {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn put(&self, path: &str, body: &[u8]) -> Resp {
        self.call("PUT", path, &[], &[], body.to_vec()).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, &[], &[], Vec::new()).await
    }
}

/// SigV4 (`UNSIGNED-PAYLOAD`) for a request to `endpoint` (`http://host:port`): the encoded path-and-query to send and the
/// headers to add (`authorization`, `x-amz-date`, `x-amz-content-sha256`, then `headers`).
pub fn sign_v4(
    endpoint: &str,
    access_key: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    sign_v4_in(
        "us-east-1",
        endpoint,
        access_key,
        secret,
        method,
        path,
        query,
        headers,
    )
}

/// [`sign_v4`] with `region` in the credential scope.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4_in(
    region: &str,
    endpoint: &str,
    access_key: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    sign_v4_payload(
        region,
        endpoint,
        access_key,
        secret,
        method,
        path,
        query,
        headers,
        "UNSIGNED-PAYLOAD",
    )
}

/// [`sign_v4_in`] with `payload` (a hex SHA-256, or `UNSIGNED-PAYLOAD`) as
/// `x-amz-content-sha256`.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4_payload(
    region: &str,
    endpoint: &str,
    access_key: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    payload: &str,
) -> (String, Vec<(String, String)>) {
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let host = endpoint.trim_start_matches("http://").to_owned();
    let uri = utf8_percent_encode(path, PATH).to_string();
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, STRICT).to_string(),
                utf8_percent_encode(v, STRICT).to_string(),
            )
        })
        .collect();
    q.sort();
    let query_string = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut signed: Vec<(String, String)> = vec![
        ("host".into(), host.clone()),
        ("x-amz-content-sha256".into(), payload.to_owned()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    for (k, v) in headers {
        signed.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_names = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical =
        format!("{method}\n{uri}\n{query_string}\n{canonical_headers}\n{signed_names}\n{payload}");
    let scope = format!("{date}/{region}/s3/aws4_request");
    let signature = v4_signature(secret, &date, region, &amz_date, &canonical);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_names}, Signature={signature}"
    );
    let target = if query_string.is_empty() {
        uri
    } else {
        format!("{uri}?{query_string}")
    };
    let mut out = vec![
        ("authorization".to_owned(), auth),
        ("x-amz-content-sha256".to_owned(), payload.to_owned()),
        ("x-amz-date".to_owned(), amz_date),
    ];
    out.extend(
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    (target, out)
}

/// The SigV4 signature of a canonical request made at `amz_date` (its day is `date`).
fn v4_signature(secret: &str, date: &str, region: &str, amz_date: &str, canonical: &str) -> String {
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, to_sign.as_bytes()))
}

/// A presigned SigV4 URL (path and query, to append to `endpoint`) for `method` on `path`
/// (unencoded, no query of its own), signed for `region` and valid for `expires` seconds.
pub fn presign_v4(
    endpoint: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    method: &str,
    path: &str,
    expires: u32,
) -> String {
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let host = endpoint.trim_start_matches("http://");
    let uri = utf8_percent_encode(path, PATH).to_string();
    let credential = format!("{access_key}/{date}/{region}/s3/aws4_request");
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
        utf8_percent_encode(&credential, STRICT)
    );
    let canonical = format!("{method}\n{uri}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
    let signature = v4_signature(secret, &date, region, &amz_date, &canonical);
    format!("{uri}?{query}&X-Amz-Signature={signature}")
}

/// ScaiDrive's API behind the gateway as the embedded emulator's first user sees it, with the
/// id of its `Documents` share: for tests that check what reached (or did not reach) upstream.
pub struct Upstream {
    pub http: reqwest::Client,
    /// `http://…/api/v1`
    pub base: String,
    pub token: String,
    pub share: String,
}

impl Upstream {
    pub async fn documents(s3: &S3) -> Upstream {
        let emu = s3.gateway.emulator().unwrap();
        let http = reqwest::Client::new();
        let base = format!("{}/api/v1", emu.url());
        let token = emu.tokens()[0].token.clone();
        let shares: serde_json::Value = http
            .get(format!("{base}/users/me/shares"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let share = shares["shares"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Documents")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Upstream {
            http,
            base,
            token,
            share,
        }
    }

    /// Creates folder `name` (in the share root when `parent` is None); its id.
    pub async fn mkdir(&self, parent: Option<&str>, name: &str) -> String {
        let mut body = serde_json::json!({"share_id": self.share, "name": name});
        if let Some(p) = parent {
            body["parent_id"] = serde_json::json!(p);
        }
        let created: serde_json::Value = self
            .http
            .post(format!("{}/folders", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["id"].as_str().unwrap().to_owned()
    }

    /// Uploads a new file with `POST /files`; its id.
    pub async fn upload(&self, folder: Option<&str>, name: &str, data: &[u8]) -> String {
        let mut form = reqwest::multipart::Form::new().text("share_id", self.share.clone());
        if let Some(f) = folder {
            form = form.text("folder_id", f.to_owned());
        }
        let form = form.part(
            "file",
            reqwest::multipart::Part::bytes(data.to_vec()).file_name(name.to_owned()),
        );
        let r = self
            .http
            .post(format!("{}/files", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }
}

/// The text of the first `<tag>…</tag>` in an XML body.
pub fn xml_value(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_owned())
}

/// Every `<tag>…</tag>` value in an XML body.
pub fn xml_values(body: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    body.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next().map(str::to_owned))
        .collect()
}

/// The SigV4 signature of a browser POST form: HMAC of the base64 policy under the signing
/// key of `date` (`YYYYMMDD`), region `us-east-1`, service `s3`.
pub fn post_policy_signature(secret: &str, date: &str, policy_b64: &str) -> String {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in ["us-east-1", "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, policy_b64.as_bytes()))
}

/// The value of the first series of `gw`'s admin `/metrics` that starts with `series`.
pub async fn metric(gw: &GatewayHandle, series: &str) -> Option<f64> {
    metrics_text(gw.addrs().admin)
        .await
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The sum of the values of the admin `/metrics` series (at `admin`) whose line passes `keep`.
pub async fn metric_sum(admin: std::net::SocketAddr, keep: impl Fn(&str) -> bool) -> f64 {
    metrics_text(admin)
        .await
        .lines()
        .filter(|l| keep(l))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics_text(admin: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// State-DB operations the gateway has run (`scaidrive_gateway_state_db_operations_total`).
pub async fn state_db_operations(gw: &GatewayHandle) -> f64 {
    metric(gw, "scaidrive_gateway_state_db_operations_total")
        .await
        .unwrap()
}
