//! The read API's configuration, from `COMMERCE_*` variables.
use std::net::SocketAddr;

use commerce_platform::config::{env_or, AuthConfig, ConfigError, DatabaseConfig, RedisConfig};

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
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env_or("COMMERCE_READ_API_ADDR", "127.0.0.1:8081")?,
            redis: RedisConfig::from_env()?,
            database: DatabaseConfig::from_env()?,
            auth: AuthConfig::from_env()?,
            max_body_bytes: env_or("COMMERCE_MAX_BODY_BYTES", "65536")?,
        })
    }
}
