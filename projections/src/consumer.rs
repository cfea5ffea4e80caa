//! The SQS FIFO consumer every projector runs in.
//!
//! At-least-once in, exactly-once effect out: the projector decides from the per-aggregate sequence
//! whether an event is next (apply, ack), already seen (drop, ack) or ahead of a missing one (leave
//! it; SQS offers it again after a backoff). Failures back off exponentially with jitter through the
//! message's visibility timeout; after `MAX_RECEIVES` receives SQS moves it to the DLQ.
use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use chrono::Utc;
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::Shutdown;
use rand::Rng;
use tracing::Instrument;

/// What a projector did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event was the next one for its aggregate and is now in the read model.
    Applied,
    /// The read model already has this event (a redelivery); nothing changed.
    Duplicate,
    /// An earlier event of this aggregate is missing; the event must wait.
    Gap { have: i64 },
}

/// Turns events into a read model.
pub trait Projector: Send + Sync + 'static {
    /// Names the projection in logs and metrics.
    fn name(&self) -> &'static str;

    /// Applies `event` if it is the next one for its aggregate. Must be atomic: either the whole
    /// effect (including the recorded sequence) lands or none of it.
    fn apply(&self, event: &EventEnvelope) -> impl Future<Output = anyhow::Result<Outcome>> + Send;
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Long-poll wait per receive, seconds.
    pub wait_time_secs: i32,
    /// First retry delay, doubled per receive (0 retries at once, for tests).
    pub retry_base_secs: u32,
    /// Longest retry delay.
    pub retry_max_secs: u32,
    /// Receive loops per queue. SQS FIFO hands out a message group (an aggregate) to one receiver
    /// at a time, so per-aggregate order holds while different carts are projected in parallel;
    /// one loop, waiting on each round trip in turn, fell tens of seconds behind under load.
    pub pollers: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            wait_time_secs: 1,
            retry_base_secs: 1,
            retry_max_secs: 60,
            pollers: 4,
        }
    }
}

/// Drives one projector from one queue.
pub struct SqsConsumer<P> {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    projector: P,
    config: ConsumerConfig,
}

impl<P: Projector> SqsConsumer<P> {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        projector: P,
        config: ConsumerConfig,
    ) -> Self {
        Self {
            sqs,
            queue_url,
            projector,
            config,
        }
    }

    /// Consumes until `shutdown` with [`ConsumerConfig::pollers`] receive loops; a message being
    /// handled when it fires is finished first.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let name = self.projector.name();
        let pollers = self.config.pollers.max(1);
        tracing::info!(projection = name, queue = %self.queue_url, pollers, "projector consuming");
        futures::future::join_all((0..pollers).map(|_| self.poll(&shutdown))).await;
        tracing::info!(projection = name, "projector stopped");
        Ok(())
    }

    /// One receive loop: receive a batch, handle it, acknowledge it, again.
    async fn poll(&self, shutdown: &Shutdown) {
        let name = self.projector.name();
        while !shutdown.is_cancelled() {
            let received = tokio::select! {
                r = self.receive() => r,
                _ = shutdown.cancelled() => break,
            };
            match received {
                Ok(messages) => self.handle_batch(messages).await,
                Err(e) => {
                    tracing::warn!(projection = name, error = %e, "receive failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
    }

    async fn receive(&self) -> anyhow::Result<Vec<Message>> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(self.config.wait_time_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let messages = output.messages.unwrap_or_default();
        // Messages per receive (received / receives) says how well batches fill.
        metrics::counter!("projection_receives_total", "projection" => self.projector.name())
            .increment(1);
        metrics::counter!("projection_received_total", "projection" => self.projector.name())
            .increment(messages.len() as u64);
        Ok(messages)
    }

    /// Handles one received batch and acknowledges what is done with one DeleteMessageBatch.
    pub async fn handle_batch(&self, messages: Vec<Message>) {
        let mut done = Vec::with_capacity(messages.len());
        for message in messages {
            if self.handle(&message).await {
                if let Some(handle) = message.receipt_handle {
                    done.push(handle);
                }
            }
        }
        self.acknowledge(done).await;
    }

    /// Returns whether the message is finished with (applied or duplicate).
    async fn handle(&self, message: &Message) -> bool {
        let name = self.projector.name();
        let receives = receive_count(message);
        let envelope: EventEnvelope = match message.body().map(serde_json::from_str).transpose() {
            Ok(Some(envelope)) => envelope,
            Ok(None) | Err(_) => {
                // Unreadable: never ack it, so it ends in the DLQ for someone to look at.
                tracing::error!(projection = name, receives, message_id = ?message.message_id(),
                    "message is not an event envelope; leaving it for the DLQ");
                self.back_off(message, receives).await;
                return false;
            }
        };
        let span = tracing::info_span!(
            "project",
            projection = name,
            correlation_id = ?envelope.correlation_id,
            aggregate_id = %envelope.aggregate_id,
            sequence = envelope.sequence,
            event_type = %envelope.event_type,
        );
        async {
            match self.projector.apply(&envelope).await {
                Ok(Outcome::Applied) => {
                    let lag = (Utc::now() - envelope.occurred_at).num_milliseconds() as f64 / 1e3;
                    metrics::gauge!("projection_lag_seconds", "projection" => name).set(lag);
                    metrics::counter!("projection_events_total", "projection" => name, "outcome" => "applied").increment(1);
                    tracing::debug!("event applied");
                    true
                }
                Ok(Outcome::Duplicate) => {
                    metrics::counter!("projection_events_total", "projection" => name, "outcome" => "duplicate").increment(1);
                    tracing::info!("duplicate event dropped");
                    true
                }
                Ok(Outcome::Gap { have }) => {
                    metrics::counter!("projection_events_total", "projection" => name, "outcome" => "gap").increment(1);
                    tracing::warn!(have, receives, "earlier event missing; not acknowledging");
                    self.back_off(message, receives).await;
                    false
                }
                Err(e) => {
                    metrics::counter!("projection_events_total", "projection" => name, "outcome" => "failed").increment(1);
                    tracing::error!(error = %format!("{e:#}"), receives, "applying event failed");
                    self.back_off(message, receives).await;
                    false
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn acknowledge(&self, receipt_handles: Vec<String>) {
        if receipt_handles.is_empty() {
            return;
        }
        let entries: Vec<_> = receipt_handles
            .into_iter()
            .enumerate()
            .filter_map(|(i, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        // A failed delete only means a redelivery, which the sequence check absorbs.
        match self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) if !out.failed().is_empty() => {
                tracing::warn!(failed = out.failed().len(), "some acknowledgements failed");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "acknowledging failed")
            }
        }
    }

    /// Hides the message for an exponentially growing, jittered delay before SQS offers it again.
    async fn back_off(&self, message: &Message, receives: u32) {
        let Some(handle) = message.receipt_handle() else {
            return;
        };
        let delay = retry_delay_secs(&self.config, receives);
        if let Err(e) = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(delay as i32)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not set the retry delay");
        }
    }
}

fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// `base * 2^(receives-1)`, capped, plus up to a second of jitter (none when base is 0).
fn retry_delay_secs(config: &ConsumerConfig, receives: u32) -> u32 {
    if config.retry_base_secs == 0 {
        return 0;
    }
    let exponential = config
        .retry_base_secs
        .saturating_mul(2u32.saturating_pow(receives.saturating_sub(1)))
        .min(config.retry_max_secs);
    exponential + rand::rng().random_range(0..=1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_and_is_capped() {
        let config = ConsumerConfig {
            retry_base_secs: 1,
            retry_max_secs: 10,
            ..ConsumerConfig::default()
        };
        let d1 = retry_delay_secs(&config, 1);
        let d3 = retry_delay_secs(&config, 3);
        let d9 = retry_delay_secs(&config, 9);
        assert!((1..=2).contains(&d1));
        assert!((4..=5).contains(&d3));
        assert!((10..=11).contains(&d9));
        let immediate = ConsumerConfig {
            retry_base_secs: 0,
            ..ConsumerConfig::default()
        };
        assert_eq!(retry_delay_secs(&immediate, 4), 0);
    }
}
