//! Logging set-up: `log.level` and `log.format` over stderr, with libraries held to `info`.
//!
//! At `debug` and `trace` the libraries on the request path print what passes through them:
//! s3s dumps every request with its `Authorization` header and URI (presigned signatures in
//! the query) and logs the signature it expected when one does not match; dav-server, hyper,
//! reqwest and rustls log URIs, connections and bytes. So `debug`/`trace` apply to the
//! gateway's own modules only, whatever the filter asks: a library's event or span passes at
//! `info` and above. The gateway's own lines never carry a header, a query or a secret.
//!
//! s3s's ERROR line for every S3 error answer is dropped: the S3 listener logs each error answer
//! once, at INFO for the client's errors and at ERROR for failures, with the S3 code, the access
//! key id and the request id.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogConfig, LogFormat};

/// The gateway's own target prefix (its crate name).
const OWN_TARGET: &str = "scaidrive_gateway";

/// True when an event or span may be logged at all: the gateway's own at any level, a
/// library's (s3s, dav-server, hyper, reqwest, …) at `info` and above.
pub fn may_log(meta: &Metadata<'_>) -> bool {
    // s3s logs every error answer at ERROR ("op returns error", "failed to prepare"), a
    // client's NoSuchKey as much as a failure; the S3 listener logs each error answer once
    // itself, with its code, at the level it deserves (`server::request`).
    if *meta.level() == Level::ERROR && meta.target().starts_with("s3s::ops") {
        return false;
    }
    *meta.level() <= Level::INFO || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Installs the global subscriber: stderr, human-readable or JSON, filtered by `log.level`
/// and by [`may_log`].
///
/// # Errors
/// An invalid `log.level`, or a subscriber already installed.
pub fn init(log: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&log.level)
        .map_err(|e| anyhow::anyhow!("invalid log.level {:?}: {e}", log.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let libraries = filter_fn(may_log);
    match log.format {
        LogFormat::Human => builder.finish().with(libraries).try_init()?,
        LogFormat::Json => builder.json().finish().with(libraries).try_init()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_gateway_logs_below_info() {
        assert!(is_own("scaidrive_gateway"));
        assert!(is_own("scaidrive_gateway::s3::edge"));
        assert!(!is_own("scaidrive_gateway_extra"));
        assert!(!is_own("s3s::service"));
        assert!(!is_own("dav_server::davhandler"));
        assert!(!is_own("reqwest::connect"));
    }
}
