//! What the saga hears from its queue: `OrderPlaced` starts a saga, an `OrderCancelled` it did not
//! cause stops or reverses one. Each message changes the saga's row in the transaction that
//! records it as handled, so a redelivery changes nothing; the runner does the work.
use std::sync::Arc;

use commerce_domain::order::CancelReason;
use commerce_domain::Money;
use commerce_platform::envelope::EventEnvelope;
use commerce_projections::consumer::{Outcome, Projector};
use commerce_projections::error::ProjectionError;
use serde::Deserialize;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use crate::clock::SagaClock;
use crate::model::OrderSaga;
use crate::model::{SagaLine, SagaTimings};
use crate::returns::{ReturnRefund, ReturnedUnits};
use crate::store::{NewSaga, SagaStore, Started};

/// The part of an `OrderPlaced` payload the saga needs; any version that carries these reads.
#[derive(Debug, Deserialize)]
struct Placed {
    order_id: Uuid,
    customer_id: Uuid,
    lines: Vec<PlacedLine>,
    total: Money,
    payment_token: String,
}

#[derive(Debug, Deserialize)]
struct PlacedLine {
    product_id: Uuid,
    quantity: u32,
    #[serde(default)]
    vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
struct Cancelled {
    order_id: Uuid,
    reason: CancelReason,
    /// What the cancellation gives back: every line, or after some vendors shipped, the lines
    /// still open, and their total.
    lines: Vec<PlacedLine>,
    total: Money,
}

#[derive(Debug, Deserialize)]
struct AcceptedReturn {
    order_id: Uuid,
    return_id: Uuid,
    vendor_id: Uuid,
    lines: Vec<AcceptedLine>,
    refund_total: Money,
    restock: bool,
}

#[derive(Debug, Deserialize)]
struct AcceptedLine {
    product_id: Uuid,
    quantity: u32,
}

#[derive(Debug, Deserialize)]
struct Tagged<T> {
    data: T,
}

/// Feeds the saga store from the queue (through the shared SQS consumer loop).
pub struct SagaListener {
    store: SagaStore,
    clock: SagaClock,
    timings: SagaTimings,
    /// Wakes the runner: a saga is due.
    runner: Arc<Notify>,
    /// The runner's id and lease: a new saga is inserted already leased to it, and handed to it
    /// through `hand_over`, with no claim in between.
    runner_lease: (Uuid, std::time::Duration),
    hand_over: mpsc::UnboundedSender<OrderSaga>,
    /// Wakes the runner of returns' refunds: one is due.
    returns: Arc<Notify>,
}

impl SagaListener {
    pub fn new(
        store: SagaStore,
        clock: SagaClock,
        timings: SagaTimings,
        runner: Arc<Notify>,
        runner_lease: (Uuid, std::time::Duration),
        hand_over: mpsc::UnboundedSender<OrderSaga>,
        returns: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            clock,
            timings,
            runner,
            runner_lease,
            hand_over,
            returns,
        }
    }

    fn payload<T: serde::de::DeserializeOwned>(
        event: &EventEnvelope,
    ) -> Result<T, ProjectionError> {
        // A payload this code cannot read is a poison message: retried, then dead-lettered,
        // where `commerce dlq` shows it. It never blocks other orders (one message group each).
        serde_json::from_value::<Tagged<T>>(event.payload.clone())
            .map(|tagged| tagged.data)
            .map_err(|e| {
                ProjectionError::Failed(anyhow::anyhow!(
                    "{} {} payload unreadable by the saga: {e}",
                    event.event_type,
                    event.event_version
                ))
            })
    }
}

impl Projector for SagaListener {
    fn name(&self) -> &'static str {
        "order-saga"
    }

    async fn apply(&self, event: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let now = self.clock.now();
        let first = match event.event_type.as_str() {
            "OrderPlaced" => {
                let placed: Placed = Self::payload(event)?;
                let saga = NewSaga {
                    order_id: placed.order_id,
                    customer_id: placed.customer_id,
                    lines: placed
                        .lines
                        .into_iter()
                        .map(|l| SagaLine {
                            product_id: l.product_id,
                            quantity: l.quantity,
                            vendor_id: l.vendor_id,
                        })
                        .collect(),
                    total: placed.total,
                    payment_token: placed.payment_token,
                    correlation_id: event.correlation_id,
                    causation_id: event.event_id,
                    placed_at: event.occurred_at,
                };
                let started = self
                    .store
                    .start(event.event_id, &saga, now, &self.timings, self.runner_lease)
                    .await?;
                match started {
                    Started::New(saga) => {
                        let hop = (chrono::Utc::now() - event.occurred_at).num_microseconds();
                        metrics::histogram!("saga_start_delay_seconds")
                            .record(hop.unwrap_or(0) as f64 / 1e6);
                        tracing::debug!(order_id = %saga.order_id, "order saga started");
                        // A stopped runner drops it: its lease runs out and another takes it.
                        let _ = self.hand_over.send(*saga);
                        return Ok(Outcome::Applied);
                    }
                    Started::AlreadyThere => true,
                    Started::Redelivered => false,
                }
            }
            "OrderCancelled" => {
                let cancelled: Cancelled = Self::payload(event)?;
                let lines: Vec<SagaLine> = cancelled
                    .lines
                    .into_iter()
                    .map(|l| SagaLine {
                        product_id: l.product_id,
                        quantity: l.quantity,
                        vendor_id: l.vendor_id,
                    })
                    .collect();
                self.store
                    .request_cancel(
                        event.event_id,
                        cancelled.order_id,
                        cancelled.reason.as_str(),
                        (&lines, &cancelled.total),
                        now,
                        &self.timings,
                    )
                    .await?
            }
            "ReturnAccepted" => {
                let accepted: AcceptedReturn = Self::payload(event)?;
                let refund = ReturnRefund {
                    return_id: accepted.return_id,
                    order_id: accepted.order_id,
                    vendor_id: accepted.vendor_id,
                    lines: accepted
                        .lines
                        .into_iter()
                        .map(|l| ReturnedUnits {
                            product_id: l.product_id,
                            quantity: l.quantity,
                        })
                        .collect(),
                    refund: accepted.refund_total,
                    restock: accepted.restock,
                    attempts: 0,
                    correlation_id: event.correlation_id,
                    causation_id: event.event_id,
                };
                let first = self
                    .store
                    .start_return_refund(event.event_id, &refund, now)
                    .await?;
                if !first {
                    return Ok(Outcome::Duplicate);
                }
                self.returns.notify_one();
                return Ok(Outcome::Applied);
            }
            other => {
                tracing::debug!(event_type = other, "not an event the saga acts on");
                return Ok(Outcome::Duplicate);
            }
        };
        if !first {
            return Ok(Outcome::Duplicate);
        }
        self.runner.notify_one();
        Ok(Outcome::Applied)
    }

    async fn skip(&self, _event: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        // Never asked: the saga reports no event as unprocessable, so nothing is skipped.
        Ok(Outcome::Duplicate)
    }
}
