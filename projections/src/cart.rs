//! The cart read model in Redis: one document per cart.
//!
//! Layout, under the deployment's key prefix and the live generation `N` (`cart:current`):
//! `cart:g{N}:cart:{id}`, a hash with `doc` (the cart document, JSON) and `version` (the last
//! applied Cart sequence, the exactly-once guard).
use anyhow::Context;
use commerce_domain::cart::CartEvent;
use commerce_domain::Money;
use commerce_platform::envelope::EventEnvelope;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::documents::{live_generation, Documents, Generation, GuardedWrite};
use crate::error::ProjectionError;
use crate::sequence::{after_write, sequence_check};

/// A cart as its customer reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartDocument {
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub items: Vec<CartItem>,
    /// Sum of the lines; absent while the cart is empty.
    #[schema(value_type = Option<commerce_platform::openapi::MoneySchema>)]
    pub total: Option<Money>,
    /// `open`, or `checked_out` once the order is placed.
    pub status: CartStatus,
    /// The order placed from this cart, once checked out.
    pub order_id: Option<Uuid>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartItem {
    pub product_id: Uuid,
    pub vendor_id: Uuid,
    pub quantity: u32,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub unit_price: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    Open,
    CheckedOut,
}

/// Builds the cart model's Redis keys for one deployment prefix.
#[derive(Debug, Clone)]
pub struct CartKeys {
    prefix: String,
}

impl CartKeys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn current(&self) -> String {
        format!("{}cart:current", self.prefix)
    }

    pub fn cart(&self, generation: u64, id: &str) -> String {
        format!("{}cart:g{generation}:cart:{id}", self.prefix)
    }

    /// Every key of one generation matches this pattern (for dropping it).
    pub fn generation_pattern(&self, generation: u64) -> String {
        format!("{}cart:g{generation}:*", self.prefix)
    }

    pub async fn live_generation(&self, redis: &mut ConnectionManager) -> redis::RedisResult<u64> {
        live_generation(redis, &self.current()).await
    }
}

/// Projects Cart events into cart documents.
pub struct CartProjector {
    documents: Documents,
    keys: CartKeys,
    generation: Generation,
}

impl CartProjector {
    /// Projects into the live generation, following it when a rebuild swaps it.
    pub async fn start(redis: ConnectionManager, keys: CartKeys) -> anyhow::Result<Self> {
        let generation = Generation::live(redis.clone(), keys.current()).await?;
        Ok(Self {
            documents: Documents::new(redis),
            keys,
            generation,
        })
    }

    /// Projects into an explicit generation (used by rebuilds).
    pub fn into_generation(redis: ConnectionManager, keys: CartKeys, generation: u64) -> Self {
        Self {
            documents: Documents::new(redis),
            keys,
            generation: Generation::Fixed(generation),
        }
    }
}

/// Sum of quantity × unit price over the lines, in their (single) currency.
fn total(items: &[CartItem]) -> anyhow::Result<Option<Money>> {
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let mut minor: i64 = 0;
    for item in items {
        let line = item
            .unit_price
            .amount_minor
            .checked_mul(i64::from(item.quantity))
            .context("cart line total overflows")?;
        minor = minor.checked_add(line).context("cart total overflows")?;
    }
    Ok(Some(Money {
        amount_minor: minor,
        currency: first.unit_price.currency.clone(),
    }))
}

/// The document after `event`, or an error if the event cannot follow `before`.
pub(crate) fn evolve(
    before: Option<CartDocument>,
    event: CartEvent,
    sequence: i64,
) -> anyhow::Result<CartDocument> {
    let mut doc = match (before, event) {
        (
            None,
            CartEvent::CartCreated {
                cart_id,
                customer_id,
            },
        ) => CartDocument {
            cart_id: cart_id.0,
            customer_id: customer_id.0,
            items: Vec::new(),
            total: None,
            status: CartStatus::Open,
            order_id: None,
            version: 0,
        },
        (
            Some(mut doc),
            CartEvent::ItemAddedToCart {
                product_id,
                vendor_id,
                quantity,
                unit_price,
                ..
            },
        ) => {
            let item = CartItem {
                product_id: product_id.0,
                vendor_id: vendor_id.0,
                quantity: quantity.get(),
                unit_price,
            };
            match doc.items.iter_mut().find(|i| i.product_id == product_id.0) {
                Some(existing) => *existing = item,
                None => doc.items.push(item),
            }
            doc
        }
        (
            Some(mut doc),
            CartEvent::CartItemQuantityChanged {
                product_id,
                quantity,
                ..
            },
        ) => {
            if let Some(item) = doc.items.iter_mut().find(|i| i.product_id == product_id.0) {
                item.quantity = quantity.get();
            }
            doc
        }
        (Some(mut doc), CartEvent::ItemRemovedFromCart { product_id, .. }) => {
            doc.items.retain(|i| i.product_id != product_id.0);
            doc
        }
        (
            Some(mut doc),
            CartEvent::CartCheckedOut {
                order_id, lines, ..
            },
        ) => {
            // The lines as priced at checkout.
            doc.items = lines
                .into_iter()
                .map(|l| CartItem {
                    product_id: l.product_id.0,
                    vendor_id: l.vendor_id.0,
                    quantity: l.quantity.get(),
                    unit_price: l.unit_price,
                })
                .collect();
            doc.status = CartStatus::CheckedOut;
            doc.order_id = Some(order_id.0);
            doc
        }
        (before, event) => anyhow::bail!(
            "{} cannot follow {}",
            event.name(),
            if before.is_some() {
                "an existing cart"
            } else {
                "nothing"
            }
        ),
    };
    doc.total = total(&doc.items)?;
    doc.version = sequence;
    Ok(doc)
}

impl Projector for CartProjector {
    fn name(&self) -> &'static str {
        "cart"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Cart" {
            return Ok(Outcome::Duplicate);
        }
        let key = self
            .keys
            .cart(self.generation.get().await?, &envelope.aggregate_id);
        let (stored_version, before) = self.documents.load::<CartDocument>(&key, "version").await?;
        if let Some(outcome) = sequence_check(envelope.sequence, stored_version) {
            return Ok(outcome);
        }
        let event: CartEvent = crate::upcast::read_event(envelope)
            .with_context(|| format!("payload of {} is not a CartEvent", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        let doc =
            evolve(before, event, envelope.sequence).map_err(ProjectionError::Unprocessable)?;
        let written = self
            .documents
            .write_if(GuardedWrite {
                key: &key,
                version_field: "version",
                expected: stored_version,
                new: doc.version,
                fields: &[("doc", serde_json::to_string(&doc)?)],
                member: &envelope.aggregate_id,
                indexes: &[],
            })
            .await?;
        Ok(after_write(written, envelope.sequence))
    }

    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Cart" {
            return Ok(Outcome::Duplicate);
        }
        let key = self
            .keys
            .cart(self.generation.get().await?, &envelope.aggregate_id);
        self.documents
            .advance(&key, "version", envelope.sequence)
            .await
    }
}
