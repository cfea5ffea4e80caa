//! The SQS FIFO consumer every projector runs in.
//!
//! At-least-once in, exactly-once effect out: the projector decides from the per-aggregate sequence
//! whether an event is next (apply, ack), already seen (drop, ack) or ahead of a missing one. What
//! happens when it cannot apply an event depends on why ([`ProjectionError`]):
//! - **A dependency is down** (Redis or Postgres refuses, drops, times out): the consumer holds the
//!   message, keeps its visibility extended, stops receiving more on every loop of the queue, and
//!   retries with a growing pause until the dependency answers. No receive is spent, so an outage of
//!   any length dead-letters nothing.
//! - **A gap** (an earlier event of the aggregate never reached the model, e.g. it was
//!   dead-lettered): the missing events are read from `es.events` and applied first.
//! - **The event cannot be projected by this code** (unknown type or version, or it cannot follow
//!   the stored document): retried through SQS receives with backoff, since during a rolling deploy
//!   a newer consumer may take it; on the last receive it is *skipped*: the aggregate's sequence
//!   advances past it without a change to the model, `projection_events_total{outcome="skipped"}`
//!   counts it, an error is logged, and `read.skipped_events` records it for ops. Later events of
//!   the aggregate are therefore never blocked. A rebuild with code that knows the event applies it.
//! - **A message that is not an event envelope**, or any other failure: retried through receives,
//!   then left to SQS to dead-letter after `max_receives`.
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use chrono::Utc;
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::messaging::{MAX_RECEIVES, VISIBILITY_TIMEOUT_SECS};
use commerce_platform::Shutdown;
use rand::Rng;
use tokio::sync::watch;
use tracing::Instrument;

use crate::error::ProjectionError;
use crate::history::EventHistory;

/// Messages per receive: the most SQS hands out at once.
const MAX_BATCH: usize = 10;

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
    fn apply(
        &self,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<Outcome, ProjectionError>> + Send;

    /// Advances the aggregate's recorded sequence past `event` without changing the model, if it is
    /// the next one: the skip policy for an event this code cannot project.
    fn skip(
        &self,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<Outcome, ProjectionError>> + Send;
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
    /// Pause of a receive loop after a receive that did not fill a batch, so that the next one
    /// finds several messages waiting: each receive and delete is a request to SQS, and under
    /// load a loop that asks again at once gets one message per request. The other loops go on
    /// receiving meanwhile, so a message arriving on a quiet queue is not delayed by it. Zero
    /// asks again at once.
    pub batch_wait: Duration,
    /// The queue's `maxReceiveCount`: on this receive an unprocessable event is skipped rather
    /// than left for the DLQ.
    pub max_receives: u32,
    /// How long a held message is hidden per extension; it is extended every third of this.
    pub hold_visibility_secs: u32,
    /// First pause before trying an unavailable dependency again; doubles per try.
    pub outage_retry_first: Duration,
    /// Longest pause between tries of an unavailable dependency.
    pub outage_retry_max: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            wait_time_secs: 1,
            retry_base_secs: 1,
            retry_max_secs: 60,
            pollers: 4,
            batch_wait: Duration::from_millis(20),
            max_receives: MAX_RECEIVES,
            hold_visibility_secs: VISIBILITY_TIMEOUT_SECS,
            outage_retry_first: Duration::from_millis(250),
            outage_retry_max: Duration::from_secs(5),
        }
    }
}

/// Whether the projector's dependencies answer, shared by every receive loop of a queue: while one
/// loop holds an event a dependency refused, the others stop receiving.
struct DependencyGate {
    available: watch::Sender<bool>,
}

impl DependencyGate {
    fn new() -> Self {
        Self {
            available: watch::Sender::new(true),
        }
    }

    /// Marks the dependency down; true if it was up.
    fn down(&self) -> bool {
        self.available.send_replace(false)
    }

    /// Marks the dependency up; true if it was down.
    fn up(&self) -> bool {
        !self.available.send_replace(true)
    }

    async fn wait_until_up(&self) {
        let mut available = self.available.subscribe();
        // The sender lives as long as `self`, so this cannot fail while anyone waits.
        let _ = available.wait_for(|up| *up).await;
    }
}

/// What to do with a message once handling it ended.
enum Disposition {
    /// Applied, a duplicate, or skipped: delete it.
    Done,
    /// Leave it: SQS offers it again after the delay set on it (a receive is spent).
    Retry,
    /// Leave it without touching its visibility (shutting down while holding it).
    Abandon,
}

/// Drives one projector from one queue.
pub struct SqsConsumer<P> {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    projector: P,
    history: EventHistory,
    config: ConsumerConfig,
    gate: DependencyGate,
}

impl<P: Projector> SqsConsumer<P> {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        projector: P,
        history: EventHistory,
        config: ConsumerConfig,
    ) -> Self {
        Self {
            sqs,
            queue_url,
            projector,
            history,
            config,
            gate: DependencyGate::new(),
        }
    }

    /// Consumes until `shutdown` with [`ConsumerConfig::pollers`] receive loops; a message being
    /// handled when it fires is finished first (or, if its dependency is down, left to SQS).
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let name = self.projector.name();
        let pollers = self.config.pollers.max(1);
        tracing::info!(projection = name, queue = %self.queue_url, pollers, "projector consuming");
        metrics::gauge!("projection_dependencies_available", "projection" => name).set(1.0);
        futures::future::join_all((0..pollers).map(|_| self.poll(&shutdown))).await;
        tracing::info!(projection = name, "projector stopped");
        Ok(())
    }

    /// One receive loop: receive a batch, handle it, acknowledge it, again. Receives nothing
    /// while a dependency is down: messages are better left in the queue than held here.
    async fn poll(&self, shutdown: &Shutdown) {
        let name = self.projector.name();
        while !shutdown.is_cancelled() {
            tokio::select! {
                _ = self.gate.wait_until_up() => {},
                _ = shutdown.cancelled() => break,
            }
            let receive = self.receive();
            tokio::pin!(receive);
            let received = tokio::select! {
                r = &mut receive => r,
                _ = shutdown.cancelled() => {
                    // The long poll stays open on the server, which may still hand it a message:
                    // dropped, that message would stay invisible for the whole visibility
                    // timeout. Finish the poll and give back what it got.
                    let wait = Duration::from_secs(u64::try_from(self.config.wait_time_secs).unwrap_or(0) + 2);
                    if let Ok(Ok(messages)) = tokio::time::timeout(wait, receive).await {
                        let handles: Vec<String> =
                            messages.into_iter().filter_map(|m| m.receipt_handle).collect();
                        self.set_visibility(&handles, 0).await;
                    }
                    break;
                }
            };
            match received {
                Ok(messages) => {
                    let filled = messages.len() >= MAX_BATCH;
                    self.handle_batch(messages, shutdown).await;
                    if !filled && !self.config.batch_wait.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(self.config.batch_wait) => {},
                            _ = shutdown.cancelled() => break,
                        }
                    }
                }
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
            .max_number_of_messages(MAX_BATCH as i32)
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

    /// Handles one received batch in order and acknowledges what is done with one
    /// DeleteMessageBatch. Messages still waiting their turn (behind one held through an outage)
    /// have their visibility extended, so SQS neither offers them to another loop nor counts
    /// another receive.
    async fn handle_batch(&self, messages: Vec<Message>, shutdown: &Shutdown) {
        let waiting: Mutex<Vec<String>> = Mutex::new(
            messages
                .iter()
                .filter_map(|m| m.receipt_handle.clone())
                .collect(),
        );
        let work = async {
            let mut done = Vec::with_capacity(messages.len());
            for message in &messages {
                let disposition = self.handle(message, shutdown).await;
                let Some(handle) = message.receipt_handle.clone() else {
                    continue;
                };
                if let Ok(mut waiting) = waiting.lock() {
                    waiting.retain(|h| *h != handle);
                }
                if let Disposition::Done = disposition {
                    done.push(handle);
                }
            }
            done
        };
        tokio::pin!(work);
        let every = Duration::from_secs(u64::from(self.config.hold_visibility_secs.max(3) / 3));
        let mut extend = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let done = loop {
            tokio::select! {
                done = &mut work => break done,
                _ = extend.tick() => {
                    let handles = waiting.lock().map(|w| w.clone()).unwrap_or_default();
                    self.extend_visibility(&handles).await;
                }
            }
        };
        self.acknowledge(done).await;
    }

    /// Handles one message: project it, holding it through outages, and decide its fate.
    async fn handle(&self, message: &Message, shutdown: &Shutdown) -> Disposition {
        let name = self.projector.name();
        let receives = receive_count(message);
        let envelope: EventEnvelope = match message.body().map(serde_json::from_str).transpose() {
            Ok(Some(envelope)) => envelope,
            Ok(None) | Err(_) => {
                // Unreadable: never ack it, so it ends in the DLQ for someone to look at.
                metrics::counter!("projection_events_total", "projection" => name, "outcome" => "unreadable").increment(1);
                tracing::error!(projection = name, receives, message_id = ?message.message_id(),
                    "message is not an event envelope; leaving it for the DLQ");
                self.back_off(message, receives).await;
                return Disposition::Retry;
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
            // Set once this receive is the last and the event cannot be projected: why it is skipped.
            let mut skipping: Option<String> = None;
            // When a dependency first refused, and the pause before the next try.
            let mut outage: Option<(Instant, Duration)> = None;
            loop {
                let attempt = match &skipping {
                    None => self.project(&envelope).await,
                    Some(_) => self.projector.skip(&envelope).await,
                };
                let error = match attempt {
                    Ok(outcome) => {
                        if let Some((since, _)) = outage {
                            self.dependencies_back(since);
                        }
                        if let Some(reason) = skipping {
                            self.skipped(&envelope, &reason).await;
                            return Disposition::Done;
                        }
                        return self.finish(outcome, &envelope, message, receives).await;
                    }
                    Err(error) => error,
                };
                match error {
                    ProjectionError::Unavailable(e) => {
                        let pause = match &mut outage {
                            None => {
                                self.dependencies_down(&e);
                                outage = Some((Instant::now(), self.config.outage_retry_first));
                                self.config.outage_retry_first
                            }
                            Some((_, pause)) => {
                                *pause = (*pause * 2).min(self.config.outage_retry_max);
                                tracing::debug!(error = %format!("{e:#}"), "dependency still unavailable");
                                *pause
                            }
                        };
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {},
                            _ = shutdown.cancelled() => return Disposition::Abandon,
                        }
                    }
                    ProjectionError::Unprocessable(e)
                        if skipping.is_none() && receives >= self.config.max_receives =>
                    {
                        skipping = Some(format!("{e:#}"));
                    }
                    other => {
                        metrics::counter!("projection_events_total", "projection" => name, "outcome" => other.kind()).increment(1);
                        tracing::error!(error = %other, receives, max_receives = self.config.max_receives,
                            "applying event failed; SQS offers it again after a backoff");
                        self.back_off(message, receives).await;
                        return Disposition::Retry;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Applies `envelope`; on a gap, first applies the missing events read from the event store.
    async fn project(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let outcome = self.projector.apply(envelope).await?;
        let Outcome::Gap { have } = outcome else {
            return Ok(outcome);
        };
        let missing = self
            .history
            .between(
                &envelope.aggregate_type,
                &envelope.aggregate_id,
                have,
                envelope.sequence,
            )
            .await?;
        if i64::try_from(missing.len()).ok() != Some(envelope.sequence - have - 1) {
            tracing::warn!(
                have,
                found = missing.len(),
                "the event store lacks the missing events; cannot repair the gap"
            );
            return Ok(outcome);
        }
        for event in &missing {
            match self.projector.apply(event).await {
                Ok(Outcome::Applied | Outcome::Duplicate) => {}
                Ok(Outcome::Gap { .. }) => return Ok(outcome),
                Err(ProjectionError::Unprocessable(e)) => {
                    tracing::warn!(missing_sequence = event.sequence, error = %format!("{e:#}"),
                        "a missing event cannot be projected; leaving the gap");
                    return Ok(outcome);
                }
                Err(e) => return Err(e),
            }
        }
        let name = self.projector.name();
        metrics::counter!("projection_gap_repairs_total", "projection" => name).increment(1);
        tracing::info!(
            have,
            repaired = missing.len(),
            "gap repaired from the event store"
        );
        self.projector.apply(envelope).await
    }

    /// Records what became of an event that met no failure.
    async fn finish(
        &self,
        outcome: Outcome,
        envelope: &EventEnvelope,
        message: &Message,
        receives: u32,
    ) -> Disposition {
        let name = self.projector.name();
        match outcome {
            Outcome::Applied => {
                let lag = (Utc::now() - envelope.occurred_at).num_milliseconds() as f64 / 1e3;
                metrics::gauge!("projection_lag_seconds", "projection" => name).set(lag);
                metrics::counter!("projection_events_total", "projection" => name, "outcome" => "applied").increment(1);
                tracing::debug!("event applied");
                Disposition::Done
            }
            Outcome::Duplicate => {
                metrics::counter!("projection_events_total", "projection" => name, "outcome" => "duplicate").increment(1);
                tracing::info!("duplicate event dropped");
                Disposition::Done
            }
            Outcome::Gap { have } => {
                metrics::counter!("projection_events_total", "projection" => name, "outcome" => "gap").increment(1);
                tracing::warn!(have, receives, "earlier event missing; not acknowledging");
                self.back_off(message, receives).await;
                Disposition::Retry
            }
        }
    }

    fn dependencies_down(&self, error: &anyhow::Error) {
        let name = self.projector.name();
        if self.gate.down() {
            metrics::gauge!("projection_dependencies_available", "projection" => name).set(0.0);
            metrics::counter!("projection_outages_total", "projection" => name).increment(1);
        }
        tracing::warn!(error = %format!("{error:#}"),
            "a dependency is unavailable; holding the event and pausing receives until it answers");
    }

    fn dependencies_back(&self, since: Instant) {
        let name = self.projector.name();
        if self.gate.up() {
            metrics::gauge!("projection_dependencies_available", "projection" => name).set(1.0);
        }
        tracing::info!(
            waited_ms = since.elapsed().as_millis() as u64,
            "dependency answers again; receiving resumes"
        );
    }

    /// Logs, counts and records an event skipped under the skip policy.
    async fn skipped(&self, envelope: &EventEnvelope, reason: &str) {
        let name = self.projector.name();
        metrics::counter!("projection_events_total", "projection" => name, "outcome" => "skipped")
            .increment(1);
        tracing::error!(
            event_version = %envelope.event_version,
            reason,
            "this projector cannot project the event; skipped it after its last receive \
             (recorded in read.skipped_events; a rebuild with newer code applies it)"
        );
        if let Err(e) = self.history.record_skip(name, envelope, reason).await {
            tracing::error!(error = %e, "could not record the skipped event");
        }
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

    /// Keeps messages that wait behind a held one hidden for another `hold_visibility_secs`.
    async fn extend_visibility(&self, receipt_handles: &[String]) {
        self.set_visibility(receipt_handles, self.config.hold_visibility_secs)
            .await;
    }

    /// Hides messages for `secs` from now (0: offers them again at once).
    async fn set_visibility(&self, receipt_handles: &[String], secs: u32) {
        for (chunk_index, chunk) in receipt_handles.chunks(10).enumerate() {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("{chunk_index}-{i}"))
                        .receipt_handle(handle)
                        .visibility_timeout(i32::try_from(secs).unwrap_or(i32::MAX))
                        .build()
                        .ok()
                })
                .collect();
            if let Err(e) = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e),
                    "could not change the visibility of messages");
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
