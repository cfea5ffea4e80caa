//! Projector worker settings.
use commerce_platform::config::{env_or, ConfigError, MessagingConfig, RedisConfig};

use crate::consumer::ConsumerConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub redis: RedisConfig,
    pub messaging: MessagingConfig,
    pub consumer: ConsumerConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            redis: RedisConfig::from_env()?,
            messaging: MessagingConfig::from_env()?,
            consumer: ConsumerConfig {
                retry_base_secs: env_or("COMMERCE_CONSUMER_RETRY_BASE_SECS", "1")?,
                ..ConsumerConfig::default()
            },
        })
    }
}
