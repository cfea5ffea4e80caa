use crate::{Actor, OrderId, ProductId, Quantity, ReturnId, VendorId};

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
    /// saga step is harmless; so does a late retry for an order whose units were already given
    /// back, which must not become a new hold.
    Reserve {
        order_id: OrderId,
        quantity: Quantity,
    },
    /// Give an order's held units back; nothing happens if the order holds none.
    Release { order_id: OrderId },
    /// Turn an order's held units into a sale; nothing happens if the order holds none.
    Commit { order_id: OrderId },
    /// Take back the units an order bought (it was cancelled after its sale was committed);
    /// nothing happens if the order bought none here or they were already taken back.
    ReturnSold { order_id: OrderId },
    /// Take back `quantity` units of what an order bought, returned by the customer under
    /// `return_id` (once per return; never more than the order bought here).
    Restock {
        order_id: OrderId,
        return_id: ReturnId,
        quantity: Quantity,
    },
}
