//! Bucket policies through the real gateway and emulator: Put/Get/DeleteBucketPolicy and
//! GetBucketPolicyStatus (who may, how a bad policy is refused), and their evaluation on every
//! request (an explicit Deny refuses, an Allow never widens past ScaiDrive's permissions).

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use s3_support::{S3, client, xml_value};
use scaidrive_gateway::config::{Config, StaticCredential};

fn cred(key: &str, token: &str) -> StaticCredential {
    StaticCredential {
        access_key_id: key.to_owned(),
        secret_access_key: format!("{key}-secret"),
        token: token.to_owned(),
    }
}

/// Signs as the reader of share `Team`.
struct Reader<'a>(&'a S3);

impl Reader<'_> {
    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> s3_support::Resp {
        self.0
            .call_as(
                "AKIAREADER",
                "AKIAREADER-secret",
                method,
                path,
                query,
                &[],
                body,
            )
            .await
    }
}

/// The owner and a reader of share `Team` (bucket `team`), through one gateway.
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
    let owner = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");
    for key in ["/team/keep/a.txt", "/team/other.txt"] {
        let r = owner.put(key, b"body").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    (emu, owner)
}

async fn put_policy(s3: &S3, policy: &str) -> s3_support::Resp {
    s3.call(
        "PUT",
        "/team",
        &[("policy", "")],
        &[],
        policy.as_bytes().to_vec(),
    )
    .await
}

async fn get_policy(s3: &S3) -> s3_support::Resp {
    s3.call("GET", "/team", &[("policy", "")], &[], Vec::new())
        .await
}

fn code(r: &s3_support::Resp) -> Option<String> {
    xml_value(&r.text(), "Code")
}

fn statement(effect: &str, principal: &str, action: &str, resource: &str, cond: &str) -> String {
    let cond = match cond {
        "" => String::new(),
        c => format!(r#","Condition":{c}"#),
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Principal":{principal},"Action":"{action}","Resource":{resource}{cond}}}]}}"#
    )
}

#[tokio::test]
async fn a_policy_is_put_read_back_as_sent_and_deleted() {
    let (_emu, owner) = setup().await;
    let r = get_policy(&owner).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(code(&r).as_deref(), Some("NoSuchBucketPolicy"));

    let policy = statement(
        "Allow",
        r#"{"AWS":"*"}"#,
        "s3:ListBucket",
        r#"["arn:aws:s3:::team","arn:aws:s3:::team/*"]"#,
        "",
    );
    let r = put_policy(&owner, &policy).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = get_policy(&owner).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), policy);
    let r = owner
        .call("GET", "/team", &[("policyStatus", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_value(&r.text(), "IsPublic").as_deref(), Some("true"));

    let r = owner
        .call("DELETE", "/team", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get_policy(&owner).await.status, 404);
    let r = owner
        .call("GET", "/team", &[("policyStatus", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_value(&r.text(), "IsPublic").as_deref(), Some("false"));
    // Deleting again is still 204, as S3 answers.
    let r = owner
        .call("DELETE", "/team", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn bad_policies_are_malformed_policy_and_nothing_is_stored() {
    let (_emu, owner) = setup().await;
    for (policy, says) in [
        ("{not json".to_owned(), "valid JSON"),
        (
            r#"{"Version":"2001-01-01","Statement":[]}"#.to_owned(),
            "version",
        ),
        (
            statement(
                "Perhaps",
                r#""*""#,
                "s3:GetObject",
                r#""arn:aws:s3:::team/*""#,
                "",
            ),
            "effect",
        ),
        (
            statement(
                "Allow",
                r#""*""#,
                "s3:GetObject",
                r#""arn:aws:s3:::elsewhere/*""#,
                "",
            ),
            "does not name bucket team",
        ),
        (
            statement(
                "Deny",
                r#""*""#,
                "s3:GetObject",
                r#""arn:aws:s3:::team/*""#,
                r#"{"IpAddrezz":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            ),
            "Condition type",
        ),
    ] {
        let r = put_policy(&owner, &policy).await;
        assert_eq!(r.status, 400, "{policy}: {}", r.text());
        assert_eq!(code(&r).as_deref(), Some("MalformedPolicy"), "{policy}");
        assert!(
            xml_value(&r.text(), "Message").unwrap().contains(says),
            "{policy}: {}",
            r.text()
        );
    }
    // A key the gateway cannot evaluate is refused rather than silently never matching.
    let r = put_policy(
        &owner,
        &statement(
            "Deny",
            r#""*""#,
            "s3:GetObject",
            r#""arn:aws:s3:::team/*""#,
            r#"{"StringEquals":{"s3:RequestObjectTag/level":"secret"}}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 501, "{}", r.text());
    assert_eq!(code(&r).as_deref(), Some("NotImplemented"));
    assert_eq!(get_policy(&owner).await.status, 404);
}

#[tokio::test]
async fn only_who_manages_the_share_reads_or_changes_its_policy() {
    let (_emu, owner) = setup().await;
    let reader = Reader(&owner);
    let policy = statement(
        "Deny",
        r#""*""#,
        "s3:DeleteObject",
        r#""arn:aws:s3:::team/keep/*""#,
        "",
    );
    let r = reader
        .call(
            "PUT",
            "/team",
            &[("policy", "")],
            policy.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(code(&r).as_deref(), Some("AccessDenied"));
    assert_eq!(put_policy(&owner, &policy).await.status, 204);
    let r = reader
        .call("GET", "/team", &[("policy", "")], Vec::new())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = reader
        .call("DELETE", "/team", &[("policy", "")], Vec::new())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(get_policy(&owner).await.status, 200);
}

#[tokio::test]
async fn a_deny_on_a_prefix_refuses_deletes_there_only() {
    let (_emu, owner) = setup().await;
    let policy = statement(
        "Deny",
        r#""*""#,
        "s3:DeleteObject",
        r#""arn:aws:s3:::team/keep/*""#,
        "",
    );
    assert_eq!(put_policy(&owner, &policy).await.status, 204);

    let r = owner
        .call("DELETE", "/team/keep/a.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(code(&r).as_deref(), Some("AccessDenied"));
    assert!(r.text().contains("bucket policy"), "{}", r.text());
    // DeleteObjects naming a denied key deletes nothing.
    let body = b"<Delete><Object><Key>other.txt</Key></Object><Object><Key>keep/a.txt</Key></Object></Delete>";
    let r = owner
        .call("POST", "/team", &[("delete", "")], &[], body.to_vec())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(owner.get("/team/keep/a.txt").await.status, 200);
    assert_eq!(owner.get("/team/other.txt").await.status, 200);
    // Reads are untouched; deletes elsewhere go through.
    let r = owner
        .call("DELETE", "/team/other.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    // The owner can always take the policy away again.
    let r = owner
        .call("DELETE", "/team", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = owner
        .call("DELETE", "/team/keep/a.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn a_deny_for_one_user_leaves_the_others_and_an_allow_never_widens() {
    let (_emu, owner) = setup().await;
    let reader = Reader(&owner);
    assert_eq!(
        reader
            .call("GET", "/team/other.txt", &[], Vec::new())
            .await
            .status,
        200
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::usr_01READER:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::team/*"},
        {"Effect":"Allow","Principal":{"AWS":"usr_01READER"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::team/*"}]}"#;
    assert_eq!(put_policy(&owner, policy).await.status, 204);
    let r = reader.call("GET", "/team/other.txt", &[], Vec::new()).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(owner.get("/team/other.txt").await.status, 200);
    // ScaiDrive gives the reader a read-only role: the policy's Allow changes nothing.
    let r = reader
        .call("PUT", "/team/new.txt", &[], b"x".to_vec())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!r.text().contains("bucket policy"), "{}", r.text());
    // Listing is not GetObject: still allowed.
    let r = reader
        .call("GET", "/team", &[("list-type", "2")], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn conditions_on_transport_address_and_prefix_are_evaluated() {
    let (_emu, owner) = setup().await;
    // Plain HTTP here: a Deny unless aws:SecureTransport refuses everything but the policy's
    // own operations, which the owner keeps.
    let tls_only = statement(
        "Deny",
        r#""*""#,
        "s3:*",
        r#"["arn:aws:s3:::team","arn:aws:s3:::team/*"]"#,
        r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
    );
    assert_eq!(put_policy(&owner, &tls_only).await.status, 204);
    assert_eq!(owner.get("/team/other.txt").await.status, 403);
    assert_eq!(get_policy(&owner).await.status, 200);

    // The client is 127.0.0.1: a Deny outside 10.0.0.0/8 applies, one outside 127/8 does not.
    let outside = |net: &str| {
        statement(
            "Deny",
            r#""*""#,
            "s3:GetObject",
            r#""arn:aws:s3:::team/*""#,
            &format!(r#"{{"NotIpAddress":{{"aws:SourceIp":"{net}"}}}}"#),
        )
    };
    assert_eq!(put_policy(&owner, &outside("10.0.0.0/8")).await.status, 204);
    assert_eq!(owner.get("/team/other.txt").await.status, 403);
    assert_eq!(
        put_policy(&owner, &outside("127.0.0.0/8")).await.status,
        204
    );
    assert_eq!(owner.get("/team/other.txt").await.status, 200);

    // s3:prefix: listing under keep/ is refused, elsewhere allowed.
    let prefix = statement(
        "Deny",
        r#""*""#,
        "s3:ListBucket",
        r#""arn:aws:s3:::team""#,
        r#"{"StringLike":{"s3:prefix":"keep/*"}}"#,
    );
    assert_eq!(put_policy(&owner, &prefix).await.status, 204);
    let r = owner
        .call(
            "GET",
            "/team",
            &[("list-type", "2"), ("prefix", "keep/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = owner
        .call(
            "GET",
            "/team",
            &[("list-type", "2"), ("prefix", "other")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // s3:x-amz-acl: a canned ACL header matching public* is refused on PutObject.
    let acl = statement(
        "Deny",
        r#""*""#,
        "s3:PutObject",
        r#""arn:aws:s3:::team/*""#,
        r#"{"StringLike":{"s3:x-amz-acl":"public*"}}"#,
    );
    assert_eq!(put_policy(&owner, &acl).await.status, 204);
    let r = owner
        .call(
            "PUT",
            "/team/p.txt",
            &[],
            &[("x-amz-acl", "public-read")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("bucket policy"), "{}", r.text());
    assert_eq!(owner.put("/team/p.txt", b"x").await.status, 200);
}

#[tokio::test]
async fn in_folders_mode_a_deleted_bucket_takes_its_policy_along() {
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
    cfg.s3.bucket_mode = scaidrive_gateway::config::BucketMode::Folders;
    cfg.s3.folders_share = Some("shr_01TEAM".to_owned());
    cfg.credentials = vec![cred("AKIAOWNER", "owner-token")];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let owner = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");
    assert_eq!(
        owner
            .call("PUT", "/bkt-one", &[], &[], Vec::new())
            .await
            .status,
        200
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt-one/*"}]}"#;
    let r = owner
        .call(
            "PUT",
            "/bkt-one",
            &[("policy", "")],
            &[],
            policy.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(owner.put("/bkt-one/k", b"x").await.status, 200);
    assert_eq!(owner.get("/bkt-one/k").await.status, 403);
    // Another bucket of the same share is not covered.
    assert_eq!(
        owner
            .call("PUT", "/bkt-two", &[], &[], Vec::new())
            .await
            .status,
        200
    );
    assert_eq!(owner.put("/bkt-two/k", b"x").await.status, 200);
    assert_eq!(owner.get("/bkt-two/k").await.status, 200);

    let r = owner
        .call("DELETE", "/bkt-one/k", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = owner.call("DELETE", "/bkt-one", &[], &[], Vec::new()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    // The row went with the bucket, and a new bucket of that name starts without a policy.
    assert_eq!(
        owner
            .call("PUT", "/bkt-one", &[], &[], Vec::new())
            .await
            .status,
        200
    );
    let r = owner
        .call("GET", "/bkt-one", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(owner.put("/bkt-one/k", b"x").await.status, 200);
    assert_eq!(owner.get("/bkt-one/k").await.status, 200);
    let db = rusqlite::Connection::open(gw_dir.path().join("gateway.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM bucket_policies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn a_deny_on_an_existing_object_tag_refuses_the_tagged_objects() {
    let (_emu, owner) = setup().await;
    let r = owner
        .call(
            "PUT",
            "/team/secret.txt",
            &[],
            &[("x-amz-tagging", "level=secret")],
            b"s".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let policy = statement(
        "Deny",
        r#""*""#,
        "s3:GetObject",
        r#""arn:aws:s3:::team/*""#,
        r#"{"StringEquals":{"s3:ExistingObjectTag/level":"secret"}}"#,
    );
    assert_eq!(put_policy(&owner, &policy).await.status, 204);
    let r = owner.get("/team/secret.txt").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(owner.get("/team/other.txt").await.status, 200);
    // Retagged, it is readable again.
    let tagging =
        b"<Tagging><TagSet><Tag><Key>level</Key><Value>open</Value></Tag></TagSet></Tagging>";
    let r = owner
        .call(
            "PUT",
            "/team/secret.txt",
            &[("tagging", "")],
            &[],
            tagging.to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(owner.get("/team/secret.txt").await.status, 200);
}

#[tokio::test]
async fn an_allow_for_everyone_to_read_opens_a_public_link_and_deleting_it_closes_it() {
    let (_emu, owner) = setup().await;
    let anon = |path: &'static str| {
        let url = format!("{}{path}", owner.endpoint);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(anon("/team/other.txt").await, 403);
    let policy = statement(
        "Allow",
        r#""*""#,
        "s3:GetObject",
        r#""arn:aws:s3:::team/*""#,
        "",
    );
    let r = put_policy(&owner, &policy).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(anon("/team/other.txt").await, 200);
    // Reading is all it opens.
    assert_eq!(anon("/team?list-type=2").await, 403);
    let r = owner
        .call("DELETE", "/team", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(anon("/team/other.txt").await, 403);
    // With a condition a link cannot enforce, nothing is opened.
    let conditional = statement(
        "Allow",
        r#""*""#,
        "s3:GetObject",
        r#""arn:aws:s3:::team/*""#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    );
    assert_eq!(put_policy(&owner, &conditional).await.status, 204);
    assert_eq!(anon("/team/other.txt").await, 403);
}

#[tokio::test]
async fn a_deny_wins_over_a_public_link_for_anonymous_reads() {
    let (_emu, owner) = setup().await;
    let anon = |path: &'static str| {
        let url = format!("{}{path}", owner.endpoint);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    for key in ["/team/keep/a.txt", "/team/other.txt"] {
        let r = owner
            .call(
                "PUT",
                key,
                &[("acl", "")],
                &[("x-amz-acl", "public-read")],
                Vec::new(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(anon("/team/keep/a.txt").await, 200);
    let deny = statement(
        "Deny",
        r#""*""#,
        "s3:GetObject",
        r#""arn:aws:s3:::team/keep/*""#,
        "",
    );
    let r = put_policy(&owner, &deny).await;
    assert_eq!(r.status, 204, "{}", r.text());
    // The link of keep/a.txt is still active in ScaiDrive; the policy's Deny wins over it.
    assert_eq!(anon("/team/keep/a.txt").await, 403);
    assert_eq!(anon("/team/other.txt").await, 200);
    let r = owner
        .call("DELETE", "/team", &[("policy", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(anon("/team/keep/a.txt").await, 200);
}
