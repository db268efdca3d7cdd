//! S3 protocol details over real HTTP (a gateway with its embedded emulator on port 0):
//! version ids on reads and on CompleteMultipartUpload, request ids and messages in error
//! bodies, POST policy violations (a `bucket` field naming another bucket among them) and
//! `${filename}` keys, presigned URL lifetimes, part numbers named twice in Complete, SigV4
//! credential scopes naming another region, XML bodies over the cap.

#![allow(clippy::unwrap_used)]

mod s3_support;

use base64::Engine as _;
use md5::Digest as _;
use s3_support::{
    S3, post_policy_signature, presign_v4, sign_v4_in, start, start_with, xml_value, xml_values,
};

/// The ScaiDrive version ids ListObjectVersions reports for `key` in `bucket`, newest first.
async fn listed_versions(s3: &S3, bucket: &str, key: &str) -> Vec<String> {
    let r = s3
        .call(
            "GET",
            &format!("/{bucket}"),
            &[("versions", ""), ("prefix", key)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    xml_values(&r.text(), "VersionId")
}

#[tokio::test]
async fn get_and_head_answer_the_current_version_id() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let first = s3.put("/documents/v.txt", b"one").await;
    let second = s3.put("/documents/v.txt", b"two").await;
    let put_version = second.header("x-amz-version-id").unwrap();
    assert_ne!(first.header("x-amz-version-id").unwrap(), put_version);
    let listed = listed_versions(&s3, "documents", "v.txt").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], put_version, "the latest listed version");

    let head = s3
        .call("HEAD", "/documents/v.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-amz-version-id").unwrap(), put_version);
    let get = s3.get("/documents/v.txt").await;
    assert_eq!(get.body, b"two");
    assert_eq!(get.header("x-amz-version-id").unwrap(), put_version);
    // An older version asked for by id answers its own id.
    let old = s3
        .call(
            "GET",
            "/documents/v.txt",
            &[("versionId", &listed[1])],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(old.body, b"one");
    assert_eq!(old.header("x-amz-version-id").unwrap(), listed[1]);

    // Changing only the attributes (tags) makes no new version and keeps the id known.
    let tagging = "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>";
    let r = s3
        .call(
            "PUT",
            "/documents/v.txt",
            &[("tagging", "")],
            &[],
            tagging.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = s3
        .call("HEAD", "/documents/v.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.header("x-amz-version-id").unwrap(), put_version);

    // A server-side copy onto a free name: the copy's version id, on the copy and on reads.
    let copy = s3
        .call(
            "PUT",
            "/photos/copy.txt",
            &[],
            &[("x-amz-copy-source", "/documents/v.txt")],
            Vec::new(),
        )
        .await;
    assert_eq!(copy.status, 200, "{}", copy.text());
    let copy_version = copy.header("x-amz-version-id").unwrap();
    let head = s3
        .call("HEAD", "/photos/copy.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.header("x-amz-version-id").unwrap(), copy_version);
    assert_eq!(
        listed_versions(&s3, "photos", "copy.txt").await[0],
        copy_version
    );
    s3.gateway.shutdown().await;
}

/// Creates a multipart upload of `key` and returns its id.
async fn create_upload(s3: &S3, key: &str) -> String {
    let r = s3
        .call("POST", key, &[("uploads", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    xml_value(&r.text(), "UploadId").unwrap()
}

/// Sends part `n` and returns its ETag (quoted).
async fn send_part(s3: &S3, key: &str, id: &str, n: u32, body: &[u8]) -> String {
    let r = s3
        .call(
            "PUT",
            key,
            &[("partNumber", &n.to_string()), ("uploadId", id)],
            &[],
            body.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").unwrap()
}

async fn complete(s3: &S3, key: &str, id: &str, parts: &[(u32, &str)]) -> s3_support::Resp {
    let xml: String = parts
        .iter()
        .map(|(n, etag)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"))
        .collect();
    s3.call(
        "POST",
        key,
        &[("uploadId", id)],
        &[],
        format!("<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>").into_bytes(),
    )
    .await
}

#[tokio::test]
async fn complete_multipart_upload_answers_the_version_id() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let key = "/documents/mp.bin";
    let id = create_upload(&s3, key).await;
    let etag = send_part(&s3, key, &id, 1, b"only part").await;
    let r = complete(&s3, key, &id, &[(1, &etag)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.header("x-amz-version-id").expect("x-amz-version-id");
    assert!(xml_value(&r.text(), "ETag").unwrap().ends_with("-1\""));
    let head = s3.call("HEAD", key, &[], &[], Vec::new()).await;
    assert_eq!(head.header("x-amz-version-id").unwrap(), version);
    assert_eq!(listed_versions(&s3, "documents", "mp.bin").await, [version]);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_part_named_twice_in_complete_counts_once_with_the_later_etag() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let key = "/documents/resent.bin";

    // The part was sent twice; the second send is the stored one. A client that kept both
    // answers names the part twice: it counts once, and the later ETag is the stored part's.
    let id = create_upload(&s3, key).await;
    let a = send_part(&s3, key, &id, 1, b"AAAAAAAA").await;
    let b = send_part(&s3, key, &id, 1, b"BBBBBBBB").await;
    let r = complete(&s3, key, &id, &[(1, &a), (1, &b)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let want = {
        let mut md5 = md5::Md5::new();
        md5.update(md5::Md5::digest(b"BBBBBBBB"));
        format!("\"{}-1\"", hex::encode(md5.finalize()))
    };
    assert_eq!(xml_value(&r.text(), "ETag").unwrap(), want);
    assert_eq!(s3.get(key).await.body, b"BBBBBBBB");

    // Naming last the send that was replaced never completes with other content.
    let id = create_upload(&s3, key).await;
    let a = send_part(&s3, key, &id, 1, b"AAAAAAAA").await;
    let b = send_part(&s3, key, &id, 1, b"CCCCCCCC").await;
    let r = complete(&s3, key, &id, &[(1, &b), (1, &a)]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("InvalidPart"));
    assert_eq!(s3.get(key).await.body, b"BBBBBBBB");
    // Going back to an earlier part number is still out of order.
    let two = send_part(&s3, key, &id, 2, b"tail").await;
    let r = complete(&s3, key, &id, &[(1, &b), (2, &two), (1, &b)]).await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidPartOrder")
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn error_bodies_carry_the_request_id_of_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    // An error of the gateway's own handlers.
    let r = s3.get("/documents/missing.txt").await;
    assert_eq!(r.status, 404);
    let header = r.header("x-amz-request-id").unwrap();
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("NoSuchKey"));
    assert_eq!(xml_value(&r.text(), "RequestId").unwrap(), header);
    // An error s3s answers before any handler runs (a wrong secret).
    let r = s3
        .call_as(
            &s3.access_key,
            "not-the-secret",
            "GET",
            "/documents/missing.txt",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(
        xml_value(&r.text(), "RequestId").unwrap(),
        r.header("x-amz-request-id").unwrap()
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn errors_s3s_answers_without_a_message_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let wrong_secret = s3
        .call_as(
            &s3.access_key,
            "not-the-secret",
            "GET",
            "/documents/missing.txt",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    let bad_bucket = s3.get("/Bad_Bucket!/x.txt").await;
    for (r, code) in [
        (wrong_secret, "SignatureDoesNotMatch"),
        (bad_bucket, "InvalidBucketName"),
    ] {
        let text = r.text();
        assert_eq!(xml_value(&text, "Code").as_deref(), Some(code), "{text}");
        assert!(
            xml_value(&text, "Message").is_some_and(|m| !m.is_empty()),
            "{code} without a message: {text}"
        );
    }
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn presigned_urls_living_longer_than_a_week_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/p.txt", b"p").await;
    let now = chrono::Utc::now();
    let url = |expires: &str| {
        format!(
            "{}/documents/p.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}%2F{}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
            s3.endpoint,
            s3.access_key,
            now.format("%Y%m%d"),
            now.format("%Y%m%dT%H%M%SZ"),
            "0".repeat(64),
        )
    };
    let http = reqwest::Client::new();
    for expires in ["604801", "-7"] {
        let r = http.get(url(expires)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "X-Amz-Expires={expires}");
        let text = r.text().await.unwrap();
        assert_eq!(
            xml_value(&text, "Code").as_deref(),
            Some("AuthorizationQueryParametersError"),
            "{text}"
        );
    }
    // A week exactly is a lifetime S3 accepts: this URL then fails on its signature.
    let r = http.get(url("604800")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let text = r.text().await.unwrap();
    assert_eq!(
        xml_value(&text, "Code").as_deref(),
        Some("SignatureDoesNotMatch"),
        "{text}"
    );
    s3.gateway.shutdown().await;
}

/// A SigV4 browser POST to `bucket` whose policy wants keys starting with `ok/`, without the
/// fields named in `omit`.
async fn post_form(
    s3: &S3,
    bucket: &str,
    key: &str,
    extra: &[(&str, &str)],
    omit: &[&str],
) -> (u16, String) {
    let (content_type, body) = signed_form(s3, bucket, key, extra, omit, b"posted");
    let r = reqwest::Client::new()
        .post(format!("{}/{bucket}", s3.endpoint))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The content type and body of the form [`post_form`] sends, with `file` as the file part.
fn signed_form(
    s3: &S3,
    bucket: &str,
    key: &str,
    extra: &[(&str, &str)],
    omit: &[&str],
    file: &[u8],
) -> (String, Vec<u8>) {
    let now = chrono::Utc::now();
    let date = now.format("%Y%m%d").to_string();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{date}/us-east-1/s3/aws4_request", s3.access_key);
    let expiration = (now + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", "ok/"],
            ["eq", "$x-amz-meta-color", "blue"],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
        ]
    });
    if let Some((_, url)) = extra.iter().find(|(n, _)| *n == "success_action_redirect") {
        policy["conditions"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(["eq", "$success_action_redirect", url]));
    }
    let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signature = post_policy_signature(&s3.secret, &date, &policy);
    let mut fields: Vec<(&str, &str)> = vec![
        ("key", key),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", &credential),
        ("x-amz-date", &amz_date),
        ("policy", &policy),
        ("x-amz-signature", &signature),
    ];
    fields.extend_from_slice(extra);
    fields.retain(|(name, _)| !omit.contains(name));
    let boundary = "----scaidrive-post-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    ));
    let mut body = body.into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn post_uploads_that_break_their_policy_are_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let (status, text) = post_form(
        &s3,
        "documents",
        "ok/a.txt",
        &[("x-amz-meta-color", "blue")],
        &[],
    )
    .await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(s3.get("/documents/ok/a.txt").await.body, b"posted");
    // `${filename}` in the key is the uploaded file's name (`f.txt`), before the policy check.
    let (status, text) = post_form(
        &s3,
        "documents",
        "ok/${filename}",
        &[("x-amz-meta-color", "blue")],
        &[],
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let r = s3.get("/documents/ok/f.txt").await;
    assert_eq!(r.body, b"posted");
    assert_eq!(r.header("x-amz-meta-color").as_deref(), Some("blue"));

    // A key outside the policy's prefix, a field with another value, a field left out: 403.
    for (key, color) in [
        ("other/a.txt", Some("blue")),
        ("ok/b.txt", Some("red")),
        ("ok/c.txt", None),
    ] {
        let extra: Vec<(&str, &str)> = color.map(|c| ("x-amz-meta-color", c)).into_iter().collect();
        let (status, text) = post_form(&s3, "documents", key, &extra, &[]).await;
        assert_eq!(status, 403, "{key}: {text}");
        assert_eq!(
            xml_value(&text, "Code").as_deref(),
            Some("AccessDenied"),
            "{text}"
        );
        assert!(
            xml_value(&text, "Message")
                .unwrap()
                .starts_with("Invalid according to Policy"),
            "{text}"
        );
        assert!(xml_value(&text, "RequestId").is_some(), "{text}");
        assert_eq!(
            s3.get(&format!("/documents/{key}")).await.status,
            404,
            "{key}"
        );
    }
    // A policy without a signature: refused before anything is checked or stored.
    let (status, text) = post_form(
        &s3,
        "documents",
        "ok/unsigned.txt",
        &[("x-amz-meta-color", "blue")],
        &["x-amz-signature"],
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        xml_value(&text, "Code").as_deref(),
        Some("InvalidArgument"),
        "{text}"
    );
    assert_eq!(s3.get("/documents/ok/unsigned.txt").await.status, 404);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_post_whose_bucket_field_names_another_bucket_is_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let (status, text) = post_form(
        &s3,
        "documents",
        "ok/elsewhere.txt",
        &[("x-amz-meta-color", "blue"), ("bucket", "other-bucket")],
        &[],
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(
        xml_value(&text, "Code").as_deref(),
        Some("AccessDenied"),
        "{text}"
    );
    assert!(
        xml_value(&text, "Message")
            .unwrap()
            .starts_with("Invalid according to Policy"),
        "{text}"
    );
    assert_eq!(s3.get("/documents/ok/elsewhere.txt").await.status, 404);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn post_uploads_are_bounded_because_s3s_holds_them_in_memory() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let limit = usize::try_from(scaidrive_gateway::s3::POST_OBJECT_MAX_BYTES).unwrap();
    let (content_type, body) = signed_form(
        &s3,
        "documents",
        "ok/big.bin",
        &[("x-amz-meta-color", "blue")],
        &[],
        &vec![b'x'; limit + 1],
    );
    // A raw socket: the gateway answers before it has read the whole body, and the writer
    // must not stop the reader from seeing that answer.
    let host = s3.endpoint.trim_start_matches("http://").to_owned();
    let sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let head = format!(
        "POST /documents HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("</Error>") {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(
        xml_value(&answer, "Code").as_deref(),
        Some("EntityTooLarge"),
        "{answer}"
    );
    writer.abort();
    assert_eq!(s3.get("/documents/ok/big.bin").await.status, 404);
    s3.gateway.shutdown().await;
}

/// A GET of `path` signed (SigV4 header) for `region`.
async fn get_signed_for(s3: &S3, region: &str, path: &str) -> (u16, String) {
    let (target, headers) = sign_v4_in(
        region,
        &s3.endpoint,
        &s3.access_key,
        &s3.secret,
        "GET",
        path,
        &[],
        &[],
    );
    let mut req = reqwest::Client::new().get(format!("{}{target}", s3.endpoint));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Checks an S3 error body: its code, message and `<Region>`.
fn assert_region_error(status: u16, text: &str, code: &str, message: &str, region: &str) {
    assert_eq!(status, 400, "{text}");
    assert_eq!(xml_value(text, "Code").as_deref(), Some(code), "{text}");
    assert_eq!(
        xml_value(text, "Message").as_deref(),
        Some(message),
        "{text}"
    );
    assert_eq!(xml_value(text, "Region").as_deref(), Some(region), "{text}");
}

#[tokio::test]
async fn a_credential_scoped_to_another_region_is_refused_naming_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/r.txt", b"r").await;
    assert_eq!(
        get_signed_for(&s3, "us-east-1", "/documents/r.txt").await.0,
        200
    );
    // Header SigV4: eu-west-1, and s3cmd's default `US`, which S3 answers the same way (s3cmd
    // then signs again with the region of the answer).
    for region in ["eu-west-1", "US"] {
        let (status, text) = get_signed_for(&s3, region, "/documents/r.txt").await;
        assert_region_error(
            status,
            &text,
            "AuthorizationHeaderMalformed",
            &format!(
                "The authorization header is malformed; the region '{region}' is wrong; expecting 'us-east-1'"
            ),
            "us-east-1",
        );
    }
    // A region that is not a plain name comes back escaped.
    let (status, text) = get_signed_for(&s3, "a<b>&", "/").await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("the region 'a&lt;b&gt;&amp;' is wrong"),
        "{text}"
    );

    // Presigned SigV4.
    let http = reqwest::Client::new();
    let (key, secret) = (&s3.access_key, &s3.secret);
    let good = presign_v4(
        &s3.endpoint,
        key,
        secret,
        "us-east-1",
        "GET",
        "/documents/r.txt",
        60,
    );
    let r = http
        .get(format!("{}{good}", s3.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bad = presign_v4(
        &s3.endpoint,
        key,
        secret,
        "eu-west-1",
        "GET",
        "/documents/r.txt",
        60,
    );
    let r = http
        .get(format!("{}{bad}", s3.endpoint))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_region_error(
        status,
        &r.text().await.unwrap(),
        "AuthorizationQueryParametersError",
        "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
        "us-east-1",
    );

    // A browser POST whose credential names another region (the policy, in Base64, keeps its
    // own).
    let (content_type, body) = signed_form(
        &s3,
        "documents",
        "ok/r.txt",
        &[("x-amz-meta-color", "blue")],
        &[],
        b"r",
    );
    let body = String::from_utf8(body)
        .unwrap()
        .replace("/us-east-1/s3/aws4_request", "/eu-west-1/s3/aws4_request");
    let r = http
        .post(format!("{}/documents", s3.endpoint))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_region_error(
        status,
        &text,
        "InvalidArgument",
        "the region 'eu-west-1' is wrong; expecting 'us-east-1'",
        "us-east-1",
    );
    assert_eq!(
        xml_value(&text, "ArgumentName").as_deref(),
        Some("X-Amz-Credential"),
        "{text}"
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn the_configured_region_is_the_one_expected() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start_with(dir.path(), |cfg| cfg.s3.region = "eu-central-1".to_owned()).await;
    assert_eq!(get_signed_for(&s3, "eu-central-1", "/").await.0, 200);
    let (status, text) = get_signed_for(&s3, "us-east-1", "/").await;
    assert_region_error(
        status,
        &text,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'",
        "eu-central-1",
    );
    s3.gateway.shutdown().await;
}

/// A signed request head for `path` with `query` and `headers`, sent over TCP; `body` (already
/// framed as `headers` say) is written by a task of its own while the answer is read, until the
/// gateway closes the connection or 20 s pass. Returns the answer's text.
async fn raw_exchange(
    s3: &S3,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (target, signed) = s3.sign(&s3.access_key, &s3.secret, method, path, query, headers);
    let host = s3.endpoint.trim_start_matches("http://").to_owned();
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n");
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    // The gateway may answer and close before the body is all sent: write errors are expected.
    let writer = tokio::spawn(async move {
        for chunk in body.chunks(64 << 10) {
            if write.write_all(chunk).await.is_err() {
                return;
            }
        }
        // Keep the write side open: the answer must not wait for the client to finish.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        drop(write);
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let read_all = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), read_all).await;
    writer.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

/// `body` in HTTP/1.1 chunked framing, 64 KiB a chunk.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(64 << 10) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A DeleteObjects body naming `n` keys of `len` characters.
fn delete_body(n: usize, len: usize) -> Vec<u8> {
    let mut xml = String::from("<Delete>");
    for i in 0..n {
        xml.push_str(&format!("<Object><Key>{i:0len$}</Key></Object>"));
    }
    xml.push_str("</Delete>");
    xml.into_bytes()
}

/// Checks an answer read off the wire: 400 `MaxMessageLengthExceeded`, connection closed.
fn assert_too_big(answer: &str, what: &str) {
    assert!(answer.starts_with("HTTP/1.1 400"), "{what}: {answer}");
    assert_eq!(
        xml_value(answer, "Code").as_deref(),
        Some("MaxMessageLengthExceeded"),
        "{what}: {answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{what}: {answer}"
    );
}

#[tokio::test]
async fn xml_bodies_over_the_cap_are_max_message_length_exceeded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let id = create_upload(&s3, "/documents/cap.bin").await;
    let big = (20u64 << 20).to_string();
    // Announced by Content-Length: answered before any of the body is sent.
    for (method, path, query) in [
        ("POST", "/documents", vec![("delete", "")]),
        (
            "POST",
            "/documents/cap.bin",
            vec![("uploadId", id.as_str())],
        ),
        ("PUT", "/documents/cap.bin", vec![("tagging", "")]),
        ("PUT", "/documents", vec![("versioning", "")]),
        ("PUT", "/newbucket-cap", vec![]),
    ] {
        let answer = raw_exchange(
            &s3,
            method,
            path,
            &query,
            &[("content-length", big.as_str())],
            Vec::new(),
        )
        .await;
        assert_too_big(&answer, &format!("{method} {path} by Content-Length"));
    }
    // Chunked, no length announced: counted as it arrives.
    let body = chunked(&delete_body(9_000, 1_000));
    for (method, path, query) in [
        ("POST", "/documents", vec![("delete", "")]),
        (
            "POST",
            "/documents/cap.bin",
            vec![("uploadId", id.as_str())],
        ),
    ] {
        let answer = raw_exchange(
            &s3,
            method,
            path,
            &query,
            &[("transfer-encoding", "chunked")],
            body.clone(),
        )
        .await;
        assert_too_big(&answer, &format!("{method} {path} chunked"));
    }
    // Objects and parts are not XML: a body over the cap goes through.
    let object = vec![b'x'; 6 << 20];
    assert_eq!(
        s3.put("/documents/cap-object.bin", &object).await.status,
        200
    );
    send_part(&s3, "/documents/cap.bin", &id, 1, &object).await;
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn the_largest_lists_s3_allows_pass_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    // Complete naming 10,000 parts, each with an ETag and a SHA-256 checksum: read and parsed
    // (the parts were never sent, so InvalidPart).
    let id = create_upload(&s3, "/documents/many.bin").await;
    let checksum = "A".repeat(43) + "=";
    let mut xml = String::from("<CompleteMultipartUpload>");
    for n in 1..=10_000 {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{}\"</ETag><ChecksumSHA256>{checksum}</ChecksumSHA256></Part>",
            "0".repeat(32)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    assert!(xml.len() > 1 << 20, "{}", xml.len());
    let r = s3
        .call(
            "POST",
            "/documents/many.bin",
            &[("uploadId", &id)],
            &[],
            xml.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("InvalidPart"),
        "{}",
        r.text()
    );
    // DeleteObjects with 1,000 keys of 1,024 characters passes; 1,001 keys is MalformedXML.
    let r = s3
        .call(
            "POST",
            "/documents",
            &[("delete", "")],
            &[],
            delete_body(1_000, 1_024),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call(
            "POST",
            "/documents",
            &[("delete", "")],
            &[],
            delete_body(1_001, 10),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("MalformedXML"),
        "{}",
        r.text()
    );
    s3.gateway.shutdown().await;
}

/// A request whose body is signed with `x-amz-content-sha256` = the SHA-256 of `signed_body`
/// but carries `body`.
async fn call_signed_over(
    s3: &S3,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    signed_body: &[u8],
    body: Vec<u8>,
) -> (u16, String) {
    use sha2::Digest as _;
    let payload = hex::encode(sha2::Sha256::digest(signed_body));
    let (target, headers) = s3_support::sign_v4_payload(
        "us-east-1",
        &s3.endpoint,
        &s3.access_key,
        &s3.secret,
        method,
        path,
        query,
        &[],
        &payload,
    );
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{target}", s3.endpoint))
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_body_that_differs_from_its_signed_sha256_is_x_amz_content_sha256_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    // An object body: refused, nothing stored.
    let (status, text) = call_signed_over(
        &s3,
        "PUT",
        "/documents/sha.txt",
        &[],
        b"what was signed",
        b"what was sent!!".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        xml_value(&text, "Code").as_deref(),
        Some("XAmzContentSHA256Mismatch")
    );
    let head = s3
        .call("HEAD", "/documents/sha.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 404);
    // The same body as signed is stored.
    let (status, text) = call_signed_over(
        &s3,
        "PUT",
        "/documents/sha.txt",
        &[],
        b"what was signed",
        b"what was signed".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    // An XML body (read whole): 400 as well, never a 500.
    let delete = b"<Delete><Object><Key>sha.txt</Key></Object></Delete>".to_vec();
    let (status, text) =
        call_signed_over(&s3, "POST", "/documents", &[("delete", "")], b"", delete).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        xml_value(&text, "Code").as_deref(),
        Some("XAmzContentSHA256Mismatch")
    );
    let head = s3
        .call("HEAD", "/documents/sha.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn post_uploads_are_held_to_the_bucket_policy_for_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
        "Action":"s3:PutObject","Resource":"arn:aws:s3:::documents/ok/denied/*"}]}"#;
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("policy", "")],
            &[],
            policy.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let color = [("x-amz-meta-color", "blue")];
    let (status, text) = post_form(&s3, "documents", "ok/denied/a.txt", &color, &[]).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("bucket policy"), "{text}");
    assert_eq!(s3.get("/documents/ok/denied/a.txt").await.status, 404);
    let (status, text) = post_form(&s3, "documents", "ok/fine.txt", &color, &[]).await;
    assert_eq!(status, 204, "{text}");
}

#[tokio::test]
async fn post_with_success_action_redirect_answers_303_to_it_with_bucket_key_and_quoted_etag() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let (content_type, body) = signed_form(
        &s3,
        "documents",
        "ok/r.txt",
        &[
            ("x-amz-meta-color", "blue"),
            (
                "success_action_redirect",
                "http://example.com/done?from=form",
            ),
        ],
        &[],
        b"posted",
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/documents", s3.endpoint))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let etag = s3.get("/documents/ok/r.txt").await.header("etag").unwrap();
    let etag = etag.trim_matches('"');
    assert_eq!(
        location,
        format!(
            "http://example.com/done?from=form&bucket=documents&key=ok%2Fr.txt&etag=%22{etag}%22"
        )
    );
    s3.gateway.shutdown().await;
}
