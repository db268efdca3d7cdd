//! `[lifecycle]`: the worker that applies buckets' lifecycle rules (whether it runs, how often,
//! and how much upstream work one pass may do), from the file and the environment (the
//! environment wins).

use serde::Deserialize;

use super::{ConfigError, parse_env};

/// Environment variable of `lifecycle.enabled`.
pub const ENV_LIFECYCLE_ENABLED: &str = "SCAIDRIVE_GATEWAY_LIFECYCLE_ENABLED";
/// Environment variable of `lifecycle.admin_run`.
pub const ENV_LIFECYCLE_ADMIN_RUN: &str = "SCAIDRIVE_GATEWAY_LIFECYCLE_ADMIN_RUN";
/// Environment variable of `lifecycle.interval_secs`.
pub const ENV_LIFECYCLE_INTERVAL_SECS: &str = "SCAIDRIVE_GATEWAY_LIFECYCLE_INTERVAL_SECS";

/// The lifecycle worker (`[lifecycle]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleConfig {
    /// Run the worker (off: rules are still stored and answered, never applied).
    pub enabled: bool,
    /// Seconds between passes (one instance of a cluster runs each pass).
    pub interval_secs: u64,
    /// Most upstream actions (object deletes, upload aborts, pages of 1,000 listed keys) of one
    /// pass; the rest waits for the next pass.
    pub max_actions_per_pass: u64,
    /// Milliseconds between two actions of a pass (their upstream calls are spaced).
    pub pace_ms: u64,
    /// A bucket's pass stops when its key's ScaiDrive rate budget is below this percentage
    /// (the rest waits for the next pass, so users keep their budget).
    pub min_budget_percent: u64,
    /// Serve `POST /lifecycle/run[?now=RFC 3339]` on the admin listener: one pass at once, as
    /// of the given time (an operator's and tests' tool; off by default).
    pub admin_run: bool,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 3600,
            max_actions_per_pass: 1000,
            pace_ms: 100,
            min_budget_percent: 50,
            admin_run: false,
        }
    }
}

impl LifecycleConfig {
    pub(super) fn apply_file(&mut self, file: FileLifecycle) {
        if let Some(v) = file.enabled {
            self.enabled = v;
        }
        if let Some(v) = file.interval_secs {
            self.interval_secs = v;
        }
        if let Some(v) = file.max_actions_per_pass {
            self.max_actions_per_pass = v;
        }
        if let Some(v) = file.pace_ms {
            self.pace_ms = v;
        }
        if let Some(v) = file.min_budget_percent {
            self.min_budget_percent = v;
        }
        if let Some(v) = file.admin_run {
            self.admin_run = v;
        }
    }

    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let env = |k: &str| super::non_empty(env(k)).map(|v| v.trim().to_owned());
        if let Some(v) = parse_env(&env, ENV_LIFECYCLE_ENABLED, "lifecycle.enabled")? {
            self.enabled = v;
        }
        if let Some(v) = parse_env(&env, ENV_LIFECYCLE_INTERVAL_SECS, "lifecycle.interval_secs")? {
            self.interval_secs = v;
        }
        if let Some(v) = parse_env(&env, ENV_LIFECYCLE_ADMIN_RUN, "lifecycle.admin_run")? {
            self.admin_run = v;
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs == 0 {
            return Err(ConfigError::Inconsistent(
                "lifecycle.interval_secs must be at least 1".to_owned(),
            ));
        }
        if self.min_budget_percent > 100 {
            return Err(ConfigError::Inconsistent(format!(
                "lifecycle.min_budget_percent ({}) must be at most 100",
                self.min_budget_percent
            )));
        }
        Ok(())
    }
}

/// `[lifecycle]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLifecycle {
    enabled: Option<bool>,
    interval_secs: Option<u64>,
    max_actions_per_pass: Option<u64>,
    pace_ms: Option<u64>,
    min_budget_percent: Option<u64>,
    admin_run: Option<bool>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::Config;
    use super::*;

    #[test]
    fn lifecycle_settings_come_from_file_and_env_and_are_checked() {
        let cfg = Config::from_toml("[lifecycle]\nenabled = false\ninterval_secs = 60\n").unwrap();
        assert!(!cfg.lifecycle.enabled);
        assert_eq!(cfg.lifecycle.interval_secs, 60);
        assert_eq!(cfg.lifecycle.max_actions_per_pass, 1000);
        let mut c = LifecycleConfig::default();
        c.apply_env(&|k: &str| (k == ENV_LIFECYCLE_INTERVAL_SECS).then(|| "5".to_owned()))
            .unwrap();
        assert_eq!(c.interval_secs, 5);
        assert!(Config::from_toml("[lifecycle]\ninterval_secs = 0\n").is_err());
        assert!(Config::from_toml("[lifecycle]\nmin_budget_percent = 101\n").is_err());
        assert!(Config::from_toml("[lifecycle]\nbogus = 1\n").is_err());
    }
}
