use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::order::PricedLine;
use crate::{
    CartId, CustomerId, Money, OrderId, PaymentToken, ProductId, Quantity, ShippingAddress,
    VendorId,
};

/// What happened to a cart. Line events carry the resulting line, so the cart projector only
/// overwrites; `CartCheckedOut` carries everything an order is placed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CartEvent {
    CartCreated {
        cart_id: CartId,
        customer_id: CustomerId,
    },
    ItemAddedToCart {
        cart_id: CartId,
        product_id: ProductId,
        vendor_id: VendorId,
        /// The line's quantity after the addition, not the units added.
        quantity: Quantity,
        unit_price: Money,
    },
    CartItemQuantityChanged {
        cart_id: CartId,
        product_id: ProductId,
        quantity: Quantity,
    },
    ItemRemovedFromCart {
        cart_id: CartId,
        product_id: ProductId,
    },
    CartCheckedOut {
        cart_id: CartId,
        customer_id: CustomerId,
        order_id: OrderId,
        lines: Vec<PricedLine>,
        total: Money,
        shipping_address: ShippingAddress,
        payment_token: PaymentToken,
    },
}

impl CartEvent {
    /// The version of the event shapes this code writes, but for [`Self::CHECKED_OUT_VERSION`];
    /// upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";
    /// `CartCheckedOut` 2.0 carries the shipping address in parts (1.0: one free-text string).
    pub const CHECKED_OUT_VERSION: &'static str = "2.0";

    pub fn name(&self) -> &'static str {
        match self {
            CartEvent::CartCreated { .. } => "CartCreated",
            CartEvent::ItemAddedToCart { .. } => "ItemAddedToCart",
            CartEvent::CartItemQuantityChanged { .. } => "CartItemQuantityChanged",
            CartEvent::ItemRemovedFromCart { .. } => "ItemRemovedFromCart",
            CartEvent::CartCheckedOut { .. } => "CartCheckedOut",
        }
    }
}

impl DomainEvent for CartEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            CartEvent::CartCheckedOut { .. } => Self::CHECKED_OUT_VERSION,
            _ => Self::VERSION,
        }
        .to_owned()
    }
}
