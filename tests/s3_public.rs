//! Public access through ScaiDrive external links: `public-read` / AllUsers READ makes a
//! `DOWNLOAD` link with the caller's token, anonymous GET/HEAD/list are served while ScaiDrive
//! says the link is active and unrestricted (revoked, disabled or restricted there: no longer
//! served, within the listing TTL), private again revokes it, and every other anonymous request
//! is AccessDenied. A gateway in `folders` mode in front of a separately started emulator.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use std::time::{Duration, Instant};

use s3_support::{Resp, S3, client, xml_value, xml_values};
use scaidrive_gateway::config::{BucketMode, Config, StaticCredential};
use serde_json::{Value, json};

/// Alice owns the share; Carol is a contributor (no SHARE: she may not make links); Dave has
/// no access to the share at all.
const SEED: &str = r#"
[tenant]
name = "Public"

[[users]]
id = "usr_01ALICE"
email = "alice@example.com"
name = "Alice Liddell"
display_name = "Alice"

[[users]]
id = "usr_01CAROL"
email = "carol@example.com"
name = "Carol Contributor"
display_name = "Carol"

[[tokens]]
token = "alice-token"
user = "usr_01ALICE"

[[tokens]]
token = "carol-token"
user = "usr_01CAROL"

[[users]]
id = "usr_01DAVE"
email = "dave@example.com"
name = "Dave Outsider"
display_name = "Dave"

[[tokens]]
token = "dave-token"
user = "usr_01DAVE"

[[shares]]
id = "shr_01S3"
name = "S3"
share_type = "central"
owner_id = "usr_01ALICE"
members = [ { principal = "usr_01ALICE", role = "owner" },
            { principal = "usr_01CAROL", role = "contributor" } ]
"#;

/// The listing TTL of these gateways, which bounds how long a link's status is trusted.
const TTL: Duration = Duration::from_secs(1);

fn cred(key: &str, token: &str) -> StaticCredential {
    StaticCredential {
        access_key_id: key.to_owned(),
        secret_access_key: format!("{key}-secret"),
        token: token.to_owned(),
    }
}

async fn setup() -> (emulator_support::Emu, S3) {
    let emu = emulator_support::start_with(|_| {}, Some(SEED)).await;
    let gw_dir = tempfile::tempdir().unwrap().keep();
    let mut cfg = Config {
        data_dir: gw_dir,
        ..Config::default()
    };
    cfg.scaidrive.url = Some(emu.emu.url());
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.s3.bucket_mode = BucketMode::Folders;
    cfg.s3.folders_share = Some("shr_01S3".to_owned());
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.cache.ttl_secs = TTL.as_secs();
    cfg.credentials = vec![
        cred("AKIAALICE", "alice-token"),
        cred("AKIACAROL", "carol-token"),
        cred("AKIADAVE", "dave-token"),
    ];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    (emu, client(gateway, "AKIAALICE", "AKIAALICE-secret"))
}

/// An unsigned request, as a browser or `curl` sends it.
async fn anon(s3: &S3, method: &str, path_and_query: &str) -> Resp {
    let resp = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}{path_and_query}", s3.endpoint),
        )
        .send()
        .await
        .unwrap();
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn assert_code(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some(code),
        "{what}: {}",
        r.text()
    );
}

/// The grantee URIs of an ACL document.
fn uris(xml: &str) -> Vec<String> {
    xml_values(xml, "URI")
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Alice's links in ScaiDrive.
async fn links(emu: &emulator_support::Emu, token: &str) -> Vec<Value> {
    let v: Value = emu
        .get_as(token, "/external/links")
        .await
        .json()
        .await
        .unwrap();
    v["links"].as_array().cloned().unwrap_or_default()
}

async fn active_link(emu: &emulator_support::Emu) -> String {
    let all = links(emu, "alice-token").await;
    let active: Vec<&Value> = all.iter().filter(|l| l["status"] == "active").collect();
    assert_eq!(active.len(), 1, "{all:?}");
    active[0]["id"].as_str().unwrap().to_owned()
}

/// Polls `path` anonymously until it answers `status`, at most `TTL` plus a margin.
async fn until_status(s3: &S3, path: &str, status: u16) -> Resp {
    let deadline = Instant::now() + TTL + Duration::from_secs(3);
    loop {
        let r = anon(s3, "GET", path).await;
        if r.status == status || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn make_bucket(s3: &S3, name: &str, headers: &[(&str, &str)]) {
    let r = s3.call("PUT", name, &[], headers, Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn public_read_object_is_served_anonymously_until_revoked_in_scaidrive() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub1", &[]).await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(s3.put("/pub1/dir/photo.jpg", &body).await.status, 200);
    assert_eq!(s3.put("/pub1/secret.txt", b"no").await.status, 200);

    // Private: anonymous reads are refused.
    assert_code(
        &anon(&s3, "GET", "/pub1/dir/photo.jpg").await,
        403,
        "AccessDenied",
        "before",
    );

    let r = s3
        .call(
            "PUT",
            "/pub1/dir/photo.jpg",
            &[("acl", "")],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call(
            "GET",
            "/pub1/dir/photo.jpg",
            &[("acl", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(uris(&r.text()), [ALL_USERS], "{}", r.text());
    let link = active_link(&emu).await;
    let upstream: Value = emu
        .get_as("alice-token", &format!("/external/links/{link}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upstream["link_type"], "DOWNLOAD");
    assert_eq!(upstream["resource_type"], "file");

    // Anonymous GET and HEAD of that object only.
    let r = anon(&s3, "GET", "/pub1/dir/photo.jpg").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
    let r = anon(&s3, "HEAD", "/pub1/dir/photo.jpg").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length").as_deref(), Some("200000"));
    assert_code(
        &anon(&s3, "GET", "/pub1/secret.txt").await,
        403,
        "AccessDenied",
        "other object",
    );
    assert_code(
        &anon(&s3, "GET", "/pub1?list-type=2").await,
        403,
        "AccessDenied",
        "list",
    );
    assert_code(
        &anon(&s3, "GET", "/pub1/dir/photo.jpg?versionId=1").await,
        403,
        "AccessDenied",
        "a version",
    );
    assert_code(
        &anon(&s3, "PUT", "/pub1/dir/photo.jpg").await,
        403,
        "AccessDenied",
        "put",
    );
    assert_code(
        &anon(&s3, "DELETE", "/pub1/dir/photo.jpg").await,
        403,
        "AccessDenied",
        "delete",
    );
    assert_eq!(s3.get("/pub1/dir/photo.jpg").await.body, body);

    // Revoked in ScaiDrive while anonymous readers keep reading: they are refused within the
    // listing TTL, and every answer is either the whole object or a refusal.
    let reader = {
        let endpoint = s3.endpoint.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let deadline = Instant::now() + TTL + Duration::from_secs(5);
            loop {
                let r = http
                    .get(format!("{endpoint}/pub1/dir/photo.jpg"))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let got = r.bytes().await.unwrap();
                match status {
                    200 => assert_eq!(got.as_ref(), body.as_slice()),
                    403 => return Instant::now(),
                    other => panic!("anonymous read answered {other}"),
                }
                assert!(Instant::now() < deadline, "still served after revocation");
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let revoked_at = Instant::now();
    let r = emu
        .http
        .delete(emu.api(&format!("/external/links/{link}")))
        .bearer_auth("alice-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let refused_at = reader.await.unwrap();
    assert!(
        refused_at.saturating_duration_since(revoked_at) <= TTL + Duration::from_millis(900),
        "refused {:?} after the revocation",
        refused_at.saturating_duration_since(revoked_at)
    );
    let r = s3
        .call(
            "GET",
            "/pub1/dir/photo.jpg",
            &[("acl", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert!(uris(&r.text()).is_empty(), "{}", r.text());
}

#[tokio::test]
async fn private_again_revokes_the_link_and_an_overwrite_is_private() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub2", &[]).await;
    let r = s3
        .call(
            "PUT",
            "/pub2/a.txt",
            &[],
            &[("x-amz-acl", "public-read")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub2/a.txt").await.body, b"hello");
    let link = active_link(&emu).await;

    let r = s3
        .call(
            "PUT",
            "/pub2/a.txt",
            &[("acl", "")],
            &[("x-amz-acl", "private")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let upstream: Value = emu
        .get_as("alice-token", &format!("/external/links/{link}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upstream["status"], "revoked");
    assert_code(
        &anon(&s3, "GET", "/pub2/a.txt").await,
        403,
        "AccessDenied",
        "private again",
    );

    // Public by an AllUsers READ grant header, then overwritten without an ACL: private, as a
    // new S3 object is.
    let r = s3
        .call(
            "PUT",
            "/pub2/a.txt",
            &[("acl", "")],
            &[("x-amz-grant-read", &format!("uri=\"{ALL_USERS}\""))],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub2/a.txt").await.status, 200);
    assert_eq!(s3.put("/pub2/a.txt", b"v2").await.status, 200);
    assert_code(
        &anon(&s3, "GET", "/pub2/a.txt").await,
        403,
        "AccessDenied",
        "overwritten",
    );
    assert!(
        links(&emu, "alice-token")
            .await
            .iter()
            .all(|l| l["status"] == "revoked")
    );
}

#[tokio::test]
async fn a_public_bucket_lists_anonymously_but_its_objects_stay_private() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub3", &[("x-amz-acl", "public-read")]).await;
    assert_eq!(s3.put("/pub3/k1", b"one").await.status, 200);
    assert_eq!(s3.put("/pub3/d/k2", b"two").await.status, 200);
    let r = s3
        .call("GET", "/pub3", &[("acl", "")], &[], Vec::new())
        .await;
    assert_eq!(uris(&r.text()), [ALL_USERS], "{}", r.text());
    let link = active_link(&emu).await;
    let upstream: Value = emu
        .get_as("alice-token", &format!("/external/links/{link}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upstream["resource_type"], "folder");

    let r = anon(&s3, "GET", "/pub3?list-type=2").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Key"), ["d/k2", "k1"]);
    let r = anon(&s3, "GET", "/pub3?prefix=d/").await;
    assert_eq!(xml_values(&r.text(), "Key"), ["d/k2"], "{}", r.text());
    assert_code(
        &anon(&s3, "GET", "/pub3/k1").await,
        403,
        "AccessDenied",
        "object of a public bucket",
    );
    // Another bucket is not listed.
    make_bucket(&s3, "/priv3", &[]).await;
    assert_code(
        &anon(&s3, "GET", "/priv3").await,
        403,
        "AccessDenied",
        "private bucket",
    );
    // Anonymous ListBuckets: an empty list.
    let r = anon(&s3, "GET", "/").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(xml_values(&r.text(), "Name").is_empty(), "{}", r.text());

    // Private again: the link is revoked and listing is refused.
    let r = s3
        .call(
            "PUT",
            "/pub3",
            &[("acl", "")],
            &[("x-amz-acl", "private")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_code(
        &anon(&s3, "GET", "/pub3").await,
        403,
        "AccessDenied",
        "private again",
    );
    let r = s3
        .call("GET", "/pub3", &[("acl", "")], &[], Vec::new())
        .await;
    assert!(uris(&r.text()).is_empty(), "{}", r.text());
}

#[tokio::test]
async fn restricted_or_disabled_links_are_not_served_anonymously() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub4", &[]).await;
    let r = s3
        .call(
            "PUT",
            "/pub4/a",
            &[],
            &[("x-amz-acl", "public-read")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub4/a").await.status, 200);
    let link = active_link(&emu).await;
    let path = format!("/external/links/{link}");
    for (set, unset) in [
        (json!({"password": "pw"}), json!({"password": null})),
        (json!({"max_downloads": 10}), json!({"max_downloads": null})),
        (
            json!({"allowed_ips": ["10.0.0.0/8"]}),
            json!({"allowed_ips": null}),
        ),
        (json!({"status": "disabled"}), json!({"status": "active"})),
    ] {
        let r = emu
            .json_as("alice-token", reqwest::Method::PATCH, &path, set.clone())
            .await;
        assert_eq!(r.status(), 200, "{set}");
        let r = until_status(&s3, "/pub4/a", 403).await;
        assert_code(&r, 403, "AccessDenied", &set.to_string());
        let r = s3
            .call("GET", "/pub4/a", &[("acl", "")], &[], Vec::new())
            .await;
        assert!(uris(&r.text()).is_empty(), "{set}: {}", r.text());
        let r = emu
            .json_as("alice-token", reqwest::Method::PATCH, &path, unset)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(until_status(&s3, "/pub4/a", 200).await.status, 200, "{set}");
    }
}

#[tokio::test]
async fn public_access_needs_share_permission_and_never_writes() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub5", &[]).await;
    assert_eq!(s3.put("/pub5/a", b"x").await.status, 200);

    // Carol may write but not make links: AccessDenied, nothing made upstream.
    let r = s3
        .call_as(
            "AKIACAROL",
            "AKIACAROL-secret",
            "PUT",
            "/pub5/a",
            &[("acl", "")],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_code(&r, 403, "AccessDenied", "carol");
    assert!(links(&emu, "carol-token").await.is_empty());
    assert_code(
        &anon(&s3, "GET", "/pub5/a").await,
        403,
        "AccessDenied",
        "still private",
    );

    // Anonymous writes are never granted.
    for (path, q) in [("/pub5", "acl"), ("/pub5/a", "acl")] {
        let r = s3
            .call(
                "PUT",
                path,
                &[(q, "")],
                &[("x-amz-acl", "public-read-write")],
                Vec::new(),
            )
            .await;
        assert_code(&r, 501, "NotImplemented", path);
        let r = s3
            .call(
                "PUT",
                path,
                &[(q, "")],
                &[("x-amz-grant-write", &format!("uri=\"{ALL_USERS}\""))],
                Vec::new(),
            )
            .await;
        assert_code(&r, 501, "NotImplemented", path);
    }
    assert!(links(&emu, "alice-token").await.is_empty());
    // public-read-write on create keeps its read part only.
    make_bucket(&s3, "/pub6", &[("x-amz-acl", "public-read-write")]).await;
    assert_eq!(anon(&s3, "GET", "/pub6").await.status, 200);
    assert_code(
        &anon(&s3, "PUT", "/pub6/new").await,
        403,
        "AccessDenied",
        "anonymous put",
    );
}

#[tokio::test]
async fn a_public_bucket_that_is_gone_answers_no_such_bucket_anonymously() {
    let (_emu, s3) = setup().await;
    make_bucket(&s3, "/pub7", &[("x-amz-acl", "public-read")]).await;
    let r = s3
        .call(
            "PUT",
            "/pub7/k",
            &[],
            &[("x-amz-acl", "public-read")],
            b"k".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s3.call("DELETE", "/pub7/k", &[], &[], Vec::new())
            .await
            .status,
        204
    );
    assert_code(
        &anon(&s3, "GET", "/pub7/k").await,
        404,
        "NoSuchKey",
        "object gone",
    );
    assert_eq!(
        s3.call("DELETE", "/pub7", &[], &[], Vec::new())
            .await
            .status,
        204
    );
    assert_code(
        &anon(&s3, "GET", "/pub7/k").await,
        404,
        "NoSuchBucket",
        "bucket gone",
    );
    assert_code(
        &anon(&s3, "DELETE", "/pub7/k").await,
        404,
        "NoSuchBucket",
        "delete in a gone bucket",
    );
}

#[tokio::test]
async fn a_signed_user_without_access_reads_what_is_public_like_anyone() {
    let (_emu, s3) = setup().await;
    make_bucket(&s3, "/pub8", &[("x-amz-acl", "public-read")]).await;
    let r = s3
        .call(
            "PUT",
            "/pub8/open",
            &[],
            &[("x-amz-acl", "public-read")],
            b"open".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(s3.put("/pub8/closed", b"closed").await.status, 200);
    let dave = |method: &'static str,
                path: &'static str,
                query: &'static [(&'static str, &'static str)]| {
        let s3 = &s3;
        async move {
            s3.call_as(
                "AKIADAVE",
                "AKIADAVE-secret",
                method,
                path,
                query,
                &[],
                Vec::new(),
            )
            .await
        }
    };
    let r = dave("GET", "/pub8/open", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"open");
    assert_eq!(dave("HEAD", "/pub8/open", &[]).await.status, 200);
    let r = dave("GET", "/pub8", &[("list-type", "2")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Key"), ["closed", "open"]);
    let r = dave("GET", "/pub8/closed", &[]).await;
    assert!(r.status == 403 || r.status == 404, "{}", r.text());
    assert_ne!(r.body, b"closed");
    let r = dave("PUT", "/pub8/open", &[]).await;
    assert!(r.status == 403 || r.status == 404, "{}", r.text());
    assert_eq!(s3.get("/pub8/open").await.body, b"open");
}

#[tokio::test]
async fn public_access_ends_when_the_creators_credential_is_revoked() {
    let (emu, s3) = setup().await;
    make_bucket(&s3, "/pub9", &[]).await;
    assert_eq!(s3.put("/pub9/a", b"a").await.status, 200);
    // A stored key of Alice's (as `credentials create` makes) makes the object public.
    let db = s3.gateway.state_db();
    db.create_credential(scaidrive_gateway::state::NewCredential {
        access_key_id: Some("AKIASTORED".into()),
        secret_access_key: Some("stored-secret".into()),
        token: "alice-token".into(),
        label: None,
        user_id: "usr_01ALICE".into(),
    })
    .await
    .unwrap();
    let r = s3
        .call_as(
            "AKIASTORED",
            "stored-secret",
            "PUT",
            "/pub9/a",
            &[("acl", "")],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // CopyObject with public-read makes the copy public too (one more link).
    let r = s3
        .call(
            "PUT",
            "/pub9/b",
            &[],
            &[
                ("x-amz-copy-source", "/pub9/a"),
                ("x-amz-acl", "public-read"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub9/a").await.body, b"a");
    assert_eq!(anon(&s3, "GET", "/pub9/b").await.body, b"a");

    // The key is revoked: what it made public is no longer served, nor shown as public; the
    // copy, made with another key, still is.
    assert!(db.revoke_credential("AKIASTORED").await.unwrap());
    assert_code(
        &anon(&s3, "GET", "/pub9/a").await,
        403,
        "AccessDenied",
        "creator revoked",
    );
    let r = s3
        .call("GET", "/pub9/a", &[("acl", "")], &[], Vec::new())
        .await;
    assert!(uris(&r.text()).is_empty(), "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub9/b").await.status, 200);
    // Private through S3 by another key of the owner revokes the ScaiDrive link.
    let r = s3
        .call(
            "PUT",
            "/pub9/a",
            &[("acl", "")],
            &[("x-amz-acl", "private")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let active: Vec<Value> = links(&emu, "alice-token")
        .await
        .into_iter()
        .filter(|l| l["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "only the copy's link: {active:?}");
}

#[tokio::test]
async fn a_multipart_upload_onto_a_public_key_makes_it_private() {
    let (_emu, s3) = setup().await;
    make_bucket(&s3, "/pub10", &[]).await;
    let r = s3
        .call(
            "PUT",
            "/pub10/big",
            &[],
            &[("x-amz-acl", "public-read")],
            b"old".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(anon(&s3, "GET", "/pub10/big").await.status, 200);
    let r = s3
        .call("POST", "/pub10/big", &[("uploads", "")], &[], Vec::new())
        .await;
    let upload = xml_value(&r.text(), "UploadId").unwrap();
    let r = s3
        .call(
            "PUT",
            "/pub10/big",
            &[("partNumber", "1"), ("uploadId", &upload)],
            &[],
            b"new".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = r.header("etag").unwrap();
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let r = s3
        .call(
            "POST",
            "/pub10/big",
            &[("uploadId", &upload)],
            &[],
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s3.get("/pub10/big").await.body, b"new");
    assert_code(
        &anon(&s3, "GET", "/pub10/big").await,
        403,
        "AccessDenied",
        "after complete",
    );
}

#[tokio::test]
async fn a_put_reads_the_buckets_link_records_once_per_ttl_and_sees_a_new_link_at_once() {
    let (_emu, s3) = setup().await;
    make_bucket(&s3, "/pub11", &[]).await;
    assert_eq!(s3.put("/pub11/warm", b"x").await.status, 200);
    // Each PUT stores the object's attributes (one operation); the bucket's link records
    // (none) are known from the first PUT and not read again within the TTL.
    let before = s3_support::state_db_operations(&s3.gateway).await;
    for i in 0..10 {
        assert_eq!(s3.put(&format!("/pub11/k{i}"), b"x").await.status, 200);
    }
    let ops = s3_support::state_db_operations(&s3.gateway).await - before;
    assert!(ops <= 10.0, "{ops} state-DB operations for 10 PUTs");
    // A link made now is known to the next PUT of its key at once, which revokes it.
    let r = s3
        .call(
            "PUT",
            "/pub11/k0",
            &[("acl", "")],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon(&s3, "GET", "/pub11/k0").await.status, 200);
    assert_eq!(s3.put("/pub11/k0", b"new").await.status, 200);
    assert_code(
        &anon(&s3, "GET", "/pub11/k0").await,
        403,
        "AccessDenied",
        "after an overwrite",
    );
}
