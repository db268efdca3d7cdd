//! The metadata cache against the real emulator over TCP, counted with the gateway's own upstream
//! counters (`/metrics` on the admin listener): warm lookups cost nothing, a cold lookup one
//! listing per uncached folder, a 10,000-entry folder one listing per protocol, writes through
//! the gateway update the cached listing in place (no listing again after every file), writes
//! made elsewhere become visible through the change feed, and `cache.enabled = false` sends every
//! lookup upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3_support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use md5::Digest as _;
use s3_support::{S3, Upstream, xml_value, xml_values};
use scaidrive_gateway::config::{Config, StaticCredential};

const FOLDER: (&str, &str) = ("GET", "/api/v1/folders/{id}");
const LISTING: (&str, &str) = ("GET", "/api/v1/folders/{id}/children");
const FEED: (&str, &str) = ("GET", "/api/v1/sync/changes");
const UPLOAD: (&str, &str) = ("POST", "/api/v1/files");
const CHECK: (&str, &str) = ("POST", "/api/v1/permissions/check/batch");

/// Upstream calls by (method, endpoint), all statuses together.
#[derive(Debug, Clone, Default)]
struct Calls(HashMap<(String, String), u64>);

impl Calls {
    async fn read(admin: &str) -> Calls {
        let text = reqwest::get(format!("{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut out = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("scaidrive_gateway_upstream_requests_total{") else {
                continue;
            };
            let label = |name: &str| {
                let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                rest[start..start + rest[start..].find('"').unwrap()].to_owned()
            };
            let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            *out.entry((label("method"), label("endpoint"))).or_insert(0) += n;
        }
        Calls(out)
    }

    fn since(&self, before: &Calls) -> Calls {
        Calls(
            self.0
                .iter()
                .map(|(k, n)| (k.clone(), n - before.0.get(k).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }

    fn get(&self, (m, e): (&str, &str)) -> u64 {
        self.0
            .get(&(m.to_owned(), e.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every call a request caused: all but the change-feed polls, which run on their own
    /// schedule.
    fn requests(&self) -> u64 {
        self.0.values().sum::<u64>() - self.get(FEED)
    }
}

/// A gateway with the embedded emulator (or, with `upstream`, on that ScaiDrive with a static
/// credential), listeners on port 0, configured by `tune`.
async fn gateway(dir: &Path, upstream: Option<(&str, &str)>, tune: impl FnOnce(&mut Config)) -> S3 {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    if let Some((url, token)) = upstream {
        cfg.scaidrive.url = Some(url.to_owned());
        cfg.credentials.push(StaticCredential {
            access_key_id: "AKIASECONDGATEWAY001".to_owned(),
            secret_access_key: "second-gateway-secret".to_owned(),
            token: token.to_owned(),
        });
    }
    tune(&mut cfg);
    let gw = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    match upstream {
        Some(_) => s3_support::client(gw, "AKIASECONDGATEWAY001", "second-gateway-secret"),
        None => {
            let cred = gw.embedded_credential().unwrap().clone();
            s3_support::client(gw, &cred.access_key_id, &cred.secret_access_key)
        }
    }
}

fn admin(s3: &S3) -> String {
    format!("http://{}", s3.gateway.addrs().admin)
}

fn dav(s3: &S3) -> String {
    format!("http://{}", s3.gateway.addrs().webdav)
}

async fn propfind(s3: &S3, path: &str, depth: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}{path}", dav(s3)),
        )
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .header("Depth", depth)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

/// Waits (polling, with a generous deadline) until `probe` holds.
async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn warm_head_and_propfind_of_a_known_path_make_no_upstream_call() {
    let dir = tempfile::tempdir().unwrap();
    // A long TTL: this test is about what the cache saves, not about when it expires.
    let s3 = gateway(dir.path(), None, |c| c.cache.ttl_secs = 600).await;
    let api = Upstream::documents(&s3).await;
    let a = api.mkdir(None, "a").await;
    let b = api.mkdir(Some(&a), "b").await;
    let c = api.mkdir(Some(&b), "c").await;
    api.upload(Some(&c), "d.txt", b"deep").await;

    // Cold: the share list, then one listing per folder on the way (root, a, b, c), and one
    // READ check for the files of `c` (a folder READ lists names; a file's metadata needs READ
    // on the file, which a deny entry may take away).
    let before = Calls::read(&admin(&s3)).await;
    let head = s3
        .call("HEAD", "/documents/a/b/c/d.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").as_deref(), Some("4"));
    let cold = Calls::read(&admin(&s3)).await.since(&before);
    assert_eq!(cold.get(LISTING), 4, "{cold:?}");
    assert_eq!(cold.get(CHECK), 1, "{cold:?}");
    // The change feed polls on its own clock.
    assert!(
        cold.requests() - cold.get(FEED) <= 6,
        "a cold lookup of a/b/c/d.txt: {cold:?}"
    );

    // A folder's own dates are not in its parent's listing: its first PROPFIND asks for them
    // once (`GET /folders/{id}`), then they are remembered like the listings.
    let before = Calls::read(&admin(&s3)).await;
    let (status, _) = propfind(&s3, "/Documents/a/b/", "0").await;
    assert_eq!(status, 207);
    let dated = Calls::read(&admin(&s3)).await.since(&before);
    assert_eq!(dated.get(FOLDER), 1, "{dated:?}");
    assert_eq!(dated.requests() - dated.get(FEED), 1, "{dated:?}");

    // Warm: nothing, through either protocol; a missing sibling is known missing too.
    let before = Calls::read(&admin(&s3)).await;
    let head = s3
        .call("HEAD", "/documents/a/b/c/d.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200);
    let (status, body) = propfind(&s3, "/Documents/a/b/c/d.txt", "0").await;
    assert_eq!(status, 207, "{body}");
    assert!(
        body.contains("<D:getcontentlength>4</D:getcontentlength>"),
        "{body}"
    );
    let (status, _) = propfind(&s3, "/Documents/a/b/", "0").await;
    assert_eq!(status, 207);
    let missing = s3
        .call("HEAD", "/documents/a/b/c/none.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(missing.status, 404);
    let warm = Calls::read(&admin(&s3)).await.since(&before);
    assert_eq!(warm.requests(), 0, "warm HEAD / PROPFIND Depth 0: {warm:?}");

    // A cold lookup under a known folder lists only the new, uncached folder.
    let x = api.mkdir(Some(&c), "x").await;
    api.upload(Some(&x), "y.txt", b"y").await;
    // The feed drops the share's listings (that write was made elsewhere): wait for the
    // gateway to see it, then count a lookup that needs root, a, b, c and x.
    eventually("the gateway sees c/x", || async {
        s3.call("HEAD", "/documents/a/b/c/x/y.txt", &[], &[], Vec::new())
            .await
            .status
            == 200
    })
    .await;
    let before = Calls::read(&admin(&s3)).await;
    let again = s3
        .call("HEAD", "/documents/a/b/c/x/y.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(Calls::read(&admin(&s3)).await.since(&before).requests(), 0);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_entry_folder_costs_one_listing_per_protocol() {
    const FILES: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let a = gateway(&dir.path().join("a"), None, |c| c.cache.ttl_secs = 600).await;
    let api = Upstream::documents(&a).await;
    let emu_url = a.gateway.emulator().unwrap().url();
    // A second gateway process's view: its own cold cache on the same ScaiDrive.
    let b = gateway(&dir.path().join("b"), Some((&emu_url, &api.token)), |c| {
        c.cache.ttl_secs = 600;
    })
    .await;
    let big = api.mkdir(None, "big").await;
    let names: Vec<String> = (0..FILES).map(|i| format!("f{i:05}.txt")).collect();
    futures::stream::iter(names.iter())
        .map(|n| api.upload(Some(&big), n, b"x"))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    // S3 ListObjectsV2, every page: one listing of the share root, one of the folder.
    let before = Calls::read(&admin(&a)).await;
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = vec![("list-type", "2"), ("prefix", "big/"), ("max-keys", "1000")];
        if let Some(t) = &token {
            q.push(("continuation-token", t.as_str()));
        }
        let r = a.call("GET", "/documents", &q, &[], Vec::new()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        keys.extend(xml_values(&text, "Key"));
        pages += 1;
        match xml_value(&text, "IsTruncated").as_deref() {
            Some("true") => token = xml_value(&text, "NextContinuationToken"),
            _ => break,
        }
    }
    assert_eq!(keys.len(), FILES);
    assert_eq!(pages, 10);
    let cold = Calls::read(&admin(&a)).await.since(&before);
    assert_eq!(cold.get(LISTING), 2, "{cold:?}");
    assert!(cold.requests() <= 3, "{cold:?}");
    let before = Calls::read(&admin(&a)).await;
    let r = a
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "big/"), ("max-keys", "1000")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        Calls::read(&admin(&a)).await.since(&before).requests(),
        0,
        "a warm ListObjectsV2 page"
    );

    // WebDAV PROPFIND Depth 1 through the second gateway, cold then warm.
    let before = Calls::read(&admin(&b)).await;
    let (status, body) = propfind(&b, "/Documents/big/", "1").await;
    assert_eq!(status, 207);
    assert_eq!(body.matches("<D:response>").count(), FILES + 1);
    let cold = Calls::read(&admin(&b)).await.since(&before);
    assert_eq!(cold.get(LISTING), 2, "{cold:?}");
    // Plus the folder's own dates, the share list and, on a static credential's first use,
    // `users/me`.
    assert_eq!(cold.get(FOLDER), 1, "{cold:?}");
    assert!(cold.requests() - cold.get(FEED) <= 5, "{cold:?}");
    let before = Calls::read(&admin(&b)).await;
    let (status, _) = propfind(&b, "/Documents/big/", "1").await;
    assert_eq!(status, 207);
    assert_eq!(
        Calls::read(&admin(&b)).await.since(&before).requests(),
        0,
        "a warm PROPFIND Depth 1"
    );
    b.gateway.shutdown().await;
    a.gateway.shutdown().await;
}

#[tokio::test]
async fn writes_through_the_gateway_update_the_cached_listing_in_place() {
    const FILES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    // A fast feed, so that it polls many times while the gateway writes: its own writes must
    // not make it drop (and list again) what the writes already updated.
    let s3 = gateway(dir.path(), None, |c| {
        c.cache.ttl_secs = 600;
        c.cache.change_feed_interval_ms = 100;
    })
    .await;
    let before = Calls::read(&admin(&s3)).await;
    for i in 0..FILES {
        let data = format!("content of file {i}").into_bytes();
        let key = format!("/documents/many/f{i:02}.txt");
        assert_eq!(s3.put(&key, &data).await.status, 200);
        // What rclone does after each upload: HEAD it.
        let head = s3.call("HEAD", &key, &[], &[], Vec::new()).await;
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("etag").as_deref(),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
        assert_eq!(head.header("content-length"), Some(data.len().to_string()));
        assert!(head.header("last-modified").is_some());
    }
    let wrote = Calls::read(&admin(&s3)).await.since(&before);
    assert_eq!(wrote.get(UPLOAD), FILES as u64, "{wrote:?}");
    // The share list, the root listing, creating `many`, listing it once.
    assert!(
        wrote.requests() - wrote.get(UPLOAD) <= 4,
        "{FILES} PUT + HEAD pairs: {wrote:?}"
    );

    // Let the feed poll past every write, then everything is still served from the cache.
    let polls = Calls::read(&admin(&s3)).await.get(FEED);
    eventually("two more change-feed polls", || async {
        Calls::read(&admin(&s3)).await.get(FEED) >= polls + 2
    })
    .await;
    let before = Calls::read(&admin(&s3)).await;
    let (status, body) = propfind(&s3, "/Documents/many/", "1").await;
    assert_eq!(status, 207);
    assert_eq!(body.matches("<D:response>").count(), FILES + 1);
    let list = s3
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "many/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_values(&list.text(), "Key").len(), FILES);
    assert_eq!(Calls::read(&admin(&s3)).await.since(&before).requests(), 0);

    // Across protocols, at once: a WebDAV PUT is seen by S3, an S3 DELETE by WebDAV.
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{}/Documents/many/dav.txt", dav(&s3)))
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .body("from webdav")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let got = s3.get("/documents/many/dav.txt").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"from webdav");
    assert_eq!(
        s3.call("DELETE", "/documents/many/f00.txt", &[], &[], Vec::new())
            .await
            .status,
        204
    );
    let before = Calls::read(&admin(&s3)).await;
    let r = http
        .get(format!("{}/Documents/many/f00.txt", dav(&s3)))
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let head = s3
        .call("HEAD", "/documents/many/f00.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 404);
    assert_eq!(
        Calls::read(&admin(&s3)).await.since(&before).requests(),
        0,
        "a deleted key is known gone without asking"
    );
    // An overwrite is a new version, seen at once with its own ETag and size.
    assert_eq!(
        s3.put("/documents/many/f01.txt", b"replaced!").await.status,
        200
    );
    let head = s3
        .call("HEAD", "/documents/many/f01.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.header("content-length").as_deref(), Some("9"));
    assert_eq!(
        head.header("etag"),
        Some(format!("\"{}\"", md5_hex(b"replaced!")))
    );
    assert_eq!(s3.get("/documents/many/f01.txt").await.body, b"replaced!");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn writes_made_elsewhere_become_visible_through_the_change_feed() {
    let dir = tempfile::tempdir().unwrap();
    // A TTL far beyond the test: only the change feed can make these writes visible.
    let a = gateway(&dir.path().join("a"), None, |c| {
        c.cache.ttl_secs = 3600;
        c.cache.change_feed_interval_ms = 200;
    })
    .await;
    let api = Upstream::documents(&a).await;
    let emu_url = a.gateway.emulator().unwrap().url();
    let b = gateway(&dir.path().join("b"), Some((&emu_url, &api.token)), |c| {
        c.cache.ttl_secs = 3600;
    })
    .await;
    assert_eq!(a.put("/documents/feed/one.txt", b"1").await.status, 200);
    let before = Calls::read(&admin(&a)).await;
    assert_eq!(
        a.call("HEAD", "/documents/feed/two.txt", &[], &[], Vec::new())
            .await
            .status,
        404
    );
    assert_eq!(Calls::read(&admin(&a)).await.since(&before).requests(), 0);

    // Written by a second gateway on the same ScaiDrive.
    assert_eq!(b.put("/documents/feed/two.txt", b"22").await.status, 200);
    eventually("gateway A sees the second gateway's write", || async {
        a.call("HEAD", "/documents/feed/two.txt", &[], &[], Vec::new())
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(a.get("/documents/feed/two.txt").await.body, b"22");

    // Deleted straight on ScaiDrive.
    let listing = a
        .call(
            "GET",
            "/documents",
            &[("list-type", "2"), ("prefix", "feed/")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_values(&listing.text(), "Key").len(), 2);
    assert_eq!(
        b.call("DELETE", "/documents/feed/one.txt", &[], &[], Vec::new())
            .await
            .status,
        204
    );
    eventually("gateway A sees the delete", || async {
        a.call("HEAD", "/documents/feed/one.txt", &[], &[], Vec::new())
            .await
            .status
            == 404
    })
    .await;
    b.gateway.shutdown().await;
    a.gateway.shutdown().await;
}

#[tokio::test]
async fn with_caching_off_every_lookup_goes_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = gateway(dir.path(), None, |c| c.cache.enabled = false).await;
    assert_eq!(s3.put("/documents/x/y.txt", b"y").await.status, 200);
    let mut costs = Vec::new();
    for _ in 0..3 {
        let before = Calls::read(&admin(&s3)).await;
        let head = s3
            .call("HEAD", "/documents/x/y.txt", &[], &[], Vec::new())
            .await;
        assert_eq!(head.status, 200);
        let (status, _) = propfind(&s3, "/Documents/x/y.txt", "0").await;
        assert_eq!(status, 207);
        costs.push(Calls::read(&admin(&s3)).await.since(&before));
    }
    for c in &costs {
        // Each lookup: the share list and the listings of the root and of x, for each protocol.
        assert!(c.get(LISTING) >= 4, "{c:?}");
        assert!(c.get(("GET", "/api/v1/users/me/shares")) >= 2, "{c:?}");
    }
    // Nothing cached means nothing to keep fresh: the change feed is not followed.
    assert_eq!(Calls::read(&admin(&s3)).await.get(FEED), 0);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn webdav_reads_of_files_just_written_check_their_read_in_one_batch() {
    const FILES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let s3 = gateway(dir.path(), None, |c| c.cache.ttl_secs = 600).await;
    for i in 0..FILES {
        let key = format!("/documents/back/f{i:02}.txt");
        assert_eq!(s3.put(&key, format!("{i}").as_bytes()).await.status, 200);
    }
    let before = Calls::read(&admin(&s3)).await;
    for i in 0..FILES {
        let got = reqwest::Client::new()
            .get(format!("{}/Documents/back/f{i:02}.txt", dav(&s3)))
            .basic_auth(&s3.access_key, Some(&s3.secret))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.text().await.unwrap(), format!("{i}"));
    }
    let read = Calls::read(&admin(&s3)).await.since(&before);
    // A WebDAV GET checks ScaiDrive's READ on the content even of one's own new files: the
    // first GET asks about every such file of the folder at once, not one call per GET.
    assert_eq!(read.get(CHECK), 1, "{FILES} GETs: {read:?}");
}

#[tokio::test]
async fn concurrent_reads_of_files_just_written_share_one_read_check() {
    const FILES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let s3 = gateway(dir.path(), None, |c| c.cache.ttl_secs = 600).await;
    for i in 0..FILES {
        let key = format!("/documents/together/f{i:02}.txt");
        assert_eq!(s3.put(&key, format!("{i}").as_bytes()).await.status, 200);
    }
    let before = Calls::read(&admin(&s3)).await;
    let client = reqwest::Client::new();
    let gets = (0..FILES).map(|i| {
        let req = client
            .get(format!("{}/Documents/together/f{i:02}.txt", dav(&s3)))
            .basic_auth(&s3.access_key, Some(&s3.secret));
        async move {
            let got = req.send().await.unwrap();
            assert_eq!(got.status(), 200);
            assert_eq!(got.text().await.unwrap(), format!("{i}"));
        }
    });
    futures::future::join_all(gets).await;
    let read = Calls::read(&admin(&s3)).await.since(&before);
    // GETs arriving together wait for the one check in flight, whose batch covers them all,
    // instead of each asking about the same files.
    assert_eq!(read.get(CHECK), 1, "{FILES} concurrent GETs: {read:?}");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_stored_key_is_read_from_the_state_db_once_and_a_revoked_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded emulator's key pair is a stored credential, as `credentials create` makes.
    let s3 = gateway(dir.path(), None, |_| {}).await;
    let key = s3.access_key.clone();
    assert_eq!(s3.put("/documents/k.txt", b"k").await.status, 200);
    let before = s3_support::state_db_operations(&s3.gateway).await;
    for _ in 0..20 {
        let head = s3
            .call("HEAD", "/documents/k.txt", &[], &[], Vec::new())
            .await;
        assert_eq!(head.status, 200);
    }
    let ops = s3_support::state_db_operations(&s3.gateway).await - before;
    assert!(
        ops <= 1.0,
        "20 HEADs signed with a stored key: {ops} state-DB operations"
    );

    // Revoked through this process's state DB (as the keys endpoint does): refused at once.
    let db = s3.gateway.state_db();
    let kept = db.get_credential(&key).await.unwrap().unwrap();
    assert!(db.revoke_credential(&key).await.unwrap());
    let refused = s3
        .call("HEAD", "/documents/k.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(refused.status, 403);

    // Made again, then revoked by another process (`credentials revoke`, another instance):
    // refused within the credential TTL.
    db.create_credential(scaidrive_gateway::state::NewCredential {
        access_key_id: Some(kept.access_key_id.clone()),
        secret_access_key: Some(kept.secret_access_key.clone()),
        token: kept.token.clone(),
        label: None,
        user_id: kept.user_id.clone(),
    })
    .await
    .unwrap();
    let head = s3
        .call("HEAD", "/documents/k.txt", &[], &[], Vec::new())
        .await;
    assert_eq!(head.status, 200, "a key made again works at once");
    let other = scaidrive_gateway::state::StateDb::open(dir.path().join("gateway.db")).unwrap();
    assert!(other.revoke_credential(&key).await.unwrap());
    let revoked_at = Instant::now();
    eventually("the key revoked elsewhere is refused", || async {
        s3.call("HEAD", "/documents/k.txt", &[], &[], Vec::new())
            .await
            .status
            == 403
    })
    .await;
    let took = revoked_at.elapsed();
    assert!(
        took < scaidrive_gateway::state::CREDENTIAL_TTL * 3,
        "refused {took:?} after the revocation"
    );
    s3.gateway.shutdown().await;
}
