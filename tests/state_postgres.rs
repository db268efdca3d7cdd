//! The gateway on a PostgreSQL state database (a throwaway cluster per test process): S3
//! through it, `/readyz` naming the backend and failing when PostgreSQL goes away, the
//! `credentials` commands with `--state-url`, and `state migrate` from SQLite.

#![allow(clippy::unwrap_used)]

mod s3_support;
#[path = "../src/state/testpg.rs"]
mod testpg;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use scaidrive_gateway::config::Config;
use scaidrive_gateway::state::{
    BucketConfig, BucketPolicy, ChunkedUpload, ConfigKind, MultipartPart, MultipartUpload,
    NewCredential, ObjectAttrs, PublicLink, StateDb, StateLocation, StateOptions, StoredAttrs,
    StoredLock, UploadChunk,
};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scaidrive-gateway");
const DEADLINE: Duration = Duration::from_secs(60);

fn base_config(dir: &Path, state_url: &str) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    cfg.s3.listen = any;
    cfg.webdav.listen = any;
    cfg.admin.listen = any;
    cfg.embedded.listen = any;
    let StateLocation::Postgres(url) = StateLocation::parse_state_url(state_url).unwrap() else {
        panic!("not a PostgreSQL URL")
    };
    cfg.state.url = Some(url);
    cfg
}

async fn pg(url: &str) -> StateDb {
    StateDb::connect(
        &StateLocation::parse_state_url(url).unwrap(),
        StateOptions::default(),
    )
    .await
    .unwrap()
}

/// Runs SQL on the cluster's `postgres` database (beside the test's own).
async fn admin_sql(url: &str, sql: &str) {
    let (base, _db) = url.rsplit_once('/').unwrap();
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    let task = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = task.await;
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_gateway_keeps_its_state_in_postgres_and_readyz_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = testpg::fresh_database_url().await;
    let gw = scaidrive_gateway::server::start_gateway(base_config(dir.path(), &url))
        .await
        .unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    let admin = format!("http://{}", gw.addrs().admin);
    let s3 = s3_support::client(gw, &cred.access_key_id, &cred.secret_access_key);

    // No SQLite file: the credential and the object's attributes are in PostgreSQL.
    assert!(!dir.path().join("gateway.db").exists());
    let put = s3
        .call(
            "PUT",
            "/documents/pg.txt",
            &[],
            &[("x-amz-meta-colour", "teal"), ("content-type", "text/x-pg")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let head = s3
        .call("HEAD", "/documents/pg.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-amz-meta-colour").as_deref(), Some("teal"));
    let db = pg(&url).await;
    assert!(
        db.get_credential(&cred.access_key_id)
            .await
            .unwrap()
            .is_some()
    );

    let (status, body) = get(&format!("{admin}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("state db: postgres"), "{body}");

    // PostgreSQL stops taking connections to this database and drops the open ones.
    let name = url.rsplit('/').next().unwrap();
    admin_sql(
        &url,
        &format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ),
    )
    .await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let body = loop {
        let (status, body) = get(&format!("{admin}/readyz")).await;
        if status == 503 {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("state db (postgres)"), "{body}");
    s3.gateway.shutdown().await;
}

async fn run(args: &[&str], data_dir: &Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("SCAIDRIVE_GATEWAY_STATE_URL")
        .env_remove("SCAIDRIVE_GATEWAY_CONFIG")
        .env_remove("SCAIDRIVE_URL")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("command timed out")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn credentials_commands_honour_state_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = testpg::fresh_database_url().await;
    let db = pg(&url).await;
    db.create_credential(NewCredential {
        access_key_id: Some("AKIAINPOSTGRES".to_owned()),
        secret_access_key: None,
        token: "tok".to_owned(),
        label: Some("pg".to_owned()),
        user_id: "usr_1".to_owned(),
    })
    .await
    .unwrap();
    let out = run(&["--state-url", &url, "credentials", "list"], dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("AKIAINPOSTGRES"),
        "{}",
        text(&out.stdout)
    );
    let out = run(
        &[
            "--state-url",
            &url,
            "credentials",
            "revoke",
            "AKIAINPOSTGRES",
        ],
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(db.list_credentials().await.unwrap().is_empty());
    assert!(!dir.path().join("gateway.db").exists());

    // A password in a URL that fails never reaches the output.
    let out = run(
        &[
            "--state-url",
            "postgres://gw:hunter2@127.0.0.1:1/nothing",
            "credentials",
            "list",
        ],
        dir.path(),
    )
    .await;
    assert!(!out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("hunter2"), "{all}");
    assert!(
        all.contains("postgres://gw:***@127.0.0.1:1/nothing"),
        "{all}"
    );
}

#[tokio::test]
async fn state_migrate_copies_every_row_from_sqlite_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("old/gateway.db");
    let url = testpg::fresh_database_url().await;
    {
        let src = StateDb::open(&sqlite_path).unwrap();
        for i in 0..3 {
            src.create_credential(NewCredential {
                access_key_id: Some(format!("AKIAMOVE{i}")),
                secret_access_key: Some(format!("secret-{i}")),
                token: format!("token-{i}"),
                label: None,
                user_id: "usr_1".to_owned(),
            })
            .await
            .unwrap();
        }
        for i in 0..5 {
            let mut attrs = ObjectAttrs {
                etag: format!("etag{i}"),
                ..Default::default()
            };
            attrs.dead_props.insert("{urn:x}p".into(), "<v/>".into());
            src.put_attrs(StoredAttrs {
                file_id: format!("fil_{i}"),
                size: 10 + i,
                modified_at: Some("2026-01-01T00:00:00Z".into()),
                version_id: None,
                sha256: None,
                attrs,
            })
            .await
            .unwrap();
        }
        src.create_upload(MultipartUpload {
            upload_id: "up1".into(),
            access_key_id: "AKIAMOVE0".into(),
            principal: "usr_1".into(),
            bucket: "documents".into(),
            key: "big.bin".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            attrs: "{}".into(),
        })
        .await
        .unwrap();
        for n in 1..=2 {
            src.put_part(
                "up1",
                MultipartPart {
                    part_number: n,
                    size: 5,
                    etag: format!("p{n}"),
                    checksums: "{}".into(),
                    spool_path: format!("/spool/{n}"),
                    created_at: "2026-01-01T00:00:00Z".into(),
                    file_id: None,
                },
            )
            .await
            .unwrap();
        }
        src.put_public_link(&PublicLink {
            link_id: "lnk_pub".into(),
            bucket: "documents".into(),
            key: "a.txt".into(),
            object: true,
            list: false,
            read: true,
            share_id: "shr_1".into(),
            resource_type: "file".into(),
            resource_id: "fil_0".into(),
            access_key_id: "AKIAMOVE0".into(),
            principal: "usr_1".into(),
            created_at: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
        })
        .await
        .unwrap();
        src.insert_lock(StoredLock {
            token: "opaquelocktoken:1".into(),
            path: "shr_1/a".into(),
            principal: "usr_1".into(),
            owner: Some("<D:href>me</D:href>".into()),
            deep: true,
            shared: false,
            timeout_at_ms: None,
        })
        .await
        .unwrap();
        src.put_bucket_config(BucketConfig {
            scope: "shr_1".into(),
            bucket: "documents".into(),
            kind: ConfigKind::Lifecycle,
            document: "<LifecycleConfiguration/>".into(),
            access_key_id: "AKIAMOVE0".into(),
            principal: "usr_1".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        })
        .await
        .unwrap();
        src.put_bucket_policy(&BucketPolicy {
            resource_id: "fld_b".into(),
            share_id: "shr_1".into(),
            policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            updated_by: "usr_1".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        })
        .await
        .unwrap();
        src.put_chunked_upload(&ChunkedUpload {
            principal: "usr_1".into(),
            upload: "rclone-chunked-upload-1".into(),
            destination: Some("Documents/big.bin".into()),
            total_length: Some(10 << 20),
            session_id: Some("ses_1".into()),
            chunk_size: 4 << 20,
            replace_file_id: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        })
        .await
        .unwrap();
        src.put_upload_chunk(
            "usr_1",
            "rclone-chunked-upload-1",
            &UploadChunk {
                name: "00001".into(),
                offset: Some(0),
                size: 8 << 20,
                created_at: "2026-01-01T00:00:01.000Z".into(),
                staged: Some(r#"{"pieces":[]}"#.into()),
            },
        )
        .await
        .unwrap();
    }
    let from = format!("sqlite://{}", sqlite_path.display());
    let args = ["state", "migrate", "--from", &from, "--to", &url];
    let out = run(&args, dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    for line in [
        "credentials: 3 copied",
        "object_attrs: 5 copied",
        "multipart_uploads: 1 copied",
        "multipart_parts: 2 copied",
        "webdav_locks: 1 copied",
        "bucket_configs: 1 copied",
        "bucket_policies: 1 copied",
        "public_links: 1 copied",
        "webdav_uploads: 1 copied",
        "webdav_upload_chunks: 1 copied",
    ] {
        assert!(printed.contains(line), "{line} missing from:\n{printed}");
    }

    let db = pg(&url).await;
    let cred = db.get_credential("AKIAMOVE2").await.unwrap().unwrap();
    assert_eq!(
        (cred.secret_access_key.as_str(), cred.token.as_str()),
        ("secret-2", "token-2")
    );
    let attrs = db
        .get_attrs_many((0..5).map(|i| format!("fil_{i}")).collect())
        .await
        .unwrap();
    assert_eq!(attrs.len(), 5);
    assert_eq!(attrs["fil_4"].size, 14);
    assert_eq!(attrs["fil_4"].attrs.dead_props["{urn:x}p"], "<v/>");
    let parts = db.list_parts("up1").await.unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|p| p.spool_path.as_str())
            .collect::<Vec<_>>(),
        ["/spool/1", "/spool/2"]
    );
    let lock = db
        .lock_by_token("opaquelocktoken:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock.owner.as_deref(), Some("<D:href>me</D:href>"));
    let cfg = db
        .get_bucket_config("shr_1", ConfigKind::Lifecycle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cfg.access_key_id, "AKIAMOVE0");
    let policy = db.get_bucket_policy("fld_b").await.unwrap().unwrap();
    assert_eq!(policy.share_id, "shr_1");
    let links = db.public_links("documents").await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (
            links[0].link_id.as_str(),
            links[0].key.as_str(),
            links[0].object
        ),
        ("lnk_pub", "a.txt", true)
    );
    let up = db
        .get_chunked_upload("usr_1", "rclone-chunked-upload-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(up.session_id.as_deref(), Some("ses_1"));
    assert_eq!(up.total_length, Some(10 << 20));
    let chunks = db
        .upload_chunks("usr_1", "rclone-chunked-upload-1")
        .await
        .unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!((chunks[0].offset, chunks[0].size), (Some(0), 8 << 20));
    assert_eq!(chunks[0].staged.as_deref(), Some(r#"{"pieces":[]}"#));

    // A target with data is refused; --force adds what is missing and keeps what is there.
    let out = run(&args, dir.path()).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    db.revoke_credential("AKIAMOVE1").await.unwrap();
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = run(&forced, dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("credentials: 1 copied, 2 already there (kept)"),
        "{printed}"
    );
    assert_eq!(db.list_credentials().await.unwrap().len(), 3);
}
