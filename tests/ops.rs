//! Operations against the real gateway on port 0 (embedded emulator, or a seeded emulator over
//! real HTTP): TLS on the S3 and WebDAV listeners, request ids and metrics, connection and
//! request limits, the object size limit.

#![allow(clippy::unwrap_used)]

mod s3_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::{Config, StaticCredential};
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(60);

fn base_config(dir: &Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let any = "127.0.0.1:0".parse().unwrap();
    cfg.s3.listen = any;
    cfg.webdav.listen = any;
    cfg.admin.listen = any;
    cfg.embedded.listen = any;
    cfg
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn write_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key, ck.cert.pem())
}

/// A client that trusts only `pem`.
fn https_client(pem: &str) -> Client {
    Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

fn key_pair(gw: &GatewayHandle) -> (String, String) {
    let cred = gw.embedded_credential().unwrap();
    (cred.access_key_id.clone(), cred.secret_access_key.clone())
}

/// Fetches `/metrics` until `want` holds for its text (counters are recorded when a response
/// body has been sent, which may trail the client's read by a moment).
async fn metrics_until(admin: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let text = reqwest::get(format!("http://{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if want(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never matched:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the first metrics line starting with `series`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn tls_listeners_speak_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = write_cert(dir.path(), "gw");
    let mut cfg = base_config(&dir.path().join("data"));
    cfg.tls.cert = Some(cert);
    cfg.tls.key = Some(key);
    let gw = start_gateway(cfg).await.unwrap();
    let addrs = gw.addrs();
    let banner = gw.banner();
    assert!(
        banner.contains(&format!("S3:        https://{}", addrs.s3)),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("WebDAV:    https://{}/", addrs.webdav)),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("export AWS_ENDPOINT_URL=https://{}", addrs.s3)),
        "{banner}"
    );
    let (user, pass) = key_pair(&gw);
    let https = https_client(&pem);

    // S3 over TLS: an unsigned request gets S3's answer and a request id.
    let resp = https
        .get(format!("https://{}/documents", addrs.s3))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let id = resp
        .headers()
        .get("x-amz-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 26, "{id}");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );

    // WebDAV over TLS with Basic auth, as Windows' client sends it.
    let url = format!("https://{}/Documents/over-tls.txt", addrs.webdav);
    let resp = https
        .put(&url)
        .basic_auth(&user, Some(&pass))
        .body("sent over TLS")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(resp.headers().contains_key("x-request-id"));
    let resp = https
        .get(&url)
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "sent over TLS");

    // Plain HTTP to a TLS listener gets no HTTP answer; a client that does not trust the
    // certificate is refused.
    assert!(
        reqwest::get(format!("http://{}/", addrs.s3))
            .await
            .and_then(|r| r.error_for_status())
            .is_err()
    );
    let (_, _, other) = write_cert(dir.path(), "other");
    assert!(
        https_client(&other)
            .get(format!("https://{}/", addrs.webdav))
            .send()
            .await
            .is_err()
    );
    // The admin listener stays plain HTTP.
    let resp = reqwest::get(format!("http://{}/healthz", addrs.admin))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    gw.shutdown().await;
}

#[tokio::test]
async fn requests_carry_ids_and_are_counted_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let addrs = s3.gateway.addrs();
    let body = vec![b'm'; 1000];
    let a = s3.put("/documents/metrics/a.bin", &body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let b = s3.put("/documents/metrics/b.bin", &body).await;
    assert_eq!(b.status, 200);
    let (id_a, id_b) = (
        a.header("x-amz-request-id").unwrap(),
        b.header("x-amz-request-id").unwrap(),
    );
    assert_ne!(id_a, id_b);
    let got = s3.get("/documents/metrics/a.bin").await;
    assert_eq!(got.body, body);
    let missing = s3.get("/documents/metrics/none.bin").await;
    assert_eq!(missing.status, 404);

    let resp = Client::new()
        .request(
            Method::from_bytes(b"PROPFIND").unwrap(),
            format!("http://{}/Documents/metrics/", addrs.webdav),
        )
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .header("depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 207);
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .len(),
        26
    );

    let text = metrics_until(&addrs.admin.to_string(), |t| {
        t.contains("protocol=\"webdav\",operation=\"PROPFIND\",status=\"207\"} 1")
            && t.contains("protocol=\"s3\",operation=\"GetObject\",status=\"404\"} 1")
    })
    .await;
    for line in [
        "scaidrive_gateway_requests_total{protocol=\"s3\",operation=\"PutObject\",status=\"200\"} 2",
        "scaidrive_gateway_requests_total{protocol=\"s3\",operation=\"GetObject\",status=\"200\"} 1",
        "scaidrive_gateway_request_duration_seconds_count{protocol=\"s3\",operation=\"PutObject\"} 2",
        "scaidrive_gateway_request_duration_seconds_bucket{protocol=\"s3\",operation=\"PutObject\",le=\"+Inf\"} 2",
        "scaidrive_gateway_requests_in_flight{protocol=\"s3\"} 0",
        "# TYPE scaidrive_gateway_upstream_requests_total counter",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    let received = metric(
        &text,
        "scaidrive_gateway_bytes_received_total{protocol=\"s3\"}",
    )
    .unwrap();
    let sent = metric(&text, "scaidrive_gateway_bytes_sent_total{protocol=\"s3\"}").unwrap();
    assert!(received >= 2000.0, "{received}");
    assert!(sent >= 1000.0, "{sent}");
    let misses = metric(
        &text,
        "scaidrive_gateway_cache_lookups_total{cache=\"listings\",result=\"miss\"}",
    )
    .unwrap();
    let hits = metric(
        &text,
        "scaidrive_gateway_cache_lookups_total{cache=\"listings\",result=\"hit\"}",
    )
    .unwrap();
    assert!(misses >= 1.0 && hits >= 1.0, "hits {hits} misses {misses}");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_s3_slowdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base_config(dir.path());
    cfg.limits.max_connections = 1;
    let gw = start_gateway(cfg).await.unwrap();
    let addrs = gw.addrs();
    let (user, pass) = key_pair(&gw);

    // One client holds the only WebDAV connection (kept alive in its pool).
    let first = Client::new();
    let dav = format!("http://{}/Documents/", addrs.webdav);
    let resp = first
        .request(Method::OPTIONS, &dav)
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = Client::new()
        .request(Method::OPTIONS, &dav)
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");

    // The same on S3, answered as S3's SlowDown.
    let first_s3 = Client::new();
    let s3 = format!("http://{}/documents", addrs.s3);
    assert_eq!(first_s3.get(&s3).send().await.unwrap().status(), 403);
    let resp = Client::new().get(&s3).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.text().await.unwrap().contains("<Code>SlowDown</Code>"));

    // Once the first client is gone its slot is free again.
    drop(first);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = Client::new()
            .request(Method::OPTIONS, &dav)
            .basic_auth(&user, Some(&pass))
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = metrics_until(&addrs.admin.to_string(), |_| true).await;
    let refused = metric(
        &text,
        "scaidrive_gateway_connections_refused_total{protocol=\"webdav\"}",
    )
    .unwrap();
    assert!(refused >= 1.0, "{text}");
    gw.shutdown().await;
}

/// Sends raw bytes and reads until the server closes the connection.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server never closed the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn oversized_heads_get_431_and_slow_heads_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base_config(dir.path());
    cfg.limits.max_header_bytes = 8192;
    cfg.limits.header_read_timeout_secs = 1;
    cfg.limits.idle_timeout_secs = 0;
    let gw = start_gateway(cfg).await.unwrap();
    let addrs = gw.addrs();
    let big = "x".repeat(20_000);
    let resp = Client::new()
        .get(format!("http://{}/", addrs.s3))
        .header("x-big", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // A head that never ends: the connection is closed without an answer other than 408.
    let answer = raw_exchange(
        addrs.webdav,
        b"PROPFIND /Documents/ HTTP/1.1\r\nHost: x\r\n",
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A normal head within the limit still works.
    let resp = reqwest::get(format!("http://{}/healthz", addrs.admin))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base_config(dir.path());
    cfg.limits.idle_timeout_secs = 1;
    let gw = start_gateway(cfg).await.unwrap();
    let addrs = gw.addrs();
    // A keep-alive request, then silence: the server closes the connection.
    let answer = raw_exchange(addrs.admin, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
    let text = metrics_until(&addrs.admin.to_string(), |t| {
        metric(
            t,
            "scaidrive_gateway_connections_idle_closed_total{protocol=\"admin\"}",
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;
    assert!(text.contains("scaidrive_gateway_connections_open{protocol=\"admin\"}"));
    gw.shutdown().await;
}

#[tokio::test]
async fn uploads_over_the_configured_size_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base_config(dir.path());
    cfg.limits.max_object_size = Some(1000);
    let gw = start_gateway(cfg).await.unwrap();
    // The embedded emulator's own cap is far larger: the configured value wins.
    assert_eq!(gw.max_object_size(), Some(1000));
    let (user, pass) = key_pair(&gw);
    let addrs = gw.addrs();
    let s3 = s3_support::client(gw, &user, &pass);

    let r = s3.put("/documents/limits/big.bin", &[7u8; 1001]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("<Code>EntityTooLarge</Code>"),
        "{}",
        r.text()
    );
    let r = s3.put("/documents/limits/fits.bin", &[7u8; 1000]).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let dav = Client::new();
    let url = format!("http://{}/Documents/limits/big-dav.bin", addrs.webdav);
    let resp = dav
        .put(&url)
        .basic_auth(&user, Some(&pass))
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Nothing of the refused uploads exists.
    assert_eq!(s3.get("/documents/limits/big.bin").await.status, 404);
    assert_eq!(s3.get("/documents/limits/big-dav.bin").await.status, 404);
    assert_eq!(s3.get("/documents/limits/fits.bin").await.body.len(), 1000);
    s3.gateway.shutdown().await;
}

const SMALL_TENANT_SEED: &str = r#"
[tenant]
name = "Small files"
max_file_size_bytes = 5000

[[users]]
id = "usr_01SMALL"
email = "small@example.com"
name = "Small"
display_name = "Small"
is_admin = true

[[tokens]]
token = "small-tenant-token"
user = "usr_01SMALL"

[[shares]]
id = "shr_01SMALLDOCS"
name = "Documents"
share_type = "personal"
owner_id = "usr_01SMALL"
members = [ { principal = "usr_01SMALL", role = "owner" } ]
"#;

#[tokio::test]
async fn object_size_limit_follows_scaidrive_max_file_size() {
    let emu_dir = tempfile::tempdir().unwrap();
    let seed = emu_dir.path().join("seed.toml");
    std::fs::write(&seed, SMALL_TENANT_SEED).unwrap();
    let emu = scaidrive_gateway::emulator::start(scaidrive_gateway::emulator::EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: emu_dir.path().join("data"),
        seed: Some(seed),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base_config(dir.path());
    cfg.scaidrive.url = Some(emu.url());
    cfg.credentials = vec![StaticCredential {
        access_key_id: "AKIASMALLTENANT00001".to_owned(),
        secret_access_key: "small-tenant-secret".to_owned(),
        token: "small-tenant-token".to_owned(),
    }];
    let gw = start_gateway(cfg).await.unwrap();
    assert_eq!(gw.max_object_size(), Some(5000));
    let url = format!("http://{}/Documents/too-big.bin", gw.addrs().webdav);
    let resp = Client::new()
        .put(&url)
        .basic_auth("AKIASMALLTENANT00001", Some("small-tenant-secret"))
        .body(vec![1u8; 5001])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let s3 = s3_support::client(gw, "AKIASMALLTENANT00001", "small-tenant-secret");
    let r = s3.put("/documents/too-big.bin", &[1u8; 5001]).await;
    assert!(
        r.text().contains("<Code>EntityTooLarge</Code>"),
        "{}",
        r.text()
    );
    let r = s3.put("/documents/fits.bin", &[1u8; 5000]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    s3.gateway.shutdown().await;
    emu.shutdown().await;
}
