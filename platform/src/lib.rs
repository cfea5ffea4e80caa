//! Plumbing shared by every commerce service: configuration, telemetry, the event envelope, the
//! SNS/SQS topology, authentication, problem+json errors and the common HTTP endpoints.
//!
//! # Layout
//! - `config`: reading typed `COMMERCE_*` settings from the environment; `Secret` keeps them out of logs.
//! - `telemetry`: JSON `tracing` set-up and the Prometheus recorder, installed once per process.
//! - `envelope`: the event envelope, the public JSON contract of every published event.
//! - `event_stream`: the global event stream in an order that never skips a late commit.
//! - `messaging`: AWS SDK clients (real AWS or the local emulator) and the topic/queue topology,
//!   provisioned idempotently by the same code locally and on AWS.
//! - `database`: Postgres pools and database creation.
//! - `personal_data`: sealing personal data in events under per-customer keys, opening it, and
//!   forgetting a customer by deleting their key (crypto-shredding).
//! - `dead_letters`: reading dead-lettered messages and sending them back to their queues.
//! - `redis_connection`: Redis connection managers that fail fast during an outage, over TLS for
//!   `rediss://`.
//! - `tls`: the process's rustls crypto provider, installed before any TLS connection.
//! - `audit`: the audit log of sensitive operations (`audit.entries`), recorded and listed.
//! - `auth`: Bearer JWT claims, roles, token minting and the axum extractor.
//! - `jwks`: an identity provider's public keys (JWKS), fetched and cached for verification.
//! - `problem`: RFC 7807 problem+json responses and a JSON body extractor that answers with them.
//! - `openapi`: the problem+json and money schemas, bearer security, `/openapi.json` and `/docs`.
//! - `whole_number`: integer body fields that also accept integer-valued numbers (`24.0`), as JSON
//!   Schema's `type: integer` does.
//! - `payments`: the payment provider behind an adapter trait (card payments for the saga,
//!   transfers to vendors for payouts), its HTTP client and the local simulator.
//! - `webhooks`: which URLs a vendor's notifications may be sent to, and how they are signed.
//! - `http`: `/healthz`, `/readyz`, `/metrics`, request metrics, correlation ids, serving with shutdown.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod config;
pub mod database;
pub mod dead_letters;
pub mod envelope;
pub mod event_stream;
pub mod http;
pub mod jwks;
pub mod messaging;
pub mod openapi;
pub mod payments;
pub mod personal_data;
pub mod problem;
pub mod redis_connection;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
pub mod whole_number;

pub use tokio_util::sync::CancellationToken as Shutdown;

/// Retries `attempt` with a growing delay (0.25 s doubling to 5 s) until it succeeds or `shutdown`
/// fires, logging each failure with `what`. For start-up dependencies that may come up after us:
/// a service should wait for them, not exit.
pub async fn retry_until_ready<T, F, Fut>(
    what: &str,
    shutdown: &Shutdown,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut delay = std::time::Duration::from_millis(250);
    loop {
        match attempt().await {
            Ok(value) => return Some(value),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "{what} is not ready");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {},
            _ = shutdown.cancelled() => return None,
        }
        delay = (delay * 2).min(std::time::Duration::from_secs(5));
    }
}
