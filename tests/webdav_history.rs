//! What a person browsing the WebDAV drive sees of ScaiDrive beyond the live tree: real folder
//! dates, every file's versions and the trash as read-only trees (`docs/webdav.md`), against
//! the real gateway with its embedded emulator (port 0, temp dir).

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::server::{GatewayHandle, start_gateway};

struct Dav {
    gw: GatewayHandle,
    base: String,
    user: String,
    pass: String,
    http: Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Dav {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.embedded.listen = "127.0.0.1:0".parse().unwrap();
    let gw = start_gateway(cfg).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    Dav {
        base: format!("http://{}", gw.addrs().webdav),
        user: cred.access_key_id,
        pass: cred.secret_access_key,
        gw,
        http: Client::new(),
        _dir: dir,
    }
}

impl Dav {
    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .basic_auth(&self.user, Some(&self.pass))
    }

    async fn put(&self, path: &str, body: &'static [u8]) {
        let r = self.req("PUT", path).body(body).send().await.unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    }

    async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.req("GET", path).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    async fn propfind(&self, path: &str, depth: &str) -> (StatusCode, String) {
        let r = self
            .req("PROPFIND", path)
            .header("Depth", depth)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

/// Every `<D:response>` of a multistatus as (href, the response's XML).
fn responses(xml: &str) -> Vec<(String, String)> {
    xml.split("<D:response>")
        .skip(1)
        .map(|r| {
            let href = r
                .split("<D:href>")
                .nth(1)
                .and_then(|h| h.split("</D:href>").next())
                .unwrap_or_default()
                .to_owned();
            (href, r.to_owned())
        })
        .collect()
}

fn prop<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<D:{name}>");
    let close = format!("</D:{name}>");
    resp.split(&open).nth(1)?.split(&close).next()
}

/// The year of an HTTP date (`Sat, 05 Dec 2026 10:00:00 GMT`).
fn year(http_date: &str) -> i32 {
    http_date
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn folders_show_their_scaidrive_dates_and_never_1970() {
    let d = start().await;
    let r = d.req("MKCOL", "/Documents/dated/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let now = chrono::Utc::now();

    // The folder itself: its ScaiDrive dates.
    let (status, xml) = d.propfind("/Documents/dated/", "0").await;
    assert_eq!(status.as_u16(), 207, "{xml}");
    let (_, own) = &responses(&xml)[0];
    let modified = prop(own, "getlastmodified").expect("a folder's own date");
    let t = chrono::DateTime::parse_from_rfc2822(modified).unwrap();
    assert!((t.to_utc() - now).num_seconds().abs() < 120, "{modified}");
    assert!(
        prop(own, "creationdate")
            .unwrap()
            .starts_with(&now.format("%Y").to_string())
    );

    // In its parent's listing: that date or none, never 1970; a GET of the HTML index too.
    let (_, xml) = d.propfind("/Documents/", "1").await;
    for (href, resp) in responses(&xml) {
        if let Some(m) = prop(&resp, "getlastmodified") {
            assert!(year(m) > 2000, "{href}: {m}");
        }
        if let Some(c) = prop(&resp, "creationdate") {
            assert!(!c.starts_with("1970"), "{href}: {c}");
        }
    }
    let (_, xml) = d.propfind("/", "1").await;
    assert!(!xml.contains("1970"), "{xml}");
    let r = d
        .req("GET", "/Documents/")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(!html.contains("1970"), "{html}");
    d.gw.shutdown().await;
}
