//! S3 answers the conformance suites expect, over real HTTP (a gateway with its embedded
//! emulator on port 0): GET/HEAD `?partNumber=`, ListBuckets pages, the v1 listing's `Prefix`,
//! ListObjectVersions' next version marker, and the checksum algorithm and type of multipart
//! uploads, and a small GET whose download from ScaiDrive is cut before the answer starts.

#![allow(clippy::unwrap_used)]

mod s3_support;

use base64::Engine as _;
use s3_support::{Resp, S3, start, xml_value, xml_values};
use sha2::Digest as _;

/// The smallest size S3 allows for a part other than the last.
const MIN_PART: usize = 5 << 20;

/// Creates a multipart upload of `key` with `headers` and returns the answer.
async fn create_upload(s3: &S3, key: &str, headers: &[(&str, &str)]) -> Resp {
    let r = s3
        .call("POST", key, &[("uploads", "")], headers, Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// Sends part `n` with `headers` and returns its ETag (quoted).
async fn send_part(
    s3: &S3,
    key: &str,
    id: &str,
    n: u32,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let r = s3
        .call(
            "PUT",
            key,
            &[("partNumber", &n.to_string()), ("uploadId", id)],
            headers,
            body.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").unwrap()
}

async fn complete(s3: &S3, key: &str, id: &str, etags: &[String]) -> Resp {
    let xml: String = etags
        .iter()
        .enumerate()
        .map(|(i, etag)| {
            format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                i + 1
            )
        })
        .collect();
    let r = s3
        .call(
            "POST",
            key,
            &[("uploadId", id)],
            &[],
            format!("<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>").into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// Uploads `parts` as one multipart object at `key`.
async fn multipart(s3: &S3, key: &str, parts: &[&[u8]]) {
    let id = xml_value(&create_upload(s3, key, &[]).await.text(), "UploadId").unwrap();
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        etags.push(send_part(s3, key, &id, u32::try_from(i + 1).unwrap(), &[], p).await);
    }
    complete(s3, key, &id, &etags).await;
}

fn code(r: &Resp) -> Option<String> {
    xml_value(&r.text(), "Code")
}

async fn get_part(s3: &S3, method: &str, key: &str, n: &str) -> Resp {
    s3.call(method, key, &[("partNumber", n)], &[], Vec::new())
        .await
}

#[tokio::test]
async fn get_and_head_with_part_number_serve_that_part() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let key = "/documents/parts.bin";
    let first = vec![b'a'; MIN_PART];
    multipart(&s3, key, &[&first, b"tail"]).await;
    let total = MIN_PART + 4;
    let whole_etag = s3
        .call("HEAD", key, &[], &[], Vec::new())
        .await
        .header("etag")
        .unwrap();

    let r = get_part(&s3, "GET", key, "2").await;
    assert_eq!(r.status, 206, "{:?}", code(&r));
    assert_eq!(r.body, b"tail");
    assert_eq!(
        r.header("content-range").unwrap(),
        format!("bytes {MIN_PART}-{}/{total}", total - 1)
    );
    assert_eq!(r.header("x-amz-mp-parts-count").as_deref(), Some("2"));
    assert_eq!(r.header("etag").unwrap(), whole_etag);

    let r = get_part(&s3, "GET", key, "1").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.body, first);
    assert_eq!(
        r.header("content-range").unwrap(),
        format!("bytes 0-{}/{total}", MIN_PART - 1)
    );

    let r = get_part(&s3, "HEAD", key, "1").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length").unwrap(), MIN_PART.to_string());
    assert_eq!(r.header("x-amz-mp-parts-count").as_deref(), Some("2"));
    assert_eq!(r.header("etag").unwrap(), whole_etag);

    // A part the object does not have.
    let r = get_part(&s3, "GET", key, "3").await;
    assert_eq!(r.status, 400);
    assert_eq!(code(&r).as_deref(), Some("InvalidPart"));
    assert_eq!(get_part(&s3, "HEAD", key, "3").await.status, 400);
    let r = get_part(&s3, "GET", key, "0").await;
    assert_eq!(r.status, 400, "{:?}", code(&r));
    // A part and a range at once.
    let r = s3
        .call(
            "GET",
            key,
            &[("partNumber", "1")],
            &[("range", "bytes=0-1")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(code(&r).as_deref(), Some("InvalidRequest"));

    // An object written whole is its own part 1, and has no other.
    s3.put("/documents/whole.txt", b"whole").await;
    let r = get_part(&s3, "GET", "/documents/whole.txt", "1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"whole");
    let r = get_part(&s3, "GET", "/documents/whole.txt", "2").await;
    assert_eq!(r.status, 400);
    assert_eq!(code(&r).as_deref(), Some("InvalidPart"));

    // The part sizes outlive a restart (they are kept in the state database).
    s3.gateway.shutdown().await;
    let s3 = start(dir.path()).await;
    let r = get_part(&s3, "GET", key, "2").await;
    assert_eq!(r.status, 206, "{:?}", code(&r));
    assert_eq!(r.body, b"tail");
    assert_eq!(r.header("x-amz-mp-parts-count").as_deref(), Some("2"));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn list_buckets_pages_by_max_buckets_and_continuation_token() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    for b in ["page-c", "page-a", "page-b"] {
        let r = s3.call("PUT", &format!("/{b}"), &[], &[], Vec::new()).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = |query: Vec<(&'static str, String)>| {
        let s3 = &s3;
        async move {
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s3.call("GET", "/", &q, &[], Vec::new()).await
        }
    };
    let r = list(vec![
        ("prefix", "page-".into()),
        ("max-buckets", "2".into()),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert_eq!(xml_values(&body, "Name"), ["page-a", "page-b"]);
    assert_eq!(xml_value(&body, "Prefix").as_deref(), Some("page-"));
    let token = xml_value(&body, "ContinuationToken").expect("a continuation token");

    let r = list(vec![
        ("prefix", "page-".into()),
        ("max-buckets", "2".into()),
        ("continuation-token", token),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Name"), ["page-c"]);
    assert_eq!(xml_value(&r.text(), "ContinuationToken"), None);

    let r = list(vec![("max-buckets", "0".into())]).await;
    assert_eq!(r.status, 400);
    assert_eq!(code(&r).as_deref(), Some("InvalidArgument"), "{}", r.text());
    let r = list(vec![("continuation-token", "%%%".into())]).await;
    assert_eq!(r.status, 400);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn list_objects_v1_echoes_the_prefix_unencoded() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/dir x/a+b.txt", b"x").await;
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("prefix", "dir x/a+"), ("encoding-type", "url")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert_eq!(xml_value(&body, "Prefix").as_deref(), Some("dir x/a+"));
    // Keys are still encoded.
    assert_eq!(
        xml_value(&body, "Key").as_deref(),
        Some("dir%20x/a%2Bb.txt")
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_truncated_version_listing_names_the_next_version_id_marker() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/a.txt", b"one").await;
    s3.put("/documents/a.txt", b"two").await;
    s3.put("/documents/b.txt", b"three").await;
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("versions", ""), ("max-keys", "1")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert_eq!(xml_value(&body, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(xml_value(&body, "NextKeyMarker").as_deref(), Some("a.txt"));
    let versions = xml_values(&body, "VersionId");
    assert_eq!(versions.len(), 2, "{body}");
    assert_eq!(
        xml_value(&body, "NextVersionIdMarker").as_ref(),
        versions.last(),
        "{body}"
    );
    // The next page, asked for with both markers, goes on with b.txt.
    let next = s3
        .call(
            "GET",
            "/documents",
            &[
                ("versions", ""),
                ("key-marker", "a.txt"),
                ("version-id-marker", versions.last().unwrap()),
            ],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(next.status, 200, "{}", next.text());
    let keys: Vec<String> = xml_values(&next.text(), "Key");
    assert!(keys.iter().all(|k| k == "b.txt"), "{}", next.text());
    assert_eq!(xml_value(&next.text(), "NextVersionIdMarker"), None);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn multipart_uploads_answer_their_checksum_algorithm_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let key = "/documents/summed.bin";
    let r = create_upload(&s3, key, &[("x-amz-checksum-algorithm", "SHA256")]).await;
    assert_eq!(
        r.header("x-amz-checksum-algorithm").as_deref(),
        Some("SHA256")
    );
    assert_eq!(
        r.header("x-amz-checksum-type").as_deref(),
        Some("COMPOSITE")
    );
    let id = xml_value(&r.text(), "UploadId").unwrap();
    let body = b"checksummed part";
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
    let etag = send_part(&s3, key, &id, 1, &[("x-amz-checksum-sha256", &sum)], body).await;
    let done = complete(&s3, key, &id, &[etag]).await;
    let text = done.text();
    assert!(
        xml_value(&text, "ChecksumSHA256").is_some_and(|v| v.ends_with("-1")),
        "{text}"
    );
    assert_eq!(
        xml_value(&text, "ChecksumType").as_deref(),
        Some("COMPOSITE"),
        "{text}"
    );
    let head = s3
        .call(
            "HEAD",
            key,
            &[],
            &[("x-amz-checksum-mode", "ENABLED")],
            Vec::new(),
        )
        .await;
    assert!(head.header("x-amz-checksum-sha256").is_some());
    assert_eq!(
        head.header("x-amz-checksum-type").as_deref(),
        Some("COMPOSITE")
    );

    // An object written whole has a full-object checksum.
    let r = s3
        .call(
            "PUT",
            "/documents/whole.bin",
            &[],
            &[("x-amz-checksum-sha256", &sum)],
            body.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = s3
        .call(
            "HEAD",
            "/documents/whole.bin",
            &[],
            &[("x-amz-checksum-mode", "ENABLED")],
            Vec::new(),
        )
        .await;
    assert_eq!(head.header("x-amz-checksum-sha256").as_deref(), Some(&*sum));
    assert_eq!(
        head.header("x-amz-checksum-type").as_deref(),
        Some("FULL_OBJECT")
    );
    s3.gateway.shutdown().await;
}

/// A CRC as S3 sends it: the big-endian bytes, base64.
fn crc_b64(alg: crc_fast::CrcAlgorithm, width: usize, data: &[u8]) -> String {
    let c = crc_fast::checksum(alg, data).to_be_bytes();
    base64::engine::general_purpose::STANDARD.encode(&c[8 - width..])
}

#[tokio::test]
async fn full_object_crc64nvme_and_crc32_uploads_answer_the_whole_objects_crc() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let one: Vec<u8> = (0..MIN_PART).map(|i| (i % 253) as u8).collect();
    let two = b"the last, short part".to_vec();
    let whole = [one.as_slice(), two.as_slice()].concat();
    for (algo, header, alg, width, kind) in [
        (
            "CRC64NVME",
            "x-amz-checksum-crc64nvme",
            crc_fast::CrcAlgorithm::Crc64Nvme,
            8,
            None,
        ),
        (
            "CRC32",
            "x-amz-checksum-crc32",
            crc_fast::CrcAlgorithm::Crc32IsoHdlc,
            4,
            Some("FULL_OBJECT"),
        ),
    ] {
        let key = format!("/documents/full-{algo}.bin");
        let mut h = vec![("x-amz-checksum-algorithm", algo)];
        if let Some(k) = kind {
            h.push(("x-amz-checksum-type", k));
        }
        let r = create_upload(&s3, &key, &h).await;
        assert_eq!(
            r.header("x-amz-checksum-type").as_deref(),
            Some("FULL_OBJECT"),
            "{algo}"
        );
        let id = xml_value(&r.text(), "UploadId").unwrap();
        let mut etags = Vec::new();
        for (n, part) in [(1, &one), (2, &two)] {
            let sum = crc_b64(alg, width, part);
            etags.push(send_part(&s3, &key, &id, n, &[(header, &sum)], part).await);
        }
        let want = crc_b64(alg, width, &whole);
        // A whole-object CRC sent with Complete that does not match: nothing is written.
        let wrong = crc_b64(alg, width, b"something else");
        let xml: String = etags
            .iter()
            .enumerate()
            .map(|(i, e)| {
                format!(
                    "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                    i + 1
                )
            })
            .collect();
        let bad = s3
            .call(
                "POST",
                &key,
                &[("uploadId", &id)],
                &[(header, &wrong)],
                format!("<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>").into_bytes(),
            )
            .await;
        assert!(bad.text().contains("BadDigest"), "{algo}: {}", bad.text());
        assert_eq!(s3.get(&key).await.status, 404, "{algo}");
        let done = complete(&s3, &key, &id, &etags).await;
        let text = done.text();
        let tag = format!("Checksum{algo}");
        assert_eq!(xml_value(&text, &tag), Some(want.clone()), "{text}");
        assert_eq!(
            xml_value(&text, "ChecksumType").as_deref(),
            Some("FULL_OBJECT")
        );
        let head = s3
            .call(
                "HEAD",
                &key,
                &[],
                &[("x-amz-checksum-mode", "ENABLED")],
                Vec::new(),
            )
            .await;
        assert_eq!(head.header(header), Some(want), "{algo}");
        assert_eq!(
            head.header("x-amz-checksum-type").as_deref(),
            Some("FULL_OBJECT")
        );
    }
    // SHA-256 has no full-object form.
    let r = s3
        .call(
            "POST",
            "/documents/nope.bin",
            &[("uploads", "")],
            &[
                ("x-amz-checksum-algorithm", "SHA256"),
                ("x-amz-checksum-type", "FULL_OBJECT"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    s3.gateway.shutdown().await;
}

/// A small object is read whole from ScaiDrive before its answer starts: a download cut
/// midway is a retryable `503 ServiceUnavailable`, not a `200` whose body stops short; the
/// next GET serves it whole.
#[tokio::test]
async fn small_get_cut_upstream_is_a_retryable_error_not_a_short_body() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let content: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(s3.put("/documents/cut.bin", &content).await.status, 200);
    s3.gateway
        .emulator()
        .unwrap()
        .set_faults(scaidrive_gateway::emulator::Faults {
            reset_after_bytes: Some(3_000),
            reset_count: 1,
            ..Default::default()
        });
    let (target, signed) = s3.sign(
        &s3.access_key,
        &s3.secret,
        "GET",
        "/documents/cut.bin",
        &[],
        &[],
    );
    let mut req = reqwest::Client::new().get(format!("{}{target}", s3.endpoint));
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await;
    assert_eq!(status, 503, "a cut download answered {status} ({body:?})");
    let body = String::from_utf8_lossy(&body.unwrap()).into_owned();
    assert_eq!(
        xml_value(&body, "Code").as_deref(),
        Some("ServiceUnavailable"),
        "{body}"
    );
    let again = s3.get("/documents/cut.bin").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, content);
    s3.gateway.shutdown().await;
}
