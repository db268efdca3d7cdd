//! WebDAV answers clients must not misread, against the real gateway over TCP: dot segments and
//! names ScaiDrive refuses (request path and `Destination`) answer 400 with the reason, a key
//! pair whose ScaiDrive token expired answers 401, a DELETE of OS junk succeeds, and the
//! read-only check sees the decoded share name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;
mod s3_support;

use std::time::Duration;

use base64::Engine as _;
use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::emulator::{self, EmulatorConfig, RunningEmulator};
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use scaidrive_gateway::state::NewCredential;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One answer read off the socket.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// A WebDAV client that sends request targets and `Destination` headers byte for byte (reqwest
/// resolves `..` and `%2E%2E` before sending, as URL parsers do).
struct Dav {
    addr: String,
    auth: String,
    http: Client,
}

impl Dav {
    fn new(gw: &GatewayHandle, user: &str, pass: &str) -> Self {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Self {
            addr: gw.addrs().webdav.to_string(),
            auth,
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends `method target` with `headers` and `body` on a connection of its own.
    async fn raw(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Raw {
        let mut s = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n\
             Connection: close\r\nContent-Length: {}\r\n",
            self.addr,
            self.auth,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
            .await
            .expect("no answer within 30 s")
            .unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Raw {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    /// A well-formed request through reqwest (for setting up and checking).
    async fn send(&self, method: &str, path: &str, body: &'static str) -> StatusCode {
        let (user, pass) = self.credentials();
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .basic_auth(user, Some(pass))
            .header("Depth", "1")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let (user, pass) = self.credentials();
        let r = self
            .http
            .get(self.url(path))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Names listed by PROPFIND Depth 1 of the collection `path`.
    async fn listing(&self, path: &str) -> String {
        let (user, pass) = self.credentials();
        let r = self
            .http
            .request(Method::from_bytes(b"PROPFIND").unwrap(), self.url(path))
            .basic_auth(user, Some(pass))
            .header("Depth", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 207, "PROPFIND {path}");
        r.text().await.unwrap()
    }

    fn credentials(&self) -> (String, String) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.auth)
            .unwrap();
        let text = String::from_utf8(decoded).unwrap();
        let (u, p) = text.split_once(':').unwrap();
        (u.to_owned(), p.to_owned())
    }
}

async fn start() -> (s3_support::S3, Dav, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let dav = Dav::new(&s3.gateway, &s3.access_key, &s3.secret);
    (s3, dav, dir)
}

/// `a/f.txt`, `a/b/g.txt` in `Documents`.
async fn tree(dav: &Dav) {
    assert_eq!(
        dav.send("MKCOL", "/Documents/a/", "").await,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.send("MKCOL", "/Documents/a/b/", "").await,
        StatusCode::CREATED
    );
    assert!(
        dav.send("PUT", "/Documents/a/f.txt", "f")
            .await
            .is_success()
    );
    assert!(
        dav.send("PUT", "/Documents/a/b/g.txt", "g")
            .await
            .is_success()
    );
}

/// The tree is whole and nothing else appeared.
async fn tree_is_intact(dav: &Dav, after: &str) {
    assert_eq!(
        dav.get("/Documents/a/f.txt").await,
        (StatusCode::OK, "f".into()),
        "after {after}"
    );
    assert_eq!(
        dav.get("/Documents/a/b/g.txt").await,
        (StatusCode::OK, "g".into()),
        "after {after}"
    );
    let root = dav.listing("/Documents/").await;
    let a = dav.listing("/Documents/a/").await;
    for name in ["new.txt", "moved.txt", "copied.txt", "c/", "z", "f.txt"] {
        assert!(
            !root.contains(&format!("/Documents/{name}<")),
            "after {after}, {name}: {root}"
        );
    }
    for name in ["new.txt", "moved.txt", "copied.txt", "c/", "z"] {
        assert!(
            !a.contains(&format!("/Documents/a/{name}<")),
            "after {after}, {name}: {a}"
        );
    }
}

#[tokio::test]
async fn dot_segments_are_refused_with_400_and_never_resolved() {
    let (s3, dav, _dir) = start().await;
    tree(&dav).await;
    let dest = |p: &str| dav.url(p);
    // (method, target, Destination)
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        ("DELETE", "/Documents/a/b/..", None),
        ("DELETE", "/Documents/a/b/../", None),
        ("DELETE", "/Documents/a/b/%2E%2E", None),
        ("DELETE", "/Documents/a/b/%2e%2e/", None),
        ("DELETE", "/Documents/a/b/.%2E", None),
        ("DELETE", "/Documents/a/.", None),
        ("DELETE", "/Documents/a/%2e", None),
        ("DELETE", "/Documents/a/b/../../a", None),
        ("DELETE", "/Documents/a/b%2F..", None),
        ("DELETE", "/Documents/a%2Fb", None),
        ("GET", "/Documents/a/b/../f.txt", None),
        ("GET", "/Documents/a/./f.txt", None),
        ("PUT", "/Documents/a/b/../new.txt", None),
        ("PUT", "/Documents/a/b/%2E%2E/new.txt", None),
        ("MKCOL", "/Documents/a/b/../c/", None),
        ("PROPFIND", "/Documents/a/b/..", None),
        ("MOVE", "/Documents/a/b/..", Some(dest("/Documents/z"))),
        (
            "MOVE",
            "/Documents/a/f.txt",
            Some(dest("/Documents/a/b/../moved.txt")),
        ),
        (
            "MOVE",
            "/Documents/a/f.txt",
            Some(dest("/Documents/a/%2E%2E/moved.txt")),
        ),
        (
            "MOVE",
            "/Documents/a/f.txt",
            Some("/Documents/a/./moved.txt".into()),
        ),
        (
            "COPY",
            "/Documents/a/b/%2E%2E/f.txt",
            Some(dest("/Documents/z")),
        ),
        (
            "COPY",
            "/Documents/a/f.txt",
            Some(dest("/Documents/a/b/%2e%2e/copied.txt")),
        ),
    ];
    for (method, target, destination) in &cases {
        let headers: Vec<(&str, &str)> = destination
            .iter()
            .map(|d| ("Destination", d.as_str()))
            .chain([("Depth", "0")])
            .collect();
        let body: &[u8] = if *method == "PUT" { b"x" } else { b"" };
        let a = dav.raw(method, target, &headers, body).await;
        tree_is_intact(&dav, &format!("{method} {target} {destination:?}")).await;
        assert_eq!(
            a.status, 400,
            "{method} {target} {destination:?}: {}",
            a.head
        );
        assert!(
            a.body.contains("'.' or '..'") || a.body.contains("'/'"),
            "{method} {target} {destination:?}: {}",
            a.body
        );
    }
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn names_scaidrive_refuses_answer_400_with_the_reason() {
    let (s3, dav, _dir) = start().await;
    tree(&dav).await;
    let long = "y".repeat(256);
    let long_wide = "文".repeat(86); // 258 bytes
    let long_dir = format!("/Documents/{long}/");
    let long_file = format!("/Documents/{long}");
    let long_wide_file = format!("/Documents/a/{long_wide}.txt");
    let to_long = dav.url(&format!("/Documents/{long}"));
    let to_backslash = dav.url("/Documents/a%5Cb.txt");
    let to_control = dav.url("/Documents/a%01b.txt");
    // (method, target, Destination, what the answer must name)
    let cases: Vec<(&str, &str, Option<&str>, &str)> = vec![
        ("PUT", "/Documents/a%5Cb.txt", None, "'\\\\'"),
        ("PUT", "/Documents/a%01b.txt", None, "'\\u{1}'"),
        ("PUT", "/Documents/a/tab%09.txt", None, "'\\t'"),
        ("PUT", "/Documents/a%7F.txt", None, "'\\u{7f}'"),
        ("PUT", "/Documents/a%FF.txt", None, "UTF-8"),
        ("PUT", &long_file, None, "255 bytes"),
        ("PUT", &long_wide_file, None, "255 bytes"),
        ("MKCOL", &long_dir, None, "255 bytes"),
        ("MKCOL", "/Documents/a%5Cb/", None, "'\\\\'"),
        ("MOVE", "/Documents/a/f.txt", Some(&to_long), "255 bytes"),
        ("MOVE", "/Documents/a/f.txt", Some(&to_backslash), "'\\\\'"),
        ("COPY", "/Documents/a/f.txt", Some(&to_control), "'\\u{1}'"),
        ("COPY", "/Documents/a/", Some(&to_long), "255 bytes"),
    ];
    for (method, target, destination, why) in &cases {
        let headers: Vec<(&str, &str)> = destination.iter().map(|d| ("Destination", *d)).collect();
        let body: &[u8] = if *method == "PUT" { b"x" } else { b"" };
        let a = dav.raw(method, target, &headers, body).await;
        assert_eq!(
            a.status, 400,
            "{method} {target} {destination:?}: {}",
            a.head
        );
        assert!(
            a.body.contains(why),
            "{method} {target} {destination:?}: {:?} lacks {why}",
            a.body
        );
        assert!(a.head.contains("text/plain"), "{}", a.head);
    }
    tree_is_intact(&dav, "the refusals").await;
    // The longest names ScaiDrive takes still work.
    let longest = format!("/Documents/{}", "y".repeat(255));
    assert!(dav.send("PUT", &longest, "y").await.is_success());
    let longest_wide = format!("/Documents/a/{}", "文".repeat(85));
    assert!(dav.send("PUT", &longest_wide, "w").await.is_success());
    assert_eq!(dav.get(&longest_wide).await, (StatusCode::OK, "w".into()));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn deleting_os_junk_succeeds_and_stores_nothing() {
    let (s3, dav, _dir) = start().await;
    tree(&dav).await;
    for name in [".DS_Store", "._f.txt", "Thumbs.db", "desktop.ini"] {
        let put = format!("/Documents/a/{name}");
        assert!(dav.send("PUT", &put, "junk").await.is_success(), "{name}");
        let a = dav.raw("DELETE", &put, &[], b"").await;
        assert_eq!(a.status, 204, "DELETE {put}: {}", a.head);
        // Never written at all.
        let never = format!("/Documents/a/b/{name}");
        let a = dav.raw("DELETE", &never, &[], b"").await;
        assert_eq!(a.status, 204, "DELETE {never}: {}", a.head);
    }
    let listing = dav.listing("/Documents/a/").await;
    assert!(
        !listing.contains("DS_Store") && !listing.contains("Thumbs"),
        "{listing}"
    );
    tree_is_intact(&dav, "the refusals").await;
    s3.gateway.shutdown().await;
}

/// An emulator seeded with `seed` and a gateway in front of it.
async fn seeded_gateway(dir: &std::path::Path, seed: &str) -> (RunningEmulator, GatewayHandle) {
    let seed_file = dir.join("seed.toml");
    std::fs::write(&seed_file, seed).unwrap();
    let emu = emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("emu"),
        seed: Some(seed_file),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = Config {
        data_dir: dir.join("gw"),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.scaidrive.url = Some(emu.url());
    let gw = start_gateway(cfg).await.unwrap();
    (emu, gw)
}

#[tokio::test]
async fn a_key_pair_whose_scaidrive_token_expired_gets_401() {
    let dir = tempfile::tempdir().unwrap();
    let expired = "\n[[tokens]]\ntoken = \"expired-token\"\nuser = \"usr_01OWNER\"\n\
                   expires_at = \"2001-01-01T00:00:00Z\"\n";
    let seed = format!("{}{expired}", emulator_support::ROLES_SEED);
    let (emu, gw) = seeded_gateway(dir.path(), &seed).await;
    // Key pairs stored while their tokens were good; one token has expired since.
    for (key, token) in [("AKVALID", "owner-token"), ("AKEXPIRED", "expired-token")] {
        gw.state_db()
            .create_credential(NewCredential {
                access_key_id: Some(key.to_owned()),
                secret_access_key: Some("secret-of-the-pair".to_owned()),
                token: token.to_owned(),
                label: None,
                user_id: "usr_01OWNER".to_owned(),
            })
            .await
            .unwrap();
    }
    let valid = Dav::new(&gw, "AKVALID", "secret-of-the-pair");
    let stale = Dav::new(&gw, "AKEXPIRED", "secret-of-the-pair");

    let check = |a: Raw, what: &str| {
        assert_eq!(a.status, 401, "{what}: {}\n{}", a.head, a.body);
        assert!(
            a.head
                .to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{what}: {}",
            a.head
        );
    };
    // Nothing cached for the user: the share listing is refused.
    check(
        stale.raw("PROPFIND", "/", &[("Depth", "1")], b"").await,
        "PROPFIND /",
    );
    check(stale.raw("GET", "/Team/doc.txt", &[], b"").await, "GET");

    // The user's shares cached by the good pair: the refusal comes from a later call.
    assert!(valid.send("PUT", "/Team/doc.txt", "doc").await.is_success());
    check(
        stale.raw("PUT", "/Team/new.txt", &[], b"new").await,
        "PUT with cached shares",
    );
    check(
        stale.raw("DELETE", "/Team/doc.txt", &[], b"").await,
        "DELETE with cached shares",
    );
    assert_eq!(
        valid.get("/Team/doc.txt").await,
        (StatusCode::OK, "doc".into())
    );
    gw.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_reader_is_refused_writes_on_a_share_whose_name_is_percent_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let seed = emulator_support::ROLES_SEED.replace("name = \"Team\"", "name = \"Team Room\"");
    let (emu, gw) = seeded_gateway(dir.path(), &seed).await;
    let owner = Dav::new(&gw, "anyone", "owner-token");
    let reader = Dav::new(&gw, "anyone", "reader-token");
    assert!(
        owner
            .send("PUT", "/Team%20Room/doc.txt", "doc")
            .await
            .is_success()
    );
    let lockinfo = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>r</D:owner></D:lockinfo>"#;
    let proppatch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>"#;
    for (method, body) in [("LOCK", lockinfo), ("PROPPATCH", proppatch)] {
        let a = reader
            .raw(method, "/Team%20Room/doc.txt", &[], body.as_bytes())
            .await;
        assert_eq!(a.status, 403, "{method}: {}\n{}", a.head, a.body);
    }
    let a = owner
        .raw("PROPFIND", "/Team%20Room/doc.txt", &[("Depth", "0")], b"")
        .await;
    assert!(
        !a.body.contains("color") && !a.body.contains("locktoken"),
        "{}",
        a.body
    );
    gw.shutdown().await;
    emu.shutdown().await;
}
