//! Operations of the real `scaidrive-gateway` binary: SIGHUP reloads the TLS certificate,
//! SIGTERM lets an upload in flight finish (or, past the grace period, leaves nothing upstream),
//! and a run at debug or trace level writes no secret, signature or token to its log. Listeners
//! bind port 0; every wait polls with a deadline.

#![allow(clippy::unwrap_used)]

mod s3_support;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::{Client, Method, StatusCode};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

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

/// A running child whose stdout is read line by line; stderr goes to a file.
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stderr_path: PathBuf,
}

impl Running {
    fn spawn(mut cmd: Command, stderr_path: &Path) -> Running {
        let stderr = std::fs::File::create(stderr_path).unwrap();
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            stderr_path: stderr_path.to_owned(),
        }
    }

    async fn line_after(&mut self, prefix: &str) -> String {
        let read = async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        };
        match tokio::time::timeout(DEADLINE, read).await {
            Ok(Some(rest)) => rest,
            _ => panic!(
                "no line starting with {prefix:?}; stderr:\n{}",
                std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
            ),
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("process did not exit")
            .unwrap()
    }
}

/// `serve` on port 0 with `extra` flags; returns it with (S3 URL, WebDAV URL, admin URL, key,
/// secret) read from its banner.
async fn serve(dir: &Path, name: &str, extra: &[&str]) -> (Running, [String; 5]) {
    let data = dir.join("data");
    let mut args = vec![
        "--data-dir",
        data.to_str().unwrap(),
        "--s3-listen",
        "127.0.0.1:0",
        "--webdav-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    args.push("serve");
    let mut run = Running::spawn(command(&args), &dir.join(format!("{name}.stderr")));
    let s3 = run.line_after("S3:").await;
    let webdav = run.line_after("WebDAV:").await;
    let admin = run.line_after("Admin:").await;
    let key = run.line_after("export AWS_ACCESS_KEY_ID=").await;
    let secret = run.line_after("export AWS_SECRET_ACCESS_KEY=").await;
    let first = |s: &str| s.split_whitespace().next().unwrap().to_owned();
    let urls = [
        first(&s3),
        first(&webdav).trim_end_matches('/').to_owned(),
        first(&admin),
        key,
        secret,
    ];
    (run, urls)
}

fn write_cert(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key, ck.cert.pem())
}

fn trusting(pem: &str) -> Client {
    Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sighup_reloads_the_tls_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, first_pem) = write_cert(dir.path());
    let (mut run, [s3, ..]) = serve(
        dir.path(),
        "tls",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(s3.starts_with("https://127.0.0.1:"), "{s3}");
    // An unsigned listing of a private bucket: S3's 403 (unsigned ListBuckets is an empty list).
    let s3 = format!("{s3}/documents");
    let first = trusting(&first_pem);
    assert_eq!(first.get(&s3).send().await.unwrap().status(), 403);

    // New files, then SIGHUP: new connections present the new certificate.
    let (_, _, second_pem) = write_cert(dir.path());
    run.signal("-HUP");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        // A fresh client per try: no pooled connection from before the reload.
        if let Ok(resp) = trusting(&second_pem).get(&s3).send().await {
            assert_eq!(resp.status(), 403);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(trusting(&first_pem).get(&s3).send().await.is_err());
    run.signal("-TERM");
    assert!(run.wait().await.success());
    let log = std::fs::read_to_string(dir.path().join("tls.stderr")).unwrap();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

/// Polls `/metrics` until WebDAV has a request in flight.
async fn until_webdav_request_in_flight(admin: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let text = reqwest::get(format!("{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("scaidrive_gateway_requests_in_flight{protocol=\"webdav\"} 1") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until nothing accepts connections at `url`'s address any more.
async fn until_not_accepting(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Sender = futures::channel::mpsc::UnboundedSender<Result<Bytes, std::io::Error>>;

/// Starts a WebDAV PUT of `len` announced bytes whose body is fed through the returned sender.
fn streaming_put(
    url: String,
    user: &str,
    pass: &str,
    len: u64,
) -> (
    Sender,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
    let req = Client::new()
        .put(url)
        .basic_auth(user, Some(pass))
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(rx));
    (tx, tokio::spawn(req.send()))
}

#[tokio::test]
async fn sigterm_lets_an_upload_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let (mut run, [_, webdav, admin, user, pass]) =
        serve(dir.path(), "first", &["--shutdown-grace-secs", "60"]).await;
    let url = format!("{webdav}/Documents/in-flight.bin");
    let (tx, put) = streaming_put(url.clone(), &user, &pass, 131_072);
    tx.unbounded_send(Ok(Bytes::from(vec![1u8; 65536])))
        .unwrap();
    until_webdav_request_in_flight(&admin).await;

    run.signal("-TERM");
    until_not_accepting(&webdav).await;
    // The rest of the body still arrives and the upload completes.
    tx.unbounded_send(Ok(Bytes::from(vec![2u8; 65536])))
        .unwrap();
    drop(tx);
    let resp = put.await.unwrap().unwrap();
    assert!(
        resp.status().is_success(),
        "{}; log:\n{}",
        resp.status(),
        std::fs::read_to_string(dir.path().join("first.stderr")).unwrap_or_default()
    );
    assert!(run.wait().await.success());

    // After a restart on the same data directory the whole file is there.
    let (mut again, [_, webdav, _, user, pass]) = serve(dir.path(), "second", &[]).await;
    let resp = Client::new()
        .get(format!("{webdav}/Documents/in-flight.bin"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), 131_072);
    assert!(body[..65536].iter().all(|b| *b == 1) && body[65536..].iter().all(|b| *b == 2));
    again.signal("-TERM");
    assert!(again.wait().await.success());
}

#[tokio::test]
async fn sigterm_past_the_grace_period_leaves_nothing_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (mut run, [_, webdav, admin, user, pass]) =
        serve(dir.path(), "first", &["--shutdown-grace-secs", "1"]).await;
    let (tx, put) = streaming_put(format!("{webdav}/Documents/cut.bin"), &user, &pass, 131_072);
    tx.unbounded_send(Ok(Bytes::from(vec![3u8; 65536])))
        .unwrap();
    until_webdav_request_in_flight(&admin).await;
    run.signal("-TERM");
    // The body never completes: the gateway cuts the connection once the grace period is over.
    assert!(run.wait().await.success());
    let outcome = put.await.unwrap();
    assert!(
        outcome.as_ref().map_or(true, |r| !r.status().is_success()),
        "{outcome:?}"
    );
    drop(tx);

    let (mut again, [_, webdav, _, user, pass]) = serve(dir.path(), "second", &[]).await;
    let http = Client::new();
    let resp = http
        .get(format!("{webdav}/Documents/cut.bin"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let listing = http
        .request(
            Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{webdav}/Documents/"),
        )
        .basic_auth(&user, Some(&pass))
        .header("depth", "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains("cut.bin"), "{listing}");
    again.signal("-TERM");
    assert!(again.wait().await.success());
}

/// A SigV4 (`UNSIGNED-PAYLOAD`) request to `endpoint` for a path of plain characters.
fn signed(
    http: &Client,
    endpoint: &str,
    key: &str,
    secret: &str,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let (target, headers) =
        s3_support::sign_v4(endpoint, key, secret, method.as_str(), path, &[], &[]);
    let mut req = http.request(method, format!("{endpoint}{target}"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req
}

/// HMAC-SHA1, for SigV2 signatures.
fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    use sha1::{Digest as _, Sha1};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha1::new()
        .chain_update(&ipad)
        .chain_update(data)
        .finalize();
    Sha1::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The SigV2 signature (Base64) of a body-less request for `resource` (`/bucket/key`), with
/// `date` the `Date` header or the `Expires` value.
fn sign_v2(secret: &str, method: &str, date: &str, resource: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    b64.encode(hmac_sha1(
        secret.as_bytes(),
        format!("{method}\n\n\n{date}\n{resource}").as_bytes(),
    ))
}

/// `sig` with its first character changed: a signature the gateway refuses (and whose correct
/// value it knows).
fn tampered(sig: &str) -> String {
    let first = if sig.starts_with('0') { "1" } else { "0" };
    format!("{first}{}", &sig[1..])
}

/// Runs `serve` at `level` in `format` (against a standalone emulator whose token the test
/// knows), makes requests with every kind of credential, valid and refused, and returns the
/// log and every secret value those requests carried.
async fn log_of_credentialed_requests(level: &str, format: &str) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    // A standalone emulator: its token is known to the test.
    let emu_data = dir.path().join("emulator");
    let mut emu = Running::spawn(
        command(&[
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--data",
            emu_data.to_str().unwrap(),
        ]),
        &dir.path().join("emulator.stderr"),
    );
    let url = emu.line_after("export SCAIDRIVE_URL=").await;
    let token = emu.line_after("export SCAIDRIVE_TOKEN=").await;
    let token = token.trim_matches('\'').to_owned();
    let key = "AKIALOGCHECK00000001";
    let secret = "log-check-secret-7f3a9c1e5b";

    let data = dir.path().join("data");
    let mut cmd = command(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--s3-listen",
        "127.0.0.1:0",
        "--webdav-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--log-level",
        level,
        "--log-format",
        format,
        "serve",
    ]);
    cmd.env("SCAIDRIVE_URL", &url)
        .env("SCAIDRIVE_TOKEN", &token)
        .env("SCAIDRIVE_GATEWAY_ACCESS_KEY_ID", key)
        .env("SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY", secret);
    let log_path = dir.path().join("serve.stderr");
    let mut run = Running::spawn(cmd, &log_path);
    let s3 = run.line_after("S3:").await;
    let s3 = s3.split_whitespace().next().unwrap().to_owned();
    let webdav = run.line_after("WebDAV:").await;
    let webdav = webdav
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();

    let http = Client::new();
    let mut secrets = vec![secret.to_owned(), token.clone()];
    // S3, SigV4 header: signed writes, reads, listings; a wrong secret; an unknown key; a
    // signature one character off (s3s knows the right one).
    let put = signed(&http, &s3, key, secret, Method::PUT, "/documents/log/a.txt")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    for (k, s, path, want) in [
        (key, secret, "/documents/log/a.txt", 200),
        (key, secret, "/documents", 200),
        (key, secret, "/", 200),
        (key, "wrong-secret", "/documents", 403),
        ("AKIAUNKNOWN000000000", secret, "/", 403),
    ] {
        let req = signed(&http, &s3, k, s, Method::GET, path).build().unwrap();
        let auth = req.headers()["authorization"].to_str().unwrap();
        secrets.push(auth.rsplit_once("Signature=").unwrap().1.to_owned());
        let resp = http.execute(req).await.unwrap();
        assert_eq!(resp.status(), want, "{path}");
    }
    let mut req = signed(&http, &s3, key, secret, Method::GET, "/documents/log/a.txt")
        .build()
        .unwrap();
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let (head, sig) = auth.rsplit_once("Signature=").unwrap();
    secrets.push(sig.to_owned());
    let bad = format!("{head}Signature={}", tampered(sig));
    req.headers_mut()
        .insert("authorization", bad.parse().unwrap());
    assert_eq!(http.execute(req).await.unwrap().status(), 403);

    // S3, presigned SigV4: a good URL and the same URL one character off.
    let presigned = s3_support::presign_v4(
        &s3,
        key,
        secret,
        "us-east-1",
        "GET",
        "/documents/log/a.txt",
        300,
    );
    let sig = presigned
        .rsplit_once("X-Amz-Signature=")
        .unwrap()
        .1
        .to_owned();
    let resp = http.get(format!("{s3}{presigned}")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let off = presigned.replace(&sig, &tampered(&sig));
    let resp = http.get(format!("{s3}{off}")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    secrets.push(sig);

    // S3, SigV2: a presigned query and a header, each good and one character off.
    let expires = (chrono::Utc::now().timestamp() + 300).to_string();
    let sig = sign_v2(secret, "GET", &expires, "/documents/log/a.txt");
    for (s, want) in [(sig.clone(), 200), (tampered(&sig), 403)] {
        let resp = http
            .get(format!("{s3}/documents/log/a.txt"))
            .query(&[
                ("AWSAccessKeyId", key),
                ("Expires", expires.as_str()),
                ("Signature", s.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "SigV2 query");
    }
    secrets.push(sig);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let sig = sign_v2(secret, "GET", &date, "/documents/log/a.txt");
    for (s, want) in [(sig.clone(), 200), (tampered(&sig), 403)] {
        let resp = http
            .get(format!("{s3}/documents/log/a.txt"))
            .header("date", &date)
            .header("authorization", format!("AWS {key}:{s}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "SigV2 header");
    }
    secrets.push(sig);

    // WebDAV: Basic with the key pair, Basic with the token, Bearer, and a wrong password.
    let dav = format!("{webdav}/Documents/log/b.txt");
    let resp = http
        .put(&dav)
        .basic_auth(key, Some(secret))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let resp = http
        .get(&dav)
        .basic_auth("anyone", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http.get(&dav).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(&dav)
        .basic_auth(key, Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    run.signal("-TERM");
    assert!(run.wait().await.success());
    emu.signal("-TERM");
    emu.wait().await;

    let b64 = base64::engine::general_purpose::STANDARD;
    secrets.push(b64.encode(format!("{key}:{secret}")));
    secrets.push(b64.encode(format!("anyone:{token}")));
    secrets.push(b64.encode(format!("{key}:not-the-secret")));
    (std::fs::read_to_string(&log_path).unwrap(), secrets)
}

/// Fails when `log` holds one of `secrets`, or a signature parameter with a value.
fn assert_no_secret(log: &str, secrets: &[String]) {
    for secretish in secrets {
        assert!(
            !log.contains(secretish.as_str()),
            "the log contains a secret ({} characters) in:\n{}",
            secretish.len(),
            log.lines()
                .find(|l| l.contains(secretish.as_str()))
                .unwrap_or_default()
                .replace(secretish.as_str(), "<SECRET>")
        );
    }
    for name in ["X-Amz-Signature=", "Signature="] {
        assert!(!log.contains(name), "the log names {name}");
    }
}

#[tokio::test]
async fn no_secret_or_token_appears_in_a_debug_log() {
    let (log, secrets) = log_of_credentialed_requests("debug", "json").await;
    // The run did log at debug level, with request spans.
    assert!(log.contains("\"level\":\"DEBUG\""), "{log}");
    assert!(log.contains("request done"), "{log}");
    assert_no_secret(&log, &secrets);
}

#[tokio::test]
async fn no_signature_or_token_appears_in_a_trace_log() {
    let (log, secrets) = log_of_credentialed_requests("trace", "human").await;
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    assert!(log.contains("request done"), "{log}");
    assert_no_secret(&log, &secrets);
}

/// Every `--flag` a help text lists.
fn flags_of(help: &str) -> std::collections::BTreeSet<String> {
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .split('=')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// `flag` occurs in `text` as a whole word (`--data` is not found in `--data-dir`).
fn mentions(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        !text[i + flag.len()..]
            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

async fn help(args: &[&str]) -> String {
    let out = tokio::time::timeout(DEADLINE, command(args).output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn help_of_every_command_matches_the_configuration_docs() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let top = help(&["--help"]).await;
    for sub in ["serve", "emulator", "credentials"] {
        assert!(top.contains(sub), "--help does not list {sub}:\n{top}");
    }
    // Every flag of every command is documented, and every documented gateway flag exists.
    let mut seen = std::collections::BTreeSet::new();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["emulator", "--help"],
        &["credentials", "--help"],
        &["credentials", "create", "--help"],
        &["credentials", "list", "--help"],
        &["credentials", "revoke", "--help"],
    ] {
        let text = help(args).await;
        for flag in flags_of(&text) {
            if flag == "--help" || flag == "--version" {
                continue;
            }
            assert!(
                mentions(&docs, &flag),
                "{flag} (from {args:?}) is not in docs/configuration.md"
            );
            seen.insert(flag);
        }
    }
    let table_flags: std::collections::BTreeSet<String> = docs
        .lines()
        .filter(|l| l.starts_with("| `") || l.starts_with("| —"))
        .flat_map(|l| flags_of(&l.replace('`', " ")))
        .collect();
    for flag in &table_flags {
        assert!(
            seen.contains(flag),
            "{flag} is documented but no command has it"
        );
    }
    // The global options carry their environment variable and default in the help text.
    for needle in [
        "SCAIDRIVE_GATEWAY_TLS_CERT",
        "SCAIDRIVE_GATEWAY_SHUTDOWN_GRACE_SECS",
        "SCAIDRIVE_GATEWAY_MAX_CONNECTIONS",
        "[default: 65536]",
    ] {
        assert!(top.contains(needle), "--help lacks {needle}:\n{top}");
    }
}
