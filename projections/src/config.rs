//! Projector worker settings.
use commerce_platform::config::{
    env_or, ConfigError, DatabaseConfig, MessagingConfig, RedisConfig,
};

use crate::consumer::ConsumerConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the Postgres read models (schema `read`) live.
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub messaging: MessagingConfig,
    pub consumer: ConsumerConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::from_env()?,
            redis: RedisConfig::from_env()?,
            messaging: MessagingConfig::from_env()?,
            consumer: ConsumerConfig {
                retry_base_secs: env_or("COMMERCE_CONSUMER_RETRY_BASE_SECS", "1")?,
                pollers: env_or("COMMERCE_CONSUMER_POLLERS", "4")?,
                batch_wait: std::time::Duration::from_millis(env_or(
                    "COMMERCE_CONSUMER_BATCH_WAIT_MS",
                    "20",
                )?),
                ..ConsumerConfig::default()
            },
        })
    }
}
