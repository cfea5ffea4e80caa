//! Redis connections that fail fast when Redis is away, so callers can tell an outage from a slow
//! answer and act on it (the read API answers 503, projectors hold their events).
//!
//! The crate's defaults would not: commands have no response timeout, and a lost connection is
//! re-established with a backoff whose first delay is one second and whose factor is 100 (the
//! `factor` setting feeds the backoff's growth factor), so a command issued during a blip waited up
//! to five minutes for the reconnect to give up.
//!
//! `rediss://` connects over TLS (rustls) and checks the server's certificate and name, against a
//! private CA's certificates when `COMMERCE_REDIS_CA_CERT` names them. A failure says which step
//! failed (the CA file, the TLS handshake, the credentials) without printing the URL's password.
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::config::RedisConfig;

/// Longest a command (or a connection attempt) may take before it fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no connection to Redis could be made.
#[derive(Debug, thiserror::Error)]
pub enum RedisConnectError {
    /// The redis crate's message never repeats the URL, so no password reaches a log.
    #[error("COMMERCE_REDIS_URL is not a valid Redis URL (redis:// or rediss://): {0}")]
    InvalidUrl(redis::RedisError),
    #[error("COMMERCE_REDIS_CA_CERT={}: {reason}", path.display())]
    CaCert { path: PathBuf, reason: String },
    #[error(
        "COMMERCE_REDIS_CA_CERT is set but COMMERCE_REDIS_URL ({server}) is not a rediss:// URL: \
         the CA only applies to TLS connections"
    )]
    CaCertWithoutTls { server: String },
    #[error("TLS with Redis at {server} failed: {source}")]
    Tls {
        server: String,
        source: redis::RedisError,
    },
    #[error("Redis at {server} refused the credentials of COMMERCE_REDIS_URL{user}: {source}")]
    Authentication {
        server: String,
        /// ` (user NAME)` for an ACL user, empty for the default user.
        user: String,
        source: redis::RedisError,
    },
    #[error("connecting to Redis at {server}: {source}{hint}")]
    Connect {
        server: String,
        source: redis::RedisError,
        /// What to check when the cause is likely a setting rather than an outage.
        hint: &'static str,
    },
}

/// The settings every service connects to Redis with: bounded commands and connection attempts,
/// and one quick reconnect attempt per failed command (the caller decides how to wait longer).
pub fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(RESPONSE_TIMEOUT)
        .set_connection_timeout(RESPONSE_TIMEOUT)
        .set_number_of_retries(1)
        .set_factor(2)
        .set_max_delay(500)
}

/// A connection manager for `config` with [`manager_config`], connected (and authenticated).
#[tracing::instrument(skip_all, fields(tls = config.url.expose().starts_with("rediss:")))]
pub async fn connect(config: &RedisConfig) -> Result<ConnectionManager, RedisConnectError> {
    let (client, info) = client_and_info(config)?;
    client
        .get_connection_manager_with_config(manager_config())
        .await
        .map_err(|source| explain(&info, source))
}

/// A client for `config`, not yet connected: the URL parsed and, for `rediss://`, the CA's
/// certificates loaded.
pub fn client(config: &RedisConfig) -> Result<redis::Client, RedisConnectError> {
    client_and_info(config).map(|(client, _)| client)
}

fn client_and_info(
    config: &RedisConfig,
) -> Result<(redis::Client, ConnectionInfo), RedisConnectError> {
    let info = config
        .url
        .expose()
        .into_connection_info()
        .map_err(RedisConnectError::InvalidUrl)?;
    let tls = matches!(info.addr, ConnectionAddr::TcpTls { .. });
    if tls {
        crate::tls::install_crypto_provider();
    }
    let client = match &config.ca_cert {
        None => redis::Client::open(info.clone()),
        Some(_) if !tls => {
            return Err(RedisConnectError::CaCertWithoutTls {
                server: server(&info),
            })
        }
        Some(path) => redis::Client::build_with_tls(
            info.clone(),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca_certificates(path)?),
            },
        ),
    }
    .map_err(RedisConnectError::InvalidUrl)?;
    Ok((client, info))
}

/// The PEM file's bytes, once it is known to hold at least one certificate (an empty or
/// mistaken file would otherwise surface later as an unknown issuer).
fn ca_certificates(path: &Path) -> Result<Vec<u8>, RedisConnectError> {
    let invalid = |reason: String| RedisConnectError::CaCert {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| invalid(format!("cannot be read: {e}")))?;
    let mut certificates = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        certificate.map_err(|e| invalid(format!("is not a PEM file of certificates: {e}")))?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err(invalid("holds no PEM certificate".to_owned()));
    }
    Ok(pem)
}

/// `redis://host:port` or `rediss://host:port`: the server, without the URL's credentials.
fn server(info: &ConnectionInfo) -> String {
    match &info.addr {
        ConnectionAddr::TcpTls { .. } => format!("rediss://{}", info.addr),
        ConnectionAddr::Tcp(..) => format!("redis://{}", info.addr),
        ConnectionAddr::Unix(..) => format!("unix://{}", info.addr),
    }
}

/// Names the step a connection failed at.
fn explain(info: &ConnectionInfo, source: redis::RedisError) -> RedisConnectError {
    let server = server(info);
    let tls = matches!(info.addr, ConnectionAddr::TcpTls { .. });
    if source.kind() == redis::ErrorKind::AuthenticationFailed
        || source
            .code()
            .is_some_and(|code| code == "WRONGPASS" || code == "NOAUTH")
    {
        return RedisConnectError::Authentication {
            server,
            user: info
                .redis
                .username
                .as_ref()
                .map(|user| format!(" (user {user})"))
                .unwrap_or_default(),
            source,
        };
    }
    if tls && is_tls_error(&source) {
        return RedisConnectError::Tls { server, source };
    }
    let hint = if tls && source.is_io_error() && !source.is_connection_refusal() {
        " (over TLS: is the server's port a TLS port?)"
    } else if !tls && source.is_io_error() && !source.is_connection_refusal() {
        " (the server closed the connection: if it only speaks TLS, the URL must start with \
         rediss://)"
    } else {
        ""
    };
    RedisConnectError::Connect {
        server,
        source,
        hint,
    }
}

/// Whether rustls refused the session (an untrusted or misnamed certificate, a protocol error).
fn is_tls_error(error: &redis::RedisError) -> bool {
    let io = std::error::Error::source(error).and_then(|e| e.downcast_ref::<std::io::Error>());
    io.and_then(std::io::Error::get_ref)
        .is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(url: &str, ca_cert: Option<PathBuf>) -> RedisConfig {
        RedisConfig {
            url: Secret::new(url),
            key_prefix: String::new(),
            ca_cert,
        }
    }

    #[test]
    fn a_missing_ca_file_names_the_setting_and_the_path() {
        let path = std::env::temp_dir().join(format!("no-such-ca-{}.pem", uuid::Uuid::new_v4()));
        let error = client(&config("rediss://localhost:6380", Some(path.clone()))).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("COMMERCE_REDIS_CA_CERT="), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("cannot be read"), "{message}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_before_any_connection() {
        let path = std::env::temp_dir().join(format!("empty-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = client(&config("rediss://localhost:6380", Some(path.clone()))).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(
            error.to_string().contains("holds no PEM certificate"),
            "{error}"
        );
    }

    #[test]
    fn a_ca_for_a_plain_url_is_a_mistake_said_without_the_password() {
        let error = client(&config(
            "redis://user:hunter2@localhost:6379",
            Some(PathBuf::from("/ca.pem")),
        ))
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("not a rediss:// URL"), "{message}");
        assert!(message.contains("redis://localhost:6379"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn tls_urls_with_an_acl_user_or_only_a_password_are_understood() {
        let info = "rediss://commerce:secret@localhost:6380"
            .into_connection_info()
            .unwrap();
        assert!(matches!(info.addr, ConnectionAddr::TcpTls { .. }));
        assert_eq!(info.redis.username.as_deref(), Some("commerce"));
        assert_eq!(info.redis.password.as_deref(), Some("secret"));
        let info = "rediss://:secret@localhost".into_connection_info().unwrap();
        assert_eq!(info.redis.username, None);
        assert_eq!(info.redis.password.as_deref(), Some("secret"));
        assert_eq!(server(&info), "rediss://localhost:6379");
    }

    /// Two providers are compiled into this crate (see the workspace's Cargo.toml): building a
    /// TLS client must not panic for want of a chosen one.
    #[tokio::test]
    async fn a_tls_connection_attempt_fails_with_an_error_not_a_crypto_provider_panic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let Err(error) = connect(&config(&format!("rediss://localhost:{port}"), None)).await else {
            panic!("nothing listens on port {port}");
        };
        assert!(
            error
                .to_string()
                .contains(&format!("rediss://localhost:{port}")),
            "{error}"
        );
    }
}
