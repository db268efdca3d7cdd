//! The ready-made Grafana dashboard (`docker/grafana-dashboard.json`) and Prometheus alert
//! rules (`docker/prometheus-alerts.yml`) use only metrics the gateway serves: the real binary
//! runs (embedded emulator, port 0), answers a few requests, and every metric name the two
//! files name is a family on its `/metrics`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scaidrive-gateway");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Metric names in `text`: words starting `scaidrive_gateway_` or `process_`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("scaidrive_gateway_") || w.starts_with("process_"))
        .map(str::to_owned)
        .collect()
}

/// `# TYPE name kind` lines of a Prometheus text exposition: name → kind.
fn families(exposition: &str) -> std::collections::BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

/// Whether `name` is a served series: a family, or a histogram family's `_bucket`, `_sum` or
/// `_count`.
fn served(name: &str, families: &std::collections::BTreeMap<String, String>) -> bool {
    if families.contains_key(name) {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|base| families.get(base).is_some_and(|k| k == "histogram"))
    })
}

async fn metrics_of_a_running_gateway() -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    for (var, _) in std::env::vars() {
        if var.starts_with("SCAIDRIVE_") {
            cmd.env_remove(var);
        }
    }
    cmd.args([
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--s3-listen",
        "127.0.0.1:0",
        "--webdav-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "serve",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin = None;
    let mut webdav = None;
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let first = |rest: &str| rest.split_whitespace().next().map(str::to_owned);
            if let Some(rest) = line.strip_prefix("Admin:") {
                admin = first(rest);
            }
            if let Some(rest) = line.strip_prefix("WebDAV:") {
                webdav = first(rest);
            }
            if line.starts_with("export AWS_DEFAULT_REGION=") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .unwrap();
    let (admin, webdav) = (admin.unwrap(), webdav.unwrap());
    // Requests on every listener, so the per-request series have samples too.
    let http = reqwest::Client::new();
    let _ = http.get(&webdav).send().await.unwrap();
    let _ = http.get(format!("{admin}/readyz")).send().await.unwrap();
    let text = http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.kill().await.unwrap();
    text
}

#[tokio::test]
async fn dashboard_and_alert_rules_use_only_served_metrics() {
    let exposition = metrics_of_a_running_gateway().await;
    let families = families(&exposition);
    let dashboard = read("docker/grafana-dashboard.json");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let exprs: Vec<String> = parsed["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    let alerts = read("docker/prometheus-alerts.yml");
    for (file, names) in [
        (
            "docker/grafana-dashboard.json",
            metric_names(&exprs.join("\n")),
        ),
        ("docker/prometheus-alerts.yml", metric_names(&alerts)),
    ] {
        assert!(names.len() >= 8, "{file} names only {names:?}");
        for name in &names {
            assert!(
                served(name, &families),
                "{file} uses {name}, which /metrics does not serve:\n{exposition}"
            );
        }
    }
    // The operator's staples are among them.
    let dash_names = metric_names(&exprs.join("\n"));
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "scaidrive_gateway_upstream_request_duration_seconds_bucket",
        "scaidrive_gateway_request_duration_seconds_bucket",
    ] {
        assert!(dash_names.contains(name), "the dashboard lacks {name}");
    }
}
