//! ScaiDrive's own quickstart, run with curl exactly as its page writes it, against the
//! standalone `scaidrive-gateway emulator` binary. The only substitutions are the ones the page
//! asks the reader to make: the exported URL and token, and the file id the upload returned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The seed gives the share the id the quickstart uses, so its commands run unchanged.
const SEED: &str = r#"
[tenant]
name = "Quickstart"

[[users]]
id = "usr_01J3KXQ0U"
email = "alice@example.com"
name = "Alice Cooper"

[[tokens]]
token = "eyJhbGc.quickstart.token"
user = "usr_01J3KXQ0U"
scopes = ["files:read", "files:write"]

[[groups]]
id = "grp_01J3KXQ0A"
name = "Engineering"
members = ["usr_01J3KXQ0U"]

[[shares]]
id = "shr_01J3KXQ0N"
name = "Engineering"
share_type = "central"
owner_id = "grp_01J3KXQ0A"
quota_bytes = 107374182400
# External links need the SHARE permission (roles admin and owner); the quickstart's last step
# creates one, so the user is an admin of the share.
members = [ { principal = "grp_01J3KXQ0A", role = "contributor" },
            { principal = "usr_01J3KXQ0U", role = "admin" } ]
"#;

struct Emulator {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(dir: &std::path::Path) -> Emulator {
    let seed = dir.join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scaidrive-gateway"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .arg("--seed")
        .arg(&seed)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut url = None;
    let mut token = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("export SCAIDRIVE_URL=") {
            url = Some(v.to_owned());
        }
        if let Some(v) = line.strip_prefix("export SCAIDRIVE_TOKEN=") {
            token = Some(v.trim_matches('\'').to_owned());
        }
        if url.is_some() && token.is_some() {
            break;
        }
    }
    Emulator {
        child,
        url: url.expect("emulator printed no SCAIDRIVE_URL"),
        token: token.expect("emulator printed no SCAIDRIVE_TOKEN"),
    }
}

/// Runs a shell snippet with the quickstart's two exports set, in `dir`; returns stdout.
fn sh(emu: &Emulator, dir: &std::path::Path, script: &str) -> String {
    let out = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("SCAIDRIVE_URL", &emu.url)
        .env("SCAIDRIVE_TOKEN", &emu.token)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "script failed: {script}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn quickstart_curl_commands_work_verbatim() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is required (tests/run.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let emu = start_emulator(dir.path());
    std::fs::write(dir.path().join("hello.txt"), "Hello, world!").unwrap();

    // 2. List your shares
    let shares: Value = serde_json::from_str(&sh(
        &emu,
        dir.path(),
        r#"curl -H "Authorization: Bearer $SCAIDRIVE_TOKEN" \
     $SCAIDRIVE_URL/api/v1/users/me/shares"#,
    ))
    .unwrap();
    assert_eq!(shares["total"], 1);
    let share = &shares["shares"][0];
    assert_eq!(share["id"], "shr_01J3KXQ0N");
    assert_eq!(share["name"], "Engineering");
    assert_eq!(share["type"], "central");
    assert_eq!(share["role"], "admin", "the highest of the user's roles");
    assert_eq!(share["owner_id"], "grp_01J3KXQ0A");
    assert_eq!(share["quota_bytes"], 107374182400u64);
    assert!(share["used_bytes"].is_u64());

    // 3. Upload a file
    let uploaded: Value = serde_json::from_str(&sh(
        &emu,
        dir.path(),
        r#"curl -X POST $SCAIDRIVE_URL/api/v1/files \
  -H "Authorization: Bearer $SCAIDRIVE_TOKEN" \
  -F "share_id=shr_01J3KXQ0N" \
  -F "file=@./hello.txt""#,
    ))
    .unwrap();
    let keys: Vec<&str> = uploaded
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        {
            let mut k = keys.clone();
            k.sort_unstable();
            k
        },
        ["checksum_sha256", "id", "name", "size", "version_id"],
        "the slim FileUploadResponse"
    );
    assert_eq!(uploaded["name"], "hello.txt");
    assert_eq!(uploaded["size"], 13);
    assert_eq!(
        uploaded["checksum_sha256"],
        "315f5bdb76d078c43b8ac0064e4a0164612b1fce77c869345bfc94c75894edd3"
    );
    let file_id = uploaded["id"].as_str().unwrap();
    assert!(file_id.starts_with("fil_"));
    assert!(uploaded["version_id"].as_str().unwrap().starts_with("ver_"));

    // 4. Download the file back (the page's fil_01J3KXQ0Z is the id the upload returned).
    sh(
        &emu,
        dir.path(),
        &r#"curl -H "Authorization: Bearer $SCAIDRIVE_TOKEN" \
     -o hello-downloaded.txt \
     $SCAIDRIVE_URL/api/v1/files/fil_01J3KXQ0Z/content"#
            .replace("fil_01J3KXQ0Z", file_id),
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hello-downloaded.txt")).unwrap(),
        "Hello, world!"
    );

    // Share that file with someone who doesn't have a ScaiDrive account.
    let link: Value = serde_json::from_str(&sh(
        &emu,
        dir.path(),
        &r#"curl -X POST $SCAIDRIVE_URL/api/v1/external/links \
  -H "Authorization: Bearer $SCAIDRIVE_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "resource_type": "file",
    "resource_id": "fil_01J3KXQ0Z",
    "share_id": "shr_01J3KXQ0N",
    "link_type": "DOWNLOAD",
    "expires_in_days": 7,
    "password": "hunter2"
  }'"#
        .replace("fil_01J3KXQ0Z", file_id),
    ))
    .unwrap();
    assert!(
        link["id"].as_str().unwrap_or_default().starts_with("lnk_"),
        "{link}"
    );
    assert_eq!(link["link_type"], "DOWNLOAD");
    assert_eq!(link["resource_id"], file_id);
    assert_eq!(link["password_required"], true);
    assert_eq!(link["status"], "active");
    assert!(
        link.get("password").is_none(),
        "the password is never returned"
    );
    let url = link["url"].as_str().unwrap();
    let token = link["token"].as_str().unwrap();
    assert_eq!(url, format!("{}/share/{token}", emu.url));
    let expires = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let in_days = (expires - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&in_days), "expires in {in_days} h");
}
