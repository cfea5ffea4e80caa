//! Typed settings from `COMMERCE_*` environment variables, shared by the services' own `Config`s.
use std::fmt;
use std::str::FromStr;

/// A value that must never reach a log line or a debug print.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// Reads `name`, falling back to `default`, and parses it.
pub fn env_or<T: FromStr>(name: &str, default: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    value.parse().map_err(|e: T::Err| ConfigError {
        name: name.to_owned(),
        value,
        reason: e.to_string(),
    })
}

/// Reads an optional setting; empty counts as absent.
pub fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the event store and Postgres read models live.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
}

impl DatabaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: Secret::new(env_or::<String>(
                "COMMERCE_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/commerce",
            )?),
            max_connections: env_or("COMMERCE_DATABASE_MAX_CONNECTIONS", "16")?,
        })
    }
}

/// Where the Redis read models live; `key_prefix` lets several deployments (or tests) share a server.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: Secret,
    pub key_prefix: String,
}

impl RedisConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: Secret::new(env_or::<String>(
                "COMMERCE_REDIS_URL",
                "redis://127.0.0.1:6379",
            )?),
            key_prefix: env_or("COMMERCE_REDIS_PREFIX", "")?,
        })
    }
}

/// The SNS topic and SQS queues. `endpoint` is set for the local emulator and unset on AWS.
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub endpoint: Option<String>,
    pub region: String,
    /// Name of the SNS FIFO topic every event is published to.
    pub topic: String,
    /// Prepended to every queue name, so environments (and tests) do not share queues.
    pub queue_prefix: String,
}

impl MessagingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: env_opt("COMMERCE_AWS_ENDPOINT"),
            region: env_or("COMMERCE_AWS_REGION", "us-east-1")?,
            topic: env_or("COMMERCE_TOPIC", "commerce-events.fifo")?,
            queue_prefix: env_or("COMMERCE_QUEUE_PREFIX", "commerce-")?,
        })
    }

    /// The local default, for tools that talk to the emulator when nothing is configured.
    pub fn local() -> Self {
        Self {
            endpoint: Some("http://127.0.0.1:4566".to_owned()),
            region: "us-east-1".to_owned(),
            topic: "commerce-events.fifo".to_owned(),
            queue_prefix: "commerce-".to_owned(),
        }
    }
}

/// Bearer-token verification settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
}

impl AuthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret: String = env_or("COMMERCE_JWT_SECRET", "local-development-secret-change-me")?;
        if secret.len() < 16 {
            return Err(ConfigError {
                name: "COMMERCE_JWT_SECRET".into(),
                value: "***".into(),
                reason: "must be at least 16 characters".into(),
            });
        }
        Ok(Self {
            jwt_secret: Secret::new(secret),
        })
    }
}
