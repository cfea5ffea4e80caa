//! The outbox relay: publishes committed events to the SNS FIFO topic, in order per aggregate.
//!
//! One relay is active at a time: an advisory lock elects it and a lease bounded in time fences it
//! (see `lease`: a leader that cannot prove its lease stops publishing before a successor starts).
//! It claims
//! unpublished outbox rows in global-position order, spreads them over lanes by aggregate id so that
//! several `PublishBatch` calls are in flight while each aggregate's events stay in one lane, in
//! order, and stamps rows published only after SNS acknowledged them. A crash between SNS's
//! acknowledgement and the stamp republishes those events with the same deduplication id; SNS drops
//! the copy within its window and consumers drop any later copy by sequence.
//!
//! An event SNS refuses for what it is (larger than a message may be, or invalid) is counted against
//! its row; after `max_attempts` refusals (at once when it can never fit) the row is *parked*, with
//! every later row of its aggregate, so that it never blocks other aggregates. Ops list and retry
//! parked rows (`claims::list_parked`, `claims::retry_parked`; `commerce outbox parked|retry`).
//!
//! # Layout
//! - `claims`: the outbox statements (claim, stamp, refusals and parking) and the ops view.
//! - `batches`: batches within SNS's documented limits, and what a refusal means.
//! - `lanes`: the lane workers and which lane publishes which event.
//! - `lease`: leadership as a lease bounded in time.
mod batches;
pub mod claims;
mod lanes;
pub mod lease;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use commerce_platform::envelope::{EnvelopeHead, EventEnvelope};
use commerce_platform::Shutdown;
use futures::future::join_all;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use uuid::Uuid;

pub use batches::{batch_entry, batches, check_batch, Publisher, Rejection, Stop, SNS_BATCH_LIMIT};
use claims::{mark_published, park_held_back, record_rejections, Claimed};
use lanes::{lane_worker, split_into_lanes, LaneAssigner, LaneOutcome, LaneWork};
pub use lease::LeaseConfig;
use lease::{Leadership, LeaseClock};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Outbox rows claimed per round.
    pub claim_limit: i64,
    /// Lanes, i.e. PublishBatch calls in flight at once.
    pub lanes: usize,
    /// Poll interval when nothing wakes the relay (events written by another process).
    pub idle_poll: Duration,
    /// Claims in flight at once: the next rows are read and dispatched while earlier ones are
    /// still being published, so SNS never waits on Postgres.
    pub pipeline_depth: usize,
    /// Refusals of one event by SNS before its row is parked.
    pub max_attempts: i32,
    /// Leadership's lease and the time bounds that fence two leaders apart.
    pub lease: LeaseConfig,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            claim_limit: 500,
            lanes: 16,
            idle_poll: Duration::from_millis(50),
            pipeline_depth: 2,
            max_attempts: 5,
            lease: LeaseConfig::default(),
        }
    }
}

/// A claimed outbox row with its event, its SNS message body already rendered.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub global_position: i64,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    /// The event envelope as JSON: the message body.
    pub body: String,
}

impl PendingEvent {
    /// From a row selected with [`ENVELOPE_COLUMNS`]. The payload arrives as Postgres's JSON text
    /// and is spliced into the body as is: the relay never parses or re-encodes payloads.
    fn from_row(row: &PgRow) -> anyhow::Result<Self> {
        let payload: &str = row.try_get("payload_text")?;
        Self::render(&EnvelopeHead::from_row(row)?, payload)
    }

    /// From an envelope already in memory.
    pub fn from_envelope(envelope: &EventEnvelope) -> anyhow::Result<Self> {
        Self::render(
            &EnvelopeHead::of(envelope),
            &serde_json::to_string(&envelope.payload)?,
        )
    }

    fn render(head: &EnvelopeHead<'_>, payload_json: &str) -> anyhow::Result<Self> {
        Ok(Self {
            global_position: head.global_position,
            event_id: head.event_id,
            aggregate_type: head.aggregate_type.to_owned(),
            aggregate_id: head.aggregate_id.to_owned(),
            event_type: head.event_type.to_owned(),
            body: head.render(payload_json)?,
        })
    }
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

    /// Runs until `shutdown`: waits for leadership, then relays while its lease holds, steps down
    /// when it cannot prove it, and releases it on a clean stop.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let backlog = tokio::spawn(report_backlog(self.pool.clone(), shutdown.clone()));
        while !shutdown.is_cancelled() {
            let leadership = match Leadership::acquire(&self.pool, &self.config.lease, &shutdown)
                .await
            {
                Ok(Some(leadership)) => leadership,
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
            let clock = leadership.clock();
            let stop_renewing = Shutdown::new();
            let renewing = tokio::spawn(leadership.renew_until(stop_renewing.clone()));
            let pumped = self.pump(&shutdown, false, Some(clock)).await;
            stop_renewing.cancel();
            // The pump has drained: nothing of this leader is in flight, so a successor (or this
            // relay, again) may start at once.
            if let Ok(Some(leadership)) = renewing.await {
                leadership.release().await;
            }
            if let Err(e) = pumped {
                tracing::error!(error = %format!("{e:#}"), "outbox relay round failed; retrying");
                sleep_or_shutdown(Duration::from_millis(500), &shutdown).await;
            }
        }
        backlog.abort();
        tracing::info!("outbox relay stopped");
        Ok(())
    }

    /// Publishes the backlog with the full pipeline and returns once the outbox is empty: what the
    /// running relay does, bounded, for benchmarks and drills.
    pub async fn publish_backlog(&self) -> anyhow::Result<usize> {
        self.pump(&Shutdown::new(), true, None).await
    }

    /// The pipelined relay loop. Up to `pipeline_depth` claims are in flight; each claim's events go
    /// to long-lived lane workers (one per lane, chosen by aggregate id) that publish strictly in
    /// the order they receive, so an aggregate's events stay in order across claims. A claim's
    /// transaction stamps what SNS acknowledged, counts what it refused, and commits once all its
    /// lanes answered.
    ///
    /// After any stop the affected lane publishes nothing more (later events of the same aggregate
    /// may follow in it); the loop stops claiming, drains, and returns an error so the caller
    /// restarts from the outbox, where the unacknowledged events still wait in order.
    async fn pump(
        &self,
        shutdown: &Shutdown,
        until_idle: bool,
        lease: Option<Arc<LeaseClock>>,
    ) -> anyhow::Result<usize> {
        let lane_count = self.config.lanes.max(1);
        let publisher = self.publisher(lease.clone());
        let mut lanes = Vec::with_capacity(lane_count);
        let mut workers = Vec::with_capacity(lane_count);
        for _ in 0..lane_count {
            let (sender, receiver) =
                mpsc::channel::<LaneWork>(self.config.pipeline_depth.max(1) + 1);
            workers.push(tokio::spawn(lane_worker(publisher.clone(), receiver)));
            lanes.push(sender);
        }
        // Each claim completes (lanes answer, marks written, commit) in a task of its own, so the
        // loop keeps claiming while earlier claims are being stamped.
        let mut completions: JoinSet<anyhow::Result<Completed>> = JoinSet::new();
        let mut assigner = LaneAssigner::new(lane_count, self.config.claim_limit.max(1) as usize);
        let mut next_claim = 0u64;
        let mut published = 0usize;
        let mut stopped = false;
        let outcome = async {
            loop {
                if lease.as_ref().is_some_and(|clock| clock.lost()) {
                    // Claims in flight finish below; their lanes publish nothing more.
                    stopped = true;
                }
                while !stopped
                    && !shutdown.is_cancelled()
                    && completions.len() < self.config.pipeline_depth.max(1)
                {
                    let mut tx = self.pool.begin().await?;
                    let Claimed { pending, held_back } = self.claim(&mut tx).await?;
                    park_held_back(&mut tx, &held_back).await?;
                    if pending.is_empty() {
                        if !held_back.is_empty() {
                            tx.commit().await.context("committing parked rows")?;
                            continue;
                        }
                        break;
                    }
                    let claim_id = next_claim;
                    next_claim += 1;
                    let mut replies = Vec::new();
                    for (lane, events) in assigner.assign(claim_id, pending).into_iter().enumerate()
                    {
                        if events.is_empty() {
                            continue;
                        }
                        let (reply, answer) = oneshot::channel();
                        lanes[lane]
                            .send(LaneWork { events, reply })
                            .await
                            .map_err(|_| anyhow::anyhow!("relay lane {lane} stopped"))?;
                        replies.push(answer);
                    }
                    completions.spawn(complete_claim(
                        claim_id,
                        tx,
                        replies,
                        self.config.max_attempts,
                    ));
                }
                if completions.is_empty() {
                    if stopped || until_idle || shutdown.is_cancelled() {
                        break;
                    }
                    tokio::select! {
                        _ = self.waker.notified() => {},
                        _ = tokio::time::sleep(self.config.idle_poll) => {},
                        _ = shutdown.cancelled() => {},
                    }
                    continue;
                }
                if let Some(done) = completions.join_next().await {
                    let done = done.context("a claim's completion panicked")??;
                    assigner.release(done.claim_id);
                    stopped |= done.stopped;
                    published += done.published;
                }
            }
            anyhow::Ok(())
        }
        .await;
        // Let claims already handed to the lanes finish and record what SNS acknowledged.
        while let Some(done) = completions.join_next().await {
            if let Ok(Ok(done)) = done {
                published += done.published;
            }
        }
        drop(lanes);
        for worker in workers {
            let _ = worker.await;
        }
        outcome?;
        if lease.as_ref().is_some_and(|clock| clock.lost()) {
            anyhow::bail!("the relay lease was lost; stepping down");
        }
        if stopped {
            anyhow::bail!(
                "SNS did not take every event; the rest stay in the outbox and will be retried in order"
            );
        }
        Ok(published)
    }

    /// One round without the pipeline: claim, publish, stamp, count refusals. Returns how many
    /// events were published.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let Claimed { pending, held_back } = self.claim(&mut tx).await?;
        park_held_back(&mut tx, &held_back).await?;
        let outcomes = self.publish_lanes(&pending).await;
        let published: Vec<i64> = outcomes
            .iter()
            .flat_map(|o| o.acknowledged.iter().copied())
            .collect();
        let rejections: Vec<Rejection> = outcomes
            .into_iter()
            .filter_map(|o| match o.stopped {
                Some(Stop::Rejected(rejection)) => Some(rejection),
                _ => None,
            })
            .collect();
        mark_published(&mut tx, &published).await?;
        record_rejections(&mut tx, &rejections, self.config.max_attempts).await?;
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

    /// Locks the oldest claimable rows (skipping any another transaction holds) and loads their
    /// events as envelopes.
    pub async fn claim(&self, tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<Claimed> {
        claims::claim(tx, self.config.claim_limit).await
    }

    /// How lanes publish: within the publish timeout, and while `lease` (if any) is proven.
    fn publisher(&self, lease: Option<Arc<LeaseClock>>) -> Publisher {
        Publisher {
            sns: self.sns.clone(),
            topic_arn: self.topic_arn.clone(),
            timeout: self.config.lease.publish_timeout,
            permit: match lease {
                Some(clock) => Arc::new(move || clock.may_publish()),
                None => Arc::new(|| true),
            },
        }
    }

    /// Publishes `pending` and returns the global positions SNS acknowledged. Each lane stops at
    /// its first failure so nothing of an aggregate is published after an event that was not.
    pub async fn publish(&self, pending: &[PendingEvent]) -> Vec<i64> {
        self.publish_lanes(pending)
            .await
            .into_iter()
            .flat_map(|o| o.acknowledged)
            .collect()
    }

    async fn publish_lanes(&self, pending: &[PendingEvent]) -> Vec<batches::Published> {
        let lanes = split_into_lanes(pending.to_vec(), self.config.lanes);
        let publisher = self.publisher(None);
        join_all(
            lanes
                .iter()
                .map(|lane| batches::publish_in_order(&publisher, lane)),
        )
        .await
    }
}

/// What one claim came to.
struct Completed {
    claim_id: u64,
    published: usize,
    /// A lane stopped short: the pump restarts from the outbox.
    stopped: bool,
}

/// Waits for every lane holding part of a claim, stamps what SNS acknowledged, counts what it
/// refused (parking what it keeps refusing) and commits, which releases the claim's row locks.
async fn complete_claim(
    claim_id: u64,
    mut tx: Transaction<'static, Postgres>,
    replies: Vec<oneshot::Receiver<LaneOutcome>>,
    max_attempts: i32,
) -> anyhow::Result<Completed> {
    let mut acknowledged = Vec::new();
    let mut rejections = Vec::new();
    let mut stopped = false;
    for answer in replies {
        let lane = answer
            .await
            .map_err(|_| anyhow::anyhow!("a relay lane died"))?;
        acknowledged.extend(lane.acknowledged);
        match lane.stopped {
            Some(Stop::Rejected(rejection)) => {
                rejections.push(rejection);
                stopped = true;
            }
            Some(_) => stopped = true,
            None => {}
        }
    }
    mark_published(&mut tx, &acknowledged).await?;
    record_rejections(&mut tx, &rejections, max_attempts).await?;
    tx.commit().await.context("committing published marks")?;
    metrics::counter!("outbox_published_total").increment(acknowledged.len() as u64);
    Ok(Completed {
        claim_id,
        published: acknowledged.len(),
        stopped,
    })
}

/// Exports the number of rows waiting to be published, and of parked rows, every few seconds.
async fn report_backlog(pool: PgPool, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        match sqlx::query_as::<_, (i64, i64)>(
            // Each count matches a partial index's predicate, so neither reads the published
            // rows the outbox keeps for its retention.
            "SELECT (SELECT count(*) FROM es.outbox WHERE published_at IS NULL AND parked_at IS NULL), \
                    (SELECT count(*) FROM es.outbox WHERE parked_at IS NOT NULL AND published_at IS NULL)",
        )
        .fetch_one(&pool)
        .await
        {
            Ok((backlog, parked)) => {
                metrics::gauge!("outbox_backlog").set(backlog as f64);
                metrics::gauge!("outbox_parked").set(parked as f64);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_body_reads_back_as_the_same_envelope() {
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7(),
            global_position: 42,
            aggregate_type: "Product".into(),
            aggregate_id: Uuid::now_v7().to_string(),
            sequence: 3,
            event_type: "ProductPublished".into(),
            event_version: "1.0".into(),
            occurred_at: chrono::Utc::now(),
            correlation_id: Some(Uuid::now_v7()),
            causation_id: None,
            payload: serde_json::json!({ "type": "ProductPublished", "data": { "n": [1, 2] } }),
        };
        let pending = PendingEvent::from_envelope(&envelope).unwrap();
        let back: EventEnvelope = serde_json::from_str(&pending.body).unwrap();
        assert_eq!(back, envelope);
    }
}
