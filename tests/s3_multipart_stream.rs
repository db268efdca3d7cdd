//! Multipart uploads streamed to ScaiDrive while the parts arrive (`src/s3/assemble.rs`), through
//! the real S3 listener and the embedded emulator: nothing is visible upstream before Complete,
//! Abort leaves nothing, out-of-order, retried and omitted parts, the idle fallback, a restart
//! between parts, a retried Complete, and a part streamed while it arrived that then failed.

#![allow(clippy::unwrap_used)]

mod s3_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Digest as _;
use s3_support::{S3, Upstream, xml_value};

const MIB: usize = 1 << 20;

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

async fn create(s3: &S3, key: &str) -> String {
    let r = s3
        .call("POST", key, &[("uploads", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    xml_value(&r.text(), "UploadId").unwrap()
}

async fn part(s3: &S3, key: &str, id: &str, n: u32, body: &[u8]) -> String {
    let n = n.to_string();
    let r = s3
        .call(
            "PUT",
            key,
            &[("partNumber", &n), ("uploadId", id)],
            &[],
            body.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").unwrap()
}

async fn complete(s3: &S3, key: &str, id: &str, parts: &[(u32, &str)]) -> s3_support::Resp {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, tag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{tag}</ETag></Part>"
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    s3.call("POST", key, &[("uploadId", id)], &[], xml.into_bytes())
        .await
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend(md5::Md5::digest(p));
    }
    format!(
        "\"{}-{}\"",
        hex::encode(md5::Md5::digest(&all)),
        parts.len()
    )
}

/// The emulator's spool directory: an upload in flight upstream is a file there.
fn upstream_tmp(dir: &Path) -> PathBuf {
    dir.join("emulator").join("tmp")
}

/// Bytes of the largest upload in flight upstream.
fn in_flight(dir: &Path) -> u64 {
    std::fs::read_dir(upstream_tmp(dir))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok().map(|m| m.len()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

fn uploads_in_flight(dir: &Path) -> usize {
    std::fs::read_dir(upstream_tmp(dir))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// The names in the share root, as ScaiDrive lists them to its own clients.
async fn upstream_names(up: &Upstream) -> Vec<String> {
    let v: serde_json::Value = up
        .http
        .get(format!(
            "{}/folders/root/children?share_id={}",
            up.base, up.share
        ))
        .bearer_auth(&up.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = v["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect()
}

async fn get_sha(s3: &S3, key: &str) -> (u16, String, Option<String>) {
    let r = s3.get(key).await;
    (r.status, sha256(&r.body), r.header("etag"))
}

#[tokio::test]
async fn parts_stream_upstream_before_complete_and_nothing_shows_until_then() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let up = Upstream::documents(&s3).await;
    let key = "/documents/streamed.bin";
    let (p1, p2, p3) = (data(1, 5 * MIB), data(2, 5 * MIB), data(3, MIB + 7));
    let id = create(&s3, key).await;
    // Out of order: part 3 waits for 1 and 2.
    let e3 = part(&s3, key, &id, 3, &p3).await;
    let e1 = part(&s3, key, &id, 1, &p1).await;
    let e2 = part(&s3, key, &id, 2, &p2).await;
    // Parts 1 and 2 are on their way into one upstream upload before Complete…
    assert!(
        eventually(|| in_flight(dir.path()) >= (10 * MIB) as u64).await,
        "parts 1 and 2 were not streamed upstream ({} bytes in flight)",
        in_flight(dir.path())
    );
    // …and nothing shows: not to ScaiDrive's clients, not through S3.
    assert!(
        !upstream_names(&up)
            .await
            .iter()
            .any(|n| n.contains("streamed"))
    );
    let list = s3.get("/documents").await;
    assert!(!list.text().contains("streamed.bin"), "{}", list.text());
    assert_eq!(s3.get(key).await.status, 404);

    let r = complete(&s3, key, &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = multipart_etag(&[&p1, &p2, &p3]);
    assert!(r.text().contains(&etag.replace('"', "&quot;")) || r.text().contains(&etag));
    let whole = [p1.as_slice(), &p2, &p3].concat();
    assert_eq!(
        get_sha(&s3, key).await,
        (200, sha256(&whole), Some(etag.clone()))
    );
    assert!(
        upstream_names(&up)
            .await
            .contains(&"streamed.bin".to_owned())
    );
    assert!(eventually(|| uploads_in_flight(dir.path()) == 0).await);
    assert!(eventually(|| !dir.path().join("staging").join(&id).exists()).await);

    // A retried Complete gets the first answer and writes nothing again.
    let again = complete(&s3, key, &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert!(again.text().contains("streamed.bin"), "{}", again.text());
    let versions: serde_json::Value = {
        let list: serde_json::Value = up
            .http
            .get(format!(
                "{}/folders/root/children?share_id={}",
                up.base, up.share
            ))
            .bearer_auth(&up.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let file = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "streamed.bin")
            .unwrap()
            .clone();
        up.http
            .get(format!(
                "{}/files/{}/versions",
                up.base,
                file["id"].as_str().unwrap()
            ))
            .bearer_auth(&up.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let count = versions["versions"]
        .as_array()
        .or_else(|| versions["items"].as_array())
        .map_or(0, Vec::len);
    assert_eq!(count, 1, "{versions}");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn abort_cuts_the_streamed_upload_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let up = Upstream::documents(&s3).await;
    let key = "/documents/aborted.bin";
    let id = create(&s3, key).await;
    part(&s3, key, &id, 1, &data(1, 5 * MIB)).await;
    part(&s3, key, &id, 2, &data(2, 5 * MIB)).await;
    assert!(eventually(|| in_flight(dir.path()) >= (10 * MIB) as u64).await);
    let r = s3
        .call("DELETE", key, &[("uploadId", &id)], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(
        eventually(|| uploads_in_flight(dir.path()) == 0).await,
        "the upstream upload was not cut"
    );
    assert!(!dir.path().join("staging").join(&id).exists());
    assert!(
        !upstream_names(&up)
            .await
            .iter()
            .any(|n| n.contains("aborted"))
    );
    assert_eq!(s3.get(key).await.status, 404);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_part_sent_then_uploaded_again_or_omitted_makes_the_part_list_decide() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let key = "/documents/redone.bin";
    let id = create(&s3, key).await;
    part(&s3, key, &id, 1, &data(1, 5 * MIB)).await;
    let e2 = part(&s3, key, &id, 2, &data(2, 5 * MIB)).await;
    assert!(eventually(|| in_flight(dir.path()) >= (10 * MIB) as u64).await);
    // Part 1 again, other bytes, after it went upstream.
    let new1 = data(9, 5 * MIB);
    let e1 = part(&s3, key, &id, 1, &new1).await;
    let p3 = data(3, 1000);
    let e3 = part(&s3, key, &id, 3, &p3).await;
    let r = complete(&s3, key, &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let whole = [new1.as_slice(), &data(2, 5 * MIB), &p3].concat();
    assert_eq!(get_sha(&s3, key).await.1, sha256(&whole));

    // All three parts streamed, then Complete leaves part 2 out.
    let key = "/documents/omitted.bin";
    let id = create(&s3, key).await;
    let (p1, p2, p3) = (data(4, 5 * MIB), data(5, 5 * MIB), data(6, 3000));
    let e1 = part(&s3, key, &id, 1, &p1).await;
    part(&s3, key, &id, 2, &p2).await;
    let e3 = part(&s3, key, &id, 3, &p3).await;
    assert!(eventually(|| in_flight(dir.path()) >= (10 * MIB + 3000) as u64).await);
    let r = complete(&s3, key, &id, &[(1, &e1), (3, &e3)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (status, sha, etag) = get_sha(&s3, key).await;
    assert_eq!((status, sha), (200, sha256(&[p1.as_slice(), &p3].concat())));
    assert_eq!(etag, Some(multipart_etag(&[&p1, &p3])));
    assert!(eventually(|| uploads_in_flight(dir.path()) == 0).await);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_part_streamed_while_it_arrived_then_refused_makes_complete_use_the_retry() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let key = "/documents/refused.bin";
    let id = create(&s3, key).await;
    // Part 1 with a Content-MD5 that is not its own: it goes upstream while it arrives (the
    // assembler follows it from its first chunk), and only its end shows it is refused.
    let bad = data(7, 6 * MIB);
    let wrong = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b"other"));
    let r = s3
        .call(
            "PUT",
            key,
            &[("partNumber", "1"), ("uploadId", &id)],
            &[("content-md5", &wrong)],
            bad.clone(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("BadDigest"), "{}", r.text());
    // The retry and the next part: the part list decides, none of the refused bytes is kept.
    let (p1, p2) = (data(1, 5 * MIB), data(2, 3000));
    let e1 = part(&s3, key, &id, 1, &p1).await;
    let e2 = part(&s3, key, &id, 2, &p2).await;
    let r = complete(&s3, key, &id, &[(1, &e1), (2, &e2)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_sha(&s3, key).await,
        (
            200,
            sha256(&[p1.as_slice(), &p2].concat()),
            Some(multipart_etag(&[&p1, &p2]))
        )
    );
    assert!(eventually(|| uploads_in_flight(dir.path()) == 0).await);
    assert!(eventually(|| !dir.path().join("staging").join(&id).exists()).await);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn an_idle_streamed_upload_is_dropped_and_complete_uploads_from_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start_with(dir.path(), |c| c.s3.multipart_stream_idle_secs = 1).await;
    let key = "/documents/idle.bin";
    let id = create(&s3, key).await;
    let (p1, p2) = (data(1, 5 * MIB), data(2, 4096));
    let e1 = part(&s3, key, &id, 1, &p1).await;
    assert!(eventually(|| in_flight(dir.path()) >= (5 * MIB) as u64).await);
    // Nothing more to send: after the idle time the upstream upload is cut.
    assert!(
        eventually(|| uploads_in_flight(dir.path()) == 0).await,
        "the idle upload was not dropped"
    );
    let e2 = part(&s3, key, &id, 2, &p2).await;
    let r = complete(&s3, key, &id, &[(1, &e1), (2, &e2)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_sha(&s3, key).await.1,
        sha256(&[p1.as_slice(), &p2].concat())
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_restart_between_parts_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let key = "/documents/restarted.bin";
    let id = create(&s3, key).await;
    let (p1, p2) = (data(1, 5 * MIB), data(2, 5000));
    let e1 = part(&s3, key, &id, 1, &p1).await;
    assert!(eventually(|| in_flight(dir.path()) >= (5 * MIB) as u64).await);
    s3.gateway.shutdown().await;
    let s3 = s3_support::start(dir.path()).await;
    let up = Upstream::documents(&s3).await;
    assert!(
        !upstream_names(&up)
            .await
            .iter()
            .any(|n| n.contains("restarted"))
    );
    let e2 = part(&s3, key, &id, 2, &p2).await;
    let r = complete(&s3, key, &id, &[(1, &e1), (2, &e2)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_sha(&s3, key).await,
        (
            200,
            sha256(&[p1.as_slice(), &p2].concat()),
            Some(multipart_etag(&[&p1, &p2]))
        )
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn an_existing_key_or_a_missing_folder_is_completed_from_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    // A new version of an existing object: not streamed (nothing in flight), still right.
    let key = "/documents/exists.bin";
    assert_eq!(s3.put(key, b"old").await.status, 200);
    let id = create(&s3, key).await;
    let p1 = data(1, 5 * MIB);
    let e1 = part(&s3, key, &id, 1, &p1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(uploads_in_flight(dir.path()), 0);
    let r = complete(&s3, key, &id, &[(1, &e1)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_sha(&s3, key).await.1, sha256(&p1));
    // A key whose folders do not exist yet: they are made at Complete, not before.
    let key = "/documents/new/deeper/x.bin";
    let id = create(&s3, key).await;
    let e1 = part(&s3, key, &id, 1, &p1).await;
    let up = Upstream::documents(&s3).await;
    assert!(!upstream_names(&up).await.contains(&"new".to_owned()));
    let r = complete(&s3, key, &id, &[(1, &e1)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_sha(&s3, key).await.1, sha256(&p1));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn beyond_the_cap_an_upload_is_not_streamed_and_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start_with(dir.path(), |c| c.s3.multipart_stream_max = 1).await;
    let (a, b) = ("/documents/first.bin", "/documents/second.bin");
    let (ida, idb) = (create(&s3, a).await, create(&s3, b).await);
    let (p1, p2) = (data(1, 5 * MIB), data(2, 5 * MIB));
    let ea = part(&s3, a, &ida, 1, &p1).await;
    assert!(eventually(|| in_flight(dir.path()) >= (5 * MIB) as u64).await);
    let eb = part(&s3, b, &idb, 1, &p2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One upload in flight upstream: the second waits for its Complete.
    assert_eq!(uploads_in_flight(dir.path()), 1);
    for (key, id, tag, body) in [(b, &idb, &eb, &p2), (a, &ida, &ea, &p1)] {
        let r = complete(&s3, key, id, &[(1, tag)]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(get_sha(&s3, key).await.1, sha256(body));
    }
    assert!(eventually(|| uploads_in_flight(dir.path()) == 0).await);
    s3.gateway.shutdown().await;
}
