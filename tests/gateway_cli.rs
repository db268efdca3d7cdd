//! Drives the real `scaidrive-gateway` binary: `serve` in embedded mode, `emulator`, and
//! `credentials create|list|revoke`; plus the library entry point `start_gateway` on port 0.
//! Every listener binds port 0 and every wait polls with a deadline.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use scaidrive_gateway::config::Config;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_scaidrive-gateway");
const DEADLINE: Duration = Duration::from_secs(60);

/// Variables that would leak the developer's setup into the tests.
const SCRUBBED_ENV: &[&str] = &[
    "SCAIDRIVE_URL",
    "SCAIDRIVE_TOKEN",
    "SCAIDRIVE_GATEWAY_CONFIG",
    "SCAIDRIVE_GATEWAY_DATA_DIR",
    "SCAIDRIVE_GATEWAY_ACCESS_KEY_ID",
    "SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY",
    "SCAIDRIVE_GATEWAY_S3_LISTEN",
    "SCAIDRIVE_GATEWAY_WEBDAV_LISTEN",
    "SCAIDRIVE_GATEWAY_ADMIN_LISTEN",
    "SCAIDRIVE_GATEWAY_EMBEDDED_LISTEN",
    "SCAIDRIVE_GATEWAY_LOG_FORMAT",
    "SCAIDRIVE_GATEWAY_LOG_LEVEL",
];

fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.arg("--data-dir").arg(data_dir);
    cmd.stdin(Stdio::null());
    cmd.kill_on_drop(true);
    cmd
}

/// A long-running child whose stdout is read line by line; stderr goes to a file for failures.
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
    stderr_path: std::path::PathBuf,
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
            seen: Vec::new(),
            stderr_path: stderr_path.to_owned(),
        }
    }

    /// Reads stdout until a line starts with `prefix`; returns the rest of that line.
    async fn line_after(&mut self, prefix: &str) -> String {
        let read = async {
            loop {
                match self.lines.next_line().await.unwrap() {
                    Some(line) => {
                        self.seen.push(line.clone());
                        if let Some(rest) = line.strip_prefix(prefix) {
                            return Some(rest.trim().to_owned());
                        }
                    }
                    None => return None,
                }
            }
        };
        match tokio::time::timeout(DEADLINE, read).await {
            Ok(Some(rest)) => rest,
            outcome => panic!(
                "no line starting with {prefix:?} ({}); stdout so far:\n{}\nstderr:\n{}",
                if outcome.is_err() {
                    "timed out"
                } else {
                    "stdout closed"
                },
                self.seen.join("\n"),
                std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
            ),
        }
    }

    /// Sends SIGTERM and waits for the exit.
    async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("process did not exit after SIGTERM")
            .unwrap()
    }
}

async fn run(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("command timed out")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// GETs `url` until it answers (the listener may still be coming up), then returns status and
/// body.
async fn get_when_up(url: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut pause = Duration::from_millis(10);
    loop {
        match client.get(url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                return (status, resp.text().await.unwrap());
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(e) => panic!("{url} never answered: {e}"),
        }
    }
}

fn serve_command(data_dir: &Path) -> Command {
    let mut cmd = command(data_dir);
    cmd.args([
        "--s3-listen",
        "127.0.0.1:0",
        "--webdav-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "serve",
    ]);
    cmd
}

/// Starts `serve`, reads the banner, checks the admin endpoints and stops it.
/// Returns (access key id, secret).
async fn serve_once(dir: &Path, data_dir: &Path) -> (String, String) {
    let mut serve = Running::spawn(serve_command(data_dir), &dir.join("serve.stderr"));
    let s3 = serve.line_after("S3:").await;
    assert!(s3.starts_with("http://127.0.0.1:"), "{s3}");
    let webdav = serve.line_after("WebDAV:").await;
    assert!(webdav.starts_with("http://127.0.0.1:"), "{webdav}");
    let admin = serve.line_after("Admin:").await;
    let admin = admin.split_whitespace().next().unwrap().to_owned();
    let key = serve.line_after("export AWS_ACCESS_KEY_ID=").await;
    let secret = serve.line_after("export AWS_SECRET_ACCESS_KEY=").await;
    let endpoint = serve.line_after("export AWS_ENDPOINT_URL=").await;
    assert!(
        s3.starts_with(&endpoint),
        "endpoint {endpoint} is not the S3 listener {s3}"
    );
    let region = serve.line_after("export AWS_DEFAULT_REGION=").await;
    assert_eq!(region, "us-east-1");
    assert_eq!(key.len(), 20, "{key}");
    assert!(key.starts_with("AKIA"), "{key}");
    assert_eq!(secret.len(), 40);

    assert_eq!(
        get_when_up(&format!("{admin}/healthz")).await,
        (200, "ok\n".to_owned())
    );
    let (status, body) = get_when_up(&format!("{admin}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    // The S3 listener answers; an unsigned listing of a private bucket is refused (unsigned
    // ListBuckets is an empty list).
    let (status, body) = get_when_up(&format!("{endpoint}/documents")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");

    let status = serve.terminate().await;
    assert!(status.success(), "serve exited with {status}");
    (key, secret)
}

#[tokio::test]
async fn serve_embedded_prints_exports_and_reuses_the_key_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let first = serve_once(dir.path(), &data_dir).await;
    assert!(data_dir.join("gateway.db").exists());
    assert!(data_dir.join("emulator").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join("gateway.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let second = serve_once(dir.path(), &data_dir).await;
    assert_eq!(first, second, "a restart must print the same key pair");

    // The stored credential is listed once, without its secret.
    let out = run(command(&data_dir).args(["credentials", "list"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert_eq!(listed.matches(&first.0).count(), 1, "{listed}");
    assert!(
        !listed.contains(&first.1),
        "list printed the secret:\n{listed}"
    );
}

/// Starts `emulator` on `data` and returns it with its URL and first token.
async fn start_emulator(dir: &Path, data: &Path) -> (Running, String, String) {
    let mut cmd = command(&dir.join("unused"));
    cmd.args(["emulator", "--listen", "127.0.0.1:0", "--data"])
        .arg(data);
    let mut emulator = Running::spawn(cmd, &dir.join("emulator.stderr"));
    let url = emulator.line_after("export SCAIDRIVE_URL=").await;
    let token = emulator.line_after("export SCAIDRIVE_TOKEN=").await;
    (emulator, url, token)
}

#[tokio::test]
async fn emulator_prints_exports_and_credentials_are_checked_stored_listed_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("gw");
    let (emulator, url, token) = start_emulator(dir.path(), &dir.path().join("emu")).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!token.is_empty());
    let (status, body) = get_when_up(&format!("{url}/api/v1/health")).await;
    assert_eq!(status, 200, "{body}");

    // A bad token is refused with a clear message and nothing is stored.
    let out = run(command(&data_dir).env("SCAIDRIVE_URL", &url).args([
        "credentials",
        "create",
        "--token",
        "not-a-token",
    ]))
    .await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("refused the token"), "{err}");
    assert!(
        !err.contains("not-a-token"),
        "the token leaked into the message: {err}"
    );

    // A good one is stored and its pair printed.
    let out = run(command(&data_dir).env("SCAIDRIVE_URL", &url).args([
        "credentials",
        "create",
        "--token",
        &token,
        "--label",
        "ci laptop",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let key = printed
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_ACCESS_KEY_ID="))
        .unwrap()
        .to_owned();
    let secret = printed
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_SECRET_ACCESS_KEY="))
        .unwrap()
        .to_owned();
    assert!(key.starts_with("AKIA") && key.len() == 20, "{key}");
    assert_eq!(secret.len(), 40);

    // Given key id and secret are kept as given.
    let out = run(command(&data_dir).env("SCAIDRIVE_URL", &url).args([
        "credentials",
        "create",
        "--token",
        &token,
        "--access-key-id",
        "AKIAGIVENGIVENGIVEN1",
        "--secret-access-key",
        "given-secret-given-secret-given-secret-0",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("export AWS_ACCESS_KEY_ID=AKIAGIVENGIVENGIVEN1"));

    // `list` shows both, with label and user, never a secret or token.
    let out = run(command(&data_dir).args(["credentials", "list"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains(&key) && listed.contains("AKIAGIVENGIVENGIVEN1"),
        "{listed}"
    );
    assert!(
        listed.contains("ci laptop") && listed.contains("usr_"),
        "{listed}"
    );
    assert!(
        !listed.contains(&secret) && !listed.contains(&token),
        "{listed}"
    );
    assert!(!listed.contains("given-secret"), "{listed}");

    // `revoke` removes it; revoking again fails.
    let out = run(command(&data_dir).args(["credentials", "revoke", &key])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(command(&data_dir).args(["credentials", "list"])).await;
    let listed = text(&out.stdout);
    assert!(!listed.contains(&key), "{listed}");
    assert!(listed.contains("AKIAGIVENGIVENGIVEN1"), "{listed}");
    let out = run(command(&data_dir).args(["credentials", "revoke", &key])).await;
    assert!(!out.status.success());

    let status = emulator.terminate().await;
    assert!(status.success(), "emulator exited with {status}");
}

#[tokio::test]
async fn credentials_create_without_url_checks_against_the_embedded_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // The embedded emulator lives in <data_dir>/emulator: run it standalone there once to learn
    // its default-seed token, which it keeps across restarts.
    let (emulator, _url, token) = start_emulator(dir.path(), &data_dir.join("emulator")).await;
    assert!(emulator.terminate().await.success());

    let out = run(command(&data_dir).args(["credentials", "create", "--token", "wrong"])).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("refused the token"),
        "{}",
        text(&out.stderr)
    );

    let out = run(command(&data_dir).args(["credentials", "create", "--token", &token])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("export AWS_ACCESS_KEY_ID=AKIA"));
}

#[tokio::test]
async fn readyz_is_503_while_scaidrive_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago and has nobody listening now.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    cfg.scaidrive.url = Some(format!("http://{closed}"));
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let admin = format!("http://{}", gateway.addrs().admin);

    assert_eq!(get_when_up(&format!("{admin}/healthz")).await.0, 200);
    let (status, body) = get_when_up(&format!("{admin}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("scaidrive"), "{body}");
    // WebDAV still asks for credentials first.
    let (status, body) = get_when_up(&format!("http://{}/x", gateway.addrs().webdav)).await;
    assert_eq!(status, 401, "{body}");
    assert!(gateway.banner().contains("credentials create"));

    gateway.shutdown().await;
    assert!(
        reqwest::get(format!("{admin}/healthz")).await.is_err(),
        "the admin listener still answers after shutdown"
    );
}
