//! A throwaway PostgreSQL for tests: one cluster per test process (`initdb` in a temp directory,
//! its own port, trust authentication), a fresh database per test. The server is stopped and its
//! directory removed by a small watchdog shell that waits for this process to exit (it reads a
//! pipe only this process holds), so nothing is left behind however the tests end.
//!
//! Self-contained (std, tokio-postgres): the state layer's unit tests use it as a module, and
//! integration tests include the same file with `#[path = "../src/state/testpg.rs"]`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the cluster may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(60);

struct Cluster {
    port: u16,
    dir: PathBuf,
    /// Kept open for the life of the process: its closing is the watchdog's signal.
    _watchdog: ChildStdin,
    _server: Child,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The URL of a new, empty database on this process's cluster (started on first use). Panics
/// with what to do when PostgreSQL is not installed.
pub async fn fresh_database_url() -> String {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("throwaway PostgreSQL: {e}"),
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        cluster.port
    );
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the throwaway PostgreSQL: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = task.await;
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// The directory of this process's cluster (for tests that look at it).
pub fn cluster_dir() -> Option<PathBuf> {
    CLUSTER
        .get()
        .and_then(|c| c.as_ref().ok())
        .map(|c| c.dir.clone())
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `postgres`.
fn bin_dir() -> Result<PathBuf, String> {
    let missing = "no initdb/postgres under /usr/lib/postgresql/*/bin: install the `postgresql` \
                   Debian package (apt-get install postgresql) to run the PostgreSQL tests";
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| missing.to_owned())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| missing.to_owned())
}

/// The effective user id of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// uid and gid of the `postgres` user from `/etc/passwd`.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() > 3 && f[0] == "postgres")
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
        .ok_or_else(|| {
            "running as root, and there is no `postgres` user to run PostgreSQL as \
             (the `postgresql` Debian package creates it)"
                .to_owned()
        })
}

/// `program` run directly, or through `runuser -u postgres --` as root (PostgreSQL refuses to
/// run as root).
fn command(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let as_postgres = euid() == 0;
    let dir = std::env::temp_dir().join(format!(
        "scaidrive-testpg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The watchdog first, so the directory goes away even if the start fails half way.
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(
            r#"read _unused
pid=$(head -n 1 "$0/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -INT "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
rm -rf "$0""#,
        )
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the watchdog shell: {e}"))?;
    let watchdog_stdin = watchdog.stdin.take().ok_or("watchdog without stdin")?;
    if as_postgres {
        let (uid, gid) = postgres_user()?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let log_path = dir.join("server.log");
    let output = command(&bin.join("initdb"), as_postgres)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running initdb: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let port = free_port()?;
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut server = command(&bin.join("postgres"), as_postgres)
        .arg("-D")
        .arg(&data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    // `postmaster.pid` says `ready` on its eighth line once connections are accepted.
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        let status = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        if status.lines().nth(7).map(str::trim) == Some("ready") {
            break;
        }
        let exited = server.try_wait().map_err(|e| e.to_string())?;
        if exited.is_some() || Instant::now() > deadline {
            let _ = server.kill();
            return Err(format!(
                "postgres did not come up ({exited:?}): {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Cluster {
        port,
        dir,
        _watchdog: watchdog_stdin,
        _server: server,
    })
}
