use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::{OrderId, ProductId, Quantity, ReturnId, VendorId};

/// What happened to a product's stock. Each event carries the resulting `on_hand` and `available`
/// counts, so the catalogue and the vendor's stock alerts are set, never recomputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum InventoryEvent {
    StockReceived {
        product_id: ProductId,
        vendor_id: VendorId,
        quantity: Quantity,
        on_hand: u64,
        available: u64,
    },
    StockReserved {
        product_id: ProductId,
        vendor_id: VendorId,
        order_id: OrderId,
        quantity: Quantity,
        on_hand: u64,
        available: u64,
    },
    StockReleased {
        product_id: ProductId,
        vendor_id: VendorId,
        order_id: OrderId,
        quantity: Quantity,
        on_hand: u64,
        available: u64,
    },
    StockCommitted {
        product_id: ProductId,
        vendor_id: VendorId,
        order_id: OrderId,
        quantity: Quantity,
        on_hand: u64,
        available: u64,
    },
    /// Units sold to an order that was then cancelled, back on hand.
    StockReturned {
        product_id: ProductId,
        vendor_id: VendorId,
        order_id: OrderId,
        quantity: Quantity,
        on_hand: u64,
        available: u64,
        /// Set when the units came back with a customer's return (some of what the order
        /// bought), absent when the order was cancelled (all of it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        return_id: Option<ReturnId>,
    },
}

impl InventoryEvent {
    /// The version of every event shape this code writes; upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            InventoryEvent::StockReceived { .. } => "StockReceived",
            InventoryEvent::StockReserved { .. } => "StockReserved",
            InventoryEvent::StockReleased { .. } => "StockReleased",
            InventoryEvent::StockCommitted { .. } => "StockCommitted",
            InventoryEvent::StockReturned { .. } => "StockReturned",
        }
    }
}

impl DomainEvent for InventoryEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}
