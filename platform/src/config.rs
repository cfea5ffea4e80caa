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
    /// The same database for a pool of at most `most` connections (never more than configured):
    /// a service's secondary pools stay small, so that every service of `commerce up` together
    /// stays well inside the server's `max_connections`.
    pub fn at_most(&self, most: u32) -> Self {
        Self {
            url: self.url.clone(),
            max_connections: self.max_connections.min(most).max(1),
        }
    }

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

/// The HS256 secret that only the local stack may fall back on. It is public (it is in this
/// repository), so a service outside local mode refuses it even when it is set explicitly.
pub const LOCAL_DEVELOPMENT_JWT_SECRET: &str = "local-development-secret-change-me";

/// Bearer-token verification settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `COMMERCE_JWT_SECRET`: HS256 tokens (`commerce token`'s) are checked with it. Absent only
    /// when a key set is configured and no local mode: then only the identity provider's tokens
    /// are accepted.
    pub jwt_secret: Option<Secret>,
    /// `COMMERCE_JWT_AUDIENCE`: when set, a token must name it in `aud` (and tokens minted here
    /// carry it), so a token issued for another service is not accepted here.
    pub audience: Option<String>,
    /// `COMMERCE_JWT_ISSUER`: when set, a token's `iss` must be exactly this.
    pub issuer: Option<String>,
    /// `COMMERCE_JWKS_URL`: the identity provider's public keys (the auth service's
    /// `/.well-known/jwks.json`, or an external provider's), for EdDSA, RS256 and ES256 tokens.
    pub jwks_url: Option<String>,
}

impl AuthConfig {
    /// `COMMERCE_JWT_SECRET` is required unless `COMMERCE_LOCAL_MODE=true` (set by
    /// `infra/local/up`), which allows the built-in development secret, or a key set is
    /// configured (`COMMERCE_JWKS_URL`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_settings(
            env_opt("COMMERCE_JWT_SECRET"),
            env_or("COMMERCE_LOCAL_MODE", "false")?,
            env_opt("COMMERCE_JWT_AUDIENCE"),
            env_opt("COMMERCE_JWT_ISSUER"),
            env_opt("COMMERCE_JWKS_URL"),
        )
    }

    /// A secret with no audience or issuer checks: for tests and tools.
    pub fn with_secret(secret: Secret) -> Self {
        Self {
            jwt_secret: Some(secret),
            audience: None,
            issuer: None,
            jwks_url: None,
        }
    }

    /// The rule behind [`AuthConfig::from_env`], on values rather than the process environment.
    /// A deployment that forgets the secret must not start with a key anyone can read here.
    pub fn from_settings(
        secret: Option<String>,
        local_mode: bool,
        audience: Option<String>,
        issuer: Option<String>,
        jwks_url: Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid = |value: &str, reason: &str| ConfigError {
            name: "COMMERCE_JWT_SECRET".into(),
            value: value.into(),
            reason: reason.into(),
        };
        let secret = match secret {
            None if local_mode => LOCAL_DEVELOPMENT_JWT_SECRET.to_owned(),
            // Only the identity provider's tokens.
            None if jwks_url.is_some() => {
                return Ok(Self {
                    jwt_secret: None,
                    audience,
                    issuer,
                    jwks_url,
                })
            }
            None => {
                return Err(invalid(
                    "(unset)",
                    "a secret is required: set COMMERCE_JWT_SECRET to a random value of at \
                     least 16 characters (e.g. `openssl rand -hex 32`), or COMMERCE_JWKS_URL to \
                     trust only an identity provider's keys, or set COMMERCE_LOCAL_MODE=true to \
                     use the built-in development secret on a local stack",
                ))
            }
            Some(secret) if secret == LOCAL_DEVELOPMENT_JWT_SECRET && !local_mode => {
                return Err(invalid(
                    "***",
                    "this is the public development secret, allowed only with \
                     COMMERCE_LOCAL_MODE=true: set a random value of at least 16 characters",
                ))
            }
            Some(secret) if secret.len() < 16 => {
                return Err(invalid("***", "must be at least 16 characters"))
            }
            Some(secret) => secret,
        };
        Ok(Self {
            jwt_secret: Some(Secret::new(secret)),
            audience,
            issuer,
            jwks_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_stops_the_service_with_what_to_set() {
        let error = AuthConfig::from_settings(None, false, None, None, None).unwrap_err();
        assert_eq!(error.name, "COMMERCE_JWT_SECRET");
        let message = error.to_string();
        assert!(message.contains("set COMMERCE_JWT_SECRET"), "{message}");
        assert!(message.contains("COMMERCE_LOCAL_MODE=true"), "{message}");
    }

    #[test]
    fn local_mode_falls_back_on_the_development_secret() {
        let config = AuthConfig::from_settings(None, true, None, None, None).unwrap();
        assert_eq!(
            config.jwt_secret.as_ref().map(Secret::expose),
            Some(LOCAL_DEVELOPMENT_JWT_SECRET)
        );
    }

    #[test]
    fn the_development_secret_is_refused_outside_local_mode_even_when_set() {
        let set = Some(LOCAL_DEVELOPMENT_JWT_SECRET.to_owned());
        assert!(AuthConfig::from_settings(set.clone(), false, None, None, None).is_err());
        assert!(AuthConfig::from_settings(set, true, None, None, None).is_ok());
    }

    #[test]
    fn an_explicit_secret_wins_and_must_be_long_enough() {
        let config = AuthConfig::from_settings(
            Some("a-real-secret-of-32-characters!!".into()),
            false,
            Some("commerce".into()),
            Some("https://id.example".into()),
            None,
        )
        .unwrap();
        assert_eq!(
            config.jwt_secret.as_ref().map(Secret::expose),
            Some("a-real-secret-of-32-characters!!")
        );
        assert_eq!(config.audience.as_deref(), Some("commerce"));
        assert_eq!(config.issuer.as_deref(), Some("https://id.example"));
        assert!(AuthConfig::from_settings(Some("short".into()), true, None, None, None).is_err());
    }

    #[test]
    fn a_key_set_alone_trusts_only_the_identity_provider() {
        let jwks = Some("https://id.example/.well-known/jwks.json".to_owned());
        let config = AuthConfig::from_settings(None, false, None, None, jwks.clone()).unwrap();
        assert!(config.jwt_secret.is_none());
        assert_eq!(config.jwks_url, jwks);
    }
}
