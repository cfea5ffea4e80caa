//! The relay's statements on the outbox: claiming rows, stamping what SNS acknowledged, counting
//! refusals and parking what SNS keeps refusing; and the ops view of parked rows.
use anyhow::Context;
use commerce_platform::envelope::ENVELOPE_COLUMNS;
use serde::Serialize;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::batches::Rejection;
use super::lease::LeaseConfig;
use super::PendingEvent;

/// What a claim holds: events to publish, and events held back because an earlier event of their
/// aggregate is parked (publishing them would overtake it).
#[derive(Debug, Default)]
pub struct Claimed {
    pub pending: Vec<PendingEvent>,
    /// `(position, parked position it waits behind)`.
    pub held_back: Vec<(i64, i64)>,
}

/// The session settings of the relay's claiming connections, set when they connect:
/// - `synchronous_commit = off`: a lost stamp only means a republish, which deduplication
///   absorbs, so a claim need not wait for the WAL flush when it commits its stamps;
/// - `idle_in_transaction_session_timeout` = the lease's claim grace: a claim left idle longer
///   (its relay stalled or cut off) is ended by Postgres, so a successor never skips rows a dead
///   leader still locks.
pub fn session_settings(lease: &LeaseConfig) -> [(&'static str, String); 2] {
    [
        ("synchronous_commit", "off".to_owned()),
        (
            "idle_in_transaction_session_timeout",
            format!("{}ms", lease.claim_grace.as_millis()),
        ),
    ]
}

/// Locks the oldest claimable rows (unpublished, not parked; skipping any another transaction
/// holds) and loads their events as envelopes, in position order. The transaction's connection
/// has [`session_settings`].
pub async fn claim(tx: &mut Transaction<'_, Postgres>, limit: i64) -> anyhow::Result<Claimed> {
    // Rows are locked first, then each event is fetched by its position. The fenced lateral lookup
    // (OFFSET 0) keeps the planner from hashing the whole event table when its statistics
    // overestimate the backlog, which it did under load. Parked aggregates are few (usually none):
    // their set is read once per claim from the partial index of parked rows.
    let rows = sqlx::query(&format!(
        "WITH claimed AS ( \
           SELECT global_position FROM es.outbox \
           WHERE published_at IS NULL AND parked_at IS NULL \
           ORDER BY global_position LIMIT $1 FOR UPDATE SKIP LOCKED), \
         parked AS MATERIALIZED ( \
           SELECT pe.aggregate_type, pe.aggregate_id, min(p.global_position) AS position \
           FROM (SELECT global_position FROM es.outbox WHERE parked_at IS NOT NULL \
                 ORDER BY global_position) p \
           CROSS JOIN LATERAL (SELECT aggregate_type, aggregate_id FROM es.events \
                 WHERE global_position = p.global_position OFFSET 0) pe \
           GROUP BY 1, 2) \
         SELECT {ENVELOPE_COLUMNS}, pk.position AS parked_before \
         FROM claimed c CROSS JOIN LATERAL ( \
           SELECT * FROM es.events WHERE global_position = c.global_position OFFSET 0) e \
         LEFT JOIN parked pk ON pk.aggregate_type = e.aggregate_type \
           AND pk.aggregate_id = e.aggregate_id \
         ORDER BY c.global_position"
    ))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
    .context("claiming outbox rows")?;
    metrics::counter!("relay_claims_total").increment(1);
    let mut claimed = Claimed::default();
    for row in &rows {
        let event = PendingEvent::from_row(row)?;
        match row.try_get::<Option<i64>, _>("parked_before")? {
            Some(parked) => claimed.held_back.push((event.global_position, parked)),
            None => claimed.pending.push(event),
        }
    }
    Ok(claimed)
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

/// Parks rows held back behind a parked event of their aggregate.
pub async fn park_held_back(
    tx: &mut Transaction<'_, Postgres>,
    held_back: &[(i64, i64)],
) -> anyhow::Result<()> {
    if held_back.is_empty() {
        return Ok(());
    }
    let (positions, behind): (Vec<i64>, Vec<String>) = held_back
        .iter()
        .map(|(position, parked)| {
            (
                *position,
                format!("held behind parked position {parked} of the same aggregate"),
            )
        })
        .unzip();
    sqlx::query(
        "UPDATE es.outbox o SET parked_at = now(), last_error = h.reason \
         FROM UNNEST($1::bigint[], $2::text[]) AS h(position, reason) \
         WHERE o.global_position = h.position",
    )
    .bind(&positions)
    .bind(&behind)
    .execute(&mut **tx)
    .await
    .context("parking rows behind a parked event")?;
    metrics::counter!("outbox_parked_total").increment(positions.len() as u64);
    tracing::warn!(
        positions = ?positions,
        "outbox rows held back behind a parked event of their aggregate; parked with it"
    );
    Ok(())
}

/// Counts each rejection against its row and parks a row that was refused `max_attempts` times
/// (or whose refusal is permanent). Returns the positions parked.
pub async fn record_rejections(
    tx: &mut Transaction<'_, Postgres>,
    rejections: &[Rejection],
    max_attempts: i32,
) -> anyhow::Result<Vec<i64>> {
    if rejections.is_empty() {
        return Ok(Vec::new());
    }
    let positions: Vec<i64> = rejections.iter().map(|r| r.global_position).collect();
    let reasons: Vec<&str> = rejections.iter().map(|r| r.reason.as_str()).collect();
    let permanent: Vec<bool> = rejections.iter().map(|r| r.permanent).collect();
    let rows = sqlx::query(
        "UPDATE es.outbox o SET attempts = o.attempts + 1, last_error = r.reason, \
           parked_at = CASE WHEN r.permanent OR o.attempts + 1 >= $4 THEN now() END \
         FROM UNNEST($1::bigint[], $2::text[], $3::bool[]) AS r(position, reason, permanent) \
         WHERE o.global_position = r.position \
         RETURNING o.global_position, o.attempts, o.parked_at IS NOT NULL AS parked, r.reason",
    )
    .bind(&positions)
    .bind(&reasons)
    .bind(&permanent)
    .bind(max_attempts)
    .fetch_all(&mut **tx)
    .await
    .context("recording refusals")?;
    let mut parked = Vec::new();
    for row in &rows {
        let position: i64 = row.try_get("global_position")?;
        let attempts: i32 = row.try_get("attempts")?;
        let reason: &str = row.try_get("reason")?;
        if row.try_get::<bool, _>("parked")? {
            parked.push(position);
            metrics::counter!("outbox_parked_total").increment(1);
            tracing::error!(
                position,
                attempts,
                reason,
                "SNS keeps refusing an event; parked it (and, as they come, the later events of \
                 its aggregate) so other aggregates flow. `commerce outbox parked` lists it, \
                 `commerce outbox retry` puts it back"
            );
        } else {
            tracing::warn!(
                position,
                attempts,
                max_attempts,
                reason,
                "SNS refused an event"
            );
        }
    }
    Ok(parked)
}

/// A parked outbox row, as ops see it.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedEvent {
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub parked_at: chrono::DateTime<chrono::Utc>,
}

/// Every parked row, oldest first.
pub async fn list_parked(pool: &PgPool) -> anyhow::Result<Vec<ParkedEvent>> {
    let rows = sqlx::query(
        "SELECT o.global_position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
           o.attempts, o.last_error, o.parked_at \
         FROM es.outbox o JOIN es.events e ON e.global_position = o.global_position \
         WHERE o.parked_at IS NOT NULL ORDER BY o.global_position",
    )
    .fetch_all(pool)
    .await
    .context("listing parked outbox rows")?;
    rows.iter()
        .map(|row| {
            Ok(ParkedEvent {
                global_position: row.try_get("global_position")?,
                aggregate_type: row.try_get("aggregate_type")?,
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                event_type: row.try_get("event_type")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                parked_at: row.try_get("parked_at")?,
            })
        })
        .collect()
}

/// Puts parked rows back for the relay (all of them, or those at `positions`), with their refusal
/// count reset. Returns how many. A row put back while an earlier one of its aggregate stays
/// parked is parked again at its next claim, so the order per aggregate holds whatever is chosen.
pub async fn retry_parked(pool: &PgPool, positions: Option<&[i64]>) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE es.outbox SET parked_at = NULL, attempts = 0 \
         WHERE parked_at IS NOT NULL AND ($1::bigint[] IS NULL OR global_position = ANY($1))",
    )
    .bind(positions)
    .execute(pool)
    .await
    .context("putting parked outbox rows back")?;
    tracing::info!(rows = done.rows_affected(), "parked outbox rows put back");
    Ok(done.rows_affected())
}
