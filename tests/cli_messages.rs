//! What the real binary says when something is wrong, and what each command's `--help` shows:
//! the origin of a bad `scaidrive.url`, TOML errors with line and key, OS errors once, a data
//! directory that is a file, a ScaiDrive URL with a wrong path (refused at start) or not
//! reachable (named by `/readyz`), the front-mode banner's hints; S3 client errors logged once
//! at INFO with code, access key id and request id; long S3 and WebDAV writes logging their start
//! and progress; a recursive delete of a folder tree logging no ERROR; listen addresses logged
//! plainly. Listeners bind port 0; every wait has a deadline.

#![allow(clippy::unwrap_used)]

mod s3_support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_scaidrive-gateway");
const DEADLINE: Duration = Duration::from_secs(60);

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (var, _) in std::env::vars() {
        if var.starts_with("SCAIDRIVE_") {
            cmd.env_remove(var);
        }
    }
    cmd.args(args);
    cmd.stdin(Stdio::null());
    cmd.kill_on_drop(true);
    cmd
}

/// Runs a command to its end: (success, stdout, stderr).
async fn run(mut cmd: Command) -> (bool, String, String) {
    let out = tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("command did not finish")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `cmd` and reads its stdout up to the line starting with `last`; returns the child
/// and the lines read.
async fn start(mut cmd: Command, last: &str, stderr: &Path) -> (Child, Vec<String>) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(stderr).unwrap()));
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with(last);
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    };
    let found = tokio::time::timeout(DEADLINE, read).await.unwrap_or(false);
    assert!(
        found,
        "no line starting with {last:?} in {seen:?}; stderr:\n{}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    (child, seen)
}

fn value_after<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
}

/// A standalone emulator on port 0: (child, URL, token of its demo user).
async fn emulator(dir: &Path) -> (Child, String, String) {
    let data = dir.join("emulator");
    let cmd = command(&[
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
    ]);
    let (child, lines) = start(cmd, "export SCAIDRIVE_TOKEN=", &dir.join("emu.stderr")).await;
    let url = value_after(&lines, "export SCAIDRIVE_URL=").to_owned();
    let token = value_after(&lines, "export SCAIDRIVE_TOKEN=").to_owned();
    (child, url, token)
}

fn serve_args(data: &Path) -> Vec<String> {
    [
        "--data-dir",
        data.to_str().unwrap(),
        "--s3-listen",
        "127.0.0.1:0",
        "--webdav-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "serve",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn help(args: &[&str]) -> String {
    let (ok, out, err) = run(command(args)).await;
    assert!(ok, "{args:?}: {err}");
    out
}

#[tokio::test]
async fn each_command_help_shows_only_its_own_options() {
    let serve = help(&["serve", "--help"]).await;
    assert!(serve.contains("--s3-listen"), "{serve}");
    assert!(serve.contains("--state-url"), "{serve}");
    let emulator = help(&["emulator", "--help"]).await;
    assert!(emulator.contains("--data <DIR>"), "{emulator}");
    assert!(emulator.contains("--rate-limit"), "{emulator}");
    for other in [
        "--s3-listen",
        "--tls-cert",
        "--cache-ttl-secs",
        "--state-url",
    ] {
        assert!(
            !emulator.contains(other),
            "emulator --help lists {other}:\n{emulator}"
        );
    }
    for args in [
        &["credentials", "list", "--help"][..],
        &["credentials", "revoke", "--help"],
        &["credentials", "create", "--help"],
        &["state", "migrate", "--help"],
    ] {
        let text = help(args).await;
        assert!(
            !text.contains("--s3-listen"),
            "{args:?} lists --s3-listen:\n{text}"
        );
        assert!(!text.contains("--max-connections"), "{args:?}:\n{text}");
    }
    // The gateway options stay where they were: before the command, and after `serve`.
    let top = help(&["--help"]).await;
    assert!(top.contains("--s3-listen"), "{top}");
}

#[tokio::test]
async fn emulator_keeps_its_data_in_the_data_dir_given() {
    let dir = tempfile::tempdir().unwrap();
    for (n, before) in [(1, false), (2, true)] {
        let data = dir.path().join(format!("data{n}"));
        let d = data.to_str().unwrap();
        let args: Vec<&str> = if before {
            vec!["--data-dir", d, "emulator", "--listen", "127.0.0.1:0"]
        } else {
            vec!["emulator", "--listen", "127.0.0.1:0", "--data-dir", d]
        };
        let stderr = dir.path().join(format!("emu{n}.stderr"));
        let mut cmd = command(&args);
        cmd.current_dir(dir.path());
        let (mut child, lines) = start(cmd, "export SCAIDRIVE_TOKEN=", &stderr).await;
        child.kill().await.unwrap();
        assert!(
            lines.iter().any(|l| l.contains(&format!("data in {d}"))),
            "{args:?}: {lines:?}"
        );
        assert!(data.join("scaidrive.db").is_file(), "{args:?}");
        assert!(!dir.path().join("emulator-data").exists(), "{args:?}");
    }
}

#[tokio::test]
async fn a_bad_scaidrive_url_names_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, "[scaidrive]\nurl = \"ftp://drive\"\n").unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let mut env = command(&["--data-dir", d, "credentials", "list"]);
    env.env("SCAIDRIVE_URL", "ftp://drive");
    let flag = command(&[
        "--data-dir",
        d,
        "--scaidrive-url",
        "ftp://drive",
        "credentials",
        "list",
    ]);
    let from_file = command(&[
        "--data-dir",
        d,
        "--config",
        file.to_str().unwrap(),
        "credentials",
        "list",
    ]);
    for (cmd, origin) in [
        (env, "(from env SCAIDRIVE_URL)".to_owned()),
        (flag, "(from flag --scaidrive-url)".to_owned()),
        (from_file, format!("(from file {})", file.display())),
    ] {
        let (ok, _, err) = run(cmd).await;
        assert!(!ok);
        assert!(err.contains("scaidrive.url"), "{err}");
        assert!(err.contains(&origin), "expected {origin}: {err}");
        assert!(!err.contains("(from configuration)"), "{err}");
    }
}

#[tokio::test]
async fn toml_errors_name_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    for (text, want) in [
        (
            "data_dir = \"d\"\n\n[cache]\nttl_secs = \"5\"\n",
            "line 4, key cache.ttl_secs: invalid type: string \"5\", expected u64",
        ),
        (
            "[upstream]\nmax_retries = 2\nmax_retry = 3\n",
            "line 3, key upstream.max_retry: unknown field `max_retry`",
        ),
        ("[cache\nttl_secs = 5\n", "line 1:"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, _, err) = run(command(&[
            "--config",
            file.to_str().unwrap(),
            "credentials",
            "list",
        ]))
        .await;
        assert!(!ok);
        assert!(err.contains(want), "expected {want:?} in {err}");
    }
}

#[tokio::test]
async fn os_errors_are_said_once_and_a_data_dir_that_is_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let (ok, _, err) = run(command(&[
        "--data-dir",
        file.to_str().unwrap(),
        "credentials",
        "list",
    ]))
    .await;
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "data directory {} exists and is not a directory",
            file.display()
        )),
        "{err}"
    );
    let below = file.join("sub");
    let (ok, _, err) = run(command(&[
        "--data-dir",
        below.to_str().unwrap(),
        "credentials",
        "list",
    ]))
    .await;
    assert!(!ok);
    assert_eq!(err.matches("(os error 20)").count(), 1, "{err}");
}

#[tokio::test]
async fn a_scaidrive_url_with_a_wrong_path_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut emu, url, _) = emulator(dir.path()).await;
    let wrong = format!("{url}/scaidrive");
    let mut cmd = command(
        &serve_args(&dir.path().join("data"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    cmd.env("SCAIDRIVE_URL", &wrong);
    let (ok, out, err) = run(cmd).await;
    emu.kill().await.unwrap();
    assert!(!ok, "serve started on {wrong}: {out}");
    assert!(
        err.contains(&format!(
            "ScaiDrive URL {wrong} does not answer as ScaiDrive"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "GET {wrong}/api/v1/health answered not found (HTTP 404)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn readyz_names_an_unreachable_scaidrive_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let args = serve_args(&dir.path().join("data"));
    let mut cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.env("SCAIDRIVE_URL", &url)
        .env("SCAIDRIVE_GATEWAY_UPSTREAM_MAX_RETRIES", "0");
    let (mut child, lines) =
        start(cmd, "export AWS_DEFAULT_REGION=", &dir.path().join("s.err")).await;
    let admin = value_after(&lines, "Admin:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let resp = reqwest::get(format!("{admin}/readyz")).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    child.kill().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("scaidrive {url}/")), "{body}");
    assert!(body.contains("connection refused"), "{body}");
    assert!(!body.contains("scaidrive: scaidrive"), "{body}");
    assert!(!body.contains("error sending request"), "{body}");
}

#[tokio::test]
async fn front_mode_offers_credentials_create_only_while_none_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut emu, url, token) = emulator(dir.path()).await;
    let args = serve_args(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hint = "# create S3 credentials with:";
    let serve_banner = |n: u32| {
        let mut cmd = command(&args);
        cmd.env("SCAIDRIVE_URL", &url);
        let stderr = dir.path().join(format!("serve{n}.stderr"));
        async move {
            let (mut child, lines) = start(cmd, "export AWS_DEFAULT_REGION=", &stderr).await;
            child.kill().await.unwrap();
            child.wait().await.unwrap();
            lines
        }
    };
    let first = serve_banner(1).await;
    assert!(first.iter().any(|l| l.starts_with(hint)), "{first:?}");
    let mut create = command(&[
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "credentials",
        "create",
        "--token",
        &token,
    ]);
    create.env("SCAIDRIVE_URL", &url);
    let (ok, _, err) = run(create).await;
    assert!(ok, "{err}");
    let second = serve_banner(2).await;
    emu.kill().await.unwrap();
    assert!(!second.iter().any(|l| l.starts_with(hint)), "{second:?}");
    assert!(
        second
            .iter()
            .any(|l| l.starts_with("# 1 stored S3 credential(s)")),
        "{second:?}"
    );
}

#[tokio::test]
async fn embedded_mode_prints_a_token_that_logs_in_over_webdav() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&dir.path().join("data"));
    let cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (mut child, lines) =
        start(cmd, "export AWS_DEFAULT_REGION=", &dir.path().join("s.err")).await;
    let token = value_after(&lines, "export SCAIDRIVE_TOKEN=").to_owned();
    let webdav = value_after(&lines, "WebDAV:").to_owned();
    let resp = reqwest::Client::new()
        .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), &webdav)
        .header("Depth", "1")
        .basic_auth("anyone", Some(&token))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    child.kill().await.unwrap();
    assert_eq!(status, 207, "{body}");
    assert!(body.contains("Documents"), "{body}");
}

#[tokio::test]
async fn s3_client_errors_are_one_info_line_with_code_key_and_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&dir.path().join("data"));
    let stderr = dir.path().join("s.err");
    let cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (mut child, lines) = start(cmd, "export AWS_DEFAULT_REGION=", &stderr).await;
    let s3 = value_after(&lines, "S3:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let key = value_after(&lines, "export AWS_ACCESS_KEY_ID=").to_owned();
    let secret = value_after(&lines, "export AWS_SECRET_ACCESS_KEY=").to_owned();
    let http = reqwest::Client::new();
    let send = |secret: &str, path: &str| {
        let (pq, headers) = s3_support::sign_v4(&s3, &key, secret, "GET", path, &[], &[]);
        let mut req = http.get(format!("{s3}{pq}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let missing = send(&secret, "/documents/no-such-key").await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let missing_id = missing.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = missing.text().await.unwrap();
    assert!(body.contains("<Code>NoSuchKey</Code>"), "{body}");
    let bad = send("not-the-secret", "/documents/").await.unwrap();
    assert_eq!(bad.status().as_u16(), 403);
    let bad_id = bad.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The log is written as the request ends; give the process a moment to flush.
    let deadline = std::time::Instant::now() + DEADLINE;
    let log = loop {
        let log = std::fs::read_to_string(&stderr).unwrap();
        if log.contains(&bad_id) && log.matches("S3 client error").count() >= 2 {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!log.contains("ERROR"), "{log}");
    for (id, code) in [
        (&missing_id, "NoSuchKey"),
        (&bad_id, "SignatureDoesNotMatch"),
    ] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(id.as_str()) && l.contains("S3 client error"))
            .collect();
        assert_eq!(lines.len(), 1, "{id}: {log}");
        assert!(lines[0].contains(" INFO "), "{}", lines[0]);
        assert!(
            lines[0].contains(&format!("s3_code=\"{code}\""))
                || lines[0].contains(&format!("s3_code={code}")),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(&key), "{}", lines[0]);
    }
    assert!(!log.contains(&secret), "{log}");
    assert!(!log.contains("repeated"), "{log}");
    // The same error for the same key many times a minute: WARN from the 20th on.
    for _ in 0..19 {
        let bad = send("not-the-secret", "/documents/").await.unwrap();
        assert_eq!(bad.status().as_u16(), 403);
    }
    let deadline = std::time::Instant::now() + DEADLINE;
    let log = loop {
        let log = std::fs::read_to_string(&stderr).unwrap();
        if log.contains("repeated") {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let repeated: Vec<&str> = log.lines().filter(|l| l.contains("repeated")).collect();
    assert_eq!(repeated.len(), 1, "{log}");
    assert!(repeated[0].contains(" WARN "), "{}", repeated[0]);
    assert!(
        repeated[0].contains("times_in_last_minute=20"),
        "{}",
        repeated[0]
    );
    assert!(
        repeated[0].contains("SignatureDoesNotMatch"),
        "{}",
        repeated[0]
    );
    assert!(!log.contains("ERROR"), "{log}");
    // Listen addresses plainly, not `Some(…)`.
    let listening: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("listening front_end="))
        .collect();
    assert_eq!(listening.len(), 3, "{log}");
    for l in listening {
        assert!(l.contains("addr=127.0.0.1:"), "{l}");
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn long_s3_writes_log_their_start_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&dir.path().join("data"));
    let stderr = dir.path().join("s.err");
    let cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (mut child, lines) = start(cmd, "export AWS_DEFAULT_REGION=", &stderr).await;
    let s3 = value_after(&lines, "S3:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let key = value_after(&lines, "export AWS_ACCESS_KEY_ID=").to_owned();
    let secret = value_after(&lines, "export AWS_SECRET_ACCESS_KEY=").to_owned();
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, query: &[(&str, &str)], body: Vec<u8>| {
        let (pq, headers) = s3_support::sign_v4(&s3, &key, &secret, method, path, query, &[]);
        let mut req = http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{s3}{pq}"),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(body).send()
    };
    // One PutObject of 72 MiB (over the 64 MiB threshold), one Complete of 2 × 36 MiB.
    let big = vec![7u8; 72 << 20];
    let put = call("PUT", "/documents/big.bin", &[], big).await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let put_id = put.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // A multipart upload of 2 × 36 MiB, completed; returns the Complete's request id.
    let multipart = async |path: &str| {
        let created = call("POST", path, &[("uploads", "")], Vec::new())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let upload_id = s3_support::xml_value(&created, "UploadId").unwrap();
        let mut xml = String::from("<CompleteMultipartUpload>");
        for n in ["1", "2"] {
            let part = call(
                "PUT",
                path,
                &[("partNumber", n), ("uploadId", &upload_id)],
                vec![1u8; 36 << 20],
            )
            .await
            .unwrap();
            assert_eq!(part.status().as_u16(), 200);
            let etag = part.headers()["etag"].to_str().unwrap().to_owned();
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let done = call("POST", path, &[("uploadId", &upload_id)], xml.into_bytes())
            .await
            .unwrap();
        let id = done.headers()["x-amz-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = done.text().await.unwrap();
        assert!(body.contains("<ETag>"), "{body}");
        id
    };
    // Into an existing folder: streamed up while the parts arrive, Complete sends no more than
    // the tail and is no long write.
    let streamed_id = multipart("/documents/parts.bin").await;
    // Into a folder that does not exist yet (made at Complete): Complete uploads it all.
    let complete_id = multipart("/documents/new/parts.bin").await;
    let log = std::fs::read_to_string(&stderr).unwrap();
    child.kill().await.unwrap();
    for (id, op, size) in [
        (&put_id, "PutObject", 72u64 << 20),
        (&complete_id, "CompleteMultipartUpload", 72 << 20),
    ] {
        let mine: Vec<&str> = log.lines().filter(|l| l.contains(id.as_str())).collect();
        let started: Vec<&&str> = mine
            .iter()
            .filter(|l| l.contains("long write started"))
            .collect();
        assert_eq!(started.len(), 1, "{op}: {log}");
        assert!(
            started[0].contains(&format!("size_bytes={size}")),
            "{}",
            started[0]
        );
        let progress: Vec<&&str> = mine
            .iter()
            .filter(|l| l.contains("long write progress"))
            .collect();
        assert_eq!(progress.len(), 4, "{op}: {log}");
        assert!(progress[3].contains("percent=100"), "{}", progress[3]);
        assert!(progress.iter().all(|l| l.contains(op)), "{progress:?}");
    }
    let streamed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("multipart upload stored as streamed"))
        .collect();
    assert_eq!(streamed.len(), 1, "{log}");
    assert!(
        streamed[0].contains(&format!("size_bytes={}", 72u64 << 20)),
        "{}",
        streamed[0]
    );
    assert!(
        !log.lines()
            .any(|l| l.contains(streamed_id.as_str()) && l.contains("long write")),
        "{log}"
    );
    // Small writes stay quiet.
    assert_eq!(log.matches("long write started").count(), 2, "{log}");
}

#[tokio::test]
async fn long_webdav_puts_log_their_start_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&dir.path().join("data"));
    let stderr = dir.path().join("s.err");
    let cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (mut child, lines) = start(cmd, "export AWS_DEFAULT_REGION=", &stderr).await;
    let token = value_after(&lines, "export SCAIDRIVE_TOKEN=").to_owned();
    let webdav = value_after(&lines, "WebDAV:")
        .trim_end_matches('/')
        .to_owned();
    let http = reqwest::Client::new();
    let size = 72u64 << 20;
    // One PUT with its length (streamed on as it arrives), one chunked without (spooled first).
    let known = http
        .put(format!("{webdav}/Documents/big.bin"))
        .basic_auth("anyone", Some(&token))
        .body(vec![7u8; 72 << 20])
        .send()
        .await
        .unwrap();
    let chunks = (0..72).map(|_| Ok::<_, std::io::Error>(vec![3u8; 1 << 20]));
    let chunked = http
        .put(format!("{webdav}/Documents/chunked.bin"))
        .basic_auth("anyone", Some(&token))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for resp in [known, chunked] {
        assert!(resp.status().is_success(), "{}", resp.status());
        ids.push(resp.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    // Small writes stay quiet.
    let small = http
        .put(format!("{webdav}/Documents/small.txt"))
        .basic_auth("anyone", Some(&token))
        .body("small")
        .send()
        .await
        .unwrap();
    assert!(small.status().is_success(), "{}", small.status());
    let log = std::fs::read_to_string(&stderr).unwrap();
    child.kill().await.unwrap();
    for id in &ids {
        let mine: Vec<&str> = log.lines().filter(|l| l.contains(id.as_str())).collect();
        let started: Vec<&&str> = mine
            .iter()
            .filter(|l| l.contains("long write started"))
            .collect();
        assert_eq!(started.len(), 1, "{id}: {log}");
        assert!(
            started[0].contains(&format!("size_bytes={size}")),
            "{}",
            started[0]
        );
        assert!(started[0].contains("protocol=\"webdav\""), "{}", started[0]);
        let progress: Vec<&&str> = mine
            .iter()
            .filter(|l| l.contains("long write progress"))
            .collect();
        assert_eq!(progress.len(), 4, "{id}: {log}");
        assert!(progress[3].contains("percent=100"), "{}", progress[3]);
        assert!(
            progress.iter().all(|l| l.contains("operation=\"PUT\"")),
            "{progress:?}"
        );
    }
    assert_eq!(log.matches("long write started").count(), 2, "{log}");
}

#[tokio::test]
async fn a_recursive_delete_of_a_folder_tree_logs_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&dir.path().join("data"));
    let stderr = dir.path().join("s.err");
    let cmd = command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (mut child, lines) = start(cmd, "export AWS_DEFAULT_REGION=", &stderr).await;
    let s3 = value_after(&lines, "S3:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let key = value_after(&lines, "export AWS_ACCESS_KEY_ID=").to_owned();
    let secret = value_after(&lines, "export AWS_SECRET_ACCESS_KEY=").to_owned();
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, query: &[(&str, &str)], body: Vec<u8>| {
        let (pq, headers) = s3_support::sign_v4(&s3, &key, &secret, method, path, query, &[]);
        let mut req = http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{s3}{pq}"),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(body).send()
    };
    // A tree of folders in folders, deleted as `aws s3 rm --recursive` does: one DeleteObject
    // per key in listing order, ten at a time. The last deletes of a folder race to prune it.
    let mut keys = Vec::new();
    for folder in ["a", "a/x", "b", "b/y", "c", "c/z", "d", "d/w"] {
        for n in 0..6 {
            keys.push(format!("tree/{folder}/f{n}.txt"));
        }
    }
    keys.sort();
    for k in &keys {
        let put = call(
            "PUT",
            &format!("/documents/{k}"),
            &[],
            k.clone().into_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(put.status().as_u16(), 200, "{k}");
    }
    let deletes = futures::stream::iter(keys.iter().map(|k| {
        let sent = call("DELETE", &format!("/documents/{k}"), &[], Vec::new());
        async move { (k, sent.await.unwrap().status().as_u16()) }
    }))
    .buffer_unordered(10)
    .collect::<Vec<_>>()
    .await;
    for (k, status) in deletes {
        assert_eq!(status, 204, "{k}");
    }
    let listed = call(
        "GET",
        "/documents",
        &[("list-type", "2"), ("prefix", "tree/")],
        Vec::new(),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        s3_support::xml_values(&listed, "Key").is_empty(),
        "{listed}"
    );
    let log = std::fs::read_to_string(&stderr).unwrap();
    child.kill().await.unwrap();
    // Every delete succeeded: nothing failed, so nothing is an ERROR (nor a WARN).
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
}
