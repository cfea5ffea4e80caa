//! The saga service's settings, from `COMMERCE_*` variables.
use std::net::SocketAddr;
use std::time::Duration;

use commerce_platform::config::{env_or, ConfigError, DatabaseConfig, MessagingConfig};
use commerce_projections::consumer::ConsumerConfig;

use crate::clock::SagaClock;
use crate::model::SagaTimings;
use crate::runner::{FaultInjection, RunnerConfig};

#[derive(Debug, Clone)]
pub struct Config {
    /// `COMMERCE_SAGAS_ADDR` (default 127.0.0.1:8082): `/healthz`, `/readyz`, `/metrics`.
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    pub messaging: MessagingConfig,
    pub consumer: ConsumerConfig,
    /// `COMMERCE_PAYMENT_URL` (default http://127.0.0.1:8083, the local simulator).
    pub payment_url: String,
    /// `COMMERCE_PAYMENT_REQUEST_TIMEOUT_MS` (default 5000): one provider call gives up then and
    /// is retried, until the payment deadline.
    pub payment_request_timeout: Duration,
    /// `COMMERCE_SAGA_PAYMENT_DEADLINE_SECS` (default 30) and `COMMERCE_SAGA_STEP_DEADLINE_SECS`
    /// (default 60).
    pub timings: SagaTimings,
    pub runner: RunnerConfig,
    /// The real time, but in tests.
    pub clock: SagaClock,
    /// Nothing, but in tests.
    pub faults: FaultInjection,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env_or("COMMERCE_SAGAS_ADDR", "127.0.0.1:8082")?,
            database: DatabaseConfig::from_env()?,
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
            payment_url: env_or("COMMERCE_PAYMENT_URL", "http://127.0.0.1:8083")?,
            payment_request_timeout: Duration::from_millis(env_or(
                "COMMERCE_PAYMENT_REQUEST_TIMEOUT_MS",
                "5000",
            )?),
            timings: SagaTimings {
                payment_deadline: Duration::from_secs(env_or(
                    "COMMERCE_SAGA_PAYMENT_DEADLINE_SECS",
                    "30",
                )?),
                step_deadline: Duration::from_secs(env_or(
                    "COMMERCE_SAGA_STEP_DEADLINE_SECS",
                    "60",
                )?),
                ..SagaTimings::default()
            },
            runner: RunnerConfig {
                concurrency: env_or("COMMERCE_SAGA_CONCURRENCY", "64")?,
                ..RunnerConfig::default()
            },
            clock: SagaClock::default(),
            faults: FaultInjection::default(),
        })
    }
}
