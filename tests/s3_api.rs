//! The S3 front end over real HTTP: a gateway with its embedded emulator on port 0, requests
//! signed with SigV4.

#![allow(clippy::unwrap_used)]

mod s3_support;

use base64::Engine as _;
use md5::Digest as _;
use s3_support::{S3, Upstream, start, start_with, xml_value, xml_values};

async fn with_bucket(s3: &S3, name: &str) {
    let r = s3.put(&format!("/{name}"), b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn put_get_head_list_delete_round_trip_with_md5_etags() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    with_bucket(&s3, "round-trip").await;
    let md5 = hex::encode(md5::Md5::digest(b"hello world"));

    let r = s3
        .call(
            "PUT",
            "/round-trip/a/b/c.txt",
            &[],
            &[("content-type", "text/plain"), ("x-amz-meta-color", "blue")],
            b"hello world".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag").unwrap(), format!("\"{md5}\""));

    let r = s3
        .call("HEAD", "/round-trip/a/b/c.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").unwrap(), format!("\"{md5}\""));
    assert_eq!(r.header("x-amz-meta-color").as_deref(), Some("blue"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));

    let r = s3.get("/round-trip/a/b/c.txt").await;
    assert_eq!(r.body, b"hello world");

    let r = s3
        .call("GET", "/round-trip", &[("list-type", "2")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["a/b/c.txt"]);
    assert_eq!(xml_value(&r.text(), "ETag").unwrap(), format!("\"{md5}\""));

    let r = s3
        .call("DELETE", "/round-trip/a/b/c.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204);
    let r = s3.get("/round-trip/a/b/c.txt").await;
    assert_eq!(r.status, 404);
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("NoSuchKey"));
    // The implicit folders went with the last key: the bucket is empty and can be deleted.
    let r = s3.call("DELETE", "/round-trip", &[], &[], Vec::new()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_body_that_does_not_match_its_digest_is_bad_digest_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    with_bucket(&s3, "digests").await;
    let wrong = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b"other"));
    let r = s3
        .call(
            "PUT",
            "/digests/k",
            &[],
            &[("content-md5", &wrong)],
            b"payload".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("BadDigest"));
    let crc = base64::engine::general_purpose::STANDARD.encode([0u8, 0, 0, 1]);
    let r = s3
        .call(
            "PUT",
            "/digests/k",
            &[],
            &[("x-amz-checksum-crc32", &crc)],
            b"payload".to_vec(),
        )
        .await;
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("BadDigest"));
    assert_eq!(s3.get("/digests/k").await.status, 404);
    let r = s3
        .call(
            "PUT",
            "/digests/k",
            &[],
            &[("content-md5", "not-base64")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidDigest")
    );

    // A body large enough to be hashed beside the upload is checked just the same, and a
    // matching Content-MD5 is the ETag.
    let big: Vec<u8> = (0..(2u32 << 20) + 5).map(|i| (i % 241) as u8).collect();
    let r = s3
        .call(
            "PUT",
            "/digests/big",
            &[],
            &[("content-md5", &wrong)],
            big.clone(),
        )
        .await;
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("BadDigest"));
    assert_eq!(s3.get("/digests/big").await.status, 404);
    let md5 = md5::Md5::digest(&big);
    let right = base64::engine::general_purpose::STANDARD.encode(md5);
    let r = s3
        .call(
            "PUT",
            "/digests/big",
            &[],
            &[("content-md5", &right)],
            big.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("etag").as_deref(),
        Some(format!("\"{}\"", hex::encode(md5)).as_str())
    );

    // UploadPart checks its Content-MD5 too: the part is refused and not recorded.
    let r = s3
        .call("POST", "/digests/mp", &[("uploads", "")], &[], Vec::new())
        .await;
    let id = xml_value(&r.text(), "UploadId").unwrap();
    let part = [("partNumber", "1"), ("uploadId", id.as_str())];
    let r = s3
        .call(
            "PUT",
            "/digests/mp",
            &part,
            &[("content-md5", &wrong)],
            big.clone(),
        )
        .await;
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("BadDigest"));
    let r = s3
        .call(
            "GET",
            "/digests/mp",
            &[("uploadId", id.as_str())],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("<Part>"), "{}", r.text());
    let r = s3
        .call(
            "PUT",
            "/digests/mp",
            &part,
            &[("content-md5", &right)],
            big.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("etag").as_deref(),
        Some(format!("\"{}\"", hex::encode(md5)).as_str())
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn unknown_keys_and_wrong_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let r = s3
        .call_as("AKIANOBODY", "x", "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidAccessKeyId")
    );
    let key = s3.access_key.clone();
    let r = s3
        .call_as(&key, "wrong-secret", "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    let r = s3.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<Name>documents</Name>"), "{}", r.text());
    s3.gateway.shutdown().await;
}

/// The metrics line of `GET endpoint` answered `status`, polled for a while (what a request
/// starts in the background may finish after its answer).
async fn upstream_calls(s3: &S3, endpoint: &str, status: u16) -> u64 {
    let url = format!("http://{}/metrics", s3.gateway.addrs().admin);
    let want = format!(
        "scaidrive_gateway_upstream_requests_total{{method=\"GET\",endpoint=\"{endpoint}\",status=\"{status}\"}} "
    );
    let mut n = 0;
    for _ in 0..50 {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        n = text
            .lines()
            .find_map(|l| l.strip_prefix(&want))
            .map_or(0, |v| v.trim().parse().unwrap());
        if n > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    n
}

#[tokio::test]
async fn a_refused_token_lists_nothing_though_its_share_list_was_asked_beside_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start_with(dir.path(), |cfg| {
        cfg.credentials
            .push(scaidrive_gateway::config::StaticCredential {
                access_key_id: "AKIAREFUSEDTOKEN".into(),
                secret_access_key: "refused-secret".into(),
                token: "not-a-scaidrive-token".into(),
            });
    })
    .await;
    assert_eq!(s3.put("/documents/cold/listed.txt", b"x").await.status, 200);
    let r = s3
        .call_as(
            "AKIAREFUSEDTOKEN",
            "refused-secret",
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "cold/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!r.text().contains("listed.txt"), "{}", r.text());
    // The share list was asked for beside the token check, and refused too.
    assert_eq!(upstream_calls(&s3, "/api/v1/users/me/shares", 401).await, 1);
    // A good token's cold listing after it is whole.
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "cold/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["cold/listed.txt"]);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn ranges_and_conditions_answer_206_304_and_412() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let etag = s3
        .put("/documents/r.txt", b"0123456789")
        .await
        .header("etag")
        .unwrap();
    let r = s3
        .call(
            "GET",
            "/documents/r.txt",
            &[],
            &[("range", "bytes=-3")],
            Vec::new(),
        )
        .await;
    assert_eq!((r.status, r.body.as_slice()), (206, &b"789"[..]));
    assert_eq!(r.header("content-range").as_deref(), Some("bytes 7-9/10"));
    let r = s3
        .call(
            "GET",
            "/documents/r.txt",
            &[],
            &[("range", "bytes=2-4")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.body, b"234");
    let r = s3
        .call(
            "GET",
            "/documents/r.txt",
            &[],
            &[("range", "bytes=20-")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 416);
    let r = s3
        .call(
            "GET",
            "/documents/r.txt",
            &[],
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 304);
    let r = s3
        .call(
            "GET",
            "/documents/r.txt",
            &[],
            &[("if-match", "\"nope\"")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s3
        .call(
            "PUT",
            "/documents/r.txt",
            &[],
            &[("if-none-match", "*")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status, 412);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn delimited_listings_show_prefixes_and_directory_markers_only_where_created() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    for key in ["l/a.txt", "l/implicit/x.txt", "l/z.txt"] {
        assert_eq!(s3.put(&format!("/photos/{key}"), b"x").await.status, 200);
    }
    assert_eq!(s3.put("/photos/l/marked/", b"").await.status, 200);
    let r = s3
        .call(
            "GET",
            "/photos",
            &[("list-type", "2"), ("prefix", "l/"), ("delimiter", "/")],
            &[],
            Vec::new(),
        )
        .await;
    let t = r.text();
    assert_eq!(xml_values(&t, "Key"), ["l/a.txt", "l/z.txt"]);
    assert_eq!(xml_values(&t, "Prefix")[1..], ["l/implicit/", "l/marked/"]);
    let r = s3
        .call(
            "GET",
            "/photos",
            &[("list-type", "2"), ("prefix", "l/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(
        xml_values(&r.text(), "Key"),
        ["l/a.txt", "l/implicit/x.txt", "l/marked/", "l/z.txt"]
    );
    // Pagination with continuation tokens.
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("list-type", "2"), ("max-keys", "1"), ("prefix", "l/")];
        if let Some(t) = &token {
            q.push(("continuation-token", t.as_str()));
        }
        let r = s3.call("GET", "/photos", &q, &[], Vec::new()).await;
        keys.extend(xml_values(&r.text(), "Key"));
        token = xml_value(&r.text(), "NextContinuationToken");
        if token.is_none() {
            break;
        }
    }
    assert_eq!(keys.len(), 4);
    // start-after inside a folder, between keys, and before the prefix.
    for (after, want) in [
        ("l/implicit/x.txt", &["l/marked/", "l/z.txt"][..]),
        ("l/b", &["l/implicit/x.txt", "l/marked/", "l/z.txt"][..]),
        (
            "a",
            &["l/a.txt", "l/implicit/x.txt", "l/marked/", "l/z.txt"][..],
        ),
        ("l/zz", &[][..]),
    ] {
        let q = [("list-type", "2"), ("prefix", "l/"), ("start-after", after)];
        let r = s3.call("GET", "/photos", &q, &[], Vec::new()).await;
        assert_eq!(xml_values(&r.text(), "Key"), want, "start-after {after}");
    }
    // A key next to a folder of the same name is a clear conflict.
    let r = s3.put("/photos/l/implicit", b"x").await;
    assert_eq!(r.status, 409);
    let r = s3.put("/photos/l//bad", b"x").await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidArgument")
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn multipart_upload_survives_a_restart_and_takes_parts_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let r = s3
        .call(
            "POST",
            "/documents/big.bin",
            &[("uploads", "")],
            &[],
            Vec::new(),
        )
        .await;
    let id = xml_value(&r.text(), "UploadId").unwrap();
    let part1 = vec![7u8; 5 << 20];
    let part2 = b"tail".to_vec();
    let r = s3
        .call(
            "PUT",
            "/documents/big.bin",
            &[("partNumber", "2"), ("uploadId", &id)],
            &[],
            part2.clone(),
        )
        .await;
    let e2 = r.header("etag").unwrap();
    // A too-small non-final part is refused at Complete.
    let small = s3
        .call(
            "PUT",
            "/documents/big.bin",
            &[("partNumber", "1"), ("uploadId", &id)],
            &[],
            b"small".to_vec(),
        )
        .await
        .header("etag")
        .unwrap();
    let complete = |e1: &str| {
        format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{e1}</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>{e2}</ETag></Part></CompleteMultipartUpload>"
        )
    };
    let r = s3
        .call(
            "POST",
            "/documents/big.bin",
            &[("uploadId", &id)],
            &[],
            complete(&small).into_bytes(),
        )
        .await;
    assert!(r.text().contains("EntityTooSmall"), "{}", r.text());
    // Retry part 1 with a full-size body.
    let e1 = s3
        .call(
            "PUT",
            "/documents/big.bin",
            &[("partNumber", "1"), ("uploadId", &id)],
            &[],
            part1.clone(),
        )
        .await
        .header("etag")
        .unwrap();

    // Restart on the same data directory: the upload is still there.
    s3.gateway.shutdown().await;
    let s3 = start(dir.path()).await;
    let r = s3
        .call(
            "GET",
            "/documents/big.bin",
            &[("uploadId", &id)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_values(&r.text(), "PartNumber"), ["1", "2"]);
    let r = s3
        .call(
            "POST",
            "/documents/big.bin",
            &[("uploadId", &id)],
            &[],
            complete(&e1).into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = xml_value(&r.text(), "ETag").unwrap();
    assert!(etag.ends_with("-2\""), "{etag}");
    let r = s3.get("/documents/big.bin").await;
    assert_eq!(r.body.len(), part1.len() + part2.len());
    assert_eq!(&r.body[part1.len()..], b"tail");
    let head = s3
        .call("HEAD", "/documents/big.bin", &[], &[], Vec::new())
        .await;
    assert_eq!(head.header("etag").unwrap(), etag);
    let r = s3
        .call(
            "GET",
            "/documents/big.bin",
            &[("uploadId", &id)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("NoSuchUpload")
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn copy_replaces_metadata_and_versions_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/v.txt", b"one").await;
    s3.put("/documents/v.txt", b"two").await;
    let r = s3
        .call("GET", "/documents", &[("versions", "")], &[], Vec::new())
        .await;
    let ids = xml_values(&r.text(), "VersionId");
    assert_eq!(ids.len(), 2, "{}", r.text());
    let r = s3
        .call(
            "GET",
            "/documents/v.txt",
            &[("versionId", &ids[1])],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.body, b"one");
    let r = s3
        .call(
            "PUT",
            "/photos/copied.txt",
            &[],
            &[("x-amz-copy-source", "/documents/v.txt")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s3.get("/photos/copied.txt").await.body, b"two");
    let r = s3
        .call(
            "PUT",
            "/photos/copied.txt",
            &[],
            &[
                ("x-amz-copy-source", "/photos/copied.txt"),
                ("x-amz-metadata-directive", "REPLACE"),
                ("x-amz-meta-k", "v"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = s3
        .call("HEAD", "/photos/copied.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.header("x-amz-meta-k").as_deref(), Some("v"));
    let r = s3
        .call("GET", "/documents", &[("versioning", "")], &[], Vec::new())
        .await;
    assert!(r.text().contains("<Status>Enabled</Status>"));
    s3.gateway.shutdown().await;
}

/// Sends a signed PutObject declaring `declared` bytes over a raw socket, writes only `sent`
/// of them, then drops the connection.
async fn put_then_disconnect(s3: &S3, path: &str, declared: usize, sent: usize) {
    use tokio::io::AsyncWriteExt as _;
    let len = declared.to_string();
    let (target, headers) = s3.sign(
        &s3.access_key,
        &s3.secret,
        "PUT",
        path,
        &[],
        &[("content-length", len.as_str())],
    );
    let host = s3.endpoint.trim_start_matches("http://");
    let mut head = format!("PUT {target} HTTP/1.1\r\nhost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut sock = tokio::net::TcpStream::connect(host).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 << 10];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        sock.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    sock.flush().await.unwrap();
    // Let the gateway read (and pass upstream) what was sent before the connection goes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(sock);
}

/// The embedded emulator's view of the `Documents` share root: name → file id.
async fn upstream_files(s3: &S3) -> Vec<(String, String)> {
    let api = Upstream::documents(s3).await;
    let children: serde_json::Value = api
        .http
        .get(format!(
            "{}/folders/root/children?share_id={}",
            api.base, api.share
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    children["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn upstream_versions(s3: &S3, file_id: &str) -> u64 {
    let emu = s3.gateway.emulator().unwrap();
    let token = emu.tokens()[0].token.clone();
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/files/{file_id}/versions", emu.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_client_that_disconnects_mid_put_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let r = s3.put("/documents/existing.bin", b"version one").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let before = upstream_files(&s3).await;
    let existing_id = before
        .iter()
        .find(|(n, _)| n == "existing.bin")
        .unwrap()
        .1
        .clone();
    assert_eq!(upstream_versions(&s3, &existing_id).await, 1);

    // A new small key and a new large key (one streamed upstream upload each, cut part-way)
    // and an existing key (a replacing upload session with chunks already sent).
    put_then_disconnect(&s3, "/documents/small.bin", 1 << 20, 300 << 10).await;
    put_then_disconnect(&s3, "/documents/large.bin", 80 << 20, 20 << 20).await;
    put_then_disconnect(&s3, "/documents/existing.bin", 2 << 20, 1 << 20).await;

    // However long the gateway takes to notice, nothing ever appears.
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for key in ["small.bin", "large.bin"] {
            let r = s3
                .call("HEAD", &format!("/documents/{key}"), &[], &[], Vec::new())
                .await;
            assert_eq!(r.status, 404, "{key} exists after a cut PUT");
        }
        let names: Vec<String> = upstream_files(&s3)
            .await
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["existing.bin"]);
        assert_eq!(s3.get("/documents/existing.bin").await.body, b"version one");
        assert_eq!(upstream_versions(&s3, &existing_id).await, 1);
        let r = s3
            .call("GET", "/documents", &[("list-type", "2")], &[], Vec::new())
            .await;
        assert_eq!(xml_values(&r.text(), "Key"), ["existing.bin"]);
    }
    // The gateway still serves.
    let r = s3.put("/documents/after.bin", b"fine").await;
    assert_eq!(r.status, 200, "{}", r.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn folders_mode_takes_dotted_bucket_names_and_refuses_unordered_delimited_listings() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = scaidrive_gateway::config::Config {
        data_dir: dir.path().to_owned(),
        ..Default::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.s3.bucket_mode = scaidrive_gateway::config::BucketMode::Folders;
    cfg.s3.folders_share = Some("Documents".to_owned());
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let cred = gateway.embedded_credential().unwrap().clone();
    let s3 = s3_support::client(gateway, &cred.access_key_id, &cred.secret_access_key);

    with_bucket(&s3, "dotted.bucket-1").await;
    let r = s3.put("/dotted.bucket-1/k", b"v").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Re-creating one's own bucket succeeds (us-east-1) and keeps its objects.
    with_bucket(&s3, "dotted.bucket-1").await;
    assert_eq!(s3.get("/dotted.bucket-1/k").await.body, b"v");
    let r = s3.call("GET", "/", &[], &[], Vec::new()).await;
    assert_eq!(xml_values(&r.text(), "Name"), ["dotted.bucket-1"]);
    let r = s3.put("/Not_Valid", b"").await;
    assert_eq!(r.status, 400, "{}", r.text());

    // allow-unordered alone lists (in order); with a delimiter it is refused.
    let r = s3
        .call(
            "GET",
            "/dotted.bucket-1",
            &[("allow-unordered", "true")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Key"), ["k"]);
    let r = s3
        .call(
            "GET",
            "/dotted.bucket-1",
            &[
                ("allow-unordered", "true"),
                ("delimiter", "/"),
                ("list-type", "2"),
            ],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidArgument")
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn object_tags_are_kept_with_the_object_and_limited_like_s3() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    with_bucket(&s3, "tags").await;
    let r = s3
        .call(
            "PUT",
            "/tags/k",
            &[],
            &[("x-amz-tagging", "foo=bar&bar=")],
            b"v".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3.call("HEAD", "/tags/k", &[], &[], Vec::new()).await;
    assert_eq!(r.header("x-amz-tagging-count").as_deref(), Some("2"));
    let r = s3.get("/tags/k").await;
    assert_eq!(r.header("x-amz-tagging-count").as_deref(), Some("2"));
    let r = s3
        .call("GET", "/tags/k", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Sorted by key, as S3 returns them.
    assert_eq!(xml_values(&r.text(), "Key"), ["bar", "foo"]);

    let body = b"<Tagging><TagSet><Tag><Key>only</Key><Value>one</Value></Tag></TagSet></Tagging>";
    let r = s3
        .call("PUT", "/tags/k", &[("tagging", "")], &[], body.to_vec())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call("GET", "/tags/k", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["only"]);
    assert_eq!(xml_values(&r.text(), "Value"), ["one"]);

    // Eleven tags are one too many; nothing changes.
    let eleven: String = (0..11)
        .map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>"))
        .collect();
    let body = format!("<Tagging><TagSet>{eleven}</TagSet></Tagging>");
    let r = s3
        .call("PUT", "/tags/k", &[("tagging", "")], &[], body.into_bytes())
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("InvalidTag"));
    let r = s3
        .call("GET", "/tags/k", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["only"]);

    let r = s3
        .call("DELETE", "/tags/k", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = s3.call("HEAD", "/tags/k", &[], &[], Vec::new()).await;
    assert_eq!(r.header("x-amz-tagging-count"), None);
    // The content and its ETag did not change through all this.
    let r = s3.get("/tags/k").await;
    assert_eq!(r.body, b"v");
    assert_eq!(
        r.header("etag").unwrap(),
        format!("\"{}\"", hex::encode(md5::Md5::digest(b"v")))
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn delete_of_a_key_whose_folder_went_meanwhile_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let up = Upstream::documents(&s3).await;
    let gone = up.mkdir(None, "gone").await;
    let b = up.mkdir(Some(&gone), "b").await;
    up.upload(Some(&b), "c.txt", b"c").await;
    // The gateway knows `gone/` (and `b` in it) but has not listed `b` itself.
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "gone/"), ("delimiter", "/")],
            &[],
            Vec::new(),
        )
        .await;
    assert!(
        r.text().contains("<Prefix>gone/b/</Prefix>"),
        "{}",
        r.text()
    );
    // Another client (a concurrent delete, say) removes `b` with everything in it.
    let resp = up
        .http
        .delete(format!("{}/folders/{b}", up.base))
        .bearer_auth(&up.token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let r = s3
        .call("DELETE", "/documents/gone/b/c.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_put_over_a_name_written_meanwhile_elsewhere_asks_for_a_retry_then_replaces() {
    let dir = tempfile::tempdir().unwrap();
    // No change feed: the gateway's listing stays as it was fetched (another instance's write
    // that was not published looks the same).
    let s3 = s3_support::start_with(dir.path(), |c| c.cache.change_feed_interval_ms = 0).await;
    let up = Upstream::documents(&s3).await;
    let folder = up.mkdir(None, "meanwhile").await;
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "meanwhile/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), Vec::<String>::new());
    // Written straight into ScaiDrive: the gateway's cached listing does not show it.
    up.upload(Some(&folder), "k.txt", b"elsewhere").await;
    let first = s3.put("/documents/meanwhile/k.txt", b"mine").await;
    assert_eq!(first.status, 503, "{}", first.text());
    // The retry an SDK makes replaces the file.
    let retry = s3.put("/documents/meanwhile/k.txt", b"mine").await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(s3.get("/documents/meanwhile/k.txt").await.body, b"mine");
    s3.gateway.shutdown().await;
}
