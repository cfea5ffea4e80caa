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
    /// Rows removed per statement, so a large backlog never holds locks or bloats one
    /// transaction; the sweep repeats batches until none is full.
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
    while !shutdown.is_cancelled() {
        // SKIP LOCKED: never wait on a row a relay claim or another replica's sweep holds.
        let batch = sqlx::query(
            "DELETE FROM es.outbox WHERE global_position IN ( \
                 SELECT global_position FROM es.outbox \
                 WHERE published_at < now() - make_interval(secs => $1) \
                 ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(retention.retention.as_secs_f64())
        .bind(retention.batch_size)
        .execute(pool)
        .await
        .context("removing published outbox rows")?
        .rows_affected();
        removed += batch;
        if batch < retention.batch_size.max(1) as u64 {
            break;
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
