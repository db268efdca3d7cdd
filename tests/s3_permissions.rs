//! Share roles through S3: a gateway in front of a separately started emulator whose seed has a
//! share with an owner and a reader. The reader's writes are AccessDenied (403) and nothing
//! changes upstream; its reads work.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use s3_support::{S3, client, xml_value, xml_values};
use scaidrive_gateway::config::{Config, StaticCredential};

fn cred(key: &str, token: &str) -> StaticCredential {
    StaticCredential {
        access_key_id: key.to_owned(),
        secret_access_key: format!("{key}-secret"),
        token: token.to_owned(),
    }
}

fn assert_denied(r: &s3_support::Resp, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("AccessDenied"),
        "{what}: {}",
        r.text()
    );
}

#[tokio::test]
async fn a_reader_can_read_but_every_write_is_access_denied() {
    reader_matrix(false).await;
}

/// The same matrix with the reader's temporary credentials (STS, from its ScaiDrive token):
/// they carry the reader's rights and no more.
#[tokio::test]
async fn a_reader_with_temporary_credentials_is_refused_the_same_writes() {
    reader_matrix(true).await;
}

/// AssumeRoleWithWebIdentity with `token`: (access key, secret, session token).
async fn temporary_credentials(s3: &S3, token: &str) -> (String, String, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}/", s3.endpoint))
        .form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("WebIdentityToken", token),
        ])
        .send()
        .await
        .unwrap();
    let body = resp.text().await.unwrap();
    let field = |tag| xml_value(&body, tag).unwrap_or_else(|| panic!("{tag} in {body}"));
    (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    )
}

async fn reader_matrix(temporary: bool) {
    let emu = emulator_support::start_with(|_| {}, Some(emulator_support::ROLES_SEED)).await;
    let gw_dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: gw_dir.path().to_owned(),
        ..Config::default()
    };
    cfg.scaidrive.url = Some(emu.emu.url());
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.credentials = vec![
        cred("AKIAOWNER", "owner-token"),
        cred("AKIAREADER", "reader-token"),
    ];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let s3: S3 = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");
    let (key, secret, session_token) = if temporary {
        let (k, s, t) = temporary_credentials(&s3, "reader-token").await;
        (k, s, Some(t))
    } else {
        (
            "AKIAREADER".to_owned(),
            "AKIAREADER-secret".to_owned(),
            None,
        )
    };
    let (key, secret, session_token) = (&key, &secret, &session_token);
    let reader = |method: &'static str,
                  path: &'static str,
                  query: &'static [(&'static str, &'static str)],
                  headers: &'static [(&'static str, &'static str)],
                  body: &'static [u8]| {
        let mut headers = headers.to_vec();
        if let Some(t) = session_token {
            headers.push(("x-amz-security-token", t.as_str()));
        }
        let s3 = &s3;
        async move {
            s3.call_as(key, secret, method, path, query, &headers, body.to_vec())
                .await
        }
    };

    // Both see the share as a bucket; the owner writes the object the reader then reads.
    let r = reader("GET", "/", &[], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let buckets = xml_values(&r.text(), "Name");
    assert_eq!(buckets, ["team"], "{}", r.text());
    let r = s3.put("/team/docs/a.txt", b"owner's words").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Reads work.
    let r = reader("GET", "/team/docs/a.txt", &[], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"owner's words");
    let r = reader("HEAD", "/team/docs/a.txt", &[], &[], b"").await;
    assert_eq!(r.status, 200);
    let r = reader("GET", "/team", &[("list-type", "2")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Key"), ["docs/a.txt"]);
    let r = reader("GET", "/team", &[("location", "")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Writes are refused.
    let r = reader("PUT", "/team/docs/new.txt", &[], &[], b"reader's words").await;
    assert_denied(&r, "PutObject (new key)");
    let r = reader("PUT", "/team/docs/a.txt", &[], &[], b"overwrite").await;
    assert_denied(&r, "PutObject (existing key)");
    let r = reader("DELETE", "/team/docs/a.txt", &[], &[], b"").await;
    assert_denied(&r, "DeleteObject");
    let r = reader(
        "PUT",
        "/team/docs/copy.txt",
        &[],
        &[("x-amz-copy-source", "/team/docs/a.txt")],
        b"",
    )
    .await;
    assert_denied(&r, "CopyObject");
    let r = reader("POST", "/team/docs/big.bin", &[("uploads", "")], &[], b"").await;
    assert_denied(&r, "CreateMultipartUpload");

    // Nothing changed: same single key with the owner's content, no upload in progress.
    let r = s3
        .call("GET", "/team", &[("list-type", "2")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["docs/a.txt"]);
    assert_eq!(s3.get("/team/docs/a.txt").await.body, b"owner's words");
    let r = s3
        .call("GET", "/team", &[("uploads", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(xml_values(&r.text(), "UploadId").is_empty(), "{}", r.text());
    let share = emu.share_id("Team").await;
    assert_eq!(emu.names(&share, "root").await, ["docs"]);

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn the_embedded_emulator_takes_a_seed_file_so_two_users_have_their_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, emulator_support::ROLES_SEED).unwrap();
    let mut cfg = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    cfg.embedded.seed = Some(seed);
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.credentials = vec![
        cred("AKIAOWNER", "owner-token"),
        cred("AKIAREADER", "reader-token"),
    ];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    assert!(gateway.emulator().is_some(), "embedded mode");
    let s3: S3 = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");

    // The seeded share (not the built-in Documents/Photos) is the only bucket, for both users.
    let r = s3.call("GET", "/", &[], &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Name"), ["team"], "{}", r.text());
    let r = s3.put("/team/a.txt", b"owner's words").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call_as(
            "AKIAREADER",
            "AKIAREADER-secret",
            "GET",
            "/team/a.txt",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"owner's words");
    // Each key acts as its own seeded user: the reader's role still refuses writes.
    let r = s3
        .call_as(
            "AKIAREADER",
            "AKIAREADER-secret",
            "PUT",
            "/team/b.txt",
            &[],
            &[],
            b"reader's words".to_vec(),
        )
        .await;
    assert_denied(&r, "PutObject by the reader");

    // No bucket owner in ScaiDrive: one who may write in the bucket owns it, and re-creating
    // it succeeds (us-east-1); for anyone else the name is taken.
    let r = s3.put("/team", b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call_as(
            "AKIAREADER",
            "AKIAREADER-secret",
            "PUT",
            "/team",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("BucketAlreadyExists")
    );
    assert_eq!(s3.get("/team/a.txt").await.body, b"owner's words");
    s3.gateway.shutdown().await;
}
