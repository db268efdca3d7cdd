//! The change-feed bound under load: while the gateway serves a steady stream of writes and
//! reads, ScaiDrive's `/sync/changes` hangs for a while (emulator fault injection); once it
//! answers again, a write made directly in ScaiDrive is seen through the gateway within a few
//! feed intervals, not after the minutes a stuck poll used to take.

#![allow(clippy::unwrap_used)]

mod s3_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use s3_support::{S3, Upstream};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::emulator::Faults;

/// The feed interval of the test gateway.
const FEED: Duration = Duration::from_millis(200);
/// How soon after the fault clears a direct write must be seen.
const BOUND: Duration = Duration::from_secs(5);

async fn start(dir: &std::path::Path) -> S3 {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    cfg.s3.listen = any;
    cfg.webdav.listen = any;
    cfg.admin.listen = any;
    cfg.embedded.listen = any;
    // Only the feed (not expiry) can make a direct write visible.
    cfg.cache.ttl_secs = 300;
    cfg.cache.change_feed_interval_ms = u64::try_from(FEED.as_millis()).unwrap();
    let gw = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    s3_support::client(gw, &cred.access_key_id, &cred.secret_access_key)
}

async fn root_keys(s3: &S3) -> Vec<String> {
    let r = s3
        .call("GET", "/documents", &[("delimiter", "/")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s3_support::xml_values(&r.text(), "Key")
}

async fn feed_polls(s3: &S3) -> u64 {
    reqwest::get(format!("http://{}/metrics", s3.gateway.addrs().admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .filter(|l| {
            l.starts_with("scaidrive_gateway_upstream_requests_total")
                && l.contains("/sync/changes")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_direct_write_is_seen_within_the_bound_after_the_feed_hung_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = Arc::new(start(dir.path()).await);
    let up = Upstream::documents(&s3).await;
    // The root listing is cached and the feed followed.
    root_keys(&s3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while feed_polls(&s3).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed is not polled"
        );
        tokio::time::sleep(FEED).await;
    }

    // Load: writers and readers through the gateway, in a folder of their own.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let load: Vec<_> = (0..4)
        .map(|w| {
            let (s3, stop, done) = (Arc::clone(&s3), Arc::clone(&stop), Arc::clone(&done));
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("/documents/load/w{w}-{}", i % 8);
                    assert_eq!(s3.put(&key, &vec![b'x'; 4096]).await.status, 200);
                    assert_eq!(s3.get(&key).await.status, 200);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();

    // The feed hangs (answers after 30 s) for a while, then recovers.
    let emu = s3.gateway.emulator().unwrap();
    emu.set_faults(Faults {
        latency_ms: 30_000,
        paths: vec!["/api/v1/sync/changes".to_owned()],
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    emu.set_faults(Faults::default());

    up.upload(None, "direct.txt", b"made elsewhere").await;
    let start = tokio::time::Instant::now();
    while !root_keys(&s3).await.iter().any(|k| k == "direct.txt") {
        assert!(
            start.elapsed() < BOUND,
            "a direct write was not seen within {BOUND:?} of the feed recovering"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(done.load(Ordering::Relaxed) > 0, "no load ran");
    eprintln!(
        "seen after {took:?}; {} load round trips",
        done.load(Ordering::Relaxed)
    );
}
