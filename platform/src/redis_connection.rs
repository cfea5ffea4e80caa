//! Redis connections that fail fast when Redis is away, so callers can tell an outage from a slow
//! answer and act on it (the read API answers 503, projectors hold their events).
//!
//! The crate's defaults would not: commands have no response timeout, and a lost connection is
//! re-established with a backoff whose first delay is one second and whose factor is 100 (the
//! `factor` setting feeds the backoff's growth factor), so a command issued during a blip waited up
//! to five minutes for the reconnect to give up.
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Longest a command (or a connection attempt) may take before it fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

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

/// A connection manager for `url` with [`manager_config`].
pub async fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    redis::Client::open(url)?
        .get_connection_manager_with_config(manager_config())
        .await
}
