//! The auth service's configuration, from `COMMERCE_*` variables.
use std::net::SocketAddr;
use std::time::Duration;

use commerce_platform::config::{env_or, AuthConfig, ConfigError, DatabaseConfig};

use crate::passwords::HashParams;

#[derive(Debug, Clone)]
pub struct Config {
    /// `COMMERCE_AUTH_ADDR`, default 127.0.0.1:8084.
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    /// How this service checks the bearer tokens of its own protected routes (role grants, the
    /// audit log), and the audience and issuer it writes into the tokens it issues.
    pub verification: AuthConfig,
    /// The `iss` of issued tokens (`COMMERCE_JWT_ISSUER`, default `commerce-auth`).
    pub issuer: String,
    /// The `aud` of issued tokens (`COMMERCE_JWT_AUDIENCE`, default `commerce`).
    pub audience: String,
    /// Lifetime of an access token (`COMMERCE_ACCESS_TOKEN_TTL_SECS`, default 900).
    pub access_ttl: Duration,
    /// Lifetime of a refresh token (`COMMERCE_REFRESH_TOKEN_TTL_SECS`, default 30 days).
    pub refresh_ttl: Duration,
    /// How long a new signing key is published before it signs, so every verifier has read it
    /// (`COMMERCE_SIGNING_KEY_ACTIVATION_SECS`, default 300: verifiers re-read the key set
    /// at least that often).
    pub key_activation: Duration,
    pub throttle: Throttle,
    pub hashing: HashParams,
    /// Whether the client address is the last one of `X-Forwarded-For` (behind a load balancer
    /// that appends it, `COMMERCE_TRUST_FORWARDED_FOR`), rather than the connection's.
    pub trust_forwarded_for: bool,
}

/// How many failed sign-ins, per account and per client address, within a window.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// `COMMERCE_LOGIN_MAX_FAILURES`, default 5: the next attempt in the window gets 429.
    pub max_failures: i64,
    /// `COMMERCE_LOGIN_WINDOW_SECS`, default 60.
    pub window: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let verification = AuthConfig::from_env()?;
        Ok(Self {
            listen: env_or("COMMERCE_AUTH_ADDR", "127.0.0.1:8084")?,
            database: DatabaseConfig::from_env()?,
            issuer: verification
                .issuer
                .clone()
                .unwrap_or_else(|| "commerce-auth".to_owned()),
            audience: verification
                .audience
                .clone()
                .unwrap_or_else(|| "commerce".to_owned()),
            verification,
            access_ttl: Duration::from_secs(env_or("COMMERCE_ACCESS_TOKEN_TTL_SECS", "900")?),
            refresh_ttl: Duration::from_secs(env_or("COMMERCE_REFRESH_TOKEN_TTL_SECS", "2592000")?),
            key_activation: Duration::from_secs(env_or(
                "COMMERCE_SIGNING_KEY_ACTIVATION_SECS",
                "300",
            )?),
            throttle: Throttle {
                max_failures: env_or("COMMERCE_LOGIN_MAX_FAILURES", "5")?,
                window: Duration::from_secs(env_or("COMMERCE_LOGIN_WINDOW_SECS", "60")?),
            },
            hashing: HashParams {
                memory_kib: env_or("COMMERCE_ARGON2_MEMORY_KIB", "19456")?,
                iterations: env_or("COMMERCE_ARGON2_ITERATIONS", "2")?,
                parallelism: env_or("COMMERCE_ARGON2_PARALLELISM", "1")?,
            },
            trust_forwarded_for: env_or("COMMERCE_TRUST_FORWARDED_FOR", "false")?,
        })
    }
}
