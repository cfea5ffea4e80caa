//! The read API's configuration, from `COMMERCE_*` variables.
use std::net::SocketAddr;
use std::time::Duration;

use commerce_platform::config::{env_or, AuthConfig, ConfigError, DatabaseConfig, RedisConfig};

use crate::consistency::MAX_WAIT;

#[derive(Debug, Clone)]
pub struct Config {
    /// `COMMERCE_READ_API_ADDR`, default 127.0.0.1:8081.
    pub listen: SocketAddr,
    pub redis: RedisConfig,
    /// Where the Postgres read models (schema `read`) live.
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    /// Largest accepted request body, `COMMERCE_MAX_BODY_BYTES` (default 64 KiB). Queries take
    /// none; the limit refuses a large upload from its `Content-Length` before it is sent.
    pub max_body_bytes: usize,
    /// Longest a read waits for `min_version`, `COMMERCE_MIN_VERSION_WAIT_MS` (default and at most
    /// 2000, the bound the API promises). Lower values suit runs that read many documents that
    /// never come, such as the schema-driven fuzz, which checks answers, not timing.
    pub min_version_wait: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env_or("COMMERCE_READ_API_ADDR", "127.0.0.1:8081")?,
            redis: RedisConfig::from_env()?,
            database: DatabaseConfig::from_env()?,
            auth: AuthConfig::from_env()?,
            max_body_bytes: env_or("COMMERCE_MAX_BODY_BYTES", "65536")?,
            min_version_wait: min_version_wait(env_or(
                "COMMERCE_MIN_VERSION_WAIT_MS",
                &MAX_WAIT.as_millis().to_string(),
            )?)?,
        })
    }
}

/// The wait for `min_version`: 1 ms up to [`MAX_WAIT`].
fn min_version_wait(millis: u64) -> Result<Duration, ConfigError> {
    let wait = Duration::from_millis(millis);
    if wait.is_zero() || wait > MAX_WAIT {
        return Err(ConfigError {
            name: "COMMERCE_MIN_VERSION_WAIT_MS".into(),
            value: millis.to_string(),
            reason: format!("must be 1 to {}", MAX_WAIT.as_millis()),
        });
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_min_version_wait_is_at_most_the_promised_bound() {
        assert_eq!(min_version_wait(2000).unwrap(), MAX_WAIT);
        assert_eq!(min_version_wait(50).unwrap(), Duration::from_millis(50));
        assert!(min_version_wait(0).is_err());
        assert!(min_version_wait(2001).is_err());
    }
}
