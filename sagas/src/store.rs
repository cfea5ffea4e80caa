//! Schema `saga`: the sagas' rows, the messages already handled, and the queries of the runner,
//! the listener and the operators' commands.
//!
//! Two clocks meet here on purpose: `deadline` and `next_attempt_at` are in the saga's clock (a
//! test moves it), `lease_until` in the database's (a lease must expire in real time, or a crashed
//! runner's sagas would wait for a test to move the clock).
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_domain::{Currency, Money};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::model::{
    OrderSaga, SagaLine, SagaState, SagaTimings, STEP_AUTHORIZE_AND_CONFIRM,
    STEP_CAPTURE_AND_COMMIT, STEP_RESERVE,
};

/// Applies the `saga` schema migrations (shared bookkeeping with other crates' migrations).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    // Refunds are audited.
    commerce_platform::audit::migrate(pool).await?;
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| anyhow::anyhow!("migrating schema saga: {e}"))
}

/// What starting a saga did.
#[derive(Debug)]
pub enum Started {
    /// The saga, inserted and leased to the runner named.
    New(Box<OrderSaga>),
    /// The message was new, but the order's saga exists (another event id for the same order).
    AlreadyThere,
    /// The message was handled before: nothing changed.
    Redelivered,
}

/// A new saga, from an `OrderPlaced`.
#[derive(Debug, Clone)]
pub struct NewSaga {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub lines: Vec<SagaLine>,
    pub total: Money,
    pub payment_token: String,
    pub correlation_id: Option<Uuid>,
    /// The `OrderPlaced` event's id.
    pub causation_id: Uuid,
    pub placed_at: DateTime<Utc>,
}

const SAGA_COLUMNS: &str = "order_id, customer_id, state, lines, total_minor, currency, \
     payment_token, steps_done, cancel_reason, cancel_requested, deadline, next_attempt_at, \
     attempts, last_error, correlation_id, causation_id, placed_at, started_at, updated_at, \
     finished_at";

const FINAL_STATES: &str = "('completed', 'cancelled', 'refunded', 'abandoned')";

/// The store of sagas.
#[derive(Clone)]
pub struct SagaStore {
    /// For the statements that find a saga by key, once or more per order: planned once per
    /// connection when the pool caches generic plans.
    pool: PgPool,
    /// For the statements that scan a changing subset (the due sagas, a state's sagas): planned
    /// on each execution when the pool forces custom plans (see
    /// `commerce_platform::database::connect_with_custom_plans`).
    scans: PgPool,
}

impl SagaStore {
    /// A store on one pool for every statement (the CLI, tests).
    pub fn new(pool: PgPool) -> Self {
        Self {
            scans: pool.clone(),
            pool,
        }
    }

    /// A store whose scanning statements run on a pool of their own: `pool` caches the
    /// by-key statements' plans, `scans` plans each scan afresh. The service's: re-planning the
    /// start and the record of every saga cost a third of a millisecond of server time per order.
    pub fn with_scan_pool(pool: PgPool, scans: PgPool) -> Self {
        Self { pool, scans }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Records message `event_id` as handled, and runs `change` in the same transaction, only if
    /// it was not handled before. `false`: a redelivery, nothing changed.
    pub(crate) async fn once<F>(&self, event_id: Uuid, change: F) -> Result<bool, sqlx::Error>
    where
        F: for<'c> FnOnce(
            &'c mut sqlx::PgConnection,
        ) -> futures::future::BoxFuture<'c, Result<(), sqlx::Error>>,
    {
        let mut tx = self.pool.begin().await?;
        let first = sqlx::query(
            "INSERT INTO saga.handled_messages (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(false);
        }
        change(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Starts the saga of an order placed (message `event_id`), due at once (`now`, saga clock)
    /// and already leased to `runner` for `lease`, which is handed it directly. One statement:
    /// the message is recorded as handled and the saga inserted together, or, for a message
    /// handled before, neither.
    pub async fn start(
        &self,
        event_id: Uuid,
        saga: &NewSaga,
        now: DateTime<Utc>,
        timings: &SagaTimings,
        runner: (Uuid, Duration),
    ) -> Result<Started, sqlx::Error> {
        let (owner, lease) = runner;
        let query = format!(
            "WITH handled AS ( \
               INSERT INTO saga.handled_messages (event_id) VALUES ($1) \
               ON CONFLICT DO NOTHING RETURNING event_id), \
             started AS ( \
               INSERT INTO saga.order_sagas (order_id, customer_id, state, lines, total_minor, \
                 currency, payment_token, deadline, next_attempt_at, correlation_id, \
                 causation_id, placed_at, lease_owner, lease_until) \
               SELECT $2, $3, 'reserving', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 now() + make_interval(secs => $14) \
               FROM handled ON CONFLICT (order_id) DO NOTHING \
               RETURNING {SAGA_COLUMNS}) \
             SELECT h.event_id AS handled_event, s.* FROM handled h LEFT JOIN started s ON true"
        );
        let row = sqlx::query(&query)
            .bind(event_id)
            .bind(saga.order_id)
            .bind(saga.customer_id)
            .bind(Json(&saga.lines))
            .bind(saga.total.amount_minor)
            .bind(saga.total.currency.as_str())
            .bind(&saga.payment_token)
            .bind(timings.deadline(SagaState::Reserving, now))
            .bind(now)
            .bind(saga.correlation_id)
            .bind(saga.causation_id)
            .bind(saga.placed_at)
            .bind(owner)
            .bind(lease.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Started::Redelivered);
        };
        let inserted: Option<Uuid> = row.try_get("order_id")?;
        Ok(match inserted {
            Some(_) => Started::New(Box::new(saga_from_row(&row)?)),
            None => Started::AlreadyThere,
        })
    }

    /// Records a cancellation of the order by someone else (message `event_id`). A saga that is
    /// compensating or finished for another reason ignores it; a completed one starts refunding
    /// what the cancellation gives back (`lines` and `total`: what has not shipped).
    pub async fn request_cancel(
        &self,
        event_id: Uuid,
        order_id: Uuid,
        reason: &str,
        (lines, total): (&[SagaLine], &Money),
        now: DateTime<Utc>,
        timings: &SagaTimings,
    ) -> Result<bool, sqlx::Error> {
        let reason = reason.to_owned();
        let (lines, total_minor) = (Json(lines.to_vec()), total.amount_minor);
        let refund_deadline = timings.deadline(SagaState::Refunding, now);
        self.once(event_id, move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE saga.order_sagas SET cancel_requested = $2, next_attempt_at = $3, \
                       state = CASE WHEN state = 'completed' THEN 'refunding' ELSE state END, \
                       deadline = CASE WHEN state = 'completed' THEN $4 ELSE deadline END, \
                       cancel_reason = CASE WHEN state = 'completed' THEN $2 ELSE cancel_reason END, \
                       finished_at = CASE WHEN state = 'completed' THEN NULL ELSE finished_at END, \
                       attempts = CASE WHEN state = 'completed' THEN 0 ELSE attempts END, \
                       lines = CASE WHEN state = 'completed' THEN $5 ELSE lines END, \
                       total_minor = CASE WHEN state = 'completed' THEN $6 ELSE total_minor END, \
                       updated_at = now() \
                     WHERE order_id = $1 \
                       AND state NOT IN ('compensating', 'cancelled', 'refunding', 'refunded', 'abandoned')",
                )
                .bind(order_id)
                .bind(&reason)
                .bind(now)
                .bind(refund_deadline)
                .bind(&lines)
                .bind(total_minor)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Takes up to `limit` due sagas for `owner` for `lease` (database clock).
    pub async fn claim_due(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<OrderSaga>, sqlx::Error> {
        // The due ids are collected first (an array), then updated by key: as a join, the
        // planner hashed the whole table whenever its statistics lagged behind its growth.
        let query = format!(
            "UPDATE saga.order_sagas SET lease_owner = $1, \
               lease_until = now() + make_interval(secs => $4) \
             WHERE order_id = ANY(ARRAY( \
                   SELECT order_id FROM saga.order_sagas \
                   WHERE state NOT IN {FINAL_STATES} AND next_attempt_at <= $2 \
                     AND (lease_until IS NULL OR lease_until < now()) \
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)) \
             RETURNING {SAGA_COLUMNS}"
        );
        let rows = sqlx::query(&query)
            .bind(owner)
            .bind(now)
            .bind(limit)
            .bind(lease.as_secs_f64())
            .fetch_all(&self.scans)
            .await?;
        rows.iter().map(saga_from_row).collect()
    }

    /// Records `saga` as it stands after a step, if `owner` still holds it. `Ok(None)`: the lease
    /// was lost (it ran out and another runner took the saga), so this runner stops. Otherwise
    /// the saga as stored, including a cancellation recorded meanwhile. With `keep_lease` the
    /// lease is renewed for the runner going on; without, it is let go (a wait, or the end).
    pub async fn record(
        &self,
        saga: &OrderSaga,
        owner: Uuid,
        keep_lease: bool,
        lease: Duration,
    ) -> Result<Option<OrderSaga>, sqlx::Error> {
        let query = format!(
            "UPDATE saga.order_sagas SET state = $3, steps_done = $4, cancel_reason = $5, \
               deadline = $6, next_attempt_at = $7, attempts = $8, last_error = $9, \
               finished_at = $10, updated_at = now(), \
               lease_owner = CASE WHEN $11 THEN lease_owner ELSE NULL END, \
               lease_until = CASE WHEN $11 THEN now() + make_interval(secs => $12) ELSE NULL END \
             WHERE order_id = $1 AND lease_owner = $2 \
             RETURNING {SAGA_COLUMNS}"
        );
        let row = sqlx::query(&query)
            .bind(saga.order_id)
            .bind(owner)
            .bind(saga.state.as_str())
            .bind(&saga.steps_done)
            .bind(&saga.cancel_reason)
            .bind(saga.deadline)
            .bind(saga.next_attempt_at)
            .bind(saga.attempts)
            .bind(&saga.last_error)
            .bind(saga.finished_at)
            .bind(keep_lease)
            .bind(lease.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(saga_from_row).transpose()
    }

    /// Lets go of a saga without changing it (the runner is stopping).
    pub async fn release(&self, order_id: Uuid, owner: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE saga.order_sagas SET lease_owner = NULL, lease_until = NULL \
             WHERE order_id = $1 AND lease_owner = $2",
        )
        .bind(order_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The saga of `order_id`.
    pub async fn get(&self, order_id: Uuid) -> Result<Option<OrderSaga>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {SAGA_COLUMNS} FROM saga.order_sagas WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(saga_from_row).transpose()
    }

    /// Sagas in `state` (all when `None`), most recently started first.
    pub async fn list(
        &self,
        state: Option<SagaState>,
        limit: i64,
    ) -> Result<Vec<OrderSaga>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {SAGA_COLUMNS} FROM saga.order_sagas \
             WHERE $1::text IS NULL OR state = $1 \
             ORDER BY started_at DESC, order_id LIMIT $2"
        ))
        .bind(state.map(SagaState::as_str))
        .bind(limit)
        .fetch_all(&self.scans)
        .await?;
        rows.iter().map(saga_from_row).collect()
    }

    /// How many sagas are in each state.
    pub async fn counts(&self) -> Result<Vec<(SagaState, i64)>, sqlx::Error> {
        let rows = sqlx::query("SELECT state, count(*) FROM saga.order_sagas GROUP BY state")
            .fetch_all(&self.scans)
            .await?;
        let mut counts = Vec::new();
        for row in rows {
            let name: String = row.try_get(0)?;
            if let Some(state) = SagaState::parse(&name) {
                counts.push((state, row.try_get(1)?));
            }
        }
        Ok(counts)
    }

    /// An operator's retry: the saga is due now, its attempts and deadline start again, and an
    /// abandoned saga resumes where it stopped. `false` if there is no such saga, or it finished.
    pub async fn retry(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
        timings: &SagaTimings,
    ) -> Result<bool, sqlx::Error> {
        let Some(saga) = self.get(order_id).await? else {
            return Ok(false);
        };
        let resume = match saga.state {
            SagaState::Abandoned => resumed_state(&saga),
            state if state.is_final() => return Ok(false),
            state => state,
        };
        let updated = sqlx::query(
            "UPDATE saga.order_sagas SET state = $2, next_attempt_at = $3, deadline = $4, \
               attempts = 0, finished_at = NULL, lease_owner = NULL, lease_until = NULL, \
               updated_at = now() \
             WHERE order_id = $1 AND state = $5",
        )
        .bind(order_id)
        .bind(resume.as_str())
        .bind(now)
        .bind(timings.deadline(resume, now))
        .bind(saga.state.as_str())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// An operator takes a saga over: nothing more is done automatically. `false` if there is
    /// no such saga or it finished.
    pub async fn abandon(&self, order_id: Uuid, why: &str) -> Result<bool, sqlx::Error> {
        let query = format!(
            "UPDATE saga.order_sagas SET state = 'abandoned', \
               last_error = 'abandoned by an operator: ' || $2 || \
                            COALESCE(' (while ' || state || '; last error: ' || last_error || ')', \
                                     ' (while ' || state || ')'), \
               finished_at = now(), lease_owner = NULL, lease_until = NULL, updated_at = now() \
             WHERE order_id = $1 AND state NOT IN {FINAL_STATES}"
        );
        let updated = sqlx::query(&query)
            .bind(order_id)
            .bind(why)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Forgets handled messages older than `age`: SQS never redelivers one that old.
    pub async fn forget_handled_before(&self, age: Duration) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query(
            "DELETE FROM saga.handled_messages WHERE event_id IN ( \
               SELECT event_id FROM saga.handled_messages \
               WHERE handled_at < now() - make_interval(secs => $1) LIMIT 10000)",
        )
        .bind(age.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}

/// Where an abandoned saga picks up again: the state after the last step it finished, or
/// compensation if it had started compensating.
fn resumed_state(saga: &OrderSaga) -> SagaState {
    let done = |step: &str| saga.steps_done.iter().any(|s| s == step);
    if saga.cancel_reason.is_some() {
        return if done(STEP_AUTHORIZE_AND_CONFIRM) {
            SagaState::Refunding
        } else {
            SagaState::Compensating
        };
    }
    if done(STEP_CAPTURE_AND_COMMIT) {
        SagaState::Completed
    } else if done(STEP_AUTHORIZE_AND_CONFIRM) {
        SagaState::Capturing
    } else if done(STEP_RESERVE) {
        SagaState::Authorizing
    } else {
        SagaState::Reserving
    }
}

fn saga_from_row(row: &PgRow) -> Result<OrderSaga, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let state = SagaState::parse(&state)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown saga state {state:?}").into()))?;
    let currency: String = row.try_get("currency")?;
    let total_minor: i64 = row.try_get("total_minor")?;
    let total = Currency::parse(&currency)
        .and_then(|currency| Money::new(total_minor, currency))
        .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
    let Json(lines): Json<Vec<SagaLine>> = row.try_get("lines")?;
    Ok(OrderSaga {
        order_id: row.try_get("order_id")?,
        customer_id: row.try_get("customer_id")?,
        state,
        lines,
        total,
        payment_token: row.try_get("payment_token")?,
        steps_done: row.try_get("steps_done")?,
        cancel_reason: row.try_get("cancel_reason")?,
        cancel_requested: row.try_get("cancel_requested")?,
        deadline: row.try_get("deadline")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        correlation_id: row.try_get("correlation_id")?,
        causation_id: row.try_get("causation_id")?,
        placed_at: row.try_get("placed_at")?,
        started_at: row.try_get("started_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// A saga as the operators' commands print it: the stored saga and the payment it derives.
#[derive(Debug, Clone, Serialize)]
pub struct SagaView<'a> {
    #[serde(flatten)]
    pub saga: &'a OrderSaga,
    pub payment_id: Uuid,
}

impl<'a> From<&'a OrderSaga> for SagaView<'a> {
    fn from(saga: &'a OrderSaga) -> Self {
        Self {
            saga,
            payment_id: saga.payment_id().0,
        }
    }
}
