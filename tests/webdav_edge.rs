//! WebDAV edge cases against the real gateway: cut request bodies, cut upstream downloads,
//! cross-protocol visibility (WebDAV ↔ S3), a reader-role user, `getcontenttype`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;
mod s3_support;

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use scaidrive_gateway::scaidrive::{self as sd, ClientOptions, Item, Token};
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Dav {
    base: String,
    user: String,
    pass: String,
    http: Client,
}

impl Dav {
    fn new(gw: &GatewayHandle, user: &str, pass: &str) -> Self {
        Self {
            base: format!("http://{}", gw.addrs().webdav),
            user: user.to_owned(),
            pass: pass.to_owned(),
            http: Client::new(),
        }
    }

    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .basic_auth(&self.user, Some(&self.pass))
    }

    async fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.req("GET", path).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    async fn propfind(&self, path: &str, depth: &str) -> (u16, String) {
        let r = self
            .req("PROPFIND", path)
            .header("Depth", depth)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn gateway_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.embedded.listen = "127.0.0.1:0".parse().unwrap();
    cfg
}

async fn start() -> (GatewayHandle, Dav, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let gw = start_gateway(gateway_config(dir.path())).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    let dav = Dav::new(&gw, &cred.access_key_id, &cred.secret_access_key);
    (gw, dav, dir)
}

/// Versions ScaiDrive holds for the live file `name` in the share `share`, with `token`.
async fn upstream_versions(emu_url: &str, token: &str, share: &str, name: &str) -> Option<usize> {
    let client = sd::Client::new(emu_url, ClientOptions::default()).unwrap();
    let t = Token::new(token.to_owned());
    let shares = client.my_shares(&t).await.unwrap();
    let s = shares.iter().find(|s| s.name == share).unwrap();
    let listing = client.list_children(&t, &s.id, None).await.unwrap();
    let id = listing.items.iter().find_map(|i| match i {
        Item::File(f) if f.name == name && !f.is_deleted => Some(f.id.clone()),
        _ => None,
    })?;
    Some(client.list_versions(&t, &id).await.unwrap().len())
}

fn emulator_of(gw: &GatewayHandle) -> &RunningEmulator {
    gw.emulator().unwrap()
}

/// Sends a PUT announcing `announced` bytes, writes only `sent`, then drops the socket.
async fn short_put(dav: &Dav, path: &str, announced: usize, sent: &[u8]) {
    let addr = dav.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use base64::Engine as _;
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", dav.user, dav.pass));
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {announced}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s.flush().await.unwrap();
    // Let the gateway start streaming the body upstream before the cut.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
    // The gateway notices the EOF, aborts the write; give it the time to do so.
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn put_cut_short_of_content_length_stores_nothing() {
    let (gw, dav, _dir) = start().await;
    let emu = emulator_of(&gw);
    let token = emu.tokens()[0].token.clone();

    // A new file: nothing appears, neither over WebDAV nor upstream.
    short_put(&dav, "/Documents/cut.bin", 100_000, &[7u8; 40_000]).await;
    let (status, _) = dav.get_bytes("/Documents/cut.bin").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listing) = dav.propfind("/Documents/", "1").await;
    assert!(!listing.contains("cut.bin"), "{listing}");
    assert_eq!(
        upstream_versions(&emu.url(), &token, "Documents", "cut.bin").await,
        None
    );

    // Over an existing file: the old content stays, and no new version is made.
    let r = dav
        .req("PUT", "/Documents/keep.bin")
        .body(vec![1u8; 5000])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let etag = r.headers().get("etag").cloned();
    short_put(&dav, "/Documents/keep.bin", 100_000, &[9u8; 40_000]).await;
    let r = dav.req("GET", "/Documents/keep.bin").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    if let Some(etag) = etag {
        assert_eq!(r.headers().get("etag"), Some(&etag));
    }
    assert_eq!(r.bytes().await.unwrap().to_vec(), vec![1u8; 5000]);
    assert_eq!(
        upstream_versions(&emu.url(), &token, "Documents", "keep.bin").await,
        Some(1)
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn get_with_upstream_body_cut_fails_on_the_client_never_pads() {
    let (gw, dav, _dir) = start().await;
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let r = dav
        .req("PUT", "/Documents/big.bin")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    emulator_of(&gw).set_faults(Faults {
        reset_after_bytes: Some(50_000),
        reset_count: 1,
        ..Faults::default()
    });

    // Raw HTTP so the exact bytes before the cut are seen.
    let addr = dav.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use base64::Engine as _;
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", dav.user, dav.pass));
    let req = format!(
        "GET /Documents/big.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .expect("the gateway neither finished nor cut the response")
        .ok();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let body = &raw[split + 4..];
    if head.starts_with("http/1.1 200") {
        let announced: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .expect("a GET of a file announces its length");
        assert_eq!(announced, content.len());
        // Either the gateway resumed the download and the body is whole and right, or the
        // connection closed before Content-Length bytes: never padding, never other bytes.
        assert!(
            body.len() <= announced,
            "more bytes than announced: {}",
            body.len()
        );
        assert_eq!(
            body,
            &content[..body.len()],
            "bytes before the cut must be the file's"
        );
        assert!(
            body.len() < announced,
            "the cut download was completed or padded instead of failing"
        );
    } else {
        // An error status before any body is a clean failure too.
        assert!(head.starts_with("http/1.1 5"), "unexpected answer: {head}");
    }
    // The fault was one-shot: the next GET is whole.
    let (status, got) = dav.get_bytes("/Documents/big.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, content);
    gw.shutdown().await;
}

#[tokio::test]
async fn webdav_and_s3_see_each_others_writes_with_the_same_etag() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let dav = Dav::new(&s3.gateway, &s3.access_key, &s3.secret);

    // WebDAV → S3.
    let body = b"written over webdav".to_vec();
    let r = dav
        .req("PUT", "/Documents/from-dav.txt")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let dav_etag = dav
        .req("GET", "/Documents/from-dav.txt")
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = s3
        .call("GET", "/documents", &[("list-type", "2")], &[], Vec::new())
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    let text = list.text();
    let contents: Vec<String> = s3_support::xml_values(&text, "Contents");
    let entry = contents
        .iter()
        .find(|c| s3_support::xml_value(c, "Key").as_deref() == Some("from-dav.txt"))
        .unwrap_or_else(|| panic!("not listed over S3: {text}"));
    let listed_etag = s3_support::xml_value(entry, "ETag")
        .unwrap()
        .replace("&quot;", "\"");
    assert_eq!(listed_etag, dav_etag);
    let got = s3.get("/documents/from-dav.txt").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body);
    assert_eq!(got.header("etag").unwrap(), dav_etag);

    // S3 → WebDAV.
    let body = b"written over s3, read over webdav".to_vec();
    let put = s3.put("/documents/from-s3.txt", &body).await;
    assert_eq!(put.status, 200, "{}", put.text());
    let s3_etag = put.header("etag").unwrap();
    let (status, listing) = dav.propfind("/Documents/", "1").await;
    assert_eq!(status, 207);
    let resp = listing
        .split("<D:response>")
        .find(|r| r.contains("/Documents/from-s3.txt</D:href>"))
        .unwrap_or_else(|| panic!("not listed over WebDAV: {listing}"));
    // getetag is the entity-tag, quoted, exactly as the S3 ETag header.
    assert!(
        resp.contains(&format!("<D:getetag>{s3_etag}</D:getetag>")),
        "{resp}"
    );
    let r = dav
        .req("GET", "/Documents/from-s3.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), s3_etag);
    assert_eq!(r.bytes().await.unwrap().to_vec(), body);
    s3.gateway.shutdown().await;
}

/// An emulator seeded with the roles seed (share `Team`: `owner-token` owns it, `reader-token`
/// reads it) and a gateway in front of it.
async fn roles_gateway(dir: &std::path::Path) -> (RunningEmulator, GatewayHandle) {
    let seed = dir.join("seed.toml");
    std::fs::write(&seed, emulator_support::ROLES_SEED).unwrap();
    let emu = emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("emu"),
        seed: Some(seed),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = gateway_config(&dir.join("gw"));
    cfg.scaidrive.url = Some(emu.url());
    let gw = start_gateway(cfg).await.unwrap();
    (emu, gw)
}

#[tokio::test]
async fn a_reader_can_read_but_every_write_method_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, gw) = roles_gateway(dir.path()).await;
    let owner = Dav::new(&gw, "anyone", "owner-token");
    let reader = Dav::new(&gw, "anyone", "reader-token");

    let r = owner
        .req("PUT", "/Team/doc.txt")
        .body("team doc")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = owner.req("MKCOL", "/Team/folder/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // Reads work.
    let (status, listing) = reader.propfind("/Team/", "1").await;
    assert_eq!(status, 207);
    assert!(listing.contains("/Team/doc.txt"), "{listing}");
    let (status, body) = reader.propfind("/Team/doc.txt", "0").await;
    assert_eq!(status, 207, "{body}");
    let (status, got) = reader.get_bytes("/Team/doc.txt").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, b"team doc");

    // Every write is 403.
    let lockinfo = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>r</D:owner></D:lockinfo>"#;
    let proppatch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>"#;
    let dest = |p: &str| format!("{}{p}", reader.base);
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("PUT new", reader.req("PUT", "/Team/new.txt").body("x")),
        (
            "PUT empty new",
            reader.req("PUT", "/Team/empty.txt").body(""),
        ),
        ("PUT existing", reader.req("PUT", "/Team/doc.txt").body("x")),
        ("MKCOL", reader.req("MKCOL", "/Team/sub/")),
        ("DELETE file", reader.req("DELETE", "/Team/doc.txt")),
        ("DELETE folder", reader.req("DELETE", "/Team/folder/")),
        (
            "MOVE",
            reader
                .req("MOVE", "/Team/doc.txt")
                .header("Destination", dest("/Team/moved.txt")),
        ),
        (
            "COPY",
            reader
                .req("COPY", "/Team/doc.txt")
                .header("Destination", dest("/Team/copy.txt")),
        ),
        (
            "PROPPATCH",
            reader.req("PROPPATCH", "/Team/doc.txt").body(proppatch),
        ),
        (
            "LOCK existing",
            reader.req("LOCK", "/Team/doc.txt").body(lockinfo),
        ),
        (
            "LOCK new",
            reader.req("LOCK", "/Team/locknew.txt").body(lockinfo),
        ),
    ];
    for (name, req) in cases {
        let r = req.send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
    }

    // Nothing changed.
    let (_, listing) = owner.propfind("/Team/", "1").await;
    for name in [
        "new.txt",
        "empty.txt",
        "sub",
        "moved.txt",
        "copy.txt",
        "locknew.txt",
    ] {
        assert!(
            !listing.contains(&format!("/Team/{name}")),
            "{name}: {listing}"
        );
    }
    assert!(listing.contains("/Team/folder/"), "{listing}");
    let (_, got) = owner.get_bytes("/Team/doc.txt").await;
    assert_eq!(got, b"team doc");
    let (_, props) = owner.propfind("/Team/doc.txt", "0").await;
    assert!(!props.contains("color"), "{props}");
    gw.shutdown().await;
    emu.shutdown().await;
}

/// The `getcontenttype` of `href` in a multistatus body.
fn content_type_in(listing: &str, href: &str) -> Option<String> {
    let resp = listing
        .split("<D:response>")
        .find(|r| r.contains(&format!("<D:href>{href}</D:href>")))?;
    s3_support::xml_value(resp, "D:getcontenttype")
}

#[tokio::test]
async fn getcontenttype_comes_from_scaidrive_not_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let dav = Dav::new(&s3.gateway, &s3.access_key, &s3.secret);

    // Declared by the WebDAV client: kept although the extension says otherwise.
    let r = dav
        .req("PUT", "/Documents/picture.dat")
        .header("Content-Type", "image/png")
        .body(vec![0x89, b'P', b'N', b'G'])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Declared over S3.
    let put = s3
        .call(
            "PUT",
            "/documents/notes.txt",
            &[],
            &[("content-type", "application/x-custom-notes")],
            b"some notes".to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());

    let (status, listing) = dav.propfind("/Documents/", "1").await;
    assert_eq!(status, 207);
    assert_eq!(
        content_type_in(&listing, "/Documents/picture.dat").as_deref(),
        Some("image/png"),
        "{listing}"
    );
    assert_eq!(
        content_type_in(&listing, "/Documents/notes.txt").as_deref(),
        Some("application/x-custom-notes"),
        "{listing}"
    );
    assert_eq!(
        content_type_in(&listing, "/Documents/").as_deref(),
        Some("httpd/unix-directory")
    );
    let (_, one) = dav.propfind("/Documents/notes.txt", "0").await;
    assert_eq!(
        content_type_in(&one, "/Documents/notes.txt").as_deref(),
        Some("application/x-custom-notes"),
        "{one}"
    );
    for (path, want) in [
        ("/Documents/picture.dat", "image/png"),
        ("/Documents/notes.txt", "application/x-custom-notes"),
    ] {
        for method in ["GET", "HEAD"] {
            let r = dav.req(method, path).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], want, "{method} {path}");
        }
    }
    // Over S3 the same type.
    let got = s3.get("/documents/picture.dat").await;
    assert_eq!(got.header("content-type").as_deref(), Some("image/png"));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn move_and_copy_across_shares_use_scaidrive_cross_share_calls() {
    let (_gw, dav, _dir) = start().await;
    let put =
        |path: &'static str, body: &'static [u8]| dav.req("PUT", path).body(body.to_vec()).send();
    assert_eq!(
        put("/Documents/a.txt", b"alpha").await.unwrap().status(),
        201
    );
    assert_eq!(
        dav.req("MKCOL", "/Documents/tree")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        put("/Documents/tree/b.txt", b"beta")
            .await
            .unwrap()
            .status(),
        201
    );
    let dest = |p: &str| format!("{}{p}", dav.base);

    // A file copied to another share: both exist, same bytes.
    let r = dav
        .req("COPY", "/Documents/a.txt")
        .header("Destination", dest("/Photos/a-copy.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "cross-share COPY of a file");
    assert_eq!(
        dav.get_bytes("/Photos/a-copy.txt").await,
        (StatusCode::OK, b"alpha".to_vec())
    );
    assert_eq!(dav.get_bytes("/Documents/a.txt").await.0, StatusCode::OK);

    // A file moved to another share, renamed on the way.
    let r = dav
        .req("MOVE", "/Documents/a.txt")
        .header("Destination", dest("/Photos/moved.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "cross-share MOVE of a file");
    assert_eq!(
        dav.get_bytes("/Photos/moved.txt").await,
        (StatusCode::OK, b"alpha".to_vec())
    );
    assert_eq!(
        dav.get_bytes("/Documents/a.txt").await.0,
        StatusCode::NOT_FOUND
    );

    // A collection moved to another share keeps its content.
    let r = dav
        .req("MOVE", "/Documents/tree/")
        .header("Destination", dest("/Photos/tree2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "cross-share MOVE of a collection");
    assert_eq!(
        dav.get_bytes("/Photos/tree2/b.txt").await,
        (StatusCode::OK, b"beta".to_vec())
    );
    let (status, _) = dav.propfind("/Documents/tree/", "0").await;
    assert_eq!(status, 404, "the source collection is gone");

    // Onto an existing file in the other share without Overwrite: 412, nothing changes.
    assert_eq!(
        put("/Documents/c.txt", b"gamma").await.unwrap().status(),
        201
    );
    let r = dav
        .req("MOVE", "/Documents/c.txt")
        .header("Destination", dest("/Photos/moved.txt"))
        .header("Overwrite", "F")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(
        dav.get_bytes("/Photos/moved.txt").await.1,
        b"alpha".to_vec()
    );
    assert_eq!(dav.get_bytes("/Documents/c.txt").await.1, b"gamma".to_vec());
}

#[tokio::test]
async fn chunked_put_without_any_length_is_spooled_and_stored_whole() {
    let (_gw, dav, _dir) = start().await;
    // 300 KiB in 4 KiB chunks, with neither Content-Length nor X-Expected-Entity-Length.
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = dav
        .req("PUT", "/Documents/chunked.bin")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "chunked PUT of unknown length");
    let (status, got) = dav.get_bytes("/Documents/chunked.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "content differs");
}

#[tokio::test]
async fn a_reader_writes_where_a_scaidrive_acl_entry_lets_it_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, gw) = roles_gateway(dir.path()).await;
    let owner = Dav::new(&gw, "anyone", "owner-token");
    let reader = Dav::new(&gw, "anyone", "reader-token");
    let r = owner.req("MKCOL", "/Team/drop/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // The owner lets the reader create and write (not delete) in `drop`, straight on ScaiDrive.
    let client = sd::Client::new(&emu.url(), ClientOptions::default()).unwrap();
    let owner_token = Token::new("owner-token".to_owned());
    let root = client
        .list_children(&owner_token, "shr_01TEAM", None)
        .await
        .unwrap();
    let drop_id = root
        .items
        .iter()
        .find(|i| i.name() == "drop")
        .unwrap()
        .id()
        .to_owned();
    let entry = sd::acl::NewAce {
        principal_type: "user".into(),
        principal_id: Some("usr_01READER".into()),
        permissions: vec!["WRITE", "CREATE"],
        ace_type: "allow".into(),
        inherit_to_children: true,
    };
    client
        .add_ace(
            &owner_token,
            sd::acl::ResourceType::Folder,
            &drop_id,
            &entry,
        )
        .await
        .unwrap();

    let r = reader
        .req("PUT", "/Team/drop/from-reader.txt")
        .body("dropped")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT in drop: {}", r.status());
    let (status, got) = owner.get_bytes("/Team/drop/from-reader.txt").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, b"dropped");
    let r = reader.req("MKCOL", "/Team/drop/sub/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "MKCOL in drop");

    // Outside `drop` the share is still read-only for the reader, and inside it ScaiDrive
    // still refuses what the entry does not allow (DELETE).
    let r = reader
        .req("PUT", "/Team/outside.txt")
        .body("no")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "PUT outside drop");
    let r = reader
        .req("DELETE", "/Team/drop/from-reader.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "DELETE in drop");
    let r = reader
        .req("DELETE", "/Team/drop/sub/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "DELETE of a folder in drop"
    );
    // Nothing was lost or renamed on the way (the gateway renames before it deletes, so that
    // the name is free at once; a refused delete must undo that).
    let (status, got) = owner.get_bytes("/Team/drop/from-reader.txt").await;
    assert_eq!(status, StatusCode::OK, "the file is still there");
    assert_eq!(got, b"dropped");
    let upstream = client
        .list_children(&owner_token, "shr_01TEAM", Some(&drop_id))
        .await
        .unwrap();
    let mut names: Vec<&str> = upstream.items.iter().map(Item::name).collect();
    names.sort_unstable();
    assert_eq!(names, ["from-reader.txt", "sub"]);
    gw.shutdown().await;
}

/// Upstream calls so far whose endpoint contains `needle`, by method (`/metrics`).
async fn upstream_calls(gw: &GatewayHandle, method: &str, needle: &str) -> u64 {
    let method = format!("method=\"{method}\"");
    let calls = s3_support::metric_sum(gw.addrs().admin, |l| {
        l.starts_with("scaidrive_gateway_upstream_requests_total{")
            && l.contains(&method)
            && l.contains(needle)
    })
    .await;
    calls as u64
}

/// davfs2's sequence for a new file: LOCK of the new name, then (at upload time, often long
/// after the pending grace) PUT, HEAD and UNLOCK. The locked name stays pending, so the PUT is
/// the file's only upstream create: one `POST /files`, no upload session, one version. A name
/// locked and unlocked without content is created empty after the grace.
#[tokio::test]
async fn a_locked_new_name_stays_pending_until_its_put_even_past_the_grace() {
    let (gw, dav, _dir) = start().await;
    let emu = emulator_of(&gw);
    let token = emu.tokens()[0].token.clone();
    let lockinfo = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>davfs2</D:owner></D:lockinfo>"#;
    let lock = |path: &'static str| {
        let r = dav
            .req("LOCK", path)
            .header("Timeout", "Second-1800")
            .body(lockinfo);
        async move {
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "LOCK {path}");
            r.headers()
                .get("lock-token")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let files_before = upstream_calls(&gw, "POST", "/files\"").await;
    let uploads_before = upstream_calls(&gw, "POST", "/uploads").await;
    let written = lock("/Documents/davfs.txt").await;
    let empty = lock("/Documents/davfs-empty.txt").await;
    tokio::time::sleep(Duration::from_millis(11_500)).await;

    let r = dav
        .req("PUT", "/Documents/davfs.txt")
        .header("If", format!("({written})"))
        .body("content at upload time")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT: {}", r.status());
    let r = dav
        .req("HEAD", "/Documents/davfs.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for (path, t) in [
        ("/Documents/davfs.txt", &written),
        ("/Documents/davfs-empty.txt", &empty),
    ] {
        let r = dav
            .req("UNLOCK", path)
            .header("Lock-Token", t.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "UNLOCK {path}");
    }
    assert_eq!(
        upstream_calls(&gw, "POST", "/files\"").await - files_before,
        1,
        "one create, for the PUT"
    );
    assert_eq!(
        upstream_calls(&gw, "POST", "/uploads").await - uploads_before,
        0,
        "no upload session"
    );
    assert_eq!(
        upstream_versions(&emu.url(), &token, "Documents", "davfs.txt").await,
        Some(1)
    );
    let (status, got) = dav.get_bytes("/Documents/davfs.txt").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, b"content at upload time");

    // The name locked without content: still listed while pending, created once unlocked.
    let (_, listing) = dav.propfind("/Documents/", "1").await;
    assert!(listing.contains("davfs-empty.txt"), "{listing}");
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    assert_eq!(
        upstream_versions(&emu.url(), &token, "Documents", "davfs-empty.txt").await,
        Some(1)
    );
    gw.shutdown().await;
}
