//! The container files under `docker/`, checked without a Docker daemon: the Dockerfile builds
//! with the crate's Rust version, every variable and flag the Dockerfile and the compose file use
//! exists (`docs/configuration.md`, `src/config/`, `--help`), the build context lets in what the
//! Dockerfile copies, the compose seed is accepted by the real emulator, and the health probe
//! tells a 200 from anything else against that emulator. `docker/check.sh` does the rest on a
//! machine with Docker.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_scaidrive-gateway");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

/// Every `SCAIDRIVE_…` name in `text`.
fn env_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("SCAIDRIVE_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// `--flag` names on the lines of `text` that hold a command (`command:` and its list items).
fn compose_command_flags(text: &str) -> Vec<(String, String)> {
    let mut flags = Vec::new();
    let mut service = String::new();
    let mut subcommand = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            service = name.to_string();
        }
        let item = line.trim_start().trim_start_matches("- ").trim();
        if ["emulator", "serve"].contains(&item) {
            subcommand = item.to_string();
        }
        if line.trim_start().starts_with("command: [\"serve\"") {
            subcommand = "serve".to_string();
        }
        if let Some(flag) = item.strip_prefix("--") {
            let name = flag.split('=').next().unwrap().to_string();
            flags.push((format!("{service} {subcommand}"), name));
        }
    }
    flags
}

#[test]
fn dockerfile_rust_version_is_the_crates_rust_version() {
    let dockerfile = read("docker/Dockerfile");
    let docker_version = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION= in docker/Dockerfile");
    let manifest = read("Cargo.toml");
    let crate_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version in Cargo.toml")
        .trim_matches('"');
    assert_eq!(docker_version, crate_version);
    assert!(
        dockerfile.contains("FROM rust:${RUST_VERSION}-"),
        "the build stage uses RUST_VERSION"
    );
    assert!(dockerfile.contains("cargo build --release --locked"));
}

#[test]
fn every_variable_the_container_files_set_is_a_documented_option() {
    let documented = env_names(&read("docs/configuration.md"));
    // The configuration is src/config/*.rs.
    let mut config_source = String::new();
    let mut parts: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    parts.sort();
    for p in parts {
        config_source.push_str(&std::fs::read_to_string(p).unwrap());
    }
    let in_source = env_names(&config_source);
    let used: BTreeSet<String> = env_names(&read("docker/Dockerfile"))
        .into_iter()
        .chain(env_names(&read("docker/compose.yaml")))
        .chain(env_names(&read("docker/http-probe")))
        .collect();
    assert!(used.contains("SCAIDRIVE_URL"), "{used:?}");
    assert!(used.contains("SCAIDRIVE_GATEWAY_DATA_DIR"), "{used:?}");
    for name in &used {
        assert!(
            documented.contains(name),
            "{name} is not in docs/configuration.md"
        );
        assert!(
            in_source.contains(name),
            "{name} is not read by src/config/"
        );
    }
    // The image's documented environment (operations.md) is the image's environment.
    let operations = read("docs/operations.md");
    for name in env_names(&read("docker/Dockerfile")) {
        assert!(
            operations.contains(&name),
            "{name} is not in docs/operations.md"
        );
    }
}

#[test]
fn every_flag_the_compose_file_passes_exists() {
    let flags = compose_command_flags(&read("docker/compose.yaml"));
    assert!(
        flags
            .iter()
            .any(|(at, f)| at == "emulator emulator" && f == "seed"),
        "{flags:?}"
    );
    for (at, flag) in flags {
        let subcommand = at.split(' ').nth(1).unwrap();
        let help = Command::new(BIN)
            .args([subcommand, "--help"])
            .output()
            .unwrap();
        assert!(help.status.success());
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(
            help.contains(&format!("--{flag} ")),
            "{at}: --{flag} is not in `{subcommand} --help`"
        );
    }
}

#[test]
fn build_context_admits_what_the_dockerfile_copies() {
    let ignore = read(".dockerignore");
    let admitted: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    assert!(
        ignore.lines().any(|l| l == "*"),
        "everything else is left out"
    );
    let dockerfile = read("docker/Dockerfile");
    let mut copied = 0;
    for line in dockerfile.lines() {
        let Some(args) = line.strip_prefix("COPY ") else {
            continue;
        };
        if args.starts_with("--from=") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            assert!(
                admitted.contains(source),
                "{source} is left out by .dockerignore"
            );
            assert!(repo().join(source).exists(), "{source} does not exist");
            copied += 1;
        }
    }
    assert!(
        copied >= 4,
        "Cargo.toml, Cargo.lock, src, docker/http-probe"
    );
}

/// A child process killed when dropped, so a failed assertion leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The emulator on port 0 with the compose seed; returns it and its port.
fn start_emulator(data: &Path) -> (Killed, u16) {
    let mut child = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--seed")
        .arg(repo().join("docker/seed.toml"))
        .env_remove("SCAIDRIVE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut port = None;
    let mut token = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("export SCAIDRIVE_URL=http://127.0.0.1:") {
            port = Some(url.parse::<u16>().unwrap());
        }
        if let Some(t) = line.strip_prefix("export SCAIDRIVE_TOKEN=") {
            token = Some(t.to_string());
            break;
        }
    }
    assert_eq!(
        token.as_deref(),
        Some("compose-demo-token"),
        "the compose gateway's SCAIDRIVE_TOKEN is the seed's"
    );
    (child, port.expect("the banner names the URL"))
}

fn probe(path: &str, port: u16) -> bool {
    Command::new("bash")
        .arg(repo().join("docker/http-probe"))
        .args([path, &port.to_string()])
        .stdin(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn health_probe_passes_on_200_and_fails_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, port) = start_emulator(&dir.path().join("emulator"));
    let ready = probe("/api/v1/ready", port);
    let missing = probe("/no-such-path", port);
    let unauthorized = probe("/api/v1/users/me", port);
    drop(emulator);
    let closed = probe("/api/v1/ready", port);
    assert!(ready, "200 from /api/v1/ready");
    assert!(!missing, "404 is not healthy");
    assert!(!unauthorized, "401 is not healthy");
    assert!(!closed, "nothing listening is not healthy");
}

/// The `${NAME}` variables of `docker/haproxy.cfg` (comments left out).
fn haproxy_variables(cfg: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in cfg.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find("${") {
            let tail = &rest[i + 2..];
            let end = tail.find('}').unwrap();
            names.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    names
}

/// The text of one top-level service of the compose file (its indented block).
fn compose_service<'a>(compose: &'a str, name: &str) -> &'a str {
    let head = format!("\n  {name}:");
    let start = compose
        .find(&head)
        .unwrap_or_else(|| panic!("service {name}"));
    let body = &compose[start + head.len()..];
    // It ends at the next line indented by two spaces or less (not a comment).
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i)
        .find(|&i| {
            let next = &body[i + 1..];
            !next.starts_with("   ") && !next.trim_start().starts_with('#') && !next.is_empty()
        })
        .unwrap_or(body.len());
    &body[..end]
}

#[test]
fn cluster_profile_runs_three_gateways_on_postgres_behind_haproxy() {
    let compose = read("docker/compose.yaml");
    let cfg = read("docker/haproxy.cfg");
    // The single-instance services stay outside every profile.
    for single in ["emulator", "gateway"] {
        assert!(
            !compose_service(&compose, single).contains("profiles:"),
            "{single} must start without a profile"
        );
    }
    for service in ["postgres", "gateway-1", "haproxy"] {
        assert!(
            compose_service(&compose, service).contains("profiles: [cluster]"),
            "{service} is in the cluster profile"
        );
    }
    let gateway = compose_service(&compose, "gateway-1");
    assert!(gateway.contains("SCAIDRIVE_GATEWAY_STATE_URL: postgres://"));
    assert!(gateway.contains("&cluster-gateway"));
    for other in ["gateway-2", "gateway-3"] {
        assert_eq!(
            compose_service(&compose, other).trim(),
            "*cluster-gateway",
            "{other} is gateway-1's twin"
        );
    }
    // HAProxy gets every variable its configuration reads, and mounts that configuration.
    let haproxy = compose_service(&compose, "haproxy");
    assert!(haproxy.contains("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"));
    let variables = haproxy_variables(&cfg);
    assert!(variables.contains("SDGW_GW3_ADMIN_PORT"), "{variables:?}");
    for name in &variables {
        assert!(
            haproxy.contains(&format!("      {name}: ")),
            "haproxy service does not set {name}"
        );
    }
    // Round-robin per request with readiness checks, and nothing that pins a client to one
    // instance.
    let directives: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(directives.contains(&"balance roundrobin"));
    assert!(directives.contains(&"option httpchk GET /readyz"));
    for pinning in [
        "cookie",
        "stick",
        "option prefer-last-server",
        "balance source",
        "hash-",
    ] {
        assert!(
            !directives.iter().any(|d| d.starts_with(pinning)),
            "{pinning} in docker/haproxy.cfg"
        );
    }
}
