use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{ProductCommand, ProductEvent};
use crate::vendor::VendorStatus;
use crate::{Actor, Category, DomainError, Money, ProductId, VendorId};

/// A product's state as far as its rules need it: who owns it, its price, whether it is live.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// `None` until `ProductCreated`; every other command needs it to exist.
    listing: Option<Listing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Listing {
    product_id: ProductId,
    vendor_id: VendorId,
    price: Money,
    published: bool,
    /// Which commission rule of its category applies to its sales.
    #[serde(default)]
    category: Option<Category>,
}

impl Product {
    pub const TYPE: &'static str = "Product";

    /// Whether the product was created (and so can be referred to).
    pub fn exists(&self) -> bool {
        self.listing.is_some()
    }

    /// The owning vendor, once created.
    pub fn vendor_id(&self) -> Option<VendorId> {
        self.listing.as_ref().map(|l| l.vendor_id)
    }

    /// The current price, once created.
    pub fn price(&self) -> Option<&Money> {
        self.listing.as_ref().map(|l| &l.price)
    }

    /// Its id, once created.
    pub fn product_id(&self) -> Option<ProductId> {
        self.listing.as_ref().map(|l| l.product_id)
    }

    /// Its category, once created.
    pub fn category(&self) -> Option<&Category> {
        self.listing.as_ref().and_then(|l| l.category.as_ref())
    }

    /// Whether the storefront shows it (and so carts may take it).
    pub fn is_published(&self) -> bool {
        self.listing.as_ref().is_some_and(|l| l.published)
    }

    /// The existing listing, provided `actor` may act on it.
    fn owned_listing(&self, actor: &Actor) -> Result<&Listing, DomainError> {
        let listing = self.listing.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })?;
        if !actor.may_act_for(listing.vendor_id) {
            return Err(DomainError::NotOwner {
                aggregate: Self::TYPE,
                id: listing.product_id.to_string(),
            });
        }
        Ok(listing)
    }
}

/// Only an approved vendor lists and publishes products: a pending one is not admitted yet, a
/// suspended one may only fulfil what it sold.
fn selling(vendor_id: VendorId, status: Option<VendorStatus>) -> Result<(), DomainError> {
    match status {
        Some(VendorStatus::Approved) => Ok(()),
        other => Err(DomainError::VendorMayNotSell {
            vendor_id: vendor_id.to_string(),
            status: other.map_or("not registered", VendorStatus::as_str),
        }),
    }
}

impl Aggregate for Product {
    const TYPE: &'static str = Self::TYPE;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ProductCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        let event = match command {
            ProductCommand::CreateProduct {
                product_id,
                vendor_id,
                details,
                vendor_status,
                actor,
            } => {
                if self.listing.is_some() {
                    return Err(DomainError::AlreadyExists {
                        aggregate: Self::TYPE,
                        id: product_id.to_string(),
                    });
                }
                if !actor.may_act_for(vendor_id) {
                    return Err(DomainError::NotOwner {
                        aggregate: "Vendor",
                        id: vendor_id.to_string(),
                    });
                }
                selling(vendor_id, vendor_status)?;
                ProductEvent::ProductCreated {
                    product_id,
                    vendor_id,
                    sku: details.sku,
                    title: details.title,
                    description: details.description,
                    category: details.category,
                    price: details.price,
                }
            }
            ProductCommand::ChangePrice { price, actor } => {
                let listing = self.owned_listing(&actor)?;
                if price.currency != listing.price.currency {
                    return Err(DomainError::CurrencyMismatch {
                        expected: listing.price.currency.to_string(),
                        given: price.currency.to_string(),
                    });
                }
                if price == listing.price {
                    return Ok(());
                }
                ProductEvent::ProductPriceChanged {
                    product_id: listing.product_id,
                    previous_price: listing.price.clone(),
                    price,
                }
            }
            ProductCommand::Publish {
                vendor_status,
                actor,
            } => {
                let listing = self.owned_listing(&actor)?;
                if listing.published {
                    return Ok(());
                }
                selling(listing.vendor_id, vendor_status)?;
                ProductEvent::ProductPublished {
                    product_id: listing.product_id,
                }
            }
            ProductCommand::Unpublish { actor } => {
                let listing = self.owned_listing(&actor)?;
                if !listing.published {
                    return Ok(());
                }
                ProductEvent::ProductUnpublished {
                    product_id: listing.product_id,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ProductEvent) {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                vendor_id,
                price,
                category,
                ..
            } => {
                self.listing = Some(Listing {
                    product_id,
                    vendor_id,
                    price,
                    published: false,
                    category: Some(category),
                });
            }
            ProductEvent::ProductPriceChanged { price, .. } => {
                if let Some(listing) = self.listing.as_mut() {
                    listing.price = price;
                }
            }
            ProductEvent::ProductPublished { .. } => {
                if let Some(listing) = self.listing.as_mut() {
                    listing.published = true;
                }
            }
            ProductEvent::ProductUnpublished { .. } => {
                if let Some(listing) = self.listing.as_mut() {
                    listing.published = false;
                }
            }
        }
    }
}
