use crate::{Actor, Category, Description, Money, ProductId, Sku, Title, VendorId};

/// The descriptive fields of a new product, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDetails {
    pub sku: Sku,
    pub title: Title,
    pub description: Description,
    pub category: Category,
    pub price: Money,
}

/// What an actor may ask of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    /// List a new product for `vendor_id`; it starts unpublished.
    CreateProduct {
        product_id: ProductId,
        vendor_id: VendorId,
        details: ProductDetails,
        actor: Actor,
    },
    /// Set a new price, in the product's currency.
    ChangePrice { price: Money, actor: Actor },
    /// Show the product in the storefront.
    Publish { actor: Actor },
    /// Hide the product from the storefront.
    Unpublish { actor: Actor },
}
