//! Typed settings from `COMMERCE_*` environment variables, shared by the services' own `Config`s.
use std::fmt;
use std::path::{Path, PathBuf};
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

/// Reads a secret setting from `name`, or from the file `name_FILE` names (its content, trimmed),
/// as a Kubernetes secret volume or Docker secret provides it; `None` when neither is set (empty
/// counts as absent). Setting both is an error: which one wins would be a guess.
pub fn env_secret(name: &str) -> Result<Option<Secret>, ConfigError> {
    let file_name = format!("{name}_FILE");
    secret_setting(
        name,
        env_opt(name),
        env_opt(&file_name).as_deref().map(Path::new),
    )
}

/// The rule behind [`env_secret`], on values rather than the process environment.
pub fn secret_setting(
    name: &str,
    value: Option<String>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    let Some(file) = file else {
        return Ok(value.map(Secret::new));
    };
    let invalid = |reason: String| ConfigError {
        name: format!("{name}_FILE"),
        value: file.display().to_string(),
        reason,
    };
    if value.is_some() {
        return Err(invalid(format!("{name} is set too: set only one of them")));
    }
    let content = std::fs::read_to_string(file)
        .map_err(|e| invalid(format!("the file cannot be read: {e}")))?;
    let content = content.trim();
    if content.is_empty() {
        return Err(invalid("the file is empty".to_owned()));
    }
    Ok(Some(Secret::new(content)))
}

/// `url` with its password replaced by the secret setting `password_name` (or its `_FILE`), when
/// that is set. Secret stores that keep only a password (RDS's managed master secret, an
/// ElastiCache AUTH token) then need no URL of their own: the URL stays plain configuration.
fn with_password_from_env(
    url_name: &str,
    url: Secret,
    password_name: &str,
) -> Result<Secret, ConfigError> {
    match env_secret(password_name)? {
        Some(password) => with_password(url_name, &url, &password),
        None => Ok(url),
    }
}

/// The rule behind [`with_password_from_env`], on values rather than the process environment.
pub fn with_password(
    url_name: &str,
    url: &Secret,
    password: &Secret,
) -> Result<Secret, ConfigError> {
    // Neither the URL nor the password may appear in the error: the URL may hold a password.
    let invalid = |reason: &str| ConfigError {
        name: url_name.to_owned(),
        value: "***".to_owned(),
        reason: reason.to_owned(),
    };
    let mut parsed = url::Url::parse(url.expose()).map_err(|_| invalid("not a valid URL"))?;
    if parsed.username().is_empty() && parsed.scheme().starts_with("postgres") {
        return Err(invalid(
            "names no user, so a password from the secret store would be sent for none",
        ));
    }
    parsed
        .set_password(Some(password.expose()))
        .map_err(|()| invalid("cannot carry a password (no host)"))?;
    Ok(Secret::new(String::from(parsed)))
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
            url: with_password_from_env(
                "COMMERCE_DATABASE_URL",
                env_secret("COMMERCE_DATABASE_URL")?
                    .unwrap_or_else(|| Secret::new("postgres://postgres@127.0.0.1:5432/commerce")),
                "COMMERCE_DATABASE_PASSWORD",
            )?,
            max_connections: env_or("COMMERCE_DATABASE_MAX_CONNECTIONS", "16")?,
        })
    }
}

/// Where the Redis read models live; `key_prefix` lets several deployments (or tests) share a server.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` or, encrypted, `rediss://`; `user:password@` authenticates as an ACL user
    /// (Redis 6+), `:password@` as the default user.
    pub url: Secret,
    pub key_prefix: String,
    /// `COMMERCE_REDIS_CA_CERT`: a PEM file of the CA certificates a `rediss://` server's
    /// certificate must chain to, for a server with a private CA (a managed Redis's, or one's
    /// own). Unset, the public web's roots (Mozilla's, built in) are trusted.
    pub ca_cert: Option<PathBuf>,
}

impl RedisConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: with_password_from_env(
                "COMMERCE_REDIS_URL",
                env_secret("COMMERCE_REDIS_URL")?
                    .unwrap_or_else(|| Secret::new("redis://127.0.0.1:6379")),
                "COMMERCE_REDIS_PASSWORD",
            )?,
            key_prefix: env_or("COMMERCE_REDIS_PREFIX", "")?,
            ca_cert: env_opt("COMMERCE_REDIS_CA_CERT").map(PathBuf::from),
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
    /// The topic's ARN when the deployment knows it (`COMMERCE_TOPIC_ARN`): the relay then
    /// publishes without calling CreateTopic, so its role needs `sns:Publish` and nothing more.
    pub topic_arn: Option<String>,
}

impl MessagingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: env_opt("COMMERCE_AWS_ENDPOINT"),
            region: env_or("COMMERCE_AWS_REGION", "us-east-1")?,
            topic: env_or("COMMERCE_TOPIC", "commerce-events.fifo")?,
            queue_prefix: env_or("COMMERCE_QUEUE_PREFIX", "commerce-")?,
            topic_arn: env_opt("COMMERCE_TOPIC_ARN"),
        })
    }

    /// The local default, for tools that talk to the emulator when nothing is configured.
    pub fn local() -> Self {
        Self {
            endpoint: Some("http://127.0.0.1:4566".to_owned()),
            region: "us-east-1".to_owned(),
            topic: "commerce-events.fifo".to_owned(),
            queue_prefix: "commerce-".to_owned(),
            topic_arn: None,
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
    /// `COMMERCE_JWT_SECRET` (or `COMMERCE_JWT_SECRET_FILE`) is required unless `COMMERCE_LOCAL_MODE=true` (set by
    /// `infra/local/up`), which allows the built-in development secret, or a key set is
    /// configured (`COMMERCE_JWKS_URL`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_settings(
            env_secret("COMMERCE_JWT_SECRET")?.map(|secret| secret.expose().to_owned()),
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
    fn a_password_from_a_secret_store_completes_a_url_that_holds_none() {
        let url = Secret::new(
            "postgres://commerce@db.internal:5432/commerce?sslmode=verify-full&sslrootcert=/ca.pem",
        );
        let with = with_password("COMMERCE_DATABASE_URL", &url, &Secret::new("p@ss/w:rd")).unwrap();
        let options: url::Url = with.expose().parse().unwrap();
        assert_eq!(options.username(), "commerce");
        assert_eq!(options.password(), Some("p%40ss%2Fw%3Ard"));
        assert_eq!(
            options.query(),
            Some("sslmode=verify-full&sslrootcert=/ca.pem")
        );
        // Redis: the default user authenticates with a password alone.
        let redis = with_password(
            "COMMERCE_REDIS_URL",
            &Secret::new("rediss://cache.internal:6379"),
            &Secret::new("token"),
        )
        .unwrap();
        assert_eq!(redis.expose(), "rediss://:token@cache.internal:6379");
        // A URL that already has one has it replaced.
        let replaced = with_password(
            "COMMERCE_REDIS_URL",
            &Secret::new("rediss://app:old@cache.internal:6379"),
            &Secret::new("new"),
        )
        .unwrap();
        assert_eq!(replaced.expose(), "rediss://app:new@cache.internal:6379");
    }

    #[test]
    fn a_password_for_a_postgres_url_without_a_user_is_refused_without_printing_either() {
        let error = with_password(
            "COMMERCE_DATABASE_URL",
            &Secret::new("postgres://db.internal/commerce"),
            &Secret::new("hunter2"),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("COMMERCE_DATABASE_URL"), "{message}");
        assert!(
            !message.contains("hunter2") && !message.contains("db.internal"),
            "{message}"
        );
    }

    /// A file of this test's own holding `content`, removed when dropped.
    struct SecretFile(PathBuf);

    impl SecretFile {
        fn new(content: &str) -> Self {
            let path = std::env::temp_dir().join(format!("secret-{}", uuid::Uuid::new_v4()));
            std::fs::write(&path, content).unwrap();
            Self(path)
        }
    }

    impl Drop for SecretFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_secret_is_read_from_its_variable_when_no_file_is_named() {
        let secret = secret_setting("COMMERCE_REDIS_URL", Some("rediss://h".into()), None).unwrap();
        assert_eq!(secret.as_ref().map(Secret::expose), Some("rediss://h"));
        assert!(secret_setting("COMMERCE_REDIS_URL", None, None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_secret_file_gives_its_trimmed_content_as_a_kubernetes_volume_mounts_it() {
        let file = SecretFile::new("postgres://u:p@db/commerce?sslmode=verify-full\n");
        let secret = secret_setting("COMMERCE_DATABASE_URL", None, Some(&file.0)).unwrap();
        assert_eq!(
            secret.as_ref().map(Secret::expose),
            Some("postgres://u:p@db/commerce?sslmode=verify-full")
        );
    }

    #[test]
    fn a_secret_set_both_ways_is_refused_without_printing_it() {
        let file = SecretFile::new("from-the-file");
        let error = secret_setting(
            "COMMERCE_JWT_SECRET",
            Some("from-the-variable".into()),
            Some(&file.0),
        )
        .unwrap_err();
        assert_eq!(error.name, "COMMERCE_JWT_SECRET_FILE");
        let message = error.to_string();
        assert!(
            message.contains("COMMERCE_JWT_SECRET is set too"),
            "{message}"
        );
        assert!(!message.contains("from-the-"), "{message}");
    }

    #[test]
    fn a_missing_or_empty_secret_file_names_the_variable_and_the_path() {
        let missing = std::env::temp_dir().join(format!("absent-{}", uuid::Uuid::new_v4()));
        let error = secret_setting("COMMERCE_REDIS_URL", None, Some(&missing)).unwrap_err();
        assert_eq!(error.name, "COMMERCE_REDIS_URL_FILE");
        let message = error.to_string();
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
        assert!(message.contains("cannot be read"), "{message}");

        let empty = SecretFile::new(" \n");
        let error = secret_setting("COMMERCE_REDIS_URL", None, Some(&empty.0)).unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
    }

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
