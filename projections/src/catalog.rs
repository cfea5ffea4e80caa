//! The catalog read model in Redis: product documents and the indexes the storefront browses by.
//!
//! Layout, under the deployment's key prefix and the live generation `N` (`catalog:current`):
//! - `catalog:g{N}:product:{id}`: hash with `doc` (the product document, JSON) and `version` (the
//!   last applied sequence, the exactly-once guard).
//! - `catalog:g{N}:published`, `catalog:g{N}:category:{c}`, `catalog:g{N}:vendor:{v}`: sorted sets of
//!   published product ids (score 0, ordered by id, i.e. by creation time since ids are UUID v7) for
//!   cursor pagination with ZRANGEBYLEX.
//!
//! A rebuild writes generation N+1 while N serves, then swaps `catalog:current`.
use anyhow::Context;
use chrono::{DateTime, Utc};
use commerce_domain::product::ProductEvent;
use commerce_domain::Money;
use commerce_platform::envelope::EventEnvelope;
use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};

/// A product as the storefront reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductDocument {
    pub product_id: Uuid,
    pub vendor_id: Uuid,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub category: String,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub price: Money,
    pub published: bool,
    /// Units in stock; filled by inventory events (0 until stock is received).
    pub available: i64,
    /// The last applied event's sequence: the consistency token clients wait for.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Builds the catalog's Redis keys for one deployment prefix.
#[derive(Debug, Clone)]
pub struct CatalogKeys {
    prefix: String,
}

impl CatalogKeys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// Names the live generation.
    pub fn current(&self) -> String {
        format!("{}catalog:current", self.prefix)
    }

    pub fn product(&self, generation: u64, id: &str) -> String {
        format!("{}catalog:g{generation}:product:{id}", self.prefix)
    }

    pub fn published(&self, generation: u64) -> String {
        format!("{}catalog:g{generation}:published", self.prefix)
    }

    pub fn category(&self, generation: u64, category: &str) -> String {
        format!("{}catalog:g{generation}:category:{category}", self.prefix)
    }

    pub fn vendor(&self, generation: u64, vendor_id: &str) -> String {
        format!("{}catalog:g{generation}:vendor:{vendor_id}", self.prefix)
    }

    /// The live generation; 1 until a rebuild has swapped.
    pub async fn live_generation(&self, redis: &mut ConnectionManager) -> redis::RedisResult<u64> {
        let current: Option<u64> = redis::cmd("GET")
            .arg(self.current())
            .query_async(redis)
            .await?;
        Ok(current.unwrap_or(1))
    }
}

/// Writes a document only if the stored version is the one the new document was computed from,
/// and maintains the indexes in the same atomic step.
/// KEYS[1] document hash, KEYS[2..] index sets.
/// ARGV[1] expected stored version, ARGV[2] new version, ARGV[3] document JSON, ARGV[4] member,
/// ARGV[5..] 'add' or 'rem' for each index key. Returns -1 when written, else the stored version.
const CONDITIONAL_WRITE: &str = r#"
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then return stored end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3])
for i = 2, #KEYS do
  if ARGV[i + 3] == 'add' then
    redis.call('ZADD', KEYS[i], 0, ARGV[4])
  else
    redis.call('ZREM', KEYS[i], ARGV[4])
  end
end
return -1
"#;

/// Projects Product events into the catalog.
pub struct CatalogProjector {
    redis: ConnectionManager,
    keys: CatalogKeys,
    generation: u64,
    write: Script,
}

impl CatalogProjector {
    /// Starts projecting into the live generation (creating the generation marker if absent).
    pub async fn start(mut redis: ConnectionManager, keys: CatalogKeys) -> anyhow::Result<Self> {
        let _: bool = redis::cmd("SET")
            .arg(keys.current())
            .arg(1)
            .arg("NX")
            .query_async::<Option<String>>(&mut redis)
            .await
            .context("initialising the catalog generation")?
            .is_some();
        let generation = keys.live_generation(&mut redis).await?;
        Ok(Self::into_generation(redis, keys, generation))
    }

    /// Projects into an explicit generation (used by rebuilds).
    pub fn into_generation(redis: ConnectionManager, keys: CatalogKeys, generation: u64) -> Self {
        Self {
            redis,
            keys,
            generation,
            write: Script::new(CONDITIONAL_WRITE),
        }
    }

    async fn stored(&self, key: &str) -> anyhow::Result<(i64, Option<ProductDocument>)> {
        let mut redis = self.redis.clone();
        let (version, doc): (Option<i64>, Option<String>) = redis::cmd("HMGET")
            .arg(key)
            .arg("version")
            .arg("doc")
            .query_async(&mut redis)
            .await
            .context("reading the stored product document")?;
        let doc = doc
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .context("stored product document is not valid JSON")?;
        Ok((version.unwrap_or(0), doc))
    }
}

/// The document after `event`, or an error if the event cannot follow `before`.
fn evolve(
    before: Option<ProductDocument>,
    event: ProductEvent,
    envelope: &EventEnvelope,
) -> anyhow::Result<ProductDocument> {
    let mut doc = match (before, event) {
        (
            None,
            ProductEvent::ProductCreated {
                product_id,
                vendor_id,
                sku,
                title,
                description,
                category,
                price,
            },
        ) => ProductDocument {
            product_id: product_id.0,
            vendor_id: vendor_id.0,
            sku: sku.into(),
            title: title.into(),
            description: description.into(),
            category: category.into(),
            price,
            published: false,
            available: 0,
            version: 0,
            updated_at: envelope.occurred_at,
        },
        (Some(mut doc), ProductEvent::ProductPriceChanged { price, .. }) => {
            doc.price = price;
            doc
        }
        (Some(mut doc), ProductEvent::ProductPublished { .. }) => {
            doc.published = true;
            doc
        }
        (Some(mut doc), ProductEvent::ProductUnpublished { .. }) => {
            doc.published = false;
            doc
        }
        (before, event) => anyhow::bail!(
            "{} cannot follow {}",
            event.name(),
            if before.is_some() {
                "an existing product"
            } else {
                "nothing"
            }
        ),
    };
    doc.version = envelope.sequence;
    doc.updated_at = envelope.occurred_at;
    Ok(doc)
}

impl Projector for CatalogProjector {
    fn name(&self) -> &'static str {
        "catalog"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> anyhow::Result<Outcome> {
        if envelope.aggregate_type != "Product" {
            return Ok(Outcome::Duplicate);
        }
        let key = self.keys.product(self.generation, &envelope.aggregate_id);
        let (stored_version, before) = self.stored(&key).await?;
        if envelope.sequence <= stored_version {
            return Ok(Outcome::Duplicate);
        }
        if envelope.sequence > stored_version + 1 {
            return Ok(Outcome::Gap {
                have: stored_version,
            });
        }
        let event: ProductEvent = serde_json::from_value(envelope.payload.clone())
            .with_context(|| format!("payload of {} is not a ProductEvent", envelope.event_type))?;
        let doc = evolve(before, event, envelope)?;
        let op = if doc.published { "add" } else { "rem" };
        let id = doc.product_id.to_string();
        let mut redis = self.redis.clone();
        let result: i64 = self
            .write
            .key(&key)
            .key(self.keys.published(self.generation))
            .key(self.keys.category(self.generation, &doc.category))
            .key(
                self.keys
                    .vendor(self.generation, &doc.vendor_id.to_string()),
            )
            .arg(stored_version)
            .arg(doc.version)
            .arg(serde_json::to_string(&doc)?)
            .arg(&id)
            .arg(op)
            .arg(op)
            .arg(op)
            .invoke_async(&mut redis)
            .await
            .context("writing the product document")?;
        match result {
            -1 => Ok(Outcome::Applied),
            // Someone else applied it between our read and write (e.g. a redelivery racing us).
            stored if stored >= envelope.sequence => Ok(Outcome::Duplicate),
            stored => Ok(Outcome::Gap { have: stored }),
        }
    }
}
