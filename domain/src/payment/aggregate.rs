use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{PaymentCommand, PaymentEvent, PaymentStatus};
use crate::{DomainError, Money, OrderId, PaymentId, RefundId};

/// A payment's state as far as its rules need it: what was authorized, and what was given back.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// `None` until `PaymentAuthorized`; every other command needs it to exist.
    authorization: Option<Authorization>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Authorization {
    payment_id: PaymentId,
    order_id: OrderId,
    /// Authorized, and (once captured) captured: a capture must take exactly this.
    amount: Money,
    status: PaymentStatus,
    /// Sum of refunds so far; `None` before the first, since a `Money` is never zero.
    refunded: Option<Money>,
    /// Refunds recorded so far, so a repeated one is recognised.
    #[serde(default)]
    refund_ids: Vec<RefundId>,
}

impl Authorization {
    fn illegal(&self, to: PaymentStatus) -> DomainError {
        DomainError::IllegalTransition {
            aggregate: Payment::TYPE,
            from: self.status.as_str(),
            to: to.as_str(),
        }
    }

    fn refunded_minor(&self) -> i64 {
        self.refunded.as_ref().map_or(0, |m| m.amount_minor)
    }
}

impl Payment {
    pub const TYPE: &'static str = "Payment";

    /// The payment's status; `None` before it is authorized.
    pub fn status(&self) -> Option<PaymentStatus> {
        self.authorization.as_ref().map(|a| a.status)
    }

    fn existing(&self) -> Result<&Authorization, DomainError> {
        self.authorization.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })
    }

    /// The event `command` produces, if any, or why it is refused. `handle` records the event.
    pub(crate) fn decide(
        &self,
        command: PaymentCommand,
    ) -> Result<Option<PaymentEvent>, DomainError> {
        match command {
            PaymentCommand::Authorize {
                payment_id,
                order_id,
                amount,
                token,
            } => {
                if let Some(existing) = &self.authorization {
                    if existing.order_id == order_id && existing.amount == amount {
                        return Ok(None);
                    }
                    return Err(DomainError::AlreadyExists {
                        aggregate: Self::TYPE,
                        id: payment_id.to_string(),
                    });
                }
                Ok(Some(PaymentEvent::PaymentAuthorized {
                    payment_id,
                    order_id,
                    amount,
                    token,
                }))
            }
            PaymentCommand::Capture { amount } => {
                let payment = self.existing()?;
                if payment.status == PaymentStatus::Voided {
                    return Err(payment.illegal(PaymentStatus::Captured));
                }
                payment.amount.ensure_same_currency(&amount)?;
                if amount != payment.amount {
                    return Err(DomainError::AmountMismatch {
                        expected_minor: payment.amount.amount_minor,
                        given_minor: amount.amount_minor,
                    });
                }
                if payment.status != PaymentStatus::Authorized {
                    // Already captured: a retried capture of the same amount changes nothing.
                    return Ok(None);
                }
                Ok(Some(PaymentEvent::PaymentCaptured {
                    payment_id: payment.payment_id,
                    order_id: payment.order_id,
                    amount,
                }))
            }
            PaymentCommand::Void => {
                let payment = self.existing()?;
                match payment.status {
                    PaymentStatus::Authorized => Ok(Some(PaymentEvent::PaymentVoided {
                        payment_id: payment.payment_id,
                        order_id: payment.order_id,
                        amount: payment.amount.clone(),
                    })),
                    PaymentStatus::Voided => Ok(None),
                    PaymentStatus::Captured
                    | PaymentStatus::PartiallyRefunded
                    | PaymentStatus::Refunded => Err(payment.illegal(PaymentStatus::Voided)),
                }
            }
            PaymentCommand::Refund { refund_id, amount } => {
                let payment = self.existing()?;
                if payment.refund_ids.contains(&refund_id) {
                    return Ok(None);
                }
                if !matches!(
                    payment.status,
                    PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
                ) {
                    return Err(payment.illegal(PaymentStatus::Refunded));
                }
                payment.amount.ensure_same_currency(&amount)?;
                let refundable_minor = payment.amount.amount_minor - payment.refunded_minor();
                if amount.amount_minor > refundable_minor {
                    return Err(DomainError::RefundExceedsCapture {
                        refundable_minor,
                        requested_minor: amount.amount_minor,
                    });
                }
                let refunded_total = match &payment.refunded {
                    Some(earlier) => earlier.checked_add(&amount)?,
                    None => amount.clone(),
                };
                Ok(Some(PaymentEvent::PaymentRefunded {
                    payment_id: payment.payment_id,
                    order_id: payment.order_id,
                    refund_id,
                    fully_refunded: refunded_total == payment.amount,
                    amount,
                    refunded_total,
                }))
            }
        }
    }
}

impl Aggregate for Payment {
    const TYPE: &'static str = Self::TYPE;
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PaymentCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PaymentEvent) {
        match event {
            PaymentEvent::PaymentAuthorized {
                payment_id,
                order_id,
                amount,
                ..
            } => {
                self.authorization = Some(Authorization {
                    payment_id,
                    order_id,
                    amount,
                    status: PaymentStatus::Authorized,
                    refunded: None,
                    refund_ids: Vec::new(),
                });
            }
            PaymentEvent::PaymentCaptured { .. } => {
                if let Some(payment) = self.authorization.as_mut() {
                    payment.status = PaymentStatus::Captured;
                }
            }
            PaymentEvent::PaymentVoided { .. } => {
                if let Some(payment) = self.authorization.as_mut() {
                    payment.status = PaymentStatus::Voided;
                }
            }
            PaymentEvent::PaymentRefunded {
                refund_id,
                refunded_total,
                fully_refunded,
                ..
            } => {
                if let Some(payment) = self.authorization.as_mut() {
                    payment.status = if fully_refunded {
                        PaymentStatus::Refunded
                    } else {
                        PaymentStatus::PartiallyRefunded
                    };
                    payment.refunded = Some(refunded_total);
                    payment.refund_ids.push(refund_id);
                }
            }
        }
    }
}
