//! A ScaiDrive `deny READ` entry on one file of a share the user reads: every S3 and WebDAV path
//! that would serve anything of that file beyond its listed name, size and time answers 403, as
//! ScaiDrive does; listings keep the name but drop what the state DB holds for it.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use reqwest::StatusCode;
use s3_support::{S3, client, xml_value, xml_values};
use scaidrive_gateway::config::{Config, StaticCredential};
use scaidrive_gateway::scaidrive::{self as sd, ClientOptions, Token};

const SECRET: &[u8] = b"the secret body";
const OPEN: &[u8] = b"the open body";

fn cred(key: &str, token: &str) -> StaticCredential {
    StaticCredential {
        access_key_id: key.to_owned(),
        secret_access_key: format!("{key}-secret"),
        token: token.to_owned(),
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// The owner writes `docs/secret.txt` (metadata, tags, a dead property) and `docs/open.txt`
/// through the gateway, then denies the reader READ on `secret.txt` straight on ScaiDrive.
async fn setup() -> (emulator_support::Emu, S3) {
    let emu = emulator_support::start_with(|_| {}, Some(emulator_support::ROLES_SEED)).await;
    let gw_dir = tempfile::tempdir().unwrap().keep();
    let mut cfg = Config {
        data_dir: gw_dir,
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
    let s3 = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");
    for (key, body) in [
        ("/team/docs/secret.txt", SECRET),
        ("/team/docs/open.txt", OPEN),
    ] {
        let r = s3
            .call(
                "PUT",
                key,
                &[],
                &[
                    ("x-amz-meta-color", "crimson"),
                    ("x-amz-tagging", "level=classified"),
                ],
                body.to_vec(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = dav(&s3, "owner-token", "PROPPATCH", "/Team/docs/secret.txt")
        .body(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x-test"><D:set><D:prop><x:codename>bluebird</x:codename></D:prop></D:set></D:propertyupdate>"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);

    deny_reader(&emu, "docs", "secret.txt").await;
    (emu, s3)
}

/// Denies the reader READ on `folder/name` (in the share root) straight on ScaiDrive.
async fn deny_reader(emu: &emulator_support::Emu, folder: &str, name: &str) {
    let api = sd::Client::new(&emu.emu.url(), ClientOptions::default()).unwrap();
    let owner = Token::new("owner-token".to_owned());
    let root = api.list_children(&owner, "shr_01TEAM", None).await.unwrap();
    let parent = root.items.iter().find(|i| i.name() == folder).unwrap();
    let listing = api
        .list_children(&owner, "shr_01TEAM", Some(parent.id()))
        .await
        .unwrap();
    let file = listing.items.iter().find(|i| i.name() == name).unwrap();
    let deny = sd::acl::NewAce {
        principal_type: "user".into(),
        principal_id: Some("usr_01READER".into()),
        permissions: vec!["READ"],
        ace_type: "deny".into(),
        inherit_to_children: true,
    };
    api.add_ace(&owner, sd::acl::ResourceType::File, file.id(), &deny)
        .await
        .unwrap();
}

fn dav(s3: &S3, token: &str, method: &str, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}{path}", s3.gateway.addrs().webdav),
        )
        .basic_auth("anyone", Some(token))
}

async fn reader(s3: &S3, method: &str, path: &str, query: &[(&str, &str)]) -> s3_support::Resp {
    s3.call_as(
        "AKIAREADER",
        "AKIAREADER-secret",
        method,
        path,
        query,
        &[],
        Vec::new(),
    )
    .await
}

fn assert_denied(r: &s3_support::Resp, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.text());
    assert!(r.header("etag").is_none(), "{what} leaks the ETag");
    assert!(
        r.header("x-amz-meta-color").is_none(),
        "{what} leaks user metadata"
    );
    assert!(!r.text().contains("classified"), "{what} leaks the tags");
}

#[tokio::test]
async fn a_denied_file_answers_403_through_every_s3_read() {
    let (emu, s3) = setup().await;
    let key = "/team/docs/secret.txt";
    assert_denied(&reader(&s3, "HEAD", key, &[]).await, "HEAD");
    assert_denied(&reader(&s3, "GET", key, &[]).await, "GET");
    assert_denied(
        &reader(&s3, "GET", key, &[("tagging", "")]).await,
        "GetObjectTagging",
    );
    assert_denied(
        &reader(&s3, "GET", key, &[("acl", "")]).await,
        "GetObjectAcl",
    );

    // Its sibling reads as ever, and the owner still sees everything of both.
    let open = reader(&s3, "HEAD", "/team/docs/open.txt", &[]).await;
    assert_eq!(open.status, 200);
    assert_eq!(open.header("etag"), Some(format!("\"{}\"", md5_hex(OPEN))));
    assert_eq!(open.header("x-amz-meta-color").as_deref(), Some("crimson"));
    let tags = reader(&s3, "GET", "/team/docs/open.txt", &[("tagging", "")]).await;
    assert!(tags.text().contains("classified"), "{}", tags.text());
    let own = s3.call("HEAD", key, &[], &[], Vec::new()).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.header("etag"), Some(format!("\"{}\"", md5_hex(SECRET))));

    // Listings name the file (READ on the folder lists it) with what ScaiDrive's own listing
    // shows, not the attributes the gateway keeps for it.
    for (what, query) in [
        (
            "ListObjectsV2",
            vec![("list-type", "2"), ("prefix", "docs/")],
        ),
        (
            "ListObjectVersions",
            vec![("versions", ""), ("prefix", "docs/")],
        ),
    ] {
        let r = reader(&s3, "GET", "/team", &query).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        let text = r.text();
        assert_eq!(
            xml_values(&text, "Key"),
            ["docs/open.txt", "docs/secret.txt"],
            "{what}: {text}"
        );
        assert!(
            !text.contains(&md5_hex(SECRET)),
            "{what} leaks the ETag: {text}"
        );
        assert!(text.contains(&md5_hex(OPEN)), "{what}: {text}");
        let secret = text
            .split("docs/secret.txt")
            .nth(1)
            .and_then(|rest| xml_value(rest, "Size"));
        assert_eq!(
            secret.as_deref(),
            Some(SECRET.len().to_string().as_str()),
            "{what}: {text}"
        );
    }
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn a_denied_file_answers_403_through_every_webdav_read() {
    let (emu, s3) = setup().await;
    let path = "/Team/docs/secret.txt";
    let propfind = |path: &'static str, depth: &'static str| {
        dav(&s3, "reader-token", "PROPFIND", path)
            .header("Depth", depth)
            .send()
    };

    let r = propfind(path, "0").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "PROPFIND Depth 0");
    let body = r.text().await.unwrap();
    assert!(!body.contains("bluebird") && !body.contains(&md5_hex(SECRET)));

    // GET refuses before any answer head: no 200 that then breaks off.
    let r = dav(&s3, "reader-token", "GET", path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "GET");
    assert!(r.headers().get("etag").is_none());
    assert!(!r.bytes().await.unwrap().starts_with(b"the secret"));
    let r = dav(&s3, "reader-token", "HEAD", path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "HEAD");

    // Depth 1 lists the file with what ScaiDrive's listing shows, without its attributes.
    let r = propfind("/Team/docs/", "1").await.unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let body = r.text().await.unwrap();
    let secret = body
        .split("<D:response>")
        .find(|r| r.contains("/Team/docs/secret.txt</D:href>"))
        .unwrap_or_else(|| panic!("not listed: {body}"));
    assert!(
        secret.contains(&format!(
            "<D:getcontentlength>{}</D:getcontentlength>",
            SECRET.len()
        )),
        "{secret}"
    );
    assert!(
        !secret.contains("bluebird"),
        "dead property leaks: {secret}"
    );
    assert!(!secret.contains(&md5_hex(SECRET)), "ETag leaks: {secret}");
    let open = body
        .split("<D:response>")
        .find(|r| r.contains("/Team/docs/open.txt</D:href>"))
        .unwrap_or_else(|| panic!("not listed: {body}"));
    assert!(open.contains(&md5_hex(OPEN)), "{open}");

    // oc:checksums asked for by name.
    let r = dav(&s3, "reader-token", "PROPFIND", "/Team/docs/")
        .header("Depth", "1")
        .body(
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns"><D:prop><oc:checksums/><D:getetag/></D:prop></D:propfind>"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let body = r.text().await.unwrap();
    assert!(!body.contains(&md5_hex(SECRET)), "{body}");
    assert!(body.contains(&md5_hex(OPEN)), "{body}");

    // The owner still reads it all.
    let r = dav(&s3, "owner-token", "GET", path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), SECRET);
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn a_deny_entry_is_honoured_in_a_listing_that_needs_several_batch_checks() {
    let (emu, s3) = setup().await;
    // 250 files with stored attributes: three batches of checks (100 per call) for the reader.
    for i in 0..250 {
        let r = s3
            .call(
                "PUT",
                &format!("/team/many/f-{i:03}.txt"),
                &[],
                &[],
                format!("body {i}").into_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    deny_reader(&emu, "many", "f-240.txt").await;

    let r = reader(
        &s3,
        "GET",
        "/team",
        &[("list-type", "2"), ("prefix", "many/")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert_eq!(xml_values(&text, "Key").len(), 250);
    for i in 0..250 {
        let md5 = md5_hex(format!("body {i}").as_bytes());
        assert_eq!(text.contains(&md5), i != 240, "f-{i:03}.txt: {text}");
    }
    assert_denied(
        &reader(&s3, "HEAD", "/team/many/f-240.txt", &[]).await,
        "HEAD",
    );
    assert_eq!(
        reader(&s3, "HEAD", "/team/many/f-239.txt", &[])
            .await
            .status,
        200
    );
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}
