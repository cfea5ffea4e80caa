//! Each state's step: the commands the saga sends (through the command side's executor, the same
//! load-decide-append path as an HTTP command) and the payment provider calls it makes. Every step
//! is safe to run again: the commands are idempotent per order (a repeated reservation, release,
//! confirmation, capture, void or refund records nothing) and provider calls are keyed by ids
//! derived from the order.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use commerce_command_api::event_store::{CommandExecutor, ExecuteError, Loaded, PgEventRepository};
use commerce_domain::inventory::{Inventory, InventoryCommand};
use commerce_domain::order::{CancelReason, Order, OrderCommand};
use commerce_domain::payment::{Payment, PaymentCommand, PaymentStatus};
use commerce_domain::{Actor, DomainError, OrderId, PaymentToken, Quantity};
use commerce_platform::envelope::metadata_keys;
use cqrs_es::persist::PersistenceError;

use crate::model::{OrderSaga, SagaState, StepOutcome};
use crate::payments::{PaymentProvider, ProviderError};

/// What a step talks to.
pub struct SagaSteps {
    pub inventory: CommandExecutor<Inventory>,
    pub payments: CommandExecutor<Payment>,
    pub orders: CommandExecutor<Order>,
    /// For appends decided without a load (a payment's first event).
    pub repository: PgEventRepository,
    pub provider: Arc<dyn PaymentProvider>,
}

/// A step's own failure: retried, with its reason recorded for ops.
struct Transient(String);

impl<E: std::error::Error> From<ExecuteError<E>> for Transient {
    fn from(error: ExecuteError<E>) -> Self {
        Transient(error.to_string())
    }
}

impl From<ProviderError> for Transient {
    fn from(error: ProviderError) -> Self {
        Transient(format!("payment provider: {error}"))
    }
}

type StepResult = Result<StepOutcome, Transient>;

impl SagaSteps {
    /// Runs the step of the saga's state once.
    #[tracing::instrument(skip_all, fields(order_id = %saga.order_id, state = saga.state.as_str()))]
    pub async fn run(&self, saga: &OrderSaga) -> StepOutcome {
        let started = Instant::now();
        let result = match saga.state {
            SagaState::Reserving => self.reserve(saga).await,
            SagaState::Authorizing => self.authorize(saga).await,
            SagaState::Confirming => self.confirm(saga).await,
            SagaState::Capturing => self.capture(saga).await,
            SagaState::Committing => self.commit(saga).await,
            SagaState::Compensating => self.compensate(saga).await,
            SagaState::Refunding => self.refund(saga).await,
            SagaState::Completed
            | SagaState::Cancelled
            | SagaState::Refunded
            | SagaState::Abandoned => Ok(StepOutcome::Done),
        };
        let outcome = result.unwrap_or_else(|Transient(error)| StepOutcome::Retry(error));
        let label = match &outcome {
            StepOutcome::Done => "done",
            StepOutcome::Compensate(_) => "compensate",
            StepOutcome::CancelledElsewhere => "cancelled_elsewhere",
            StepOutcome::Retry(_) => "retry",
        };
        metrics::histogram!("saga_step_seconds", "step" => saga.state.step(), "outcome" => label)
            .record(started.elapsed().as_secs_f64());
        if let StepOutcome::Retry(error) = &outcome {
            tracing::warn!(attempts = saga.attempts, %error, "saga step failed; it will be retried");
        } else {
            tracing::debug!(outcome = label, "saga step ran");
        }
        outcome
    }

    /// The events' metadata: what caused them (the `OrderPlaced`), the order's correlation, and
    /// the step's deterministic command id.
    fn metadata(saga: &OrderSaga) -> HashMap<String, String> {
        HashMap::from([
            (
                metadata_keys::CORRELATION_ID.to_owned(),
                saga.correlation_id.unwrap_or(saga.order_id).to_string(),
            ),
            (
                metadata_keys::CAUSATION_ID.to_owned(),
                saga.causation_id.to_string(),
            ),
            ("command_id".to_owned(), saga.command_id().to_string()),
            ("user".to_owned(), "order-saga".to_owned()),
        ])
    }

    /// Holds every line's units, in line order; the first line out of stock stops the order
    /// (compensation releases what the earlier lines hold).
    async fn reserve(&self, saga: &OrderSaga) -> StepResult {
        let order_id = OrderId(saga.order_id);
        for line in &saga.lines {
            let Ok(quantity) = Quantity::new(line.quantity) else {
                return Ok(StepOutcome::Compensate(CancelReason::OutOfStock));
            };
            let reserved = self
                .inventory
                .execute(
                    &line.product_id.to_string(),
                    InventoryCommand::Reserve { order_id, quantity },
                    Self::metadata(saga),
                    &(),
                )
                .await;
            match reserved {
                Ok(_) => {}
                Err(ExecuteError::Rejected(
                    DomainError::OutOfStock { .. } | DomainError::ReservationConflict { .. },
                )) => return Ok(StepOutcome::Compensate(CancelReason::OutOfStock)),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(StepOutcome::Done)
    }

    /// Asks the provider to hold the money, then records the authorization.
    async fn authorize(&self, saga: &OrderSaga) -> StepResult {
        let payment_id = saga.payment_id();
        match self
            .provider
            .authorize(payment_id.0, &saga.payment_token, &saga.total)
            .await
        {
            Ok(()) => {}
            Err(ProviderError::Declined { reason }) => {
                tracing::info!(%reason, "payment declined");
                return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
            }
            Err(ProviderError::Rejected(reason)) => {
                tracing::warn!(%reason, "the provider refused the authorization request");
                return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
            }
            Err(unavailable) => return Err(unavailable.into()),
        }
        let Ok(token) = PaymentToken::parse(&saga.payment_token) else {
            return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
        };
        let authorize = PaymentCommand::Authorize {
            payment_id,
            order_id: OrderId(saga.order_id),
            amount: saga.total.clone(),
            token,
        };
        // The payment's stream is new unless this step ran before: append its first event
        // without loading it, and only if that finds the stream taken, run the command on what
        // is stored (where a repeated authorization records nothing).
        let id = payment_id.to_string();
        let metadata = Self::metadata(saga);
        let decided = self
            .payments
            .decide(&id, Loaded::default(), authorize.clone(), &metadata, &())
            .await?;
        match self
            .repository
            .append_decided(&[decided.serialized()], &[])
            .await
        {
            Ok(()) => self.payments.committed(),
            Err(PersistenceError::OptimisticLockError) => {
                self.payments.execute(&id, authorize, metadata, &()).await?;
            }
            Err(other) => {
                return Err(ExecuteError::<DomainError>::from_persistence(other).into());
            }
        }
        Ok(StepOutcome::Done)
    }

    async fn confirm(&self, saga: &OrderSaga) -> StepResult {
        let confirmed = self
            .orders
            .execute(
                &saga.order_id.to_string(),
                OrderCommand::Confirm {
                    actor: Actor::System,
                },
                Self::metadata(saga),
                &(),
            )
            .await;
        match confirmed {
            Ok(_) => Ok(StepOutcome::Done),
            Err(ExecuteError::Rejected(DomainError::IllegalTransition { .. })) => {
                Ok(StepOutcome::CancelledElsewhere)
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn capture(&self, saga: &OrderSaga) -> StepResult {
        let payment_id = saga.payment_id();
        self.provider.capture(payment_id.0, &saga.total).await?;
        self.payments
            .execute(
                &payment_id.to_string(),
                PaymentCommand::Capture {
                    amount: saga.total.clone(),
                },
                Self::metadata(saga),
                &(),
            )
            .await?;
        Ok(StepOutcome::Done)
    }

    async fn commit(&self, saga: &OrderSaga) -> StepResult {
        let order_id = OrderId(saga.order_id);
        for line in &saga.lines {
            self.inventory
                .execute(
                    &line.product_id.to_string(),
                    InventoryCommand::Commit { order_id },
                    Self::metadata(saga),
                    &(),
                )
                .await?;
        }
        Ok(StepOutcome::Done)
    }

    /// Undoes, in reverse: the authorization is voided, every line's hold released, and the
    /// order cancelled for the saga's reason (an order someone else cancelled stays as it is).
    async fn compensate(&self, saga: &OrderSaga) -> StepResult {
        self.give_back_payment(saga).await?;
        self.give_back_stock(saga, false).await?;
        let reason = saga
            .cancel_reason
            .as_deref()
            .and_then(CancelReason::parse)
            .unwrap_or(CancelReason::Admin);
        let cancelled = self
            .orders
            .execute(
                &saga.order_id.to_string(),
                OrderCommand::Cancel {
                    reason,
                    actor: Actor::System,
                },
                Self::metadata(saga),
                &(),
            )
            .await;
        match cancelled {
            Ok(_) | Err(ExecuteError::Rejected(DomainError::IllegalTransition { .. })) => {
                Ok(StepOutcome::Done)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// An order cancelled after confirmation: its money is refunded (or its hold voided, if it
    /// was not captured yet) and its units come back, held or sold.
    async fn refund(&self, saga: &OrderSaga) -> StepResult {
        self.give_back_payment(saga).await?;
        self.give_back_stock(saga, true).await?;
        Ok(StepOutcome::Done)
    }

    /// Voids an authorization or refunds a capture, whichever the payment is at.
    async fn give_back_payment(&self, saga: &OrderSaga) -> Result<(), Transient> {
        let payment_id = saga.payment_id();
        let (payment, _) = self
            .payments
            .load(&payment_id.to_string())
            .await
            .map_err(Transient::from)?;
        let command = match payment.status() {
            // Never recorded: if the saga got as far as asking, the provider may still hold an
            // authorization whose answer was lost (a timeout); voiding one it never made does
            // nothing. A saga stopped while reserving never asked.
            None => {
                if saga.steps_done.iter().any(|step| step == "reserve") {
                    self.provider.void(payment_id.0).await?;
                }
                return Ok(());
            }
            Some(PaymentStatus::Authorized) => {
                self.provider.void(payment_id.0).await?;
                PaymentCommand::Void
            }
            Some(PaymentStatus::Captured | PaymentStatus::PartiallyRefunded) => {
                let refund_id = saga.refund_id();
                self.provider
                    .refund(payment_id.0, refund_id.0, &saga.total)
                    .await?;
                PaymentCommand::Refund {
                    refund_id,
                    amount: saga.total.clone(),
                }
            }
            Some(PaymentStatus::Voided | PaymentStatus::Refunded) => return Ok(()),
        };
        self.payments
            .execute(&payment_id.to_string(), command, Self::metadata(saga), &())
            .await?;
        Ok(())
    }

    /// Releases every line's hold, and with `sold` also takes back units already sold.
    async fn give_back_stock(&self, saga: &OrderSaga, sold: bool) -> Result<(), Transient> {
        let order_id = OrderId(saga.order_id);
        for line in saga.lines.iter().rev() {
            let product = line.product_id.to_string();
            self.inventory
                .execute(
                    &product,
                    InventoryCommand::Release { order_id },
                    Self::metadata(saga),
                    &(),
                )
                .await?;
            if sold {
                self.inventory
                    .execute(
                        &product,
                        InventoryCommand::ReturnSold { order_id },
                        Self::metadata(saga),
                        &(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
