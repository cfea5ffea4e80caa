//! Removes published outbox rows once they are older than a retention. A published row is a copy:
//! its event stays in `es.events` forever, so the outbox only needs rows long enough to look into
//! recent deliveries. Without this the outbox grows with every event ever written.
use std::time::Duration;

use anyhow::Context;
use commerce_platform::Shutdown;
use sqlx::PgPool;

/// How long published rows are kept and how the sweep removes them.
#[derive(Debug, Clone)]
pub struct OutboxRetention {
    /// `COMMERCE_OUTBOX_RETENTION_SECS` (default 7 days): a row is removed this long after it
    /// was published. Unpublished rows are never removed, however old.
    pub retention: Duration,
    /// Rows examined (and at most removed) per statement, so a large backlog never holds locks or
    /// bloats one transaction; the sweep repeats batches until it reaches rows younger than the
    /// retention.
    pub batch_size: i64,
    /// Time between sweeps.
    pub every: Duration,
}

impl Default for OutboxRetention {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            batch_size: 5_000,
            every: Duration::from_secs(15 * 60),
        }
    }
}

/// Removes every published row older than the retention, batch by batch, until none is left or
/// `shutdown` fires. Returns how many rows were removed.
#[tracing::instrument(skip_all, fields(retention_secs = retention.retention.as_secs()))]
pub async fn remove_published(
    pool: &PgPool,
    retention: &OutboxRetention,
    shutdown: &Shutdown,
) -> anyhow::Result<u64> {
    let mut removed = 0;
    let mut after = i64::MIN;
    while !shutdown.is_cancelled() {
        // One batch of the oldest rows by position (the primary key: no index to keep up on
        // every stamp). Those published before the cutoff go; unpublished or recently published
        // ones stay. Positions follow creation time, so a batch that holds a row created after
        // the cutoff has reached the young end of the outbox: the sweep stops there.
        let (batch_removed, last, reached_young): (i64, Option<i64>, bool) = sqlx::query_as(
            "WITH batch AS MATERIALIZED ( \
                 SELECT global_position, published_at, created_at FROM es.outbox \
                 WHERE global_position > $1 ORDER BY global_position LIMIT $2), \
             gone AS ( \
                 DELETE FROM es.outbox o USING batch b \
                 WHERE o.global_position = b.global_position \
                   AND b.published_at < now() - make_interval(secs => $3) \
                 RETURNING 1) \
             SELECT (SELECT count(*) FROM gone), (SELECT max(global_position) FROM batch), \
                    COALESCE((SELECT bool_or(created_at >= now() - make_interval(secs => $3)) \
                              FROM batch), true)",
        )
        .bind(after)
        .bind(retention.batch_size.max(1))
        .bind(retention.retention.as_secs_f64())
        .fetch_one(pool)
        .await
        .context("removing published outbox rows")?;
        removed += batch_removed as u64;
        match last {
            Some(last) if !reached_young => after = last,
            _ => break,
        }
    }
    Ok(removed)
}

/// Sweeps every [`OutboxRetention::every`] until `shutdown`, logging what it removed.
pub async fn sweep_published_rows(pool: PgPool, retention: OutboxRetention, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        match remove_published(&pool, &retention, &shutdown).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(
                removed,
                retention_secs = retention.retention.as_secs(),
                "published outbox rows past their retention removed"
            ),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot remove published outbox rows")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(retention.every) => {},
            _ = shutdown.cancelled() => {},
        }
    }
}
