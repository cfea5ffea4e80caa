//! The command API's configuration, from `COMMERCE_*` variables.
use std::net::SocketAddr;

use std::time::Duration;

use commerce_platform::config::{env_or, AuthConfig, ConfigError, DatabaseConfig, MessagingConfig};

use crate::outbox_retention::OutboxRetention;
use crate::relay::RelayConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `COMMERCE_COMMAND_API_ADDR`, default 127.0.0.1:8080.
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    pub messaging: MessagingConfig,
    pub auth: AuthConfig,
    pub relay: RelayConfig,
    /// Largest accepted request body, `COMMERCE_MAX_BODY_BYTES` (default 64 KiB).
    pub max_body_bytes: usize,
    /// When published outbox rows are removed (`COMMERCE_OUTBOX_RETENTION_SECS`).
    pub outbox_retention: OutboxRetention,
    /// Whether this process also runs the outbox relay (`COMMERCE_RUN_RELAY`, default true).
    pub run_relay: bool,
    /// Which webhook URLs vendors may set: `COMMERCE_WEBHOOK_LOCAL_TARGETS=true` also allows
    /// plain HTTP and private addresses (a local stack); default public HTTPS only.
    pub webhook_targets: commerce_platform::webhooks::Targets,
    /// Whether the client address (in the audit log) is the last `X-Forwarded-For` hop, behind
    /// a load balancer that appends it (`COMMERCE_TRUST_FORWARDED_FOR`, default false).
    pub trust_forwarded_for: bool,
    /// The payment provider payouts are transferred through: `COMMERCE_PAYMENT_URL` (default
    /// http://127.0.0.1:8083, the local simulator), `COMMERCE_PAYMENT_REQUEST_TIMEOUT_MS`
    /// (default 5000).
    pub payment_url: String,
    pub payment_request_timeout: Duration,
    /// How long after its sub-order shipped a vendor's share may be paid out, so that returns
    /// come back out of it: `COMMERCE_PAYOUT_HOLD_SECS` (default 604800, 7 days).
    pub payout_hold: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env_or("COMMERCE_COMMAND_API_ADDR", "127.0.0.1:8080")?,
            database: DatabaseConfig::from_env()?,
            messaging: MessagingConfig::from_env()?,
            auth: AuthConfig::from_env()?,
            relay: RelayConfig::default(),
            max_body_bytes: env_or("COMMERCE_MAX_BODY_BYTES", "65536")?,
            outbox_retention: OutboxRetention {
                retention: Duration::from_secs(env_or("COMMERCE_OUTBOX_RETENTION_SECS", "604800")?),
                ..OutboxRetention::default()
            },
            run_relay: env_or("COMMERCE_RUN_RELAY", "true")?,
            webhook_targets: commerce_platform::webhooks::Targets::from_flag(env_or(
                "COMMERCE_WEBHOOK_LOCAL_TARGETS",
                "false",
            )?),
            trust_forwarded_for: env_or("COMMERCE_TRUST_FORWARDED_FOR", "false")?,
            payment_url: env_or("COMMERCE_PAYMENT_URL", "http://127.0.0.1:8083")?,
            payment_request_timeout: Duration::from_millis(env_or(
                "COMMERCE_PAYMENT_REQUEST_TIMEOUT_MS",
                "5000",
            )?),
            payout_hold: Duration::from_secs(env_or("COMMERCE_PAYOUT_HOLD_SECS", "604800")?),
        })
    }
}
