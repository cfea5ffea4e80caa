use std::collections::BTreeMap;

use super::{CancelReason, OrderLine};
use crate::commission::CommissionRules;
use crate::{Actor, CustomerId, OrderId, PaymentToken, ShippingAddress, TrackingNumber, VendorId};
use crate::{Category, ProductId, Quantity, Reason, ReturnId};

/// What may be asked of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Record an order from a checked-out cart; the checkout already checked who the customer is.
    PlaceOrder {
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<OrderLine>,
        shipping_address: ShippingAddress,
        payment_token: PaymentToken,
    },
    /// Stock is held and payment authorized: the order will be fulfilled. Saga or admin only.
    /// The commission of each line is fixed now, under `rules` (a line's category from
    /// `categories`): a later change of the rules never alters it.
    Confirm {
        actor: Actor,
        rules: CommissionRules,
        categories: BTreeMap<ProductId, Category>,
    },
    /// Stop the order before it ships. A customer may cancel only its own order, for
    /// `CustomerRequest`; the saga and admins for any reason.
    Cancel { reason: CancelReason, actor: Actor },
    /// Hand one vendor's sub-order to a carrier: a vendor ships its own; an admin names the
    /// vendor (`vendor_id`), which it may leave out when the order has one vendor.
    Ship {
        tracking: TrackingNumber,
        vendor_id: Option<VendorId>,
        actor: Actor,
    },
    /// Ask to return `units` (product, quantity) of one vendor's shipped sub-order, as
    /// `return_id`: the order's customer or an admin. The vendor is the units' (named or not).
    RequestReturn {
        return_id: ReturnId,
        vendor_id: Option<VendorId>,
        units: Vec<(ProductId, Quantity)>,
        reason: Option<Reason>,
        actor: Actor,
    },
    /// The return's vendor (or an admin) takes the goods back, into stock when `restock`; the
    /// saga refunds the customer.
    AcceptReturn {
        return_id: ReturnId,
        restock: bool,
        actor: Actor,
    },
    /// The return's vendor (or an admin) refuses it, saying why.
    RejectReturn {
        return_id: ReturnId,
        reason: Reason,
        actor: Actor,
    },
    /// The saga refunded an accepted return.
    CompleteReturn { return_id: ReturnId },
    /// The provider would not refund an accepted return: the saga gives up on it.
    FailReturn { return_id: ReturnId, reason: String },
}
