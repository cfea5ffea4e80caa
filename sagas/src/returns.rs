//! Refunds of accepted returns: the saga's second process. A `ReturnAccepted` on the saga's queue
//! starts one (`saga.return_refunds`); the return runner drives it:
//!
//! 1. The provider refunds the return's total under a refund id derived from the return (a
//!    retry refunds nothing more). If the provider will not (declined, refused), the
//!    compensation marks the return failed on its order: nothing was given back, and its units
//!    may be asked for again.
//! 2. One append, audited: the payment's refund, the reversal of the vendor's share and the
//!    commission of the returned units in its ledger, the units back in stock when the vendor
//!    said so, and the return refunded on its order. The books never show one without the
//!    others.
//!
//! Each step is idempotent, so a runner that crashes anywhere leaves a row that another runner
//! (or this one, restarted) takes up when its lease runs out.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_domain::Money;
use commerce_platform::Shutdown;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::Row;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::model::SagaTimings;
use crate::runner::SagaRunner;
use crate::store::SagaStore;

/// Refunds taken up per claim.
const CLAIM: i64 = 16;

/// Units of one product a return gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedUnits {
    pub product_id: Uuid,
    pub quantity: u32,
}

/// An accepted return being refunded, as stored in `saga.return_refunds`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnRefund {
    pub return_id: Uuid,
    pub order_id: Uuid,
    pub vendor_id: Uuid,
    pub lines: Vec<ReturnedUnits>,
    pub refund: Money,
    pub restock: bool,
    pub attempts: i32,
    pub correlation_id: Option<Uuid>,
    /// The `ReturnAccepted` event.
    pub causation_id: Uuid,
}

/// What came of a return's refund step.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundOutcome {
    /// Refunded, reversed, restocked and recorded.
    Refunded,
    /// The provider would not refund: the return was marked failed (compensated).
    Failed(String),
    /// A failure that may pass: try again later.
    Retry(String),
}

impl SagaStore {
    /// Records the refund of an accepted return (message `event_id`), due at once; a
    /// redelivered message, or a return already there, changes nothing.
    pub async fn start_return_refund(
        &self,
        event_id: Uuid,
        refund: &ReturnRefund,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let refund = refund.clone();
        self.once(event_id, move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO saga.return_refunds (return_id, order_id, vendor_id, lines, \
                       refund_minor, currency, restock, next_attempt_at, correlation_id, \
                       causation_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (return_id) DO NOTHING",
                )
                .bind(refund.return_id)
                .bind(refund.order_id)
                .bind(refund.vendor_id)
                .bind(Json(&refund.lines))
                .bind(refund.refund.amount_minor)
                .bind(refund.refund.currency.as_str())
                .bind(refund.restock)
                .bind(now)
                .bind(refund.correlation_id)
                .bind(refund.causation_id)
                .execute(&mut *tx)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Takes up to `limit` due refunds for `owner` for `lease` (database clock).
    pub async fn claim_due_refunds(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<ReturnRefund>, sqlx::Error> {
        let rows = sqlx::query(
            "UPDATE saga.return_refunds SET lease_owner = $1, \
               lease_until = now() + make_interval(secs => $4) \
             WHERE return_id = ANY(ARRAY( \
                   SELECT return_id FROM saga.return_refunds \
                   WHERE state = 'refunding' AND next_attempt_at <= $2 \
                     AND (lease_until IS NULL OR lease_until < now()) \
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)) \
             RETURNING return_id, order_id, vendor_id, lines, refund_minor, currency, restock, \
               attempts, correlation_id, causation_id",
        )
        .bind(owner)
        .bind(now)
        .bind(limit)
        .bind(lease.as_secs_f64())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let currency: String = row.try_get("currency")?;
                let minor: i64 = row.try_get("refund_minor")?;
                let refund = commerce_domain::Currency::parse(&currency)
                    .and_then(|c| Money::new(minor, c))
                    .map_err(|e| sqlx::Error::Decode(e.reason.into()))?;
                let Json(lines) = row.try_get::<Json<Vec<ReturnedUnits>>, _>("lines")?;
                Ok(ReturnRefund {
                    return_id: row.try_get("return_id")?,
                    order_id: row.try_get("order_id")?,
                    vendor_id: row.try_get("vendor_id")?,
                    lines,
                    refund,
                    restock: row.try_get("restock")?,
                    attempts: row.try_get("attempts")?,
                    correlation_id: row.try_get("correlation_id")?,
                    causation_id: row.try_get("causation_id")?,
                })
            })
            .collect()
    }

    /// Records what came of a refund's step at `now` (saga clock) and lets its lease go.
    pub async fn record_refund(
        &self,
        refund: &ReturnRefund,
        outcome: &RefundOutcome,
        now: DateTime<Utc>,
        timings: &SagaTimings,
    ) -> Result<(), sqlx::Error> {
        let (state, error, next) = match outcome {
            RefundOutcome::Refunded => ("refunded", None, now),
            RefundOutcome::Failed(reason) => ("failed", Some(reason.as_str()), now),
            RefundOutcome::Retry(error) => {
                let pause = timings.backoff(refund.attempts);
                let next = now + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX);
                ("refunding", Some(error.as_str()), next)
            }
        };
        sqlx::query(
            "UPDATE saga.return_refunds SET state = $2, last_error = $3, next_attempt_at = $4, \
               attempts = CASE WHEN $2 = 'refunding' THEN attempts + 1 ELSE attempts END, \
               finished_at = CASE WHEN $2 = 'refunding' THEN NULL ELSE now() END, \
               lease_owner = NULL, lease_until = NULL \
             WHERE return_id = $1",
        )
        .bind(refund.return_id)
        .bind(state)
        .bind(error)
        .bind(next)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl SagaRunner {
    /// Drives the refunds of accepted returns until `halt`: those `wake` announces, those due
    /// again after a retry, and those a crashed runner held.
    pub async fn run_returns(self: Arc<Self>, wake: Arc<Notify>, halt: Shutdown) {
        while !halt.is_cancelled() {
            let now = self.clock.now();
            let due = self
                .store
                .claim_due_refunds(self.owner, now, CLAIM, self.config.lease)
                .await;
            let due = match due {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "could not take due return refunds; trying again");
                    Vec::new()
                }
            };
            let full = due.len() as i64 == CLAIM;
            for refund in due {
                let outcome = self.steps.refund_return(&refund).await;
                match &outcome {
                    RefundOutcome::Refunded => tracing::info!(
                        return_id = %refund.return_id, order_id = %refund.order_id,
                        "return refunded"
                    ),
                    RefundOutcome::Failed(reason) => tracing::warn!(
                        return_id = %refund.return_id, %reason,
                        "the return could not be refunded; it was marked failed"
                    ),
                    RefundOutcome::Retry(error) => tracing::warn!(
                        return_id = %refund.return_id, attempts = refund.attempts, %error,
                        "the return's refund failed; it will be retried"
                    ),
                }
                if let Err(error) = self
                    .store
                    .record_refund(&refund, &outcome, self.clock.now(), &self.timings)
                    .await
                {
                    // Its lease runs out, and the step, idempotent, runs again.
                    tracing::warn!(return_id = %refund.return_id, %error, "could not record a return's refund");
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {},
                _ = tokio::time::sleep(self.config.poll_interval) => {},
                _ = halt.cancelled() => break,
            }
        }
    }
}
