//! Two gateway instances in one process sharing a throwaway PostgreSQL and one emulator: a write
//! acknowledged by one is seen by the other at once (GET, HEAD, LIST, PROPFIND, tags, dead
//! properties, the bucket list), even when the other had the listing cached; each share's change
//! feed is followed by one instance, and another takes over when it stops; bucket configuration
//! (CORS, lifecycle) put through one is in force on the other, and a lifecycle pass runs on one
//! instance at a time.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;
#[path = "../src/state/testpg.rs"]
mod testpg;

use std::path::Path;
use std::time::Duration;

use s3_support::S3;
use scaidrive_gateway::config::Config;
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use scaidrive_gateway::state::{NewCredential, StateDb, StateLocation, StateOptions};

const AKID: &str = "AKIACLUSTERTEST00001";
const SECRET: &str = "cluster-test-secret-0000000000000000000";

/// One emulator, one PostgreSQL database, a credential in it, and a way to start instances.
struct Cluster {
    emu: emulator_support::Emu,
    url: String,
    dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    async fn new() -> Cluster {
        let emu = emulator_support::start().await;
        let url = testpg::fresh_database_url().await;
        let db = StateDb::connect(
            &StateLocation::parse_state_url(&url).unwrap(),
            StateOptions::default(),
        )
        .await
        .unwrap();
        let token = emu.emu.tokens()[0].clone();
        db.create_credential(NewCredential {
            access_key_id: Some(AKID.to_owned()),
            secret_access_key: Some(SECRET.to_owned()),
            token: token.token,
            label: None,
            user_id: token.user_id,
        })
        .await
        .unwrap();
        Cluster {
            emu,
            url,
            dirs: Vec::new(),
        }
    }

    /// Starts an instance; `feed_ms` is its change-feed interval.
    async fn instance(&mut self, feed_ms: u64) -> GatewayHandle {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &self.url, &self.emu.emu.url(), feed_ms);
        self.dirs.push(dir);
        start_gateway(cfg).await.unwrap()
    }

    /// Two instances (A, B) with S3 clients.
    async fn pair(&mut self) -> (S3, S3) {
        let a = self.instance(60_000).await;
        let b = self.instance(60_000).await;
        (s3(a), s3(b))
    }
}

fn config(dir: &Path, state_url: &str, upstream: &str, feed_ms: u64) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    cfg.s3.listen = any;
    cfg.webdav.listen = any;
    cfg.admin.listen = any;
    cfg.scaidrive.url = Some(upstream.to_owned());
    // Long enough that only coherence (not expiry) can make a write visible elsewhere.
    cfg.cache.ttl_secs = 120;
    cfg.cache.change_feed_interval_ms = feed_ms;
    let StateLocation::Postgres(url) = StateLocation::parse_state_url(state_url).unwrap() else {
        panic!("not a PostgreSQL URL")
    };
    cfg.state.url = Some(url);
    cfg.lifecycle.admin_run = true;
    cfg.lifecycle.pace_ms = 0;
    cfg
}

fn s3(gw: GatewayHandle) -> S3 {
    s3_support::client(gw, AKID, SECRET)
}

fn keys(s3_list: &s3_support::Resp) -> Vec<String> {
    s3_support::xml_values(&s3_list.text(), "Key")
}

async fn list(s3: &S3, prefix: &str) -> Vec<String> {
    let r = s3
        .call("GET", "/documents", &[("prefix", prefix)], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    keys(&r)
}

async fn head(s3: &S3, path: &str) -> u16 {
    s3.call("HEAD", path, &[], &[], Vec::new()).await.status
}

/// A WebDAV request to an instance.
fn dav(s3: &S3, method: &str, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}{path}", s3.gateway.addrs().webdav),
        )
        .basic_auth(AKID, Some(SECRET))
}

async fn propfind(s3: &S3, path: &str) -> String {
    let r = dav(s3, "PROPFIND", path)
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_put_through_one_instance_is_seen_through_another_at_once() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    // B caches the folder's listing first (the key is missing).
    assert!(list(&b, "put/").await.is_empty());
    assert_eq!(head(&b, "/documents/put/k.txt").await, 404);

    let put = a.put("/documents/put/k.txt", b"first").await;
    assert_eq!(put.status, 200, "{}", put.text());
    let got = b.get("/documents/put/k.txt").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"first");
    assert_eq!(head(&b, "/documents/put/k.txt").await, 200);
    assert_eq!(list(&b, "put/").await, ["put/k.txt"]);

    // An overwrite: the new body and ETag, not the cached ones.
    let put = a.put("/documents/put/k.txt", b"second, longer").await;
    let got = b.get("/documents/put/k.txt").await;
    assert_eq!(got.body, b"second, longer");
    assert_eq!(got.header("etag"), put.header("etag"));
}

#[tokio::test]
async fn a_delete_through_one_instance_leaves_no_ghost_on_another() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    assert_eq!(a.put("/documents/del/k.txt", b"x").await.status, 200);
    assert_eq!(head(&b, "/documents/del/k.txt").await, 200);
    assert_eq!(list(&b, "del/").await, ["del/k.txt"]);

    let del = a
        .call("DELETE", "/documents/del/k.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(head(&b, "/documents/del/k.txt").await, 404);
    assert_eq!(b.get("/documents/del/k.txt").await.status, 404);
    assert!(list(&b, "del/").await.is_empty());
}

#[tokio::test]
async fn a_webdav_move_through_one_instance_is_seen_through_another() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    assert_eq!(a.put("/documents/mv/old.txt", b"x").await.status, 200);
    let before = propfind(&b, "/Documents/mv/").await;
    assert!(before.contains("old.txt"), "{before}");

    let moved = dav(&a, "MOVE", "/Documents/mv/old.txt")
        .header(
            "Destination",
            format!("http://{}/Documents/mv/new.txt", a.gateway.addrs().webdav),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status().as_u16(), 201);
    let after = propfind(&b, "/Documents/mv/").await;
    assert!(
        after.contains("new.txt") && !after.contains("old.txt"),
        "{after}"
    );
    assert_eq!(head(&b, "/documents/mv/old.txt").await, 404);
    assert_eq!(head(&b, "/documents/mv/new.txt").await, 200);
}

#[tokio::test]
async fn metadata_written_through_one_instance_is_seen_through_another() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    assert_eq!(a.put("/documents/meta/k.txt", b"x").await.status, 200);
    // B reads (and keeps in memory) the tags and dead properties first.
    let tags = b
        .call(
            "GET",
            "/documents/meta/k.txt",
            &[("tagging", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(tags.status, 200);
    assert!(s3_support::xml_values(&tags.text(), "Key").is_empty());
    let props = |s3: &S3| {
        dav(s3, "PROPFIND", "/Documents/meta/k.txt")
            .header("Depth", "0")
            .body(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:prop><Z:color/></D:prop></D:propfind>"#)
            .send()
    };
    let before = props(&b).await.unwrap().text().await.unwrap();
    assert!(!before.contains("teal"), "{before}");

    let tagging =
        r#"<Tagging><TagSet><Tag><Key>colour</Key><Value>teal</Value></Tag></TagSet></Tagging>"#;
    let put = a
        .call(
            "PUT",
            "/documents/meta/k.txt",
            &[("tagging", "")],
            &[],
            tagging.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let tags = b
        .call(
            "GET",
            "/documents/meta/k.txt",
            &[("tagging", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(s3_support::xml_values(&tags.text(), "Key"), ["colour"]);

    let patch = dav(&a, "PROPPATCH", "/Documents/meta/k.txt")
        .body(r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop><Z:color>teal</Z:color></D:prop></D:set></D:propertyupdate>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status().as_u16(), 207);
    let after = props(&b).await.unwrap().text().await.unwrap();
    assert!(after.contains("teal"), "{after}");
}

async fn buckets(s3: &S3) -> Vec<String> {
    let r = s3.call("GET", "/", &[], &[], Vec::new()).await;
    assert_eq!(r.status, 200);
    s3_support::xml_values(&r.text(), "Name")
}

#[tokio::test]
async fn a_bucket_created_through_one_instance_is_listed_by_another() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    assert!(!buckets(&b).await.contains(&"fresh-bucket".to_owned()));
    assert_eq!(
        a.call("PUT", "/fresh-bucket", &[], &[], Vec::new())
            .await
            .status,
        200
    );
    assert!(buckets(&b).await.contains(&"fresh-bucket".to_owned()));
    assert_eq!(
        a.call("DELETE", "/fresh-bucket", &[], &[], Vec::new())
            .await
            .status,
        204
    );
    assert!(!buckets(&b).await.contains(&"fresh-bucket".to_owned()));
}

/// `/metrics` of an instance.
async fn metrics(gw: &GatewayHandle) -> String {
    reqwest::get(format!("http://{}/metrics", gw.addrs().admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Change-feed polls an instance has made (any status).
async fn feed_polls(gw: &GatewayHandle) -> u64 {
    metrics(gw)
        .await
        .lines()
        .filter(|l| {
            l.starts_with("scaidrive_gateway_upstream_requests_total")
                && l.contains("/sync/changes")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Uploads a file into the root of the emulator user's `Documents` share directly (not through
/// a gateway).
async fn upload_directly(emu: &emulator_support::Emu, name: &str) {
    let shares: serde_json::Value = emu
        .http
        .get(emu.api("/users/me/shares"))
        .bearer_auth(&emu.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let share = shares["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Documents")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = reqwest::multipart::Form::new()
        .text("share_id", share)
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"direct".to_vec()).file_name(name.to_owned()),
        );
    let r = emu
        .http
        .post(emu.api("/files"))
        .bearer_auth(&emu.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Lists the bucket through `s3` until `key` shows up; how long that took.
async fn seen_within(s3: &S3, key: &str, limit: Duration) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        if list(s3, "").await.iter().any(|k| k == key) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{key} not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_instance_follows_a_shares_feed_and_another_takes_over_when_it_stops() {
    let mut c = Cluster::new().await;
    let a = s3(c.instance(200).await);
    let b = s3(c.instance(200).await);
    // Both use the share: both would follow its feed.
    list(&a, "").await;
    list(&b, "").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while feed_polls(&a.gateway).await + feed_polls(&b.gateway).await < 10 {
        assert!(tokio::time::Instant::now() < deadline, "no feed polls");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (pa, pb) = (feed_polls(&a.gateway).await, feed_polls(&b.gateway).await);
    assert!(
        pa == 0 || pb == 0,
        "both instances poll the feed: {pa} and {pb}"
    );
    let (leader, survivor) = if pa > 0 { (a, b) } else { (b, a) };
    assert!(
        metrics(&leader.gateway)
            .await
            .contains("scaidrive_gateway_feed_leaderships 1")
    );

    // The survivor has the listing cached; the leader stops; a write made directly in
    // ScaiDrive is seen through the survivor within a few seconds.
    list(&survivor, "").await;
    leader.gateway.shutdown().await;
    upload_directly(&c.emu, "direct.txt").await;
    let took = seen_within(&survivor, "direct.txt", Duration::from_secs(5)).await;
    // The survivor polls the feed now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while feed_polls(&survivor.gateway).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no takeover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("direct write seen through the survivor after {took:?}");
}

#[tokio::test]
async fn the_multipart_clean_up_runs_on_one_instance_at_a_time() {
    let mut c = Cluster::new().await;
    // Another instance is sweeping right now.
    let other = StateDb::connect(
        &StateLocation::parse_state_url(&c.url).unwrap(),
        StateOptions::default(),
    )
    .await
    .unwrap();
    let lease = other
        .try_cluster_lock("multipart clean-up")
        .await
        .unwrap()
        .unwrap();
    other
        .create_upload(scaidrive_gateway::state::MultipartUpload {
            upload_id: "abandoned-1".to_owned(),
            access_key_id: AKID.to_owned(),
            principal: "usr_x".to_owned(),
            bucket: "documents".to_owned(),
            key: "old.bin".to_owned(),
            created_at: "2000-01-01T00:00:00.000Z".to_owned(),
            attrs: "{}".to_owned(),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &c.url, &c.emu.emu.url(), 60_000);
    // Rounds every second.
    cfg.s3.multipart_max_age_secs = 1;
    c.dirs.push(dir);
    let gw = start_gateway(cfg).await.unwrap();
    // A few rounds pass while the other instance holds the lock: the upload is left to it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(other.get_upload("abandoned-1").await.unwrap().is_some());
    // Released: this instance sweeps.
    other.release_cluster_lock(lease).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while other.get_upload("abandoned-1").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.shutdown().await;
}

/// The value of one metrics series (first line starting with `series`).
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Upstream calls an instance has made whose endpoint contains `needle`.
async fn upstream_calls(gw: &GatewayHandle, needle: &str) -> u64 {
    metrics(gw)
        .await
        .lines()
        .filter(|l| {
            l.starts_with("scaidrive_gateway_upstream_requests_total") && l.contains(needle)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn writes_through_one_instance_patch_the_others_cache_without_asking_scaidrive_again() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    // B caches the folder's listing (and the share list) first.
    assert_eq!(a.put("/documents/eco/seed", b"").await.status, 200);
    assert_eq!(list(&b, "eco/").await, ["eco/seed"]);
    assert_eq!(head(&b, "/documents/eco/k0.txt").await, 404);
    let listings = upstream_calls(&b.gateway, "/children").await;
    let shares = upstream_calls(&b.gateway, "/users/me/shares").await;
    for i in 0..5 {
        let key = format!("/documents/eco/k{i}.txt");
        assert_eq!(
            a.put(&key, format!("body {i}").as_bytes()).await.status,
            200
        );
        assert_eq!(head(&b, &key).await, 200);
        assert_eq!(b.get(&key).await.body, format!("body {i}").as_bytes());
    }
    assert_eq!(list(&b, "eco/").await.len(), 6);
    let del = a
        .call("DELETE", "/documents/eco/k0.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(head(&b, "/documents/eco/k0.txt").await, 404);
    assert_eq!(list(&b, "eco/").await.len(), 5);
    // A's writes reached B as the same patches A made: no listing fetched again.
    assert_eq!(upstream_calls(&b.gateway, "/children").await, listings);
    assert_eq!(upstream_calls(&b.gateway, "/users/me/shares").await, shares);
    let text = metrics(&b.gateway).await;
    assert!(
        series(&text, "scaidrive_gateway_changes_received_total").unwrap_or(0.0) >= 6.0,
        "{text}"
    );
    assert_eq!(
        series(&text, "scaidrive_gateway_invalidations_received_total"),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_show_the_state_db_and_the_changes_received() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    list(&b, "").await;
    assert_eq!(a.put("/documents/m.txt", b"x").await.status, 200);
    list(&b, "").await;
    let text = metrics(&b.gateway).await;
    assert!(
        series(&text, "scaidrive_gateway_changes_received_total").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        series(
            &text,
            "scaidrive_gateway_state_db_operations_total{backend=\"postgres\"}"
        )
        .unwrap_or(0.0)
            > 0.0,
        "{text}"
    );
    assert!(
        series(
            &text,
            "scaidrive_gateway_state_db_pool_connections{state=\"open\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    assert!(
        series(
            &text,
            "scaidrive_gateway_state_db_pool_connections{state=\"in_use\"}"
        )
        .is_some()
    );
    assert!(series(&text, "scaidrive_gateway_feed_leaderships").is_some());
}

/// `POST /lifecycle/run?now=…` on an instance's admin listener: status and body.
async fn lifecycle_run(gw: &GatewayHandle, now: chrono::DateTime<chrono::Utc>) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://{}/lifecycle/run", gw.addrs().admin))
        .query(&[(
            "now",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn bucket_configuration_put_through_one_instance_is_in_force_on_the_other() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    let preflight = |s3: &S3| {
        reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/documents/x.txt", s3.endpoint),
            )
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "PUT")
            .send()
    };
    assert_eq!(preflight(&b).await.unwrap().status(), 403);
    let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>\
        <AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>";
    let put = a
        .call(
            "PUT",
            "/documents",
            &[("cors", "")],
            &[],
            cors.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(preflight(&b).await.unwrap().status(), 200);
    let del = a
        .call("DELETE", "/documents", &[("cors", "")], &[], Vec::new())
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(preflight(&b).await.unwrap().status(), 403);

    // Lifecycle: put through A, read and applied through B, one pass at a time.
    assert_eq!(a.put("/documents/lc-old.txt", b"x").await.status, 200);
    let rule = "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>lc-</Prefix></Filter>\
        <Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    let put = a
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            rule.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let got = b
        .call("GET", "/documents", &[("lifecycle", "")], &[], Vec::new())
        .await;
    assert_eq!(s3_support::xml_values(&got.text(), "ID"), ["r"]);
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    // While another holder has the cluster's lifecycle lock, no instance runs a pass.
    let other = StateDb::connect(
        &StateLocation::parse_state_url(&c.url).unwrap(),
        StateOptions::default(),
    )
    .await
    .unwrap();
    let lease = other.try_cluster_lock("lifecycle").await.unwrap().unwrap();
    assert_eq!(lifecycle_run(&b.gateway, later).await.0, 409);
    assert_eq!(a.get("/documents/lc-old.txt").await.status, 200);
    other.release_cluster_lock(lease).await;
    let (status, body) = lifecycle_run(&b.gateway, later).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"expired\":1"), "{body}");
    assert_eq!(a.get("/documents/lc-old.txt").await.status, 404);
    let (_, body) = lifecycle_run(&a.gateway, later).await;
    assert!(body.contains("\"expired\":0"), "{body}");
}

#[tokio::test]
async fn a_public_link_made_through_one_instance_is_revoked_by_an_overwrite_through_the_other() {
    let mut c = Cluster::new().await;
    let (a, b) = c.pair().await;
    let anon_get = |s3: &S3, path: &str| {
        reqwest::Client::new()
            .get(format!("{}{path}", s3.endpoint))
            .send()
    };
    // B knows the bucket has no public links (its PUT read the records).
    assert_eq!(b.put("/documents/pl/seed", b"x").await.status, 200);
    assert_eq!(a.put("/documents/pl/k", b"old").await.status, 200);
    let r = a
        .call(
            "PUT",
            "/documents/pl/k",
            &[("acl", "")],
            &[("x-amz-acl", "public-read")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anon_get(&b, "/documents/pl/k").await.unwrap().status(), 200);
    // An overwrite through B makes the object private at once, on every instance.
    assert_eq!(b.put("/documents/pl/k", b"new").await.status, 200);
    assert_eq!(anon_get(&a, "/documents/pl/k").await.unwrap().status(), 403);
    assert_eq!(anon_get(&b, "/documents/pl/k").await.unwrap().status(), 403);
}

/// Waits until `gw`'s `scaidrive_gateway_cluster_alone` gauge is `want` (at most 15 s).
async fn until_alone(gw: &GatewayHandle, want: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let alone = series(&metrics(gw).await, "scaidrive_gateway_cluster_alone");
        if alone == Some(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cluster_alone is {alone:?}, not {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn state_db_operations(gw: &GatewayHandle) -> f64 {
    series(
        &metrics(gw).await,
        "scaidrive_gateway_state_db_operations_total{backend=\"postgres\"}",
    )
    .unwrap()
}

/// State-DB operations of 20 GETs and 20 HEADs through `s3`.
async fn read_operations(s3: &S3) -> f64 {
    let before = state_db_operations(&s3.gateway).await;
    for _ in 0..20 {
        assert_eq!(s3.get("/documents/solo/k").await.body, b"body");
        assert_eq!(head(s3, "/documents/solo/k").await, 200);
    }
    state_db_operations(&s3.gateway).await - before
}

#[tokio::test]
async fn an_instance_alone_on_the_database_reads_without_a_check_per_request() {
    let mut c = Cluster::new().await;
    let a = s3(c.instance(60_000).await);
    assert_eq!(a.put("/documents/solo/k", b"body").await.status, 200);
    until_alone(&a.gateway, 1.0).await;
    assert_eq!(a.get("/documents/solo/k").await.body, b"body");
    let alone = read_operations(&a).await;
    // With another instance, each of the 40 requests checks the share's generation first.
    let _b = c.instance(60_000).await;
    until_alone(&a.gateway, 0.0).await;
    let shared = read_operations(&a).await;
    assert!(
        alone + 30.0 <= shared,
        "state-DB operations of 40 reads: {alone} alone, {shared} with another instance"
    );
}

#[tokio::test]
async fn an_instance_joining_ends_the_first_ones_solo_before_it_serves_and_leaving_restores_it() {
    let mut c = Cluster::new().await;
    let a = s3(c.instance(60_000).await);
    assert_eq!(a.put("/documents/jn/seed", b"").await.status, 200);
    until_alone(&a.gateway, 1.0).await;
    assert_eq!(list(&a, "jn/").await, ["jn/seed"]);
    // B is ready only once A checks its caches again.
    let b = s3(c.instance(60_000).await);
    assert_eq!(
        series(
            &metrics(&a.gateway).await,
            "scaidrive_gateway_cluster_alone"
        ),
        Some(0.0)
    );
    assert_eq!(b.put("/documents/jn/k1", b"one").await.status, 200);
    assert_eq!(list(&a, "jn/").await, ["jn/k1", "jn/seed"]);
    assert_eq!(a.get("/documents/jn/k1").await.body, b"one");
    // B writes and leaves; A, alone again, has applied B's last write before trusting its
    // caches unchecked.
    assert_eq!(b.put("/documents/jn/k2", b"two").await.status, 200);
    let S3 { gateway, .. } = b;
    gateway.shutdown().await;
    until_alone(&a.gateway, 1.0).await;
    assert_eq!(list(&a, "jn/").await, ["jn/k1", "jn/k2", "jn/seed"]);
    assert_eq!(a.get("/documents/jn/k2").await.body, b"two");
}
