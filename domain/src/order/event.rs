use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{CancelReason, OrderStatus, PricedLine, ReturnLine};
use crate::commission::LineCommission;
use crate::{
    CustomerId, Money, OrderId, PaymentToken, Reason, ReturnId, ShippingAddress, TrackingNumber,
    VendorId,
};

/// What happened to an order. Status events repeat the customer, and where revenue changes the
/// lines and total, so order and analytics projectors need no earlier event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    OrderPlaced {
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<PricedLine>,
        total: Money,
        shipping_address: ShippingAddress,
        payment_token: PaymentToken,
    },
    OrderConfirmed {
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<PricedLine>,
        total: Money,
        /// The marketplace's commission on each line, fixed here. Absent (empty) on orders
        /// confirmed before commissions existed: none was taken on them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        commissions: Vec<LineCommission>,
    },
    OrderCancelled {
        order_id: OrderId,
        customer_id: CustomerId,
        reason: CancelReason,
        /// Whether the order had been confirmed, i.e. whether its revenue had been counted.
        previous_status: OrderStatus,
        lines: Vec<PricedLine>,
        total: Money,
    },
    /// The last open sub-order shipped (the only one, for an order of one vendor): the order is
    /// shipped as a whole.
    OrderShipped {
        order_id: OrderId,
        customer_id: CustomerId,
        tracking: TrackingNumber,
    },
    /// One vendor's sub-order shipped while others are still open: the order is partially
    /// shipped. The last one to ship is recorded as `OrderShipped`.
    SubOrderShipped {
        order_id: OrderId,
        customer_id: CustomerId,
        vendor_id: VendorId,
        tracking: TrackingNumber,
        lines: Vec<PricedLine>,
        subtotal: Money,
    },
    /// The customer asked to return units of a vendor's shipped sub-order.
    ReturnRequested {
        order_id: OrderId,
        customer_id: CustomerId,
        return_id: ReturnId,
        vendor_id: VendorId,
        lines: Vec<ReturnLine>,
        refund_total: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// The vendor takes the goods back (into stock when `restock`): the saga refunds them.
    ReturnAccepted {
        order_id: OrderId,
        customer_id: CustomerId,
        return_id: ReturnId,
        vendor_id: VendorId,
        lines: Vec<ReturnLine>,
        refund_total: Money,
        restock: bool,
    },
    ReturnRejected {
        order_id: OrderId,
        customer_id: CustomerId,
        return_id: ReturnId,
        vendor_id: VendorId,
        reason: Reason,
    },
    /// The customer got `refund_total` back; the vendor's share and the commission of the lines
    /// were reversed in the same append.
    ReturnRefunded {
        order_id: OrderId,
        customer_id: CustomerId,
        return_id: ReturnId,
        vendor_id: VendorId,
        lines: Vec<ReturnLine>,
        refund_total: Money,
    },
    /// The provider would not refund: nothing was given back, and the units are free again.
    ReturnRefundFailed {
        order_id: OrderId,
        customer_id: CustomerId,
        return_id: ReturnId,
        vendor_id: VendorId,
        reason: String,
    },
}

impl OrderEvent {
    /// The version of the event shapes this code writes, but for [`Self::PLACED_VERSION`];
    /// upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";
    /// `OrderPlaced` 2.0 carries the shipping address in parts (1.0: one free-text string).
    pub const PLACED_VERSION: &'static str = "2.0";

    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::OrderPlaced { .. } => "OrderPlaced",
            OrderEvent::OrderConfirmed { .. } => "OrderConfirmed",
            OrderEvent::OrderCancelled { .. } => "OrderCancelled",
            OrderEvent::OrderShipped { .. } => "OrderShipped",
            OrderEvent::SubOrderShipped { .. } => "SubOrderShipped",
            OrderEvent::ReturnRequested { .. } => "ReturnRequested",
            OrderEvent::ReturnAccepted { .. } => "ReturnAccepted",
            OrderEvent::ReturnRejected { .. } => "ReturnRejected",
            OrderEvent::ReturnRefunded { .. } => "ReturnRefunded",
            OrderEvent::ReturnRefundFailed { .. } => "ReturnRefundFailed",
        }
    }
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            OrderEvent::OrderPlaced { .. } => Self::PLACED_VERSION,
            _ => Self::VERSION,
        }
        .to_owned()
    }
}
