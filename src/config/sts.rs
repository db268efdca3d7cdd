//! `[sts]`: temporary credentials on the S3 listener (AssumeRoleWithWebIdentity, AssumeRole,
//! GetCallerIdentity): whether they are served and the bounds of a session's length, from the
//! file and the environment (the environment wins).

use serde::Deserialize;

use super::{ConfigError, parse_env};

/// Environment variable of `sts.enabled`.
pub const ENV_STS_ENABLED: &str = "SCAIDRIVE_GATEWAY_STS_ENABLED";
/// Environment variable of `sts.max_session_secs`.
pub const ENV_STS_MAX_SESSION_SECS: &str = "SCAIDRIVE_GATEWAY_STS_MAX_SESSION_SECS";
/// Environment variable of `sts.min_session_secs`.
pub const ENV_STS_MIN_SESSION_SECS: &str = "SCAIDRIVE_GATEWAY_STS_MIN_SESSION_SECS";

/// Temporary credentials (`[sts]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    /// Serve STS on the S3 listener (off: every STS action is refused and temporary
    /// credentials issued before stop working).
    pub enabled: bool,
    /// Longest session, in seconds (a larger `DurationSeconds` is refused). AWS's default
    /// role limit, 12 hours.
    pub max_session_secs: u64,
    /// Shortest session a client may ask for (AWS: 900).
    pub min_session_secs: u64,
}

/// A session's length when the client names none (AWS's default), bounded by the maximum.
pub const DEFAULT_SESSION_SECS: u64 = 3600;

impl Default for StsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_session_secs: 43_200,
            min_session_secs: 900,
        }
    }
}

impl StsConfig {
    /// The length of a session when the client does not name one.
    pub fn default_session_secs(&self) -> u64 {
        DEFAULT_SESSION_SECS.clamp(self.min_session_secs, self.max_session_secs)
    }

    pub(super) fn apply_file(&mut self, file: FileSts) {
        if let Some(v) = file.enabled {
            self.enabled = v;
        }
        if let Some(v) = file.max_session_secs {
            self.max_session_secs = v;
        }
        if let Some(v) = file.min_session_secs {
            self.min_session_secs = v;
        }
    }

    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let env = |k: &str| super::non_empty(env(k)).map(|v| v.trim().to_owned());
        if let Some(v) = parse_env(&env, ENV_STS_ENABLED, "sts.enabled")? {
            self.enabled = v;
        }
        if let Some(v) = parse_env(&env, ENV_STS_MAX_SESSION_SECS, "sts.max_session_secs")? {
            self.max_session_secs = v;
        }
        if let Some(v) = parse_env(&env, ENV_STS_MIN_SESSION_SECS, "sts.min_session_secs")? {
            self.min_session_secs = v;
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.min_session_secs == 0 || self.min_session_secs > self.max_session_secs {
            return Err(ConfigError::Inconsistent(format!(
                "sts.min_session_secs ({}) must be at least 1 and at most sts.max_session_secs ({})",
                self.min_session_secs, self.max_session_secs
            )));
        }
        Ok(())
    }
}

/// `[sts]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSts {
    enabled: Option<bool>,
    max_session_secs: Option<u64>,
    min_session_secs: Option<u64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{Config, ConfigFlags};
    use super::*;

    #[test]
    fn env_beats_file_and_bad_bounds_are_refused() {
        let cfg = Config::from_toml("[sts]\nenabled = false\nmax_session_secs = 7200\n").unwrap();
        assert!(!cfg.sts.enabled);
        assert_eq!(cfg.sts.max_session_secs, 7200);
        assert_eq!(cfg.sts.default_session_secs(), 3600);

        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"[sts]\nenabled = false\n").unwrap();
        let flags = ConfigFlags {
            config: Some(file.path().to_owned()),
            ..ConfigFlags::default()
        };
        let env = |k: &str| match k {
            ENV_STS_ENABLED => Some("true".to_owned()),
            ENV_STS_MIN_SESSION_SECS => Some("1".to_owned()),
            _ => None,
        };
        let cfg = Config::load(&flags, env).unwrap();
        assert!(cfg.sts.enabled);
        assert_eq!(cfg.sts.min_session_secs, 1);

        let err = Config::from_toml("[sts]\nmin_session_secs = 900\nmax_session_secs = 60\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sts.min_session_secs"), "{err}");
        let bad = |k: &str| (k == ENV_STS_ENABLED).then(|| "maybe".to_owned());
        let err = Config::load(&ConfigFlags::default(), bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sts.enabled"), "{err}");
    }
}
