//! `[state]`: where the state database lives (`state.url`; unset = SQLite in `data_dir`) and the
//! PostgreSQL pool size, from the file, the environment and flags (same precedence as every
//! other key). A URL's password never appears in `Debug` or in an error.

use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, non_empty};
use crate::state::{DEFAULT_POOL_SIZE, PgUrl, StateLocation, StateOptions};

/// Environment variable of `state.url`.
pub const ENV_STATE_URL: &str = "SCAIDRIVE_GATEWAY_STATE_URL";
/// Environment variable of `state.pool_size`.
pub const ENV_STATE_POOL_SIZE: &str = "SCAIDRIVE_GATEWAY_STATE_POOL_SIZE";

/// The state database (`[state]`).
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// PostgreSQL URL; `None` = the SQLite file `<data_dir>/gateway.db`.
    pub url: Option<PgUrl>,
    /// Most PostgreSQL connections per instance.
    pub pool_size: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            url: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// `[state]` as written in the file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileState {
    url: Option<String>,
    pool_size: Option<usize>,
}

impl std::fmt::Debug for FileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileState")
            .field("url", &self.url.as_deref().map(crate::state::redact_url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// `[state]` flags.
#[derive(Clone, Default, PartialEq, clap::Args)]
pub struct StateFlags {
    /// State database: postgres://USER:PASSWORD@HOST:PORT/DB; unset = SQLite in the data dir
    /// [env: SCAIDRIVE_GATEWAY_STATE_URL]
    #[arg(long, value_name = "URL")]
    pub state_url: Option<String>,
    /// Most PostgreSQL connections [env: SCAIDRIVE_GATEWAY_STATE_POOL_SIZE] [default: 16]
    #[arg(long, value_name = "N")]
    pub state_pool_size: Option<usize>,
}

impl std::fmt::Debug for StateFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFlags")
            .field(
                "state_url",
                &self.state_url.as_deref().map(crate::state::redact_url),
            )
            .field("state_pool_size", &self.state_pool_size)
            .finish()
    }
}

impl StateConfig {
    /// The database to open: `state.url`, or else `<data_dir>/gateway.db`.
    pub fn location(&self, data_dir: &Path) -> StateLocation {
        match &self.url {
            Some(url) => StateLocation::Postgres(url.clone()),
            None => StateLocation::Sqlite(data_dir.join("gateway.db")),
        }
    }

    /// The options of [`crate::state::StateDb::connect`].
    pub fn options(&self) -> StateOptions {
        StateOptions {
            pool_size: self.pool_size,
        }
    }

    fn set_url(&mut self, raw: Option<String>, source: &str) -> Result<(), ConfigError> {
        let Some(raw) = non_empty(raw) else {
            return Ok(());
        };
        match StateLocation::parse_state_url(&raw) {
            Ok(StateLocation::Postgres(url)) => {
                self.url = Some(url);
                Ok(())
            }
            Ok(StateLocation::Sqlite(_)) => Ok(()),
            Err(message) => Err(ConfigError::Invalid {
                key: "state.url",
                source_name: source.to_owned(),
                message,
            }),
        }
    }

    pub(super) fn apply_file(&mut self, file: FileState) -> Result<(), ConfigError> {
        self.set_url(file.url, "configuration")?;
        if let Some(n) = file.pool_size {
            self.pool_size = n;
        }
        Ok(())
    }

    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        self.set_url(env(ENV_STATE_URL), &format!("env {ENV_STATE_URL}"))?;
        if let Some(raw) = non_empty(env(ENV_STATE_POOL_SIZE)) {
            self.pool_size = raw.trim().parse().map_err(|e| ConfigError::Invalid {
                key: "state.pool_size",
                source_name: format!("env {ENV_STATE_POOL_SIZE}"),
                message: format!("{e}"),
            })?;
        }
        Ok(())
    }

    pub(super) fn apply_flags(&mut self, flags: &StateFlags) -> Result<(), ConfigError> {
        self.set_url(flags.state_url.clone(), "flag --state-url")?;
        if let Some(n) = flags.state_pool_size {
            self.pool_size = n;
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.pool_size == 0 {
            return Err(ConfigError::Inconsistent(
                "state.pool_size must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use super::super::{Config, ConfigFlags};
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn flags(url: Option<&str>, pool: Option<usize>) -> ConfigFlags {
        ConfigFlags {
            state: StateFlags {
                state_url: url.map(str::to_owned),
                state_pool_size: pool,
            },
            ..ConfigFlags::default()
        }
    }

    #[test]
    fn unset_url_is_the_sqlite_file_in_the_data_dir() {
        let cfg = Config::load(&ConfigFlags::default(), env_of(&[])).unwrap();
        assert_eq!(cfg.state, StateConfig::default());
        assert_eq!(
            cfg.state_location(),
            StateLocation::Sqlite(PathBuf::from(super::super::DEFAULT_DATA_DIR).join("gateway.db"))
        );
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut file,
            b"[state]\nurl = \"postgres://f:filepw@file/db\"\npool_size = 3\n",
        )
        .unwrap();
        let with_file = ConfigFlags {
            config: Some(file.path().to_owned()),
            ..ConfigFlags::default()
        };
        let cfg = Config::load(&with_file, env_of(&[])).unwrap();
        assert_eq!(cfg.state.pool_size, 3);
        assert_eq!(cfg.state_location().to_string(), "postgres://f:***@file/db");
        let env = env_of(&[
            (ENV_STATE_URL, "postgresql://e:envpw@env/db"),
            (ENV_STATE_POOL_SIZE, "5"),
        ]);
        let cfg = Config::load(&with_file, &env).unwrap();
        assert_eq!(cfg.state.pool_size, 5);
        assert_eq!(
            cfg.state_location().to_string(),
            "postgresql://e:***@env/db"
        );
        let mut both = flags(Some("postgres://g:flagpw@flag/db"), Some(7));
        both.config = with_file.config.clone();
        let cfg = Config::load(&both, &env).unwrap();
        assert_eq!(cfg.state.pool_size, 7);
        assert_eq!(cfg.state_location().to_string(), "postgres://g:***@flag/db");
        let shown = format!("{cfg:?} {both:?}");
        assert!(
            !shown.contains("flagpw") && !shown.contains("envpw") && !shown.contains("filepw"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_scheme_names_the_scheme_and_the_source_but_not_the_password() {
        let err = Config::load(
            &ConfigFlags::default(),
            env_of(&[(ENV_STATE_URL, "mysql://u:hunter2@h/db")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`mysql`") && err.contains(ENV_STATE_URL) && err.contains("state.url"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::load(&flags(Some("sqlite://x.db"), None), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("flag --state-url") && err.contains("`sqlite`"),
            "{err}"
        );
        let err = Config::from_toml("[state]\nurl = \"redis://h\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("configuration") && err.contains("`redis`"),
            "{err}"
        );
        let err = Config::load(&flags(None, Some(0)), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("state.pool_size"), "{err}");
    }
}
