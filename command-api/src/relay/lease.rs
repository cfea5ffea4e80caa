//! Leadership of the relay as a lease bounded in time, so two relays never publish at once.
//!
//! An advisory lock alone is not enough: the old leader learns that its lock's session died only
//! when it next talks to it, and meanwhile it keeps publishing from claims it already holds while
//! the new leader publishes later events of the same aggregates. So:
//! - The leader records a lease in `es.relay_lease` (`valid_until`, in the database's clock) and
//!   renews it on the lock's connection every [`LeaseConfig::renew_every`], each renewal bounded by
//!   a timeout. A renewal that succeeds proves the lock was held when it was sent.
//! - The leader starts a `PublishBatch` only while it is sure to finish it inside the lease: the
//!   time of the last proven renewal plus [`LeaseConfig::duration`] must lie beyond now plus
//!   [`LeaseConfig::publish_timeout`], which bounds every SNS call. A lease that could not be
//!   renewed stops publishing at once and the pump drains and steps down.
//! - A new leader, once it holds the lock, waits until the previous lease's `valid_until` plus
//!   [`LeaseConfig::claim_grace`] has passed in the database's clock. By then the old leader has
//!   started nothing, and every claim transaction it held has ended: claims set
//!   `idle_in_transaction_session_timeout` to the grace, so even a silent old leader's row locks are
//!   gone and the new leader's `SKIP LOCKED` skips nothing of another relay's.
//! - A leader that stops cleanly releases the lease (`valid_until` = the epoch), so a restart or a
//!   successor starts at once.
//!
//! Both the old leader's bound and the new leader's wait are durations, measured on each side's own
//! monotonic clock and on the database's clock; no two machines' clocks need to agree.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_platform::Shutdown;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use uuid::Uuid;

/// Advisory-lock key that elects the single active relay of a database.
const LEADER_LOCK_KEY: i64 = 0x636f_6d6d_6572_6365; // "commerce"

/// How long leadership lasts without proof, and the bounds that keep two leaders apart.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// How long a renewal keeps the lease.
    pub duration: Duration,
    /// How often the leader renews (and how long one renewal may take).
    pub renew_every: Duration,
    /// The longest a `PublishBatch` call may take; a call still running after it is abandoned.
    pub publish_timeout: Duration,
    /// How long a claim transaction may sit idle before Postgres ends it, and how long a new
    /// leader waits after the previous lease ran out.
    pub claim_grace: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            renew_every: Duration::from_secs(2),
            publish_timeout: Duration::from_secs(5),
            claim_grace: Duration::from_secs(10),
        }
    }
}

/// The leader's own view of its lease: until when it may start a publish.
#[derive(Debug)]
pub struct LeaseClock {
    config: LeaseConfig,
    origin: Instant,
    /// When the last successful renewal was sent, in milliseconds since `origin`.
    proven_ms: AtomicU64,
    lost: AtomicBool,
}

impl LeaseClock {
    fn new(config: LeaseConfig, proven: Instant) -> Self {
        Self {
            config,
            origin: proven,
            proven_ms: AtomicU64::new(0),
            lost: AtomicBool::new(false),
        }
    }

    fn proven(&self, sent: Instant) {
        let ms = sent.saturating_duration_since(self.origin).as_millis() as u64;
        self.proven_ms.fetch_max(ms, Ordering::SeqCst);
    }

    fn lose(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// Whether the lease is known to be lost (a renewal failed).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Whether a publish started now would finish inside the proven lease.
    pub fn may_publish(&self) -> bool {
        if self.lost() {
            return false;
        }
        let proven = self.origin + Duration::from_millis(self.proven_ms.load(Ordering::SeqCst));
        Instant::now() + self.config.publish_timeout < proven + self.config.duration
    }
}

/// The relay's leadership: the advisory lock's connection and the lease it renews.
pub struct Leadership {
    connection: PgConnection,
    holder: Uuid,
    clock: Arc<LeaseClock>,
}

impl Leadership {
    /// Becomes the leader if no other relay holds the lock: takes the lock on a connection of its
    /// own (with TCP keepalives, so the server drops it, and the lock, when this host goes away),
    /// waits out a previous leader's lease, and takes the lease. `None` when another relay leads.
    pub async fn acquire(
        pool: &PgPool,
        config: &LeaseConfig,
        shutdown: &Shutdown,
    ) -> anyhow::Result<Option<Self>> {
        // The claims' session settings (the pool's) do not apply here: the lease's renewals
        // commit durably, and the lock's connection is never idle inside a transaction.
        let options: PgConnectOptions = (*pool.connect_options()).clone().options([
            ("synchronous_commit", "on"),
            ("idle_in_transaction_session_timeout", "0"),
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
        ]);
        let mut connection = tokio::time::timeout(config.renew_every, options.connect())
            .await
            .context("connecting for relay leadership timed out")??;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK_KEY)
            .fetch_one(&mut connection)
            .await?;
        if !locked {
            let _ = connection.close().await;
            return Ok(None);
        }
        let wait: f64 = sqlx::query_scalar(
            "SELECT COALESCE(EXTRACT(EPOCH FROM max(valid_until) - now())::float8 + $1, 0) \
             FROM es.relay_lease WHERE isfinite(valid_until)",
        )
        .bind(config.claim_grace.as_secs_f64())
        .fetch_one(&mut connection)
        .await
        .context("reading the previous relay lease")?;
        if wait > 0.0 {
            tracing::warn!(
                wait_ms = (wait * 1e3) as u64,
                "the previous relay's lease has not run out; waiting before publishing"
            );
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {},
                _ = shutdown.cancelled() => return Ok(None),
            }
        }
        let holder = Uuid::now_v7();
        let sent = Instant::now();
        sqlx::query(
            "INSERT INTO es.relay_lease (id, holder, valid_until) \
             VALUES (1, $1, now() + make_interval(secs => $2)) \
             ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, \
               valid_until = EXCLUDED.valid_until",
        )
        .bind(holder)
        .bind(config.duration.as_secs_f64())
        .execute(&mut connection)
        .await
        .context("taking the relay lease")?;
        Ok(Some(Self {
            connection,
            holder,
            clock: Arc::new(LeaseClock::new(config.clone(), sent)),
        }))
    }

    pub fn clock(&self) -> Arc<LeaseClock> {
        Arc::clone(&self.clock)
    }

    /// Renews the lease until `stop` (then returns the leadership, still valid, for a release) or
    /// until a renewal fails or times out (then the lease is lost, and `None`).
    pub async fn renew_until(mut self, stop: Shutdown) -> Option<Self> {
        let config = self.clock.config.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(config.renew_every) => {},
                _ = stop.cancelled() => return Some(self),
            }
            let sent = Instant::now();
            let renewal = sqlx::query(
                "UPDATE es.relay_lease SET valid_until = now() + make_interval(secs => $2) \
                 WHERE id = 1 AND holder = $1",
            )
            .bind(self.holder)
            .bind(config.duration.as_secs_f64())
            .execute(&mut self.connection);
            match tokio::time::timeout(config.renew_every, renewal).await {
                Ok(Ok(done)) if done.rows_affected() == 1 => self.clock.proven(sent),
                outcome => {
                    self.clock.lose();
                    let why = match outcome {
                        Ok(Ok(_)) => "another relay holds the lease".to_owned(),
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "the renewal timed out".to_owned(),
                    };
                    metrics::counter!("relay_leases_lost_total").increment(1);
                    tracing::error!(reason = %why,
                        "the relay lease could not be renewed; publishing stops and the relay steps down");
                    return None;
                }
            }
        }
    }

    /// Gives the lease up (the caller has nothing in flight any more) and the lock with it.
    pub async fn release(mut self) {
        let released = sqlx::query(
            "UPDATE es.relay_lease SET valid_until = 'epoch' WHERE id = 1 AND holder = $1",
        )
        .bind(self.holder)
        .execute(&mut self.connection)
        .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the relay lease; a successor waits it out");
        }
        let _ = self.connection.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_starts_only_if_it_ends_inside_the_proven_lease() {
        let config = LeaseConfig {
            duration: Duration::from_millis(400),
            publish_timeout: Duration::from_millis(100),
            ..LeaseConfig::default()
        };
        let clock = LeaseClock::new(config, Instant::now());
        assert!(clock.may_publish());
        std::thread::sleep(Duration::from_millis(320));
        assert!(!clock.may_publish(), "300 ms + 100 ms reaches the end");
        clock.proven(Instant::now());
        assert!(clock.may_publish(), "a renewal extends it");
        clock.lose();
        assert!(!clock.may_publish(), "a failed renewal ends it at once");
    }
}
