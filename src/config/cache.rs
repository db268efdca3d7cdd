//! `[cache]`: metadata caches (share lists, folder listings) and the change feed.

use serde::Deserialize;

use super::{Config, ConfigError, ConfigFlags, parse_env, set_value};

/// Cache on/off (`true`/`false`).
pub const ENV_CACHE_ENABLED: &str = "SCAIDRIVE_GATEWAY_CACHE_ENABLED";
/// Seconds a fetched listing or share list is trusted.
pub const ENV_CACHE_TTL_SECS: &str = "SCAIDRIVE_GATEWAY_CACHE_TTL_SECS";
/// Most folder listings kept.
pub const ENV_CACHE_CAPACITY: &str = "SCAIDRIVE_GATEWAY_CACHE_CAPACITY";
/// Change-feed poll interval in milliseconds (0 = off).
pub const ENV_CACHE_CHANGE_FEED_INTERVAL_MS: &str =
    "SCAIDRIVE_GATEWAY_CACHE_CHANGE_FEED_INTERVAL_MS";

/// Metadata caches (share lists, folder listings) and the change feed (`[cache]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Cache at all; `false` = every lookup asks ScaiDrive.
    pub enabled: bool,
    /// Seconds a listing or share list fetched from ScaiDrive is trusted (the bound for writes
    /// made elsewhere when the change feed cannot be read).
    pub ttl_secs: u64,
    /// Most folder listings kept (all users together).
    pub capacity: u64,
    /// Poll the change feed of every share in use this often, in milliseconds (the bound for
    /// writes made elsewhere); 0 = do not follow the feed (the TTL alone bounds).
    pub change_feed_interval_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: 5,
            capacity: 10_000,
            change_feed_interval_ms: 2_000,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCache {
    pub(super) enabled: Option<bool>,
    pub(super) ttl_secs: Option<u64>,
    pub(super) capacity: Option<u64>,
    pub(super) change_feed_interval_ms: Option<u64>,
}
impl Config {
    pub(super) fn apply_file_cache(&mut self, c: FileCache) {
        set_value(&mut self.cache.enabled, c.enabled);
        set_value(&mut self.cache.ttl_secs, c.ttl_secs);
        set_value(&mut self.cache.capacity, c.capacity);
        set_value(
            &mut self.cache.change_feed_interval_ms,
            c.change_feed_interval_ms,
        );
    }

    pub(super) fn apply_env_cache(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let c = &mut self.cache;
        set_value(
            &mut c.enabled,
            parse_env(get, ENV_CACHE_ENABLED, "cache.enabled")?,
        );
        set_value(
            &mut c.ttl_secs,
            parse_env(get, ENV_CACHE_TTL_SECS, "cache.ttl_secs")?,
        );
        set_value(
            &mut c.capacity,
            parse_env(get, ENV_CACHE_CAPACITY, "cache.capacity")?,
        );
        set_value(
            &mut c.change_feed_interval_ms,
            parse_env(
                get,
                ENV_CACHE_CHANGE_FEED_INTERVAL_MS,
                "cache.change_feed_interval_ms",
            )?,
        );
        Ok(())
    }

    pub(super) fn apply_flags_cache(&mut self, f: &ConfigFlags) {
        set_value(&mut self.cache.enabled, f.cache_enabled);
        set_value(&mut self.cache.ttl_secs, f.cache_ttl_secs);
        set_value(&mut self.cache.capacity, f.cache_capacity);
        set_value(
            &mut self.cache.change_feed_interval_ms,
            f.cache_change_feed_interval_ms,
        );
    }

    pub(super) fn validate_cache(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Inconsistent(m.to_owned()));
        if self.cache.enabled && self.cache.ttl_secs == 0 {
            return bad("cache.ttl_secs must be at least 1 (or set cache.enabled = false)");
        }
        if self.cache.capacity == 0 {
            return bad("cache.capacity must be at least 1");
        }
        Ok(())
    }
}
