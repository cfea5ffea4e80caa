//! Webhook delivery: the notifications projector queues a delivery per event and vendor with a
//! webhook (`notify.webhook_deliveries`, in the statement that applies the event); this worker
//! sends them.
//!
//! Each round claims the due pending deliveries (`FOR UPDATE SKIP LOCKED`, so workers on several
//! machines share them), moving each one's next attempt past its request's deadline: a worker
//! that dies mid-request leaves the delivery to be claimed again then, not lost. Each request is
//! signed (see `commerce_platform::webhooks`); a 2xx answer delivers it. Anything else is tried
//! again after an exponentially growing, jittered delay; when the attempts run out the delivery
//! is `dead` and a copy of its event goes to the notifications DLQ, where alarms see it and from
//! where `commerce dlq redrive notifications` sends the event back, which revives the delivery.
//! Delivery is at least once: a receiver drops repeated `X-Commerce-Delivery` ids.
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::{DateTime, Utc};
use commerce_platform::envelope::{message_attributes, EventEnvelope, ENVELOPE_COLUMNS};
use commerce_platform::webhooks::{self, Targets};
use commerce_platform::Shutdown;
use futures::StreamExt;
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

/// The DLQ message attribute naming the delivery that died.
pub const DEAD_DELIVERY_ATTRIBUTE: &str = "webhook_delivery_id";

/// How deliveries are tried.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Which URLs may be called (`COMMERCE_WEBHOOK_LOCAL_TARGETS`).
    pub targets: Targets,
    /// Delay after the first failed attempt, doubled after each further one
    /// (`COMMERCE_WEBHOOK_RETRY_BASE_MS`).
    pub retry_base: Duration,
    /// Longest delay between attempts (`COMMERCE_WEBHOOK_RETRY_MAX_SECS`).
    pub retry_max: Duration,
    /// Attempts before a delivery is dead (`COMMERCE_WEBHOOK_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Deadline of one request (`COMMERCE_WEBHOOK_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Pause when nothing is due.
    pub poll_interval: Duration,
    /// Deliveries claimed per round, and sent at once.
    pub batch: i64,
}

impl Default for WebhookConfig {
    /// Ten attempts over about 45 minutes: 5 s, 10 s, 20 s … between them.
    fn default() -> Self {
        Self {
            targets: Targets::Public,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            max_attempts: 10,
            request_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            batch: 32,
        }
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones: `base * 2^(attempts-1)`
/// capped at `max`, then a random point of its upper half, so receivers that failed together
/// are not all called again at the same instant.
pub fn retry_delay(config: &WebhookConfig, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let full = config
        .retry_base
        .saturating_mul(1u32 << doublings)
        .min(config.retry_max);
    let half = full / 2;
    half + full.mul_f64(rand::rng().random_range(0.0..=0.5))
}

/// A delivery claimed for one attempt, with its vendor's webhook (none: it was removed).
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    delivery_id: Uuid,
    vendor_id: Uuid,
    event_id: Uuid,
    kind: String,
    order_id: Uuid,
    at: DateTime<Utc>,
    detail: serde_json::Value,
    attempts: i32,
    url: Option<String>,
    secret: Option<String>,
}

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// Sends the queued deliveries until shut down.
pub struct WebhookSender {
    pool: PgPool,
    http: reqwest::Client,
    sqs: aws_sdk_sqs::Client,
    dlq_url: String,
    config: WebhookConfig,
}

impl WebhookSender {
    pub fn new(
        pool: PgPool,
        sqs: aws_sdk_sqs::Client,
        dlq_url: String,
        config: WebhookConfig,
    ) -> anyhow::Result<Self> {
        let http = webhooks::delivery_client(config.targets, config.request_timeout)
            .context("building the webhook HTTP client")?;
        Ok(Self {
            pool,
            http,
            sqs,
            dlq_url,
            config,
        })
    }

    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(
            max_attempts = self.config.max_attempts,
            local_targets = self.config.targets == Targets::AlsoLocal,
            "webhook delivery started"
        );
        let mut outage = Duration::from_millis(250);
        while !shutdown.is_cancelled() {
            let pause = match self.claim().await {
                Ok(batch) if batch.is_empty() => self.config.poll_interval,
                Ok(batch) => {
                    outage = Duration::from_millis(250);
                    // Each request has a deadline: a shutdown waits for the batch at most that long.
                    futures::stream::iter(batch)
                        .for_each_concurrent(None, |claimed| self.attempt(claimed))
                        .await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = outage.as_millis() as u64, "claiming webhook deliveries failed");
                    let pause = outage;
                    outage = (outage * 2).min(Duration::from_secs(5));
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        Ok(())
    }

    /// The due pending deliveries, each counted as attempted and hidden until its request's
    /// deadline has long passed.
    async fn claim(&self) -> sqlx::Result<Vec<Claimed>> {
        let lease = self.config.request_timeout + Duration::from_secs(30);
        sqlx::query_as(
            "WITH due AS ( \
               SELECT delivery_id FROM notify.webhook_deliveries \
               WHERE state = 'pending' AND next_attempt_at <= now() \
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
               UPDATE notify.webhook_deliveries d \
               SET attempts = d.attempts + 1, \
                   next_attempt_at = now() + $2 * interval '1 millisecond' \
               FROM due WHERE d.delivery_id = due.delivery_id \
               RETURNING d.*) \
             SELECT c.delivery_id, c.vendor_id, c.event_id, c.kind, c.order_id, c.at, c.detail, \
                    c.attempts, w.url, w.secret \
             FROM claimed c LEFT JOIN notify.webhooks w ON w.vendor_id = c.vendor_id",
        )
        .bind(self.config.batch)
        .bind(lease.as_millis() as f64)
        .fetch_all(&self.pool)
        .await
    }

    #[tracing::instrument(skip_all, fields(delivery_id = %claimed.delivery_id, vendor_id = %claimed.vendor_id, kind = %claimed.kind, attempt = claimed.attempts))]
    async fn attempt(&self, claimed: Claimed) {
        let (Some(url), Some(secret)) = (&claimed.url, &claimed.secret) else {
            // The vendor removed its webhook after this was queued: there is nowhere to send it.
            let ended = self
                .record_dead(&claimed, None, "the vendor removed its webhook")
                .await;
            if let Err(e) = ended {
                tracing::warn!(error = %e, "recording a delivery without a webhook failed");
            }
            return;
        };
        let attempt = self.send(&claimed, url, secret).await;
        let recorded = match attempt {
            Attempt::Delivered { status } => {
                metrics::counter!("webhook_deliveries_total", "outcome" => "delivered")
                    .increment(1);
                tracing::info!(status, "webhook delivered");
                self.record_delivered(&claimed, status).await
            }
            Attempt::Failed { status, error } => {
                let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
                if attempts >= self.config.max_attempts {
                    metrics::counter!("webhook_deliveries_total", "outcome" => "dead").increment(1);
                    tracing::error!(status, %error, attempts, "webhook delivery gave up: dead-lettered");
                    self.dead_letter(&claimed, status, &error).await
                } else {
                    metrics::counter!("webhook_deliveries_total", "outcome" => "retried")
                        .increment(1);
                    let delay = retry_delay(&self.config, attempts);
                    tracing::warn!(status, %error, retry_in_ms = delay.as_millis() as u64, "webhook delivery failed; will retry");
                    self.record_retry(&claimed, status, &error, delay).await
                }
            }
        };
        // Unrecorded, the claim's lease runs out and the delivery is tried again: at least once.
        if let Err(e) = recorded {
            tracing::warn!(error = %format!("{e:#}"), "recording a webhook attempt failed; it will be tried again");
        }
    }

    async fn send(&self, claimed: &Claimed, url: &str, secret: &str) -> Attempt {
        // The URL was checked when it was set; checked again, as the rules may have tightened.
        if let Err(why) = webhooks::target(url, self.config.targets) {
            return Attempt::Failed {
                status: None,
                error: format!("the webhook's URL is refused: {why}"),
            };
        }
        let body = serde_json::json!({
            "delivery_id": claimed.delivery_id,
            "type": claimed.kind,
            "event_id": claimed.event_id,
            "order_id": claimed.order_id,
            "vendor_id": claimed.vendor_id,
            "occurred_at": claimed.at,
            "detail": claimed.detail,
        })
        .to_string();
        let timestamp = Utc::now().timestamp();
        let sent = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                webhooks::SIGNATURE_HEADER,
                webhooks::signature(secret, timestamp, body.as_bytes()),
            )
            .header(webhooks::TIMESTAMP_HEADER, timestamp.to_string())
            .header(webhooks::DELIVERY_HEADER, claimed.delivery_id.to_string())
            .header(webhooks::KIND_HEADER, &claimed.kind)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Attempt::Delivered {
                status: answer.status().as_u16(),
            },
            Ok(answer) => Attempt::Failed {
                status: Some(answer.status().as_u16()),
                error: format!("the receiver answered {}", answer.status()),
            },
            // Without the URL: it may carry the vendor's own token.
            Err(e) => Attempt::Failed {
                status: None,
                error: format!("{:#}", anyhow::Error::new(e.without_url())),
            },
        }
    }

    async fn record_delivered(&self, claimed: &Claimed, status: u16) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE notify.webhook_deliveries \
             SET state = 'delivered', delivered_at = now(), last_status = $2, last_error = NULL \
             WHERE delivery_id = $1 AND state = 'pending'",
        )
        .bind(claimed.delivery_id)
        .bind(i32::from(status))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_retry(
        &self,
        claimed: &Claimed,
        status: Option<u16>,
        error: &str,
        delay: Duration,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE notify.webhook_deliveries \
             SET next_attempt_at = now() + $4 * interval '1 millisecond', \
                 last_status = $2, last_error = $3 \
             WHERE delivery_id = $1 AND state = 'pending'",
        )
        .bind(claimed.delivery_id)
        .bind(status.map(i32::from))
        .bind(error)
        .bind(delay.as_millis() as f64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A copy of the delivery's event to the DLQ (deduplicated by the delivery's id), then the
    /// delivery `dead`: a crash between the two sends the copy again, never loses it.
    async fn dead_letter(
        &self,
        claimed: &Claimed,
        status: Option<u16>,
        error: &str,
    ) -> anyhow::Result<()> {
        let row = sqlx::query(&format!(
            "SELECT {ENVELOPE_COLUMNS} FROM es.events e WHERE e.event_id = $1"
        ))
        .bind(claimed.event_id)
        .fetch_one(&self.pool)
        .await
        .context("reading the delivery's event")?;
        let envelope = EventEnvelope::from_row(&row)?;
        let mut send = self
            .sqs
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(serde_json::to_string(&envelope)?)
            .message_group_id(&envelope.aggregate_id)
            .message_deduplication_id(claimed.delivery_id.to_string());
        let delivery_id = claimed.delivery_id.to_string();
        let attributes = message_attributes(&envelope.aggregate_type, &envelope.event_type)
            .into_iter()
            .chain([(DEAD_DELIVERY_ATTRIBUTE, delivery_id.as_str())]);
        for (name, value) in attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()?;
            send = send.message_attributes(name, attribute);
        }
        send.send()
            .await
            .context("copying the delivery to the DLQ")?;
        self.record_dead(claimed, status, error).await
    }

    async fn record_dead(
        &self,
        claimed: &Claimed,
        status: Option<u16>,
        error: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE notify.webhook_deliveries \
             SET state = 'dead', last_status = $2, last_error = $3 \
             WHERE delivery_id = $1 AND state = 'pending'",
        )
        .bind(claimed.delivery_id)
        .bind(status.map(i32::from))
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half() {
        let config = WebhookConfig {
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            ..WebhookConfig::default()
        };
        for (attempts, full) in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (40, 60)] {
            let full = Duration::from_secs(full);
            for _ in 0..50 {
                let delay = retry_delay(&config, attempts);
                assert!(delay >= full / 2 && delay <= full, "{attempts}: {delay:?}");
            }
        }
    }
}
