//! The command-line subcommands other than `serve`: `credentials create|list|revoke`,
//! `state migrate` and `emulator`. `main.rs` parses and dispatches; the work and the output text live here.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::gateway::{open_state_db, start_embedded_emulator};
use crate::config::Config;
use crate::emulator::{self, EmulatorConfig, Faults, RunningEmulator, SeedToken};
use crate::scaidrive::{Client, ClientOptions, ErrorKind, Token, User};
use crate::state::{
    Credential, NewCredential, StateDb, StateError, StateLocation, StateOptions, TransferCounts,
};

/// Arguments of `credentials create`.
#[derive(Clone, clap::Args)]
pub struct CreateCredentialArgs {
    /// The ScaiDrive token the credential acts with (checked with GET /api/v1/users/me)
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// A label to recognise the credential by
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Access key id to use instead of a generated one
    #[arg(long, value_name = "ID", requires = "secret_access_key")]
    pub access_key_id: Option<String>,
    /// Secret access key to use instead of a generated one
    #[arg(long, value_name = "SECRET", requires = "access_key_id")]
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for CreateCredentialArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateCredentialArgs")
            .field("token", &"<redacted>")
            .field("label", &self.label)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Checks the token against ScaiDrive, stores the credential and returns it.
pub async fn create_credential(
    cfg: &Config,
    args: CreateCredentialArgs,
) -> anyhow::Result<Credential> {
    if args.token.trim().is_empty() {
        anyhow::bail!("--token is empty");
    }
    let user = check_token(cfg, &args.token).await?;
    let db = open_state_db(cfg).await?;
    let created = db
        .create_credential(NewCredential {
            access_key_id: args.access_key_id,
            secret_access_key: args.secret_access_key,
            token: args.token,
            label: args.label,
            user_id: user.id,
        })
        .await;
    match created {
        Err(StateError::DuplicateAccessKey(id)) => {
            anyhow::bail!("access key id {id} is already in use; revoke it first or pick another")
        }
        other => Ok(other?),
    }
}

/// The text `credentials create` prints: the new pair, ready to paste.
pub fn format_created(cred: &Credential) -> String {
    let mut out = String::new();
    let label = cred.label.as_deref().unwrap_or("-");
    let _ = writeln!(
        out,
        "# credential for ScaiDrive user {} (label: {label}); the secret is shown only now",
        cred.user_id
    );
    let _ = writeln!(out, "export AWS_ACCESS_KEY_ID={}", cred.access_key_id);
    let _ = writeln!(
        out,
        "export AWS_SECRET_ACCESS_KEY={}",
        cred.secret_access_key
    );
    out
}

/// Every stored credential.
pub async fn list_credentials(cfg: &Config) -> anyhow::Result<Vec<Credential>> {
    let db = open_state_db(cfg).await?;
    Ok(db.list_credentials().await?)
}

/// The text `credentials list` prints: id, label, user, created, last used (to about a
/// minute; `never` when unused since it was recorded) — never a secret or token.
pub fn format_list(creds: &[Credential]) -> String {
    let mut out = String::new();
    if creds.is_empty() {
        out.push_str("no credentials\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<24} {:<32} {:<32} {:<20} LAST USED",
        "ACCESS KEY ID", "LABEL", "USER", "CREATED"
    );
    let time =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for c in creds {
        let _ = writeln!(
            out,
            "{:<24} {:<32} {:<32} {:<20} {}",
            c.access_key_id,
            c.label.as_deref().unwrap_or("-"),
            c.user_id,
            time(&c.created_at),
            c.last_used_at
                .as_ref()
                .map_or_else(|| "never".to_owned(), time)
        );
    }
    out
}

/// Deletes a stored credential; an unknown id is an error.
pub async fn revoke_credential(cfg: &Config, access_key_id: &str) -> anyhow::Result<()> {
    let db = open_state_db(cfg).await?;
    if !db.revoke_credential(access_key_id).await? {
        anyhow::bail!("no credential with access key id {access_key_id}");
    }
    Ok(())
}

/// Arguments of `state migrate`.
#[derive(Clone, clap::Args)]
pub struct MigrateStateArgs {
    /// The SQLite state database to copy from: sqlite://PATH
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The PostgreSQL database to copy into: postgres://USER:PASSWORD@HOST:PORT/DB
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Copy into a target that holds rows already (rows whose key exists are kept)
    #[arg(long)]
    pub force: bool,
}

impl std::fmt::Debug for MigrateStateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateStateArgs")
            .field("from", &crate::state::redact_url(&self.from))
            .field("to", &crate::state::redact_url(&self.to))
            .field("force", &self.force)
            .finish()
    }
}

/// Copies every row of a SQLite state database into PostgreSQL (one transaction). Returns what
/// was copied from where to where (passwords redacted).
pub async fn migrate_state(args: &MigrateStateArgs) -> anyhow::Result<String> {
    let from = StateLocation::parse_any(&args.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = StateLocation::parse_any(&args.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let StateLocation::Sqlite(path) = &from else {
        anyhow::bail!("--from must be a SQLite database: sqlite://PATH");
    };
    if !path.is_file() {
        anyhow::bail!("--from: no SQLite state database at {}", path.display());
    }
    if !matches!(to, StateLocation::Postgres(_)) {
        anyhow::bail!("--to must be a PostgreSQL URL: postgres://…");
    }
    let source = StateDb::connect(&from, StateOptions::default())
        .await
        .with_context(|| format!("opening {from}"))?;
    let target = StateDb::connect(&to, StateOptions::default())
        .await
        .with_context(|| format!("opening {to}"))?;
    let counts = crate::state::copy_state(&source, &target, args.force)
        .await
        .with_context(|| format!("copying {from} to {to}"))?;
    Ok(format_migrated(&from, &to, &counts))
}

/// What `state migrate` prints.
fn format_migrated(from: &StateLocation, to: &StateLocation, counts: &TransferCounts) -> String {
    format!("# copied {from} to {to}\n{counts}")
}

/// `GET /api/v1/users/me` with the token: against `scaidrive.url`, or else against the embedded
/// emulator started just for this check on the same data directory.
async fn check_token(cfg: &Config, token: &str) -> anyhow::Result<User> {
    match &cfg.scaidrive.url {
        Some(url) => me(url, token).await,
        None => {
            let emulator = start_embedded_emulator(cfg).await?;
            let result = me(&emulator.url(), token).await;
            emulator.shutdown().await;
            result
        }
    }
}

async fn me(url: &str, token: &str) -> anyhow::Result<User> {
    let client = Client::new(url, ClientOptions::default())
        .with_context(|| format!("ScaiDrive URL {url}"))?;
    client
        .me(&Token::new(token))
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Unauthorized => anyhow::anyhow!(
                "ScaiDrive at {url} refused the token (401): it is unknown, expired or revoked"
            ),
            ErrorKind::Forbidden => anyhow::anyhow!(
                "ScaiDrive at {url} refused the token (403): it may not read the user profile"
            ),
            _ => anyhow::anyhow!("cannot check the token with GET {url}/api/v1/users/me: {e}"),
        })
}

/// Arguments of `emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 = any free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Data directory (database, blobs)
    #[arg(
        long = "data",
        visible_alias = "data-dir",
        value_name = "DIR",
        default_value = "./emulator-data"
    )]
    pub data: PathBuf,
    /// Seed TOML file (default: one demo user with two shares)
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Turn rate limiting on (1000 units per minute per token unless --rate-limit-per-minute)
    #[arg(long)]
    pub rate_limit: bool,
    /// Rate limit budget per token and minute (turns rate limiting on)
    #[arg(long, value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Share (0.0-1.0) of API requests answered with an injected error
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Statuses injected errors are drawn from
    #[arg(
        long,
        value_name = "CODES",
        value_delimiter = ',',
        default_value = "500,503"
    )]
    pub fault_statuses: Vec<u16>,
    /// Latency added before every API response
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Inactivity lifetime of upload sessions
    #[arg(long, value_name = "SECS", default_value_t = 86400)]
    pub upload_session_ttl: u64,
    /// Base URL of external-link URLs (default: http://<bound address>)
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

/// Default budget of `--rate-limit` without `--rate-limit-per-minute` (docs/emulator.md).
const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1000;

impl EmulatorArgs {
    /// The emulator configuration these flags describe.
    pub fn to_config(&self) -> anyhow::Result<EmulatorConfig> {
        if !(0.0..=1.0).contains(&self.fault_error_rate) {
            anyhow::bail!("--fault-error-rate must be between 0.0 and 1.0");
        }
        let rate_limit_per_minute = match (self.rate_limit, self.rate_limit_per_minute) {
            (_, Some(n)) => Some(n),
            (true, None) => Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
            (false, None) => None,
        };
        Ok(EmulatorConfig {
            listen: self.listen,
            data_dir: self.data.clone(),
            seed: self.seed.clone(),
            rate_limit_per_minute,
            faults: Faults {
                error_rate: self.fault_error_rate,
                error_statuses: self.fault_statuses.clone(),
                latency_ms: self.fault_latency_ms,
                ..Faults::default()
            },
            upload_session_ttl: Duration::from_secs(self.upload_session_ttl),
            public_url: self.public_url.clone(),
        })
    }
}

/// Starts a standalone emulator.
pub async fn start_emulator(args: &EmulatorArgs) -> anyhow::Result<RunningEmulator> {
    let cfg = args.to_config()?;
    let data_dir = cfg.data_dir.display().to_string();
    emulator::start(cfg)
        .await
        .with_context(|| format!("starting the emulator on {data_dir}"))
}

/// What `emulator` prints: the URL and every seeded token, the first one as the export.
pub fn format_emulator_banner(
    url: &str,
    data_dir: &std::path::Path,
    tokens: &[SeedToken],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# ScaiDrive emulator at {url} (data in {})",
        data_dir.display()
    );
    let _ = writeln!(out, "export SCAIDRIVE_URL={url}");
    for (i, t) in tokens.iter().enumerate() {
        let _ = writeln!(out, "# token of {} ({})", t.email, t.user_id);
        if i == 0 {
            let _ = writeln!(out, "export SCAIDRIVE_TOKEN={}", shell_word(&t.token));
        } else {
            let _ = writeln!(out, "# export SCAIDRIVE_TOKEN={}", shell_word(&t.token));
        }
    }
    out
}

/// Quotes `s` for a POSIX shell unless it is made of characters that need none.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=:@%,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Installs SIGINT (Ctrl-C) and SIGTERM handlers now and returns a future that resolves on the
/// first of them. Install before printing "ready" output, so a signal sent right after it is not
/// lost to the default handler.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutdown requested");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown requested");
        })
    }
}

/// SIGHUP, the signal `serve` reloads the TLS certificate on.
#[derive(Debug)]
pub struct ReloadSignal {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl ReloadSignal {
    /// Installs the SIGHUP handler (on other systems nothing ever arrives).
    pub fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let hangup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
            Ok(Self { hangup })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves at the next SIGHUP.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.hangup.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_word_quotes_only_when_needed() {
        assert_eq!(shell_word("abc-123_X"), "abc-123_X");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
