//! What any instance can serve: two gateways on one throwaway PostgreSQL and one emulator, each
//! with its own data directory (nothing shared but PostgreSQL and ScaiDrive). Multipart uploads
//! with parts spread over both, staging files in ScaiDrive never shown and removed for good; a
//! Complete that outlives its client's connection, answered again to a retry; a WebDAV empty
//! file created through one instance seen through the other; a delete marker made through one
//! instance listed, answered and undeleted through the other.

#![allow(clippy::unwrap_used)]

mod s3_support;
#[path = "../src/state/testpg.rs"]
mod testpg;

use std::path::Path;
use std::time::Duration;

use md5::Digest as _;
use s3_support::{S3, Upstream, xml_value, xml_values};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::state::StateLocation;
use tokio::io::AsyncWriteExt as _;

const DEADLINE: Duration = Duration::from_secs(60);
const STAGING: &str = ".scaidrive-gateway-uploads";
const MIB: usize = 1 << 20;

fn config(dir: &Path, state_url: Option<&str>) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    cfg.s3.listen = any;
    cfg.webdav.listen = any;
    cfg.admin.listen = any;
    cfg.embedded.listen = any;
    if let Some(url) = state_url {
        let StateLocation::Postgres(url) = StateLocation::parse_state_url(url).unwrap() else {
            panic!("not a PostgreSQL URL")
        };
        cfg.state.url = Some(url);
    }
    cfg
}

/// Gateway A with the embedded emulator and gateway B on that emulator, both on one fresh
/// PostgreSQL database, each with its own data directory. B knows A's credential from the
/// shared state database.
async fn two_instances(a_dir: &Path, b_dir: &Path) -> (S3, S3) {
    let url = testpg::fresh_database_url().await;
    let a = scaidrive_gateway::server::start_gateway(config(a_dir, Some(&url)))
        .await
        .unwrap();
    let cred = a.embedded_credential().unwrap().clone();
    let mut b_cfg = config(b_dir, Some(&url));
    b_cfg.scaidrive.url = Some(a.emulator().unwrap().url());
    let b = scaidrive_gateway::server::start_gateway(b_cfg)
        .await
        .unwrap();
    (
        s3_support::client(a, &cred.access_key_id, &cred.secret_access_key),
        s3_support::client(b, &cred.access_key_id, &cred.secret_access_key),
    )
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

/// `"md5(md5(p1)‖md5(p2)‖…)-N"`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend(md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", md5_hex(&cat), parts.len())
}

async fn create(s3: &S3, key: &str, headers: &[(&str, &str)]) -> String {
    let r = s3
        .call("POST", key, &[("uploads", "")], headers, Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    xml_value(&r.text(), "UploadId").unwrap()
}

async fn part(s3: &S3, key: &str, id: &str, n: u32, data: &[u8]) -> String {
    let n = n.to_string();
    let r = s3
        .call(
            "PUT",
            key,
            &[("partNumber", &n), ("uploadId", id)],
            &[],
            data.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").unwrap()
}

fn complete_body(etags: &[String]) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, e) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

async fn complete(s3: &S3, key: &str, id: &str, etags: &[String]) -> s3_support::Resp {
    s3.call(
        "POST",
        key,
        &[("uploadId", id)],
        &[],
        complete_body(etags).into_bytes(),
    )
    .await
}

/// Names in a ScaiDrive folder (`root` for the share root), the trash included when asked.
async fn upstream_names(up: &Upstream, folder: &str, deleted: bool) -> Vec<String> {
    let mut req = up
        .http
        .get(format!("{}/folders/{folder}/children", up.base))
        .bearer_auth(&up.token)
        .query(&[("share_id", up.share.as_str())]);
    if deleted {
        req = req.query(&[("include_deleted", "true")]);
    }
    let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The id of the entry `name` at the share root, upstream.
async fn root_entry_id(up: &Upstream, name: &str) -> Option<String> {
    let v: serde_json::Value = up
        .http
        .get(format!("{}/folders/root/children", up.base))
        .bearer_auth(&up.token)
        .query(&[("share_id", up.share.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .map(|i| i["id"].as_str().unwrap().to_owned())
}

/// The id of the staging folder at the share root.
async fn staging_folder(up: &Upstream) -> Option<String> {
    root_entry_id(up, STAGING).await
}

async fn propfind_names(s3: &S3, path: &str) -> String {
    let r = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("http://{}{path}", s3.gateway.addrs().webdav),
        )
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    r.text().await.unwrap()
}

#[tokio::test]
async fn parts_spread_over_two_instances_complete_into_one_object() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let key = "/documents/spread/big.bin";
    let id = create(
        &a,
        key,
        &[
            ("x-amz-meta-colour", "teal"),
            ("content-type", "application/x-spread"),
        ],
    )
    .await;
    let p1 = pattern(5 * MIB, 1);
    let p2 = pattern(5 * MIB, 2);
    let p3 = pattern(1234, 3);
    // Out of order, over both instances; part 2 sent twice (the later send counts).
    let e3 = part(&b, key, &id, 3, &p3).await;
    let _ = part(&a, key, &id, 2, &pattern(5 * MIB, 9)).await;
    let e1 = part(&b, key, &id, 1, &p1).await;
    let e2 = part(&b, key, &id, 2, &p2).await;
    assert_eq!(e2, format!("\"{}\"", md5_hex(&p2)));

    let listed = b
        .call("GET", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(xml_values(&listed.text(), "PartNumber"), ["1", "2", "3"]);
    assert_eq!(
        xml_values(&listed.text(), "ETag"),
        [e1.clone(), e2.clone(), e3.clone()]
    );

    // The staging folder is in ScaiDrive, and shown nowhere.
    let up = Upstream::documents(&a).await;
    assert!(staging_folder(&up).await.is_some());
    for s3 in [&a, &b] {
        let list = s3
            .call("GET", "/documents", &[("list-type", "2")], &[], Vec::new())
            .await;
        assert_eq!(list.status, 200);
        assert!(!list.text().contains(STAGING), "{}", list.text());
        let dav = propfind_names(s3, "/Documents/").await;
        assert!(!dav.contains(STAGING), "{dav}");
    }
    let refused = a
        .call(
            "PUT",
            &format!("/documents/{STAGING}/x"),
            &[],
            &[],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("reserved"), "{}", refused.text());

    let done = complete(&a, key, &id, &[e1, e2, e3]).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let want = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(xml_value(&done.text(), "ETag").unwrap(), want);

    // Read through the instance that completed: what another instance's cache shows at once
    // is the cross-instance consistency's business, not the upload's.
    let got = a.get(key).await;
    assert_eq!(got.status, 200);
    let mut all = p1.clone();
    all.extend(&p2);
    all.extend(&p3);
    assert!(got.body == all, "the object's bytes differ");
    assert_eq!(got.header("etag").unwrap(), want);
    assert_eq!(got.header("x-amz-meta-colour").as_deref(), Some("teal"));
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/x-spread")
    );
    // The upload's staging files are gone for good (not in the trash).
    let top = staging_folder(&up).await.unwrap();
    assert!(upstream_names(&up, &top, true).await.is_empty());
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

#[tokio::test]
async fn abort_on_another_instance_deletes_the_staged_parts() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let key = "/documents/aborted.bin";
    let id = create(&a, key, &[]).await;
    part(&a, key, &id, 1, &pattern(MIB, 4)).await;
    part(&a, key, &id, 2, &pattern(100, 5)).await;
    let up = Upstream::documents(&a).await;
    let top = staging_folder(&up).await.unwrap();
    assert_eq!(upstream_names(&up, &top, false).await, [id.as_str()]);

    let aborted = b
        .call("DELETE", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(aborted.status, 204, "{}", aborted.text());
    assert!(upstream_names(&up, &top, true).await.is_empty());
    let listed = a
        .call("GET", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(listed.status, 404);
    assert!(listed.text().contains("NoSuchUpload"), "{}", listed.text());
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

/// Sends a signed Complete over a raw connection and closes it as soon as the body is out.
async fn complete_and_hang_up(s3: &S3, key: &str, id: &str, etags: &[String]) {
    let body = complete_body(etags);
    let (target, headers) = s3.sign(
        &s3.access_key,
        &s3.secret,
        "POST",
        key,
        &[("uploadId", id)],
        &[],
    );
    let addr = s3.gateway.addrs().s3;
    let mut req = format!("POST {target} HTTP/1.1\r\nhost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    // The head, then the body in a segment of its own (as most clients send them), then hang
    // up at once without reading the answer: the server reads the end of the connection
    // while it is still reading the request.
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    tcp.write_all(body.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    drop(tcp);
}

#[tokio::test]
async fn a_complete_whose_client_hangs_up_finishes_and_answers_retries_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let key = "/documents/hangup.bin";
    let id = create(&s3, key, &[("x-amz-meta-colour", "amber")]).await;
    let p1 = pattern(8 * MIB, 6);
    let p2 = pattern(8 * MIB, 7);
    let etags = vec![
        part(&s3, key, &id, 1, &p1).await,
        part(&s3, key, &id, 2, &p2).await,
    ];
    complete_and_hang_up(&s3, key, &id, &etags).await;

    // The object appears with its full attributes.
    let want = multipart_etag(&[&p1, &p2]);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let head = loop {
        let head = s3.call("HEAD", key, &[], &[], Vec::new()).await;
        if head.status == 200 && head.header("etag").as_deref() == Some(want.as_str()) {
            break head;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no complete object: {} {:?}",
            head.status,
            head.header("etag")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(head.header("x-amz-meta-colour").as_deref(), Some("amber"));
    let version = head.header("x-amz-version-id");
    assert!(version.is_some(), "no version id");
    assert_eq!(
        head.header("content-length").as_deref(),
        Some((16 * MIB).to_string().as_str())
    );

    // A retry gets the first answer; another part list does not; Abort finds no upload.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let retried = loop {
        let r = complete(&s3, key, &id, &etags).await;
        // The first Complete may still be recording when the object shows.
        if r.status == 200 || tokio::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(xml_value(&retried.text(), "ETag").unwrap(), want);
    assert_eq!(retried.header("x-amz-version-id"), version);
    let other = complete(&s3, key, &id, &etags[..1]).await;
    assert_eq!(other.status, 400, "{}", other.text());
    assert!(other.text().contains("InvalidPart"), "{}", other.text());
    let aborted = s3
        .call("DELETE", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(aborted.status, 404, "{}", aborted.text());
    assert!(
        aborted.text().contains("NoSuchUpload"),
        "{}",
        aborted.text()
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_retried_complete_through_another_instance_gets_the_first_answer() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let key = "/documents/retried.bin";
    let id = create(&a, key, &[]).await;
    let etags = vec![
        part(&a, key, &id, 1, &pattern(5 * MIB, 8)).await,
        part(&b, key, &id, 2, &pattern(10, 9)).await,
    ];
    let first = complete(&a, key, &id, &etags).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = complete(&b, key, &id, &etags).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        xml_value(&again.text(), "ETag"),
        xml_value(&first.text(), "ETag")
    );
    assert_eq!(
        again.header("x-amz-version-id"),
        first.header("x-amz-version-id")
    );
    let aborted = b
        .call("DELETE", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(aborted.status, 404, "{}", aborted.text());
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

#[tokio::test]
async fn a_retried_complete_gets_the_first_answer_and_abort_after_it_no_such_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let key = "/documents/retried-once.bin";
    let id = create(&s3, key, &[]).await;
    let etags = vec![part(&s3, key, &id, 1, &pattern(100, 1)).await];
    let first = complete(&s3, key, &id, &etags).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = complete(&s3, key, &id, &etags).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        xml_value(&again.text(), "ETag"),
        xml_value(&first.text(), "ETag")
    );
    let aborted = s3
        .call("DELETE", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(aborted.status, 404, "{}", aborted.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn an_empty_webdav_file_put_through_one_instance_is_seen_through_the_other() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let http = reqwest::Client::new();
    let dav = |s3: &S3, path: &str| format!("http://{}{path}", s3.gateway.addrs().webdav);
    let put = http
        .put(dav(&a, "/Documents/empty.txt"))
        .basic_auth(&a.access_key, Some(&a.secret))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    // In ScaiDrive at once (not held in A's memory), so B serves it.
    let up = Upstream::documents(&a).await;
    assert!(
        upstream_names(&up, "root", false)
            .await
            .contains(&"empty.txt".to_owned())
    );
    let got = http
        .get(dav(&b, "/Documents/empty.txt"))
        .basic_auth(&b.access_key, Some(&b.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert!(got.bytes().await.unwrap().is_empty());
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

#[tokio::test]
async fn the_same_complete_through_two_instances_at_once_writes_the_object_once() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let key = "/documents/twice.bin";
    let id = create(&a, key, &[]).await;
    let p1 = pattern(5 * MIB, 1);
    let p2 = pattern(3 * MIB, 2);
    let etags = vec![
        part(&a, key, &id, 1, &p1).await,
        part(&b, key, &id, 2, &p2).await,
    ];
    // A client that retried through the balancer while its first Complete still ran.
    let (first, second) = tokio::join!(
        complete(&a, key, &id, &etags),
        complete(&b, key, &id, &etags)
    );
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.text());
    let want = multipart_etag(&[&p1, &p2]);
    assert_eq!(xml_value(&first.text(), "ETag").unwrap(), want);
    assert_eq!(xml_value(&second.text(), "ETag").unwrap(), want);
    assert_eq!(
        first.header("x-amz-version-id"),
        second.header("x-amz-version-id")
    );
    let up = Upstream::documents(&a).await;
    let file = root_entry_id(&up, "twice.bin").await.unwrap();
    let versions: serde_json::Value = up
        .http
        .get(format!("{}/files/{file}/versions", up.base))
        .bearer_auth(&up.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["total"], 1, "written more than once: {versions}");
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

#[tokio::test]
async fn a_delete_marker_made_through_one_instance_is_the_same_through_the_other() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    let body = pattern(4000, 9);
    assert_eq!(a.put("/documents/shared/m.bin", &body).await.status, 200);
    let d = a
        .call("DELETE", "/documents/shared/m.bin", &[], &[], Vec::new())
        .await;
    assert_eq!(d.header("x-amz-delete-marker").as_deref(), Some("true"));
    let marker = d.header("x-amz-version-id").unwrap();
    // B derives the same id from ScaiDrive alone.
    let listed = b
        .call(
            "GET",
            "/documents",
            &[("versions", ""), ("prefix", "shared/")],
            &[],
            Vec::new(),
        )
        .await;
    assert!(
        xml_values(&listed.text(), "VersionId").contains(&marker),
        "{}",
        listed.text()
    );
    let g = b.get("/documents/shared/m.bin").await;
    assert_eq!(g.status, 404);
    assert_eq!(
        g.header("x-amz-version-id").as_deref(),
        Some(marker.as_str())
    );
    // Undeleted through B, served by A.
    let u = b
        .call(
            "DELETE",
            "/documents/shared/m.bin",
            &[("versionId", &marker)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(u.status, 204, "{}", u.text());
    let back = a.get("/documents/shared/m.bin").await;
    assert_eq!(back.status, 200);
    assert_eq!(back.body, body);
    a.gateway.shutdown().await;
    b.gateway.shutdown().await;
}

#[tokio::test]
async fn a_bucket_policy_put_through_one_instance_holds_on_the_other_at_once() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_instances(a_dir.path(), b_dir.path()).await;
    assert_eq!(a.put("/documents/locked/x.txt", b"x").await.status, 200);
    // B learns that the bucket has no policy (and may keep that in memory).
    let r = b
        .call("HEAD", "/documents/locked/x.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
        "Action":"s3:DeleteObject","Resource":"arn:aws:s3:::documents/locked/*"}]}"#;
    let r = a
        .call(
            "PUT",
            "/documents",
            &[("policy", "")],
            &[],
            policy.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    // B applies the policy on its next request: A's put told every instance (no wait, no cache
    // to expire).
    let r = b
        .call("DELETE", "/documents/locked/x.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = b
        .call("GET", "/documents", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.text(), policy);
    // A learns the policy too, then B deletes it: A's next request no longer applies it.
    let r = a
        .call("HEAD", "/documents/locked/x.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = b
        .call("DELETE", "/documents", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = a
        .call("DELETE", "/documents/locked/x.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}
