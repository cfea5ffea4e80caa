use crate::{Money, OrderId, PaymentId, PaymentToken, RefundId};

/// What the order-fulfilment saga may record about a payment. The provider is called by the saga;
/// these commands record what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// Record that the provider holds `amount` on the customer's payment method for `order_id`.
    /// Repeating it with the same order and amount changes nothing, so a retried saga step is
    /// harmless.
    Authorize {
        payment_id: PaymentId,
        order_id: OrderId,
        amount: Money,
        token: PaymentToken,
    },
    /// Take the authorized money; `amount` must be exactly what was authorized.
    Capture { amount: Money },
    /// Let the authorization go without taking the money.
    Void,
    /// Give back part or all of what was captured; refunds add up to at most the capture. A
    /// refund id already recorded changes nothing, so a retried refund is not paid twice.
    Refund { refund_id: RefundId, amount: Money },
}
