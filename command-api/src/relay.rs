//! The outbox relay: publishes committed events to the SNS FIFO topic, in order per aggregate.
//!
//! One relay is active at a time (a Postgres advisory lock held on a dedicated connection). It claims
//! unpublished outbox rows in global-position order, spreads them over lanes by aggregate id so that
//! several `PublishBatch` calls are in flight while each aggregate's events stay in one lane, in
//! order, and stamps rows published only after SNS acknowledged them. A crash between SNS's
//! acknowledgement and the stamp republishes those events with the same deduplication id; SNS drops
//! the copy within its window and consumers drop any later copy by sequence.
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use commerce_platform::envelope::{EnvelopeHead, EventEnvelope, ENVELOPE_COLUMNS};
use commerce_platform::Shutdown;
use futures::future::join_all;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
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
    /// Claims in flight at once: the next rows are read and dispatched while earlier ones are
    /// still being published, so SNS never waits on Postgres.
    pub pipeline_depth: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            claim_limit: 500,
            lanes: 16,
            idle_poll: Duration::from_millis(50),
            pipeline_depth: 2,
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
        self.pump(shutdown, false, Some(leader)).await.map(|_| ())
    }

    /// Publishes the backlog with the full pipeline and returns once the outbox is empty: what the
    /// running relay does, bounded, for benchmarks and drills.
    pub async fn publish_backlog(&self) -> anyhow::Result<usize> {
        self.pump(&Shutdown::new(), true, None).await
    }

    /// The pipelined relay loop. Up to `pipeline_depth` claims are in flight; each claim's events go
    /// to long-lived lane workers (one per lane, chosen by aggregate id) that publish strictly in
    /// the order they receive, so an aggregate's events stay in order across claims. A claim's
    /// transaction stamps what SNS acknowledged and commits once all its lanes answered.
    ///
    /// After any refusal the affected lane publishes nothing more (later events of the same aggregate
    /// may follow in it); the loop stops claiming, drains, and returns an error so the caller
    /// restarts from the outbox, where the unacknowledged events still wait in order.
    async fn pump(
        &self,
        shutdown: &Shutdown,
        until_idle: bool,
        mut leader: Option<&mut PgConnection>,
    ) -> anyhow::Result<usize> {
        let lane_count = self.config.lanes.max(1);
        let mut lanes = Vec::with_capacity(lane_count);
        let mut workers = Vec::with_capacity(lane_count);
        for _ in 0..lane_count {
            let (sender, receiver) =
                mpsc::channel::<LaneWork>(self.config.pipeline_depth.max(1) + 1);
            workers.push(tokio::spawn(lane_worker(
                self.sns.clone(),
                self.topic_arn.clone(),
                receiver,
            )));
            lanes.push(sender);
        }
        // Each claim completes (lanes answer, marks written, commit) in a task of its own, so the
        // loop keeps claiming while earlier claims are being stamped.
        let mut completions: JoinSet<anyhow::Result<Completed>> = JoinSet::new();
        let mut assigner = LaneAssigner::new(lane_count, self.config.claim_limit.max(1) as usize);
        let mut next_claim = 0u64;
        let mut published = 0usize;
        let mut refused = false;
        let mut lease_checked = tokio::time::Instant::now();
        let outcome = async {
            loop {
                if let Some(leader) = leader.as_deref_mut() {
                    if lease_checked.elapsed() > Duration::from_secs(5) {
                        leader
                            .ping()
                            .await
                            .context("relay leadership connection lost")?;
                        lease_checked = tokio::time::Instant::now();
                    }
                }
                while !refused
                    && !shutdown.is_cancelled()
                    && completions.len() < self.config.pipeline_depth.max(1)
                {
                    let mut tx = self.pool.begin().await?;
                    let pending = self.claim(&mut tx).await?;
                    if pending.is_empty() {
                        break;
                    }
                    let claimed = pending.len();
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
                            .send(LaneWork {
                                expected: events.len(),
                                events,
                                reply,
                            })
                            .await
                            .map_err(|_| anyhow::anyhow!("relay lane {lane} stopped"))?;
                        replies.push(answer);
                    }
                    completions.spawn(complete_claim(claim_id, tx, replies, claimed));
                }
                if completions.is_empty() {
                    if refused || until_idle || shutdown.is_cancelled() {
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
                    refused |= done.refused;
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
        if refused {
            anyhow::bail!(
                "SNS refused events; they stay in the outbox and will be retried in order"
            );
        }
        Ok(published)
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
        // A lost mark only means a republish, which deduplication absorbs: no need to wait for
        // the WAL flush when stamping.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut **tx)
            .await?;
        // Rows are locked first, then each event is fetched by its position. The fenced lateral
        // lookup (OFFSET 0) keeps the planner from hashing the whole event table when its
        // statistics overestimate the backlog, which it did under load.
        let rows = sqlx::query(&format!(
            "WITH claimed AS ( \
               SELECT global_position FROM es.outbox WHERE published_at IS NULL \
               ORDER BY global_position LIMIT $1 FOR UPDATE SKIP LOCKED) \
             SELECT {ENVELOPE_COLUMNS} FROM claimed c CROSS JOIN LATERAL ( \
               SELECT * FROM es.events WHERE global_position = c.global_position OFFSET 0) e \
             ORDER BY c.global_position"
        ))
        .bind(self.config.claim_limit)
        .fetch_all(&mut **tx)
        .await
        .context("claiming outbox rows")?;
        metrics::counter!("relay_claims_total").increment(1);
        rows.iter().map(PendingEvent::from_row).collect()
    }

    /// Publishes `pending` and returns the global positions SNS acknowledged. Each lane stops at
    /// its first failure so nothing of an aggregate is published after an event that was not.
    pub async fn publish(&self, pending: &[PendingEvent]) -> Vec<i64> {
        let lanes = split_into_lanes(pending.to_vec(), self.config.lanes);
        let results = join_all(
            lanes
                .iter()
                .map(|lane| publish_in_order(&self.sns, &self.topic_arn, lane)),
        )
        .await;
        results.into_iter().flat_map(|(acked, _)| acked).collect()
    }
}

/// One lane's share of a claim, and where to report what SNS acknowledged.
struct LaneWork {
    events: Vec<PendingEvent>,
    /// How many events this work item carried, to split a combined acknowledgement back.
    expected: usize,
    reply: oneshot::Sender<LaneOutcome>,
}

struct LaneOutcome {
    acknowledged: Vec<i64>,
    /// SNS refused an event; the lane published nothing after it.
    refused: bool,
}

/// What one claim came to.
struct Completed {
    claim_id: u64,
    published: usize,
    refused: bool,
}

/// Waits for every lane holding part of a claim, stamps what SNS acknowledged and commits, which
/// releases the claim's row locks.
async fn complete_claim(
    claim_id: u64,
    mut tx: Transaction<'static, Postgres>,
    replies: Vec<oneshot::Receiver<LaneOutcome>>,
    claimed: usize,
) -> anyhow::Result<Completed> {
    let mut acknowledged = Vec::with_capacity(claimed);
    let mut refused = false;
    for answer in replies {
        let lane = answer
            .await
            .map_err(|_| anyhow::anyhow!("a relay lane died"))?;
        refused |= lane.refused;
        acknowledged.extend(lane.acknowledged);
    }
    mark_published(&mut tx, &acknowledged).await?;
    tx.commit().await.context("committing published marks")?;
    metrics::counter!("outbox_published_total").increment(acknowledged.len() as u64);
    if acknowledged.len() < claimed {
        tracing::warn!(
            claimed,
            published = acknowledged.len(),
            "SNS did not acknowledge every event; the rest stay in the outbox"
        );
    }
    Ok(Completed {
        claim_id,
        published: acknowledged.len(),
        refused,
    })
}

/// Publishes every piece of work it receives, in order. Work that queued up while it was busy is
/// published as one sequence, so batches stay full of ten. After a refusal it publishes nothing
/// more until the pipeline restarts, since what follows may belong to the refused event's aggregate.
async fn lane_worker(
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    mut work: mpsc::Receiver<LaneWork>,
) {
    let mut refused = false;
    while let Some(first) = work.recv().await {
        let mut items = vec![first];
        while let Ok(more) = work.try_recv() {
            items.push(more);
        }
        let mut acknowledged = Vec::new();
        if !refused {
            let events: Vec<PendingEvent> = items
                .iter_mut()
                .flat_map(|item| std::mem::take(&mut item.events))
                .collect();
            let (acked, complete) = publish_in_order(&sns, &topic_arn, &events).await;
            refused = !complete;
            acknowledged = acked;
        }
        // Acknowledgements are a prefix of the combined sequence: hand each item its part.
        let mut acknowledged = acknowledged.into_iter().peekable();
        for item in items {
            let mine: Vec<i64> = acknowledged.by_ref().take(item.expected).collect();
            let _ = item.reply.send(LaneOutcome {
                refused: refused && mine.len() < item.expected,
                acknowledged: mine,
            });
        }
    }
}

/// Publishes `events` in batches of ten, one batch at a time; stops at the first refusal. Returns
/// the acknowledged positions and whether all were acknowledged.
async fn publish_in_order(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    events: &[PendingEvent],
) -> (Vec<i64>, bool) {
    let mut acknowledged = Vec::with_capacity(events.len());
    for chunk in events.chunks(SNS_BATCH_LIMIT) {
        match publish_batch(sns, topic_arn, chunk).await {
            Ok(ids) => {
                let all = ids.len() == chunk.len();
                acknowledged.extend(ids);
                if !all {
                    return (acknowledged, false);
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "PublishBatch failed; will retry");
                return (acknowledged, false);
            }
        }
    }
    (acknowledged, true)
}

/// Publishes one batch; returns the positions of the leading entries SNS accepted.
async fn publish_batch(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    chunk: &[PendingEvent],
) -> anyhow::Result<Vec<i64>> {
    let entries = chunk
        .iter()
        .enumerate()
        .map(|(index, pending)| batch_entry(index, pending))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Entries per call (outbox_published_total / relay_publish_calls_total) says how well batches fill.
    metrics::counter!("relay_publish_calls_total").increment(1);
    let output = sns
        .publish_batch()
        .topic_arn(topic_arn)
        .set_publish_batch_request_entries(Some(entries))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sns::error::DisplayErrorContext(e)))?;
    for failure in output.failed() {
        tracing::warn!(code = failure.code(), message = ?failure.message(), "SNS refused an entry");
    }
    let first_failure = output
        .failed()
        .iter()
        .filter_map(|f| f.id().parse::<usize>().ok())
        .min()
        .unwrap_or(chunk.len());
    Ok(chunk[..first_failure]
        .iter()
        .map(|p| p.global_position)
        .collect())
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

/// Decides which lane publishes each claimed event.
///
/// An aggregate with events still in flight stays in the lane that has them (per-aggregate order);
/// every other aggregate goes where there is least work. Lanes are filled in slices that are
/// multiples of ten, so PublishBatch calls go out full, as in the raw ceiling.
struct LaneAssigner {
    /// Events queued or publishing per lane.
    load: Vec<usize>,
    /// Aggregates with events in flight: their lane and how many events.
    in_flight: HashMap<String, (usize, usize)>,
    /// What each unfinished claim put where, to release on completion.
    claims: HashMap<u64, Vec<(String, usize)>>,
    /// Events per slice before moving to another lane: the claim spread over the lanes, rounded
    /// up to whole batches.
    slice: usize,
}

impl LaneAssigner {
    fn new(lanes: usize, claim_limit: usize) -> Self {
        let per_lane = claim_limit.div_ceil(lanes.max(1));
        Self {
            load: vec![0; lanes.max(1)],
            in_flight: HashMap::new(),
            claims: HashMap::new(),
            slice: per_lane.div_ceil(SNS_BATCH_LIMIT).max(1) * SNS_BATCH_LIMIT,
        }
    }

    fn least_loaded(&self, out: &[Vec<PendingEvent>]) -> usize {
        (0..self.load.len())
            .min_by_key(|&lane| self.load[lane] + out[lane].len())
            .unwrap_or(0)
    }

    fn assign(&mut self, claim_id: u64, pending: Vec<PendingEvent>) -> Vec<Vec<PendingEvent>> {
        let mut out: Vec<Vec<PendingEvent>> = (0..self.load.len()).map(|_| Vec::new()).collect();
        let mut placed: HashMap<String, usize> = HashMap::new();
        let mut filling: Option<usize> = None;
        for event in pending {
            let lane = if let Some(&(lane, _)) = self.in_flight.get(&event.aggregate_id) {
                lane
            } else if let Some(&lane) = placed.get(&event.aggregate_id) {
                lane
            } else {
                match filling {
                    Some(lane) if out[lane].len() < self.slice => lane,
                    _ => {
                        let lane = self.least_loaded(&out);
                        filling = Some(lane);
                        lane
                    }
                }
            };
            placed.insert(event.aggregate_id.clone(), lane);
            self.in_flight
                .entry(event.aggregate_id.clone())
                .or_insert((lane, 0))
                .1 += 1;
            self.claims
                .entry(claim_id)
                .or_default()
                .push((event.aggregate_id.clone(), lane));
            out[lane].push(event);
        }
        for (lane, events) in out.iter().enumerate() {
            self.load[lane] += events.len();
        }
        out
    }

    fn release(&mut self, claim_id: u64) {
        for (aggregate, lane) in self.claims.remove(&claim_id).unwrap_or_default() {
            self.load[lane] = self.load[lane].saturating_sub(1);
            if let Some(entry) = self.in_flight.get_mut(&aggregate) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.in_flight.remove(&aggregate);
                }
            }
        }
    }
}

/// Groups events into `lanes` lanes by a hash of their aggregate id, keeping their order: for a
/// single claim published on its own (no pipeline).
fn split_into_lanes(pending: Vec<PendingEvent>, lanes: usize) -> Vec<Vec<PendingEvent>> {
    let lanes = lanes.max(1);
    let mut out: Vec<Vec<PendingEvent>> = (0..lanes).map(|_| Vec::new()).collect();
    for event in pending {
        let mut hasher = DefaultHasher::new();
        event.aggregate_id.hash(&mut hasher);
        out[(hasher.finish() % lanes as u64) as usize].push(event);
    }
    out
}

/// The SNS entry for one event: group = aggregate, dedup id = event id, filterable attributes.
pub fn batch_entry(index: usize, event: &PendingEvent) -> anyhow::Result<PublishBatchRequestEntry> {
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
    };
    Ok(PublishBatchRequestEntry::builder()
        .id(index.to_string())
        .message(event.body.clone())
        .message_group_id(&event.aggregate_id)
        .message_deduplication_id(event.event_id.to_string())
        .message_attributes("aggregate_type", attribute(&event.aggregate_type)?)
        .message_attributes("event_type", attribute(&event.event_type)?)
        .build()?)
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

    fn event(aggregate: &str, position: i64) -> PendingEvent {
        PendingEvent {
            global_position: position,
            event_id: Uuid::now_v7(),
            aggregate_type: "Product".into(),
            aggregate_id: aggregate.into(),
            event_type: "E".into(),
            body: String::new(),
        }
    }

    #[test]
    fn the_assigner_fills_whole_batches_and_keeps_in_flight_aggregates_in_their_lane() {
        let mut assigner = LaneAssigner::new(4, 80);
        let first: Vec<_> = (0..80).map(|i| event(&format!("a{i}"), i)).collect();
        let lanes = assigner.assign(0, first);
        for lane in &lanes {
            assert_eq!(lane.len() % SNS_BATCH_LIMIT, 0, "whole batches only");
        }
        let lane_of_a5 = lanes
            .iter()
            .position(|l| l.iter().any(|e| e.aggregate_id == "a5"))
            .unwrap();
        // While claim 0 is in flight, a5's next event must follow it in the same lane.
        let second = assigner.assign(1, vec![event("a5", 100), event("new", 101)]);
        assert_eq!(
            second[lane_of_a5].first().map(|e| e.global_position),
            Some(100)
        );
        // Once claim 0 is done, a5 is free to go anywhere; nothing stays accounted.
        assigner.release(0);
        assigner.release(1);
        assert!(assigner.in_flight.is_empty());
        assert!(assigner.load.iter().all(|&l| l == 0));
    }

    #[test]
    fn lanes_keep_each_aggregates_events_together_and_in_order() {
        let pending: Vec<_> = (0..100).map(|i| event(&format!("a{}", i % 7), i)).collect();
        let lanes = split_into_lanes(pending, 4);
        assert_eq!(lanes.len(), 4);
        for lane in &lanes {
            assert!(lane
                .windows(2)
                .all(|w| w[0].global_position < w[1].global_position));
        }
        for aggregate in (0..7).map(|i| format!("a{i}")) {
            let holding = lanes
                .iter()
                .filter(|l| l.iter().any(|e| e.aggregate_id == aggregate))
                .count();
            assert_eq!(holding, 1, "{aggregate} is in exactly one lane");
        }
    }
}
