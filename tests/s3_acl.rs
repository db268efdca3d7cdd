//! S3 ACLs as ScaiDrive ACL entries, through a gateway in `folders` mode in front of a separately
//! started emulator: grants by header, body and canned ACL; what cannot be represented is
//! refused; ScaiDrive enforces the result for the other user; Owner names are display names; a
//! refused CreateBucket ACL creates nothing.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use s3_support::{Resp, S3, client, xml_value, xml_values};
use scaidrive_gateway::config::{BucketMode, Config, StaticCredential};

/// Alice owns the share; Bob has no role, only READ on the share itself (not inherited), so he
/// sees the bucket names and nothing inside until a grant says so.
const SEED: &str = r#"
[tenant]
name = "Acl"

[[users]]
id = "usr_01ALICE"
email = "alice@example.com"
name = "Alice Liddell"
display_name = "Alice"

[[users]]
id = "usr_01BOB"
email = "bob@example.com"
name = "Bob Builder"
display_name = "Bob"

[[users]]
id = "usr_01CAROL"
email = "carol@example.com"
name = "Carol Contributor"
display_name = "Carol"

[[tokens]]
token = "carol-token"
user = "usr_01CAROL"

[[tokens]]
token = "alice-token"
user = "usr_01ALICE"

[[tokens]]
token = "bob-token"
user = "usr_01BOB"

[[shares]]
id = "shr_01S3"
name = "S3"
share_type = "central"
owner_id = "usr_01ALICE"
members = [ { principal = "usr_01ALICE", role = "owner" },
            { principal = "usr_01CAROL", role = "contributor" } ]
acl = [ { principal = "usr_01BOB", permissions = ["READ"], inherit_to_children = false } ]
"#;

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
    cfg.credentials = vec![
        cred("AKIAALICE", "alice-token"),
        cred("AKIABOB", "bob-token"),
        cred("AKIACAROL", "carol-token"),
    ];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    (emu, client(gateway, "AKIAALICE", "AKIAALICE-secret"))
}

async fn bob(
    s3: &S3,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    s3.call_as(
        "AKIABOB",
        "AKIABOB-secret",
        method,
        path,
        query,
        headers,
        body.to_vec(),
    )
    .await
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

/// (grantee id or URI, permission) pairs of an ACL document, in document order.
fn grants(xml: &str) -> Vec<(String, String)> {
    let list = xml.split("</AccessControlList>").next().unwrap_or_default();
    let ids = list
        .split("<Grant>")
        .skip(1)
        .map(|g| {
            xml_value(g, "ID")
                .or_else(|| xml_value(g, "URI"))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>();
    ids.into_iter()
        .zip(xml_values(list, "Permission"))
        .collect()
}

#[tokio::test]
async fn bucket_grants_become_scaidrive_entries_that_scaidrive_enforces() {
    let (emu, s3) = setup().await;
    assert_eq!(
        s3.call("PUT", "/bkt1", &[], &[], Vec::new()).await.status,
        200
    );
    assert_eq!(s3.put("/bkt1/dir/k.txt", b"alice's").await.status, 200);

    // Bob sees the bucket name but nothing inside.
    let r = bob(&s3, "GET", "/", &[], &[], b"").await;
    assert_eq!(xml_values(&r.text(), "Name"), ["bkt1"], "{}", r.text());
    assert_code(
        &bob(&s3, "GET", "/bkt1", &[("list-type", "2")], &[], b"").await,
        403,
        "AccessDenied",
        "list",
    );
    assert_code(
        &bob(&s3, "GET", "/bkt1/dir/k.txt", &[], &[], b"").await,
        403,
        "AccessDenied",
        "get",
    );
    // HEAD has no body to carry a code: the status says it.
    assert_eq!(bob(&s3, "HEAD", "/bkt1", &[], &[], b"").await.status, 403);

    // READ for Bob by header.
    let r = s3
        .call(
            "PUT",
            "/bkt1",
            &[("acl", "")],
            &[("x-amz-grant-read", "id=\"usr_01BOB\"")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call("GET", "/bkt1", &[("acl", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let acl = r.text();
    assert_eq!(
        grants(&acl),
        [
            ("usr_01BOB".to_owned(), "READ".to_owned()),
            ("usr_01ALICE".to_owned(), "FULL_CONTROL".to_owned())
        ],
        "{acl}"
    );
    assert_eq!(
        xml_values(&acl, "DisplayName"),
        ["Bob", "Alice", "Alice"],
        "{acl}"
    );
    let upstream: serde_json::Value = emu
        .get_as("alice-token", "/folders/root/children?share_id=shr_01S3")
        .await
        .json()
        .await
        .unwrap();
    let folder = upstream["items"][0]["id"].as_str().unwrap().to_owned();
    let entries: serde_json::Value = emu
        .get_as("alice-token", &format!("/permissions/acl/folder/{folder}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        entries["entries"][0]["principal_id"], "usr_01BOB",
        "{entries}"
    );
    assert_eq!(entries["entries"][0]["permissions"], 1, "{entries}");

    assert_eq!(bob(&s3, "HEAD", "/bkt1", &[], &[], b"").await.status, 200);
    let r = bob(&s3, "GET", "/bkt1", &[("list-type", "2")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_values(&r.text(), "Key"), ["dir/k.txt"]);
    assert_eq!(
        bob(&s3, "GET", "/bkt1/dir/k.txt", &[], &[], b"").await.body,
        b"alice's"
    );
    assert_code(
        &bob(&s3, "PUT", "/bkt1/bob.txt", &[], &[], b"bob's").await,
        403,
        "AccessDenied",
        "put",
    );
    // Reading the ACL needs MANAGE_PERMISSIONS.
    assert_code(
        &bob(&s3, "GET", "/bkt1", &[("acl", "")], &[], b"").await,
        403,
        "AccessDenied",
        "acl",
    );

    // WRITE by email: Bob may now create objects.
    let r = s3
        .call(
            "PUT",
            "/bkt1",
            &[("acl", "")],
            &[
                ("x-amz-grant-write", "emailAddress=\"bob@example.com\""),
                ("x-amz-grant-read", "id=\"usr_01BOB\""),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = bob(&s3, "PUT", "/bkt1/bob.txt", &[], &[], b"bob's").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Canned private removes the entries, and Bob's cached view does not outlive them.
    let r = s3
        .call(
            "PUT",
            "/bkt1",
            &[("acl", "")],
            &[("x-amz-acl", "private")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        grants(
            &s3.call("GET", "/bkt1", &[("acl", "")], &[], Vec::new())
                .await
                .text()
        )
        .len(),
        1
    );
    assert_code(
        &bob(&s3, "GET", "/bkt1", &[("list-type", "2")], &[], b"").await,
        403,
        "AccessDenied",
        "list after private",
    );
    assert_eq!(
        bob(&s3, "HEAD", "/bkt1/dir/k.txt", &[], &[], b"")
            .await
            .status,
        403
    );

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn unrepresentable_grants_are_refused_and_change_nothing() {
    let (emu, s3) = setup().await;
    assert_eq!(
        s3.call("PUT", "/bkt2", &[], &[], Vec::new()).await.status,
        200
    );
    let s3r = &s3;
    let put_acl = |h: &'static str, v: &'static str| async move {
        s3r.call("PUT", "/bkt2", &[("acl", "")], &[(h, v)], Vec::new())
            .await
    };
    // Anonymous writes are never granted (public reads are links: tests/s3_public.rs).
    assert_code(
        &put_acl("x-amz-acl", "public-read-write").await,
        501,
        "NotImplemented",
        "public-read-write",
    );
    assert_code(
        &put_acl("x-amz-grant-read-acp", "id=\"usr_01BOB\"").await,
        501,
        "NotImplemented",
        "READ_ACP alone",
    );
    assert_code(
        &put_acl("x-amz-grant-write-acp", "id=\"usr_01BOB\"").await,
        501,
        "NotImplemented",
        "WRITE_ACP alone",
    );
    assert_code(
        &put_acl(
            "x-amz-grant-write",
            "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
        )
        .await,
        501,
        "NotImplemented",
        "AllUsers WRITE",
    );
    assert_code(
        &put_acl("x-amz-grant-read", "id=\"usr_NOBODY\"").await,
        400,
        "InvalidArgument",
        "unknown id",
    );
    assert_code(
        &put_acl("x-amz-grant-read", "emailAddress=\"nobody@example.com\"").await,
        400,
        "UnresolvableGrantByEmailAddress",
        "unknown email",
    );
    // A bucket created with an unrepresentable grant is refused before it exists; one created
    // with canned public-read gets a public link (AllUsers READ besides the owner's grant).
    let r = s3
        .call(
            "PUT",
            "/bkt3",
            &[],
            &[("x-amz-grant-read-acp", "id=\"usr_01BOB\"")],
            Vec::new(),
        )
        .await;
    assert_code(&r, 501, "NotImplemented", "CreateBucket READ_ACP");
    let r = s3.call("GET", "/", &[], &[], Vec::new()).await;
    assert_eq!(xml_values(&r.text(), "Name"), ["bkt2"], "{}", r.text());
    let r = s3
        .call(
            "PUT",
            "/bkt5",
            &[],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        grants(
            &s3.call("GET", "/bkt5", &[("acl", "")], &[], Vec::new())
                .await
                .text()
        )
        .len(),
        2
    );
    assert_eq!(
        grants(
            &s3.call("GET", "/bkt2", &[("acl", "")], &[], Vec::new())
                .await
                .text()
        )
        .len(),
        1
    );

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn object_acls_from_put_headers_and_policy_bodies() {
    let (emu, s3) = setup().await;
    assert_eq!(
        s3.call("PUT", "/bkt4", &[], &[], Vec::new()).await.status,
        200
    );
    // authenticated-read on PutObject: every user of the tenant may read that object only.
    let r = s3
        .call(
            "PUT",
            "/bkt4/open.txt",
            &[],
            &[("x-amz-acl", "authenticated-read")],
            b"open".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s3.put("/bkt4/closed.txt", b"closed").await.status, 200);
    let r = s3
        .call("GET", "/bkt4/open.txt", &[("acl", "")], &[], Vec::new())
        .await;
    assert_eq!(
        grants(&r.text()),
        [
            (
                "http://acs.amazonaws.com/groups/global/AuthenticatedUsers".to_owned(),
                "READ".to_owned()
            ),
            ("usr_01ALICE".to_owned(), "FULL_CONTROL".to_owned())
        ],
        "{}",
        r.text()
    );
    // Bob reaches objects by listing the bucket: READ on it (inherited by what it holds).
    assert_code(
        &bob(&s3, "GET", "/bkt4/closed.txt", &[], &[], b"").await,
        403,
        "AccessDenied",
        "closed",
    );
    let r = s3
        .call(
            "PUT",
            "/bkt4",
            &[("acl", "")],
            &[("x-amz-grant-read", "id=\"usr_01BOB\"")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        bob(&s3, "GET", "/bkt4/open.txt", &[], &[], b"").await.body,
        b"open"
    );

    // An AccessControlPolicy body: FULL_CONTROL for Bob on closed.txt.
    let policy = r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>usr_01ALICE</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>usr_01ALICE</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>usr_01BOB</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
    let r = s3
        .call(
            "PUT",
            "/bkt4/closed.txt",
            &[("acl", "")],
            &[],
            policy.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = bob(&s3, "GET", "/bkt4/closed.txt", &[("acl", "")], &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let owner = r
        .text()
        .split("<Owner>")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        xml_value(&owner, "DisplayName").as_deref(),
        Some("Alice"),
        "{}",
        r.text()
    );
    // As in S3, writing objects takes WRITE on the bucket: FULL_CONTROL on an object is its
    // ACL, not an overwrite. Bob may change that ACL (and so drop his own grant).
    assert_code(
        &bob(&s3, "PUT", "/bkt4/closed.txt", &[], &[], b"b").await,
        403,
        "AccessDenied",
        "overwrite",
    );
    assert_code(
        &bob(&s3, "GET", "/bkt4/open.txt", &[("acl", "")], &[], b"").await,
        403,
        "AccessDenied",
        "other acl",
    );
    let r = bob(
        &s3,
        "PUT",
        "/bkt4/closed.txt",
        &[("acl", "")],
        &[("x-amz-acl", "private")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_code(
        &bob(&s3, "GET", "/bkt4/closed.txt", &[("acl", "")], &[], b"").await,
        403,
        "AccessDenied",
        "dropped",
    );
    assert_eq!(s3.get("/bkt4/closed.txt").await.body, b"closed");

    // Owners in listings carry the display name.
    let r = s3.call("GET", "/", &[], &[], Vec::new()).await;
    assert_eq!(
        xml_value(&r.text(), "DisplayName").as_deref(),
        Some("Alice"),
        "{}",
        r.text()
    );
    let r = s3
        .call(
            "GET",
            "/bkt4",
            &[("list-type", "2"), ("fetch-owner", "true")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(
        xml_values(&r.text(), "DisplayName"),
        ["Alice", "Alice"],
        "{}",
        r.text()
    );

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn create_bucket_with_an_acl_the_caller_may_not_set_creates_nothing() {
    let (emu, s3) = setup().await;
    async fn carol(s3: &S3, path: &str, acl: &str) -> Resp {
        s3.call_as(
            "AKIACAROL",
            "AKIACAROL-secret",
            "PUT",
            path,
            &[],
            &[("x-amz-acl", acl)],
            Vec::new(),
        )
        .await
    }
    // Carol (a contributor) may create folders but not change ACL entries.
    let r = carol(&s3, "/carol-shared", "authenticated-read").await;
    assert_code(
        &r,
        403,
        "AccessDenied",
        "CreateBucket with authenticated-read",
    );
    let names = emu.names_as("alice-token", "shr_01S3").await;
    assert!(
        !names.iter().any(|n| n.starts_with("carol-shared")),
        "a refused CreateBucket left {names:?}"
    );
    let r = s3
        .call_as(
            "AKIACAROL",
            "AKIACAROL-secret",
            "HEAD",
            "/carol-shared",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 404, "the refused bucket exists");

    // `private` (the default) needs no ACL change at all.
    let r = carol(&s3, "/carol-private", "private").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        emu.names_as("alice-token", "shr_01S3")
            .await
            .contains(&"carol-private".to_owned())
    );
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}
