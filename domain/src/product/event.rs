use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::{Category, Description, Money, ProductId, Sku, Title, VendorId};

/// What happened to a product. Each event carries what a projector needs without loading history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ProductEvent {
    ProductCreated {
        product_id: ProductId,
        vendor_id: VendorId,
        sku: Sku,
        title: Title,
        description: Description,
        category: Category,
        price: Money,
    },
    ProductPriceChanged {
        product_id: ProductId,
        previous_price: Money,
        price: Money,
    },
    ProductPublished {
        product_id: ProductId,
    },
    ProductUnpublished {
        product_id: ProductId,
    },
}

impl ProductEvent {
    /// The version of every event shape this code writes; upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            ProductEvent::ProductCreated { .. } => "ProductCreated",
            ProductEvent::ProductPriceChanged { .. } => "ProductPriceChanged",
            ProductEvent::ProductPublished { .. } => "ProductPublished",
            ProductEvent::ProductUnpublished { .. } => "ProductUnpublished",
        }
    }
}

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}
