use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::{Money, OrderId, PaymentId, PaymentToken, RefundId};

/// What happened to a payment. Each event names its order, so revenue can be netted per order
/// without loading the payment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PaymentEvent {
    PaymentAuthorized {
        payment_id: PaymentId,
        order_id: OrderId,
        amount: Money,
        token: PaymentToken,
    },
    PaymentCaptured {
        payment_id: PaymentId,
        order_id: OrderId,
        amount: Money,
    },
    PaymentVoided {
        payment_id: PaymentId,
        order_id: OrderId,
        amount: Money,
    },
    PaymentRefunded {
        payment_id: PaymentId,
        order_id: OrderId,
        refund_id: RefundId,
        /// This refund.
        amount: Money,
        /// All refunds so far, this one included.
        refunded_total: Money,
        /// Whether nothing is left to refund.
        fully_refunded: bool,
    },
}

impl PaymentEvent {
    /// The version of every event shape this code writes; upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            PaymentEvent::PaymentAuthorized { .. } => "PaymentAuthorized",
            PaymentEvent::PaymentCaptured { .. } => "PaymentCaptured",
            PaymentEvent::PaymentVoided { .. } => "PaymentVoided",
            PaymentEvent::PaymentRefunded { .. } => "PaymentRefunded",
        }
    }
}

impl DomainEvent for PaymentEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}
