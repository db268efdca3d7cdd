//! Emulator operations over real HTTP: restart persistence, rate limiting, fault injection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;

use emulator_support::{config, start, start_with};
use scaidrive_gateway::emulator::{self, Faults};
use serde_json::{Value, json};

#[tokio::test]
async fn restart_keeps_shares_files_content_and_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let first = emulator::start(config(dir.path())).await.unwrap();
    let token = first.tokens()[0].token.clone();
    assert_eq!(first.tokens().len(), 1);
    let http = reqwest::Client::new();
    let shares: Value = http
        .get(format!("{}/api/v1/users/me/shares", first.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let share = shares["shares"][0]["id"].as_str().unwrap().to_string();
    let form = reqwest::multipart::Form::new()
        .text("share_id", share.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"persist me".to_vec()).file_name("p.txt"),
        );
    let up: Value = http
        .post(format!("{}/api/v1/files", first.url()))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fid = up["id"].as_str().unwrap().to_string();
    first.shutdown().await;

    let second = emulator::start(config(dir.path())).await.unwrap();
    assert_eq!(second.tokens()[0].token, token, "token regenerated");
    let again: Value = http
        .get(format!("{}/api/v1/users/me/shares", second.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids = |v: &Value| -> Vec<(String, String)> {
        v["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].to_string(), s["name"].to_string()))
            .collect()
    };
    assert_eq!(ids(&again), ids(&shares));
    assert_eq!(again["shares"][0]["used_bytes"], 10);
    let body = http
        .get(format!("{}/api/v1/files/{fid}/content", second.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), b"persist me");
    second.shutdown().await;
}

#[tokio::test]
async fn rate_limit_sends_headers_and_429_with_retry_after() {
    let emu = start_with(|c| c.rate_limit_per_minute = Some(10), None).await;
    let r = emu.get("/users/me").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit"], "10");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "9");
    let reset: u64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    assert!(reset > now && reset <= now + 61, "reset {reset} now {now}");
    // Health is free and carries no headers.
    let h = emu.http.get(emu.api("/health")).send().await.unwrap();
    assert!(h.headers().get("x-ratelimit-limit").is_none());
    let mut limited = None;
    for _ in 0..10 {
        let r = emu.get("/users/me").await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("never limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["error"]["code"], "RATE_LIMITED");
    assert_eq!(v["error"]["retry_after"], retry);
    assert_eq!(
        v["error"]["details"],
        json!({"dimension": "token", "limit": 10, "window_seconds": 60})
    );
    assert!(v["meta"]["request_id"].is_string());
}

#[tokio::test]
async fn fault_injection_error_rate_and_burst_then_clears() {
    let emu = start().await;
    emu.emu.set_faults(Faults {
        error_rate: 1.0,
        error_statuses: vec![503],
        ..Faults::default()
    });
    for _ in 0..3 {
        let r = emu.get("/users/me").await;
        assert_eq!(r.status(), 503);
        assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    }
    assert_eq!(
        emu.http
            .get(emu.api("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Runtime control over HTTP.
    let url = format!("{}/_emulator/faults", emu.emu.url());
    let r = emu
        .http
        .put(&url)
        .json(&json!({"burst_429": 2, "retry_after_secs": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = emu
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["burst_429"], 2);
    assert_eq!(got["error_rate"], 0.0);
    for _ in 0..2 {
        let r = emu.get("/users/me").await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
    }
    assert_eq!(emu.get("/users/me").await.status(), 200);
    let r = emu
        .http
        .put(&url)
        .json(&json!({"error_rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn reset_after_bytes_cuts_one_download_mid_body() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let data = vec![5u8; 1_000_000];
    let up = emu.upload(&share, None, "cut.bin", &data).await;
    let path = format!("/files/{}/content", up["id"].as_str().unwrap());
    emu.emu.set_faults(Faults {
        reset_after_bytes: Some(10_000),
        ..Faults::default()
    });
    let r = emu.get(&path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "1000000");
    assert!(
        r.bytes().await.is_err(),
        "a cut download must not end cleanly"
    );
    // The default reset_count is 1: the next download is whole.
    let r = emu.get(&path).await;
    assert_eq!(r.bytes().await.unwrap().len(), data.len());
}
