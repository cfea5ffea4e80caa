use crate::{Actor, OrderId, ProductId, Quantity, VendorId};

/// What may be asked of a product's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryCommand {
    /// Add received units to stock. The first receipt names the product's vendor, who owns the
    /// stock from then on; later receipts must name the same vendor.
    ReceiveStock {
        product_id: ProductId,
        vendor_id: VendorId,
        quantity: Quantity,
        actor: Actor,
    },
    /// Hold units for an order. Repeating it with the same quantity changes nothing, so a retried
    /// saga step is harmless.
    Reserve {
        order_id: OrderId,
        quantity: Quantity,
    },
    /// Give an order's held units back; nothing happens if the order holds none.
    Release { order_id: OrderId },
    /// Turn an order's held units into a sale; nothing happens if the order holds none.
    Commit { order_id: OrderId },
}
