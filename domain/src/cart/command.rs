use std::collections::BTreeMap;

use crate::{
    CartId, CustomerId, Money, OrderId, PaymentToken, ProductId, Quantity, ShippingAddress,
    VendorId,
};

/// What a customer may ask of its cart. Every command names the calling customer (`customer_id`),
/// which must be the cart's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartCommand {
    /// Open an empty cart owned by `customer_id`.
    CreateCart {
        cart_id: CartId,
        customer_id: CustomerId,
    },
    /// Put units of a product in the cart, or more units on its existing line. The command API
    /// looks the product up and passes what it found: its vendor, current price and whether it is
    /// published.
    AddItem {
        customer_id: CustomerId,
        product_id: ProductId,
        vendor_id: VendorId,
        unit_price: Money,
        published: bool,
        quantity: Quantity,
    },
    /// Set a line's quantity; zero removes the line.
    ChangeQuantity {
        customer_id: CustomerId,
        product_id: ProductId,
        quantity: u32,
    },
    /// Take a product's line out of the cart; nothing happens if it is not there.
    RemoveItem {
        customer_id: CustomerId,
        product_id: ProductId,
    },
    /// Close the cart and hand its priced lines to the order `order_id`.
    Checkout {
        customer_id: CustomerId,
        order_id: OrderId,
        shipping_address: ShippingAddress,
        payment_token: PaymentToken,
        /// What the command API found for each line's product at checkout: its current price,
        /// or `None` when it is no longer published (the checkout is then refused). A product
        /// not looked up keeps the price its line has.
        current_prices: BTreeMap<ProductId, Option<Money>>,
    },
}
