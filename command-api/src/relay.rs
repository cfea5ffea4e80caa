//! The outbox relay: publishes committed events to the SNS FIFO topic, in order per aggregate.
//!
//! One relay is active at a time (a Postgres advisory lock held on a dedicated connection). It claims
//! unpublished outbox rows in global-position order, spreads them over lanes by aggregate id so that
//! several `PublishBatch` calls are in flight while each aggregate's events stay in one lane, in
//! order, and stamps rows published only after SNS acknowledged them. A crash between SNS's
//! acknowledgement and the stamp republishes those events with the same deduplication id; SNS drops
//! the copy within its window and consumers drop any later copy by sequence.
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use commerce_platform::envelope::{metadata_keys, EventEnvelope};
use commerce_platform::Shutdown;
use futures::future::join_all;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::Notify;
use uuid::Uuid;

/// Advisory-lock key that elects the single active relay of a database.
const LEADER_LOCK_KEY: i64 = 0x636f_6d6d_6572_6365; // "commerce"

/// SNS's limit of entries per PublishBatch.
pub const SNS_BATCH_LIMIT: usize = 10;

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Outbox rows claimed per round.
    pub claim_limit: i64,
    /// Lanes, i.e. PublishBatch calls in flight at once.
    pub lanes: usize,
    /// Poll interval when nothing wakes the relay (events written by another process).
    pub idle_poll: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            claim_limit: 500,
            lanes: 16,
            idle_poll: Duration::from_millis(50),
        }
    }
}

/// A claimed outbox row with its event, ready to publish.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub envelope: EventEnvelope,
}

/// Publishes the outbox to SNS.
#[derive(Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    config: RelayConfig,
    waker: Arc<Notify>,
}

impl OutboxRelay {
    pub fn new(
        pool: PgPool,
        sns: aws_sdk_sns::Client,
        topic_arn: String,
        config: RelayConfig,
        waker: Arc<Notify>,
    ) -> Self {
        Self {
            pool,
            sns,
            topic_arn,
            config,
            waker,
        }
    }

    /// Runs until `shutdown`: waits for leadership, then relays, and steps down if the lock's
    /// connection is lost.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let backlog = tokio::spawn(report_backlog(self.pool.clone(), shutdown.clone()));
        while !shutdown.is_cancelled() {
            let mut leader = match self.acquire_leadership().await {
                Ok(Some(conn)) => conn,
                Ok(None) => {
                    tracing::debug!("another relay is active; standing by");
                    sleep_or_shutdown(Duration::from_secs(1), &shutdown).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot reach Postgres for relay leadership");
                    sleep_or_shutdown(Duration::from_secs(1), &shutdown).await;
                    continue;
                }
            };
            tracing::info!("outbox relay is the active publisher");
            if let Err(e) = self.relay_while_leader(&mut leader, &shutdown).await {
                tracing::error!(error = %format!("{e:#}"), "outbox relay round failed; retrying");
                sleep_or_shutdown(Duration::from_millis(500), &shutdown).await;
            }
            let _ = leader.close().await;
        }
        backlog.abort();
        tracing::info!("outbox relay stopped");
        Ok(())
    }

    async fn acquire_leadership(&self) -> anyhow::Result<Option<PgConnection>> {
        let mut conn = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?;
        Ok(locked.then_some(conn))
    }

    async fn relay_while_leader(
        &self,
        leader: &mut PgConnection,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let mut last_lease_check = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            if last_lease_check.elapsed() > Duration::from_secs(5) {
                leader
                    .ping()
                    .await
                    .context("relay leadership connection lost")?;
                last_lease_check = tokio::time::Instant::now();
            }
            let published = self.relay_once().await?;
            if published == 0 {
                tokio::select! {
                    _ = self.waker.notified() => {},
                    _ = tokio::time::sleep(self.config.idle_poll) => {},
                    _ = shutdown.cancelled() => {},
                }
            }
        }
        Ok(())
    }

    /// One round: claim, publish, stamp. Returns how many events were published.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let pending = self.claim(&mut tx).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let published = self.publish(&pending).await;
        if published.is_empty() {
            anyhow::bail!("SNS acknowledged none of {} claimed events", pending.len());
        }
        mark_published(&mut tx, &published).await?;
        tx.commit().await.context("committing published marks")?;
        metrics::counter!("outbox_published_total").increment(published.len() as u64);
        if published.len() < pending.len() {
            tracing::warn!(
                claimed = pending.len(),
                published = published.len(),
                "some events were not acknowledged by SNS; they stay in the outbox"
            );
        }
        Ok(published.len())
    }

    /// Locks the oldest unpublished rows (skipping any another transaction holds) and loads their
    /// events as envelopes.
    pub async fn claim(
        &self,
        tx: &mut Transaction<'_, Postgres>,
    ) -> anyhow::Result<Vec<PendingEvent>> {
        let rows = sqlx::query(
            "SELECT e.event_id, e.global_position, e.aggregate_type, e.aggregate_id, e.sequence, \
             e.event_type, e.event_version, e.occurred_at, e.metadata, e.payload \
             FROM es.outbox o JOIN es.events e ON e.global_position = o.global_position \
             WHERE o.published_at IS NULL ORDER BY o.global_position LIMIT $1 \
             FOR UPDATE OF o SKIP LOCKED",
        )
        .bind(self.config.claim_limit)
        .fetch_all(&mut **tx)
        .await
        .context("claiming outbox rows")?;
        rows.iter()
            .map(|row| envelope_from_row(row).map(|envelope| PendingEvent { envelope }))
            .collect()
    }

    /// Publishes `pending` and returns the global positions SNS acknowledged. Each lane stops at
    /// its first failure so nothing of an aggregate is published after an event that was not.
    pub async fn publish(&self, pending: &[PendingEvent]) -> Vec<i64> {
        let lanes = split_into_lanes(pending, self.config.lanes);
        let results = join_all(lanes.into_iter().map(|lane| self.publish_lane(lane))).await;
        results.into_iter().flatten().collect()
    }

    async fn publish_lane(&self, lane: Vec<&PendingEvent>) -> Vec<i64> {
        let mut acknowledged = Vec::with_capacity(lane.len());
        for chunk in lane.chunks(SNS_BATCH_LIMIT) {
            match self.publish_batch(chunk).await {
                Ok(ids) => {
                    let all = ids.len() == chunk.len();
                    acknowledged.extend(ids);
                    if !all {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "PublishBatch failed; will retry");
                    break;
                }
            }
        }
        acknowledged
    }

    /// Publishes one batch; returns the positions of the leading entries SNS accepted.
    async fn publish_batch(&self, chunk: &[&PendingEvent]) -> anyhow::Result<Vec<i64>> {
        let mut entries = Vec::with_capacity(chunk.len());
        for (index, pending) in chunk.iter().enumerate() {
            entries.push(batch_entry(index, &pending.envelope)?);
        }
        let output = self
            .sns
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sns::error::DisplayErrorContext(e)))?;
        let first_failure = output
            .failed()
            .iter()
            .filter_map(|f| f.id().parse::<usize>().ok())
            .min()
            .unwrap_or(chunk.len());
        for failure in output.failed() {
            tracing::warn!(code = failure.code(), message = ?failure.message(), "SNS refused an entry");
        }
        Ok(chunk[..first_failure]
            .iter()
            .map(|p| p.envelope.global_position)
            .collect())
    }
}

/// Stamps rows as published (inside the claiming transaction).
pub async fn mark_published(
    tx: &mut Transaction<'_, Postgres>,
    positions: &[i64],
) -> anyhow::Result<()> {
    if positions.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE es.outbox SET published_at = now() WHERE global_position = ANY($1)")
        .bind(positions)
        .execute(&mut **tx)
        .await
        .context("marking outbox rows published")?;
    Ok(())
}

/// Groups events by a hash of their aggregate id, keeping their order within each lane.
fn split_into_lanes(pending: &[PendingEvent], lanes: usize) -> Vec<Vec<&PendingEvent>> {
    let lanes = lanes.max(1);
    let mut out: Vec<Vec<&PendingEvent>> = vec![Vec::new(); lanes];
    for event in pending {
        let mut hasher = DefaultHasher::new();
        event.envelope.aggregate_id.hash(&mut hasher);
        out[(hasher.finish() % lanes as u64) as usize].push(event);
    }
    out.retain(|lane| !lane.is_empty());
    out
}

fn batch_entry(index: usize, envelope: &EventEnvelope) -> anyhow::Result<PublishBatchRequestEntry> {
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
    };
    Ok(PublishBatchRequestEntry::builder()
        .id(index.to_string())
        .message(serde_json::to_string(envelope)?)
        .message_group_id(&envelope.aggregate_id)
        .message_deduplication_id(envelope.event_id.to_string())
        .message_attributes("aggregate_type", attribute(&envelope.aggregate_type)?)
        .message_attributes("event_type", attribute(&envelope.event_type)?)
        .build()?)
}

/// Builds the public envelope from an `es.events` row.
pub fn envelope_from_row(row: &PgRow) -> anyhow::Result<EventEnvelope> {
    let metadata: serde_json::Value = row.try_get("metadata")?;
    let id_in_metadata = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    Ok(EventEnvelope {
        event_id: row.try_get("event_id")?,
        global_position: row.try_get("global_position")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        occurred_at: row.try_get("occurred_at")?,
        correlation_id: id_in_metadata(metadata_keys::CORRELATION_ID),
        causation_id: id_in_metadata(metadata_keys::CAUSATION_ID),
        payload: row.try_get("payload")?,
    })
}

/// Exports the number of unpublished outbox rows every few seconds.
async fn report_backlog(pool: PgPool, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        match sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM es.outbox WHERE published_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        {
            Ok(n) => metrics::gauge!("outbox_backlog").set(n as f64),
            Err(e) => tracing::debug!(error = %e, "cannot read the outbox backlog"),
        }
        sleep_or_shutdown(Duration::from_secs(2), &shutdown).await;
    }
}

async fn sleep_or_shutdown(duration: Duration, shutdown: &Shutdown) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {},
        _ = shutdown.cancelled() => {},
    }
}
