//! `[log]`: log format and filter.

use serde::Deserialize;

/// Log format (`human` or `json`).
pub const ENV_LOG_FORMAT: &str = "SCAIDRIVE_GATEWAY_LOG_FORMAT";
/// Log level / filter directives (`RUST_LOG` syntax).
pub const ENV_LOG_LEVEL: &str = "SCAIDRIVE_GATEWAY_LOG_LEVEL";
/// Default log filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("expected `human` or `json`, got `{other}`")),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directives (`info`, `scaidrive_gateway=debug,info`, ...).
    pub level: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLog {
    pub(super) format: Option<LogFormat>,
    pub(super) level: Option<String>,
}
