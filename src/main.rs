//! `scaidrive-gateway`: command-line parsing, logging, dispatch. The work lives in the library
//! (`server::{start_gateway, commands}`).

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use scaidrive_gateway::config::{Config, ConfigFlags};
use scaidrive_gateway::logging;
use scaidrive_gateway::server::commands::{self, CreateCredentialArgs, EmulatorArgs};
use scaidrive_gateway::server::start_gateway;

/// S3 and WebDAV gateway for ScaiDrive, with an embedded ScaiDrive emulator.
///
/// The gateway options go before the command (`scaidrive-gateway --data-dir D credentials
/// list`) or, for `serve`, after it too; `emulator` has options of its own.
#[derive(Debug, Parser)]
#[command(name = "scaidrive-gateway", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigFlags,
    #[command(subcommand)]
    command: Command,
}

/// `serve`: every gateway option, also after the command name.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigFlags,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (S3, WebDAV and admin listeners). Without SCAIDRIVE_URL it starts the
    /// embedded emulator on <data_dir>/emulator and prints ready-to-paste credentials. SIGHUP
    /// reloads the TLS certificate; SIGTERM/SIGINT stop it gracefully (--shutdown-grace-secs).
    Serve(Box<ServeArgs>),
    /// Run the ScaiDrive emulator on its own until SIGINT/SIGTERM.
    Emulator(EmulatorArgs),
    /// Manage the S3 credentials stored in the state database.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Manage the state database.
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Copy a SQLite state database into PostgreSQL (one transaction), printing row counts.
    Migrate(commands::MigrateStateArgs),
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Check a ScaiDrive token and store an S3 key pair for it.
    Create(CreateCredentialArgs),
    /// List stored credentials (never shows secrets or tokens).
    List,
    /// Delete a stored credential.
    Revoke {
        /// The access key id.
        access_key_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Options given after `serve` win over the same options before it.
    if let Some(("serve", sub)) = matches.subcommand()
        && let Err(e) = cli.config.update_from_arg_matches(sub)
    {
        e.exit();
    }
    // `--data-dir D emulator` keeps the emulator's data in D, as `emulator --data-dir D` does.
    if let Command::Emulator(args) = &mut cli.command
        && let Some(dir) = &cli.config.data_dir
        && matches
            .subcommand_matches("emulator")
            .and_then(|m| m.value_source("data"))
            != Some(clap::parser::ValueSource::CommandLine)
    {
        args.data = dir.clone();
    }
    let cfg = match Config::load(&cli.config, |name| std::env::var(name).ok()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logging::init(&cfg.log) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match run(cli.command, cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text the line already
/// holds (`state database D: File exists (os error 17)` and its I/O error) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

async fn run(command: Command, cfg: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => {
            // Signal handlers go in before the banner: a supervisor (or a test) may signal
            // right after reading it.
            let shutdown = commands::shutdown_signal()?;
            let mut reload = commands::ReloadSignal::install()?;
            let handle = start_gateway(cfg).await?;
            print_flush(&handle.banner());
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = reload.recv() => {
                        if let Err(e) = handle.reload_tls() {
                            tracing::error!(
                                error = %format!("{e:#}"),
                                "TLS reload failed; the certificate in use stays"
                            );
                        }
                    }
                }
            }
            handle.shutdown().await;
        }
        Command::Emulator(args) => {
            let shutdown = commands::shutdown_signal()?;
            let emulator = commands::start_emulator(&args).await?;
            print_flush(&commands::format_emulator_banner(
                &emulator.url(),
                &args.data,
                &emulator.tokens(),
            ));
            shutdown.await;
            emulator.shutdown().await;
        }
        Command::Credentials(CredentialsCommand::Create(args)) => {
            let cred = commands::create_credential(&cfg, args).await?;
            print_flush(&commands::format_created(&cred));
        }
        Command::Credentials(CredentialsCommand::List) => {
            let creds = commands::list_credentials(&cfg).await?;
            print_flush(&commands::format_list(&creds));
        }
        Command::State(StateCommand::Migrate(args)) => {
            print_flush(&commands::migrate_state(&args).await?);
        }
        Command::Credentials(CredentialsCommand::Revoke { access_key_id }) => {
            commands::revoke_credential(&cfg, &access_key_id).await?;
            print_flush(&format!("revoked {access_key_id}\n"));
        }
    }
    Ok(())
}

/// Writes operator output to stdout at once (logs go to stderr).
fn print_flush(text: &str) {
    let mut out = std::io::stdout().lock();
    // Nothing sensible to do when stdout is closed; the exit code still tells.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
