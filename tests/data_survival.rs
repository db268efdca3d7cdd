//! Data and metadata survive what happens around them: a WebDAV collection renamed while the
//! change feed runs keeps the attributes of everything inside it; deletes leave no debris under
//! long names or after a crash; spool files of cut requests do not stay on disk. Real gateway
//! with its embedded emulator, listeners on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3_support;

use std::time::{Duration, Instant};

use md5::Digest as _;
use reqwest::Method;
use s3_support::S3;
use scaidrive_gateway::config::Config;

/// A gateway on `dir` with the default configuration (change feed on), listeners on port 0.
async fn gateway(dir: &std::path::Path) -> S3 {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    let gw = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    s3_support::client(gw, &cred.access_key_id, &cred.secret_access_key)
}

fn dav(s3: &S3, method: &str, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}{path}", s3.gateway.addrs().webdav),
        )
        .basic_auth(&s3.access_key, Some(&s3.secret))
}

/// Change-feed polls the gateway has made so far (its upstream request counter).
async fn feed_polls(s3: &S3) -> u64 {
    let polls = s3_support::metric_sum(s3.gateway.addrs().admin, |l| {
        l.starts_with("scaidrive_gateway_upstream_requests_total{")
            && l.contains("endpoint=\"/api/v1/sync/changes\"")
    })
    .await;
    polls as u64
}

/// Waits until the change feed has been polled `n` more times.
async fn wait_for_polls(s3: &S3, n: u64) {
    let start = feed_polls(s3).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while feed_polls(s3).await < start + n {
        assert!(Instant::now() < deadline, "the change feed was not polled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The PROPFIND answer (Depth 0) of one resource, with the dead property `{urn:x-test}color`.
async fn props(s3: &S3, path: &str) -> String {
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:prop><D:getetag/><D:getcontenttype/><D:getlastmodified/><Z:color/></D:prop></D:propfind>"#;
    let r = dav(s3, "PROPFIND", path)
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207, "PROPFIND {path}");
    r.text().await.unwrap()
}

/// The text of the first `<…:name>` element of a multistatus answer, whatever its prefix.
fn tag(xml: &str, name: &str) -> String {
    xml.split('<')
        .find_map(|piece| {
            let (head, text) = piece.split_once('>')?;
            let local = head.split_whitespace().next()?.rsplit(':').next()?;
            (local == name && !head.ends_with('/')).then(|| text.to_owned())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn renaming_a_collection_keeps_the_attributes_of_everything_inside() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = gateway(dir.path()).await;
    // A file written over WebDAV with a client mtime, a content type and a dead property, and
    // one written over S3 with user metadata, in a nested folder.
    let r = dav(&s3, "MKCOL", "/Documents/album").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = dav(&s3, "PUT", "/Documents/album/a.txt")
        .header("X-OC-Mtime", "1700000000")
        .header("Content-Type", "text/x-survivor")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop><Z:color>teal</Z:color></D:prop></D:set></D:propertyupdate>"#;
    let r = dav(&s3, "PROPPATCH", "/Documents/album/a.txt")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    let r = s3
        .call(
            "PUT",
            "/documents/album/inner/b.bin",
            &[],
            &[("x-amz-meta-colour", "blue"), ("content-type", "image/x-b")],
            b"bee".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The follower has seen the writes (they were its own).
    wait_for_polls(&s3, 2).await;
    let before = props(&s3, "/Documents/album/a.txt").await;
    assert_eq!(
        tag(&before, "getetag"),
        "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""
    );
    assert!(before.contains("teal"), "{before}");

    // `mv album photos` in the same parent.
    let r = dav(&s3, "MOVE", "/Documents/album")
        .header(
            "Destination",
            format!("http://{}/Documents/photos", s3.gateway.addrs().webdav),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // The follower reads the feed's `renamed` entries for everything inside.
    wait_for_polls(&s3, 3).await;

    let after = props(&s3, "/Documents/photos/a.txt").await;
    for t in ["getetag", "getcontenttype", "getlastmodified"] {
        assert_eq!(tag(&after, t), tag(&before, t), "{t}: {after}");
    }
    assert!(after.contains("teal"), "the dead property is gone: {after}");
    assert!(
        after.contains("Tue, 14 Nov 2023 22:13:20 GMT"),
        "the client mtime is gone: {after}"
    );
    let head = s3
        .call(
            "HEAD",
            "/documents/photos/inner/b.bin",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(head.status, 200);
    let md5 = format!("\"{}\"", hex::encode(md5::Md5::digest(b"bee")));
    assert_eq!(head.header("etag"), Some(md5), "the MD5 ETag is gone");
    assert_eq!(head.header("x-amz-meta-colour").as_deref(), Some("blue"));
    assert_eq!(head.header("content-type").as_deref(), Some("image/x-b"));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_long_name_can_be_written_again_after_its_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = gateway(dir.path()).await;
    // 76 × `文` + `.txt` = 232 bytes: with ` (deleted …)` the old trash name was 263 bytes.
    let name = "文".repeat(76) + ".txt";
    let key = format!("/documents/{name}");
    assert_eq!(s3.put(&key, b"one").await.status, 200);
    let r = s3.call("DELETE", &key, &[], &[], Vec::new()).await;
    assert_eq!(r.status, 204);
    let r = s3.put(&key, b"two").await;
    assert_eq!(r.status, 200, "S3 PUT after DeleteObject: {}", r.text());
    assert_eq!(s3.get(&key).await.body, b"two");

    let path = format!(
        "/Documents/dav-{}",
        percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
    );
    let r = dav(&s3, "PUT", &path).body("one").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = dav(&s3, "DELETE", &path).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = dav(&s3, "PUT", &path).body("two").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "WebDAV PUT after DELETE");
    // The deleted ones are in the trash, not live under another name.
    let list = s3
        .call("GET", "/documents", &[("list-type", "2")], &[], Vec::new())
        .await;
    assert!(!list.text().contains("(deleted "), "{}", list.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn staging_debris_is_swept_at_start_and_known_uploads_keep_their_parts() {
    let dir = tempfile::tempdir().unwrap();
    // What a crash left: a spool file of a cut WebDAV PUT and the staging directory of a
    // multipart upload the state DB does not know.
    let spool = dir.path().join("staging/webdav");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join("put-01JCRASHED0000000000000000"), b"half a body").unwrap();
    let orphan = dir.path().join("staging/01JCRASHED0000000000000001");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("part-1"), b"part").unwrap();
    let s3 = gateway(dir.path()).await;
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    assert!(!orphan.exists());

    // A multipart upload the state DB knows keeps its directory through a restart.
    let r = s3
        .call(
            "POST",
            "/documents/mp.bin",
            &[("uploads", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = s3_support::xml_value(&r.text(), "UploadId").unwrap();
    let r = s3
        .call(
            "PUT",
            "/documents/mp.bin",
            &[("partNumber", "1"), ("uploadId", &id)],
            &[],
            b"part one".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    s3.gateway.shutdown().await;
    let s3 = gateway(dir.path()).await;
    assert!(dir.path().join("staging").join(&id).is_dir());
    let r = s3
        .call(
            "GET",
            "/documents/mp.bin",
            &[("uploadId", &id)],
            &[],
            Vec::new(),
        )
        .await;
    assert!(
        r.text().contains("<PartNumber>1</PartNumber>"),
        "{}",
        r.text()
    );
    s3.gateway.shutdown().await;
}
