//! Projector worker settings.
use commerce_platform::config::{
    env_or, ConfigError, DatabaseConfig, MessagingConfig, RedisConfig,
};

use crate::consumer::ConsumerConfig;
use crate::webhooks::WebhookConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the Postgres read models (schema `read`) live.
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub messaging: MessagingConfig,
    pub consumer: ConsumerConfig,
    pub webhooks: WebhookConfig,
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
            webhooks: WebhookConfig {
                targets: commerce_platform::webhooks::Targets::from_flag(env_or(
                    "COMMERCE_WEBHOOK_LOCAL_TARGETS",
                    "false",
                )?),
                retry_base: std::time::Duration::from_millis(env_or(
                    "COMMERCE_WEBHOOK_RETRY_BASE_MS",
                    "5000",
                )?),
                retry_max: std::time::Duration::from_secs(env_or(
                    "COMMERCE_WEBHOOK_RETRY_MAX_SECS",
                    "3600",
                )?),
                max_attempts: env_or("COMMERCE_WEBHOOK_MAX_ATTEMPTS", "10")?,
                request_timeout: std::time::Duration::from_millis(env_or(
                    "COMMERCE_WEBHOOK_TIMEOUT_MS",
                    "10000",
                )?),
                ..WebhookConfig::default()
            },
        })
    }
}
