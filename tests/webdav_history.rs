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
    start_with(None).await
}

/// A gateway whose embedded emulator is seeded with `seed` (TOML), or the built-in seed.
async fn start_with(seed: Option<&str>) -> Dav {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    if let Some(seed) = seed {
        let path = dir.path().join("seed.toml");
        std::fs::write(&path, seed).unwrap();
        cfg.embedded.seed = Some(path);
    }
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

/// Upstream calls of one endpoint so far, from the admin listener's metrics.
async fn upstream_calls(d: &Dav, method: &str, endpoint: &str) -> u64 {
    let text = reqwest::get(format!("http://{}/metrics", d.gw.addrs().admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let want = [
        format!("method=\"{method}\""),
        format!("endpoint=\"{endpoint}\""),
    ];
    text.lines()
        .filter(|l| l.starts_with("scaidrive_gateway_upstream_requests_total{"))
        .filter(|l| want.iter().all(|w| l.contains(w.as_str())))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

const VERSIONS: &str = "/Documents/.scaidrive-versions";
const TRASH: &str = "/Documents/.scaidrive-trash";

#[tokio::test]
async fn versions_are_a_read_only_tree_and_copy_onto_the_file_restores() {
    let d = start().await;
    let r = d.req("MKCOL", "/Documents/docs/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    for body in [&b"one"[..], b"two", b"three"] {
        d.put("/Documents/docs/report.txt", body).await;
    }

    // Hidden from the share's listing; reachable by path, mirroring the share's folders.
    let (_, xml) = d.propfind("/Documents/", "1").await;
    assert!(!xml.contains("scaidrive-versions"), "{xml}");
    let (status, xml) = d.propfind(&format!("{VERSIONS}/"), "1").await;
    assert_eq!(status.as_u16(), 207, "{xml}");
    assert!(
        xml.contains("<D:href>/Documents/.scaidrive-versions/docs/</D:href>"),
        "{xml}"
    );
    let (_, xml) = d.propfind(&format!("{VERSIONS}/docs/"), "1").await;
    assert!(
        xml.contains("<D:href>/Documents/.scaidrive-versions/docs/report.txt/</D:href>"),
        "{xml}"
    );

    // A file's versions: one upstream call, newest first, with sizes, dates and ETags.
    let before = upstream_calls(&d, "GET", "/api/v1/files/{id}/versions").await;
    let (status, xml) = d
        .propfind(&format!("{VERSIONS}/docs/report.txt/"), "1")
        .await;
    assert_eq!(status.as_u16(), 207, "{xml}");
    let after = upstream_calls(&d, "GET", "/api/v1/files/{id}/versions").await;
    assert_eq!(after - before, 1);
    let versions: Vec<(String, String)> = responses(&xml).into_iter().skip(1).collect();
    assert_eq!(versions.len(), 3, "{xml}");
    let names: Vec<String> = versions
        .iter()
        .map(|(h, _)| {
            let last = h.rsplit('/').next().unwrap();
            percent_encoding::percent_decode_str(last)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
        .collect();
    for (name, n) in names.iter().zip(["v3 ", "v2 ", "v1 "]) {
        assert!(name.starts_with(n) && name.ends_with("Z.txt"), "{names:?}");
        assert!(!name.contains(':'), "{name}");
    }
    let sizes: Vec<&str> = versions
        .iter()
        .map(|(_, r)| prop(r, "getcontentlength").unwrap())
        .collect();
    assert_eq!(sizes, ["5", "3", "3"]);
    for (_, r) in &versions {
        assert!(prop(r, "getetag").is_some() && prop(r, "getlastmodified").is_some());
    }

    // GET of a version returns its bytes.
    let v1 = versions[2].0.clone();
    let (status, bytes) = d.get(&v1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"one");
    let r = d
        .req("GET", &versions[0].0)
        .header("Range", "bytes=1-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 1-3/5");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hre");
    let r = d
        .req("GET", &v1)
        .header("Range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["content-range"], "bytes */3");

    // Read-only: no PUT, no DELETE, no MKCOL; a COPY elsewhere is refused with a reason.
    for (method, path) in [
        ("PUT", v1.clone()),
        ("DELETE", v1.clone()),
        ("MKCOL", format!("{VERSIONS}/new/")),
    ] {
        let r = d.req(method, &path).body("x").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert!(r.text().await.unwrap().contains("read-only"));
    }
    let r = d
        .req("COPY", &v1)
        .header(
            "Destination",
            format!("{}/Documents/docs/other.txt", d.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = d
        .req("PUT", &format!("{}/Documents/.scaidrive-versions", ""))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // COPY of v1 onto the live file restores it as a new version.
    let r = d
        .req("COPY", &v1)
        .header(
            "Destination",
            format!("{}/Documents/docs/report.txt", d.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "{}",
        r.text().await.unwrap()
    );
    let (_, bytes) = d.get("/Documents/docs/report.txt").await;
    assert_eq!(bytes, b"one");
    let (_, xml) = d
        .propfind(&format!("{VERSIONS}/docs/report.txt/"), "1")
        .await;
    assert_eq!(responses(&xml).len(), 5, "{xml}");
    assert!(xml.contains("/v4%20"), "{xml}");
    d.gw.shutdown().await;
}

/// The href of the one entry of a trash listing whose name starts with `stem`.
fn trashed(xml: &str, stem: &str) -> String {
    let found: Vec<String> = responses(xml)
        .into_iter()
        .skip(1)
        .map(|(h, _)| h)
        .filter(|h| {
            h.trim_end_matches('/')
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(stem))
        })
        .collect();
    assert_eq!(found.len(), 1, "{stem}: {xml}");
    found[0].clone()
}

#[tokio::test]
async fn trash_lists_deleted_items_move_out_restores_and_delete_purges() {
    let d = start().await;
    d.req("MKCOL", "/Documents/t/").send().await.unwrap();
    d.put("/Documents/t/gone.txt", b"bye").await;
    d.put("/Documents/t/kept.txt", b"here").await;
    let r = d
        .req("DELETE", "/Documents/t/gone.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // The trash of `t` holds the deleted file (with its size and deletion time), not live ones.
    let (_, xml) = d.propfind("/Documents/", "1").await;
    assert!(!xml.contains("scaidrive-trash"), "{xml}");
    let (status, xml) = d.propfind(&format!("{TRASH}/"), "1").await;
    assert_eq!(status.as_u16(), 207, "{xml}");
    assert!(
        xml.contains("<D:href>/Documents/.scaidrive-trash/t/</D:href>"),
        "{xml}"
    );
    let (_, xml) = d.propfind(&format!("{TRASH}/t/"), "1").await;
    assert!(!xml.contains("kept.txt"), "{xml}");
    let gone = trashed(&xml, "gone");
    let entry = responses(&xml)
        .into_iter()
        .find(|(h, _)| *h == gone)
        .unwrap()
        .1;
    assert_eq!(prop(&entry, "getcontentlength"), Some("3"));
    assert!(year(prop(&entry, "getlastmodified").unwrap()) > 2000);

    // MOVE out restores, under the Destination's name.
    let r = d
        .req("MOVE", &gone)
        .header("Destination", format!("{}/Documents/t/gone.txt", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let (status, bytes) = d.get("/Documents/t/gone.txt").await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"bye"[..]));
    let (_, xml) = d.propfind(&format!("{TRASH}/t/"), "1").await;
    assert_eq!(responses(&xml).len(), 1, "{xml}");

    // Onto a live name: refused, nothing lost.
    d.req("DELETE", "/Documents/t/gone.txt")
        .send()
        .await
        .unwrap();
    d.put("/Documents/t/gone.txt", b"new").await;
    let (_, xml) = d.propfind(&format!("{TRASH}/t/"), "1").await;
    let gone = trashed(&xml, "gone");
    let r = d
        .req("MOVE", &gone)
        .header("Destination", format!("{}/Documents/t/gone.txt", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(d.get("/Documents/t/gone.txt").await.1, b"new");

    // DELETE in the trash purges; a live folder there is not in the trash.
    let r = d.req("DELETE", &gone).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "{}",
        r.text().await.unwrap()
    );
    let (_, xml) = d.propfind(&format!("{TRASH}/t/"), "1").await;
    assert_eq!(responses(&xml).len(), 1, "{xml}");
    let r = d
        .req("DELETE", &format!("{TRASH}/t/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A deleted folder: listed with its content; MOVE out brings both back.
    d.req("MKCOL", "/Documents/old/").send().await.unwrap();
    d.put("/Documents/old/a.txt", b"a").await;
    let r = d.req("DELETE", "/Documents/old/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, xml) = d.propfind(&format!("{TRASH}/"), "1").await;
    let old = trashed(&xml, "old");
    let (_, xml) = d.propfind(&old, "1").await;
    assert!(xml.contains("a.txt"), "{xml}");
    let r = d
        .req("MOVE", &old)
        .header("Destination", format!("{}/Documents/old/", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(d.get("/Documents/old/a.txt").await.1, b"a");
    d.gw.shutdown().await;
}

#[tokio::test]
async fn a_browser_gets_the_page_for_a_collection_and_cross_site_writes_are_refused() {
    let d = start().await;
    d.put("/Documents/page.txt", b"plain").await;
    let html = |path: &str| d.req("GET", path).header("Accept", "text/html,*/*;q=0.8");

    let r = html("/Documents/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'"));
    let body = r.text().await.unwrap();
    assert!(body.contains("<title>ScaiDrive</title>") && !body.contains("Parent Directory"));
    for path in [
        "/",
        "/Documents/.scaidrive-versions/",
        "/Documents/.scaidrive-trash/",
    ] {
        assert_eq!(
            html(path).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // Without its slash a collection redirects; a file is the file; a missing path is 404.
    let no_redirect = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(format!("{}/Documents", d.base))
        .header("Accept", "text/html")
        .basic_auth(&d.user, Some(&d.pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers()["location"], "/Documents/");
    let r = html("/Documents/page.txt").send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"plain");
    let r = html("/Documents/none/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The page's GET changes nothing; a write from another site's page is refused.
    let host = d.base.trim_start_matches("http://").to_owned();
    for (method, path) in [
        ("PUT", "/Documents/evil.txt"),
        ("DELETE", "/Documents/page.txt"),
        ("MKCOL", "/Documents/evil/"),
    ] {
        let r = d
            .req(method, path)
            .header("Origin", "https://evil.example")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(d.get("/Documents/page.txt").await.1, b"plain");
    assert_eq!(d.get("/Documents/evil.txt").await.0, StatusCode::NOT_FOUND);
    let r = d
        .req("PUT", "/Documents/own.txt")
        .header("Origin", format!("http://{host}"))
        .body("mine")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    d.gw.shutdown().await;
}

/// One user, a contributor of share "Documents" with a quota of 10,000,000 bytes.
const QUOTA_SEED: &str = r#"
[tenant]
name = "Quota"

[[users]]
id = "usr_quota"
email = "q@example.com"
name = "Q"

[[tokens]]
token = "quota-token"
user = "usr_quota"
scopes = ["files:read", "files:write"]

[[shares]]
id = "shr_quota"
name = "Documents"
share_type = "personal"
owner_id = "usr_quota"
quota_bytes = 10000000
members = [ { principal = "usr_quota", role = "owner" } ]
"#;

#[tokio::test]
async fn quota_properties_come_from_the_share_quota() {
    let d = start_with(Some(QUOTA_SEED)).await;
    d.put("/Documents/q.bin", &[7u8; 4096]).await;
    let quota = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;
    // The share list (and its used bytes) is cached for the TTL: ask until the write shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = d
            .req("PROPFIND", "/Documents/")
            .header("Depth", "0")
            .body(quota)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 207);
        let xml = r.text().await.unwrap();
        let (_, me) = &responses(&xml)[0];
        let used: u64 = prop(me, "quota-used-bytes").unwrap().parse().unwrap();
        let free: u64 = prop(me, "quota-available-bytes").unwrap().parse().unwrap();
        assert_eq!(used + free, 10_000_000, "{xml}");
        if used >= 4096 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used never counted the write: {xml}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    d.gw.shutdown().await;
}

#[tokio::test]
async fn the_page_makes_scaidrive_share_links_where_the_user_may() {
    let d = start().await;
    d.put("/Documents/shared.txt", b"for everyone").await;
    let links = "/.well-known/scaidrive-gateway/links";
    let r = d
        .req("POST", links)
        .header("Content-Type", "application/json")
        .body(r#"{"path": "/Documents/shared.txt"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with("http") && url.contains("/s/"), "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("lnk_"), "{v}");

    for (body, status) in [
        (r#"{"path": "/Documents/none.txt"}"#, StatusCode::NOT_FOUND),
        (r#"{"path": "/Documents"}"#, StatusCode::BAD_REQUEST),
        ("not json", StatusCode::BAD_REQUEST),
    ] {
        let r = d.req("POST", links).body(body).send().await.unwrap();
        assert_eq!(r.status(), status, "{body}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let r = d
        .req("POST", links)
        .header("Origin", "https://evil.example")
        .body(r#"{"path": "/Documents/shared.txt"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = d.req("GET", links).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    d.gw.shutdown().await;
}

#[tokio::test]
async fn a_contributor_is_told_scaidrive_does_not_let_them_share() {
    let seed = QUOTA_SEED.replace(
        r#"members = [ { principal = "usr_quota", role = "owner" } ]"#,
        r#"members = [ { principal = "usr_quota", role = "contributor" } ]"#,
    );
    let seed = seed.replace(r#"owner_id = "usr_quota""#, r#"owner_id = "usr_other""#);
    let seed =
        format!("{seed}\n[[users]]\nid = \"usr_other\"\nemail = \"o@example.com\"\nname = \"O\"\n");
    let d = start_with(Some(&seed)).await;
    d.put("/Documents/mine.txt", b"x").await;
    let r = d
        .req("POST", "/.well-known/scaidrive-gateway/links")
        .body(r#"{"path": "/Documents/mine.txt"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("does not let you share"),
        "{v}"
    );
    d.gw.shutdown().await;
}
