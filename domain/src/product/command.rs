use crate::vendor::VendorStatus;
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
    /// List a new product for `vendor_id`; it starts unpublished. `vendor_status` is the
    /// vendor's standing as its own stream says (`None`: it never applied): only an approved
    /// vendor lists products.
    CreateProduct {
        product_id: ProductId,
        vendor_id: VendorId,
        details: ProductDetails,
        vendor_status: Option<VendorStatus>,
        actor: Actor,
    },
    /// Set a new price, in the product's currency.
    ChangePrice { price: Money, actor: Actor },
    /// Show the product in the storefront; only while its vendor is approved (`vendor_status`,
    /// as for `CreateProduct`).
    Publish {
        vendor_status: Option<VendorStatus>,
        actor: Actor,
    },
    /// Hide the product from the storefront.
    Unpublish { actor: Actor },
}
