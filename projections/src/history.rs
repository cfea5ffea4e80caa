//! What a projector reads of the event store, read-only: the events of one aggregate that a gap says
//! it missed, so it can repair the gap at once instead of waiting for SQS to redeliver them (which
//! it may never do, if they were dead-lettered). Also where skipped events are recorded.
use commerce_platform::envelope::{EventEnvelope, ENVELOPE_COLUMNS};
use sqlx::PgPool;

use crate::error::ProjectionError;

/// Reads `es.events` by aggregate; writes only `read.skipped_events`.
#[derive(Clone, Debug)]
pub struct EventHistory {
    pool: PgPool,
}

impl EventHistory {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The events of one aggregate with `after < sequence < before`, in order. Every one of them is
    /// committed: the event at `before` was decided on a load that saw them all.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn between(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: i64,
        before: i64,
    ) -> Result<Vec<EventEnvelope>, ProjectionError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENVELOPE_COLUMNS} FROM es.events e \
             WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 \
               AND e.sequence > $3 AND e.sequence < $4 \
             ORDER BY e.sequence"
        ))
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(after)
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| EventEnvelope::from_row(row).map_err(ProjectionError::Failed))
            .collect()
    }

    /// Records that `projection` skipped `event`, and why.
    pub async fn record_skip(
        &self,
        projection: &str,
        event: &EventEnvelope,
        reason: &str,
    ) -> Result<(), ProjectionError> {
        sqlx::query(
            "INSERT INTO read.skipped_events (projection, aggregate_type, aggregate_id, sequence, \
               event_id, event_type, event_version, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(projection)
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(event.event_id)
        .bind(&event.event_type)
        .bind(&event.event_version)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
