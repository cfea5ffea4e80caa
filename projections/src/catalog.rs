//! The catalog read model in Redis: product documents and the indexes the storefront browses by.
//!
//! Layout, under the deployment's key prefix and the live generation `N` (`catalog:current`):
//! - `catalog:g{N}:product:{id}`: hash with `doc` (the product document, JSON), `version` (the
//!   last applied Product sequence), and `available` with `stock_version` (units in stock and the
//!   last applied Inventory sequence). Product and stock events are separate streams that may
//!   arrive in any order relative to each other, so each has its own guard; readers merge
//!   `available` into the document.
//! - `catalog:g{N}:published`, `catalog:g{N}:category:{c}`, `catalog:g{N}:vendor:{v}`: sorted sets of
//!   published product ids (score 0, ordered by id, i.e. by creation time since ids are UUID v7) for
//!   cursor pagination with ZRANGEBYLEX.
//!
//! - Vendors' profiles, lists by status and products, see [`crate::vendors`]: a product is in
//!   the three indexes only while it is published and its vendor is not suspended.
//!
//! A rebuild writes generation N+1 while N serves, then swaps `catalog:current`.
use anyhow::Context;
use chrono::{DateTime, Utc};
use commerce_domain::inventory::InventoryEvent;
use commerce_domain::product::ProductEvent;
use commerce_domain::vendor::{VendorEvent, VendorStatus};
use commerce_domain::Money;
use commerce_platform::envelope::EventEnvelope;
use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::documents::{live_generation, Documents, Generation, GuardedWrite, WriteOutcome};
use crate::error::ProjectionError;
use crate::sequence::{after_write, sequence_check};
use crate::vendors::{
    self, VendorDocument, PRODUCT_WRITE, VENDOR_PUBLISH, VENDOR_STATUS_WRITE, VENDOR_WALK,
};

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
    /// The last applied product event's sequence: what `min_version` waits for (the answer to
    /// a product command).
    pub version: i64,
    /// The last applied stock event's sequence (0 before any): what `min_stock_version` waits
    /// for (the answer to a stock receipt).
    #[serde(default)]
    pub stock_version: i64,
    /// Whether its vendor is suspended: the product is then out of every list, and readable by
    /// its vendor and admins only, until the vendor is reinstated.
    #[serde(default)]
    pub vendor_suspended: bool,
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

    /// A vendor's profile hash.
    pub fn vendor_profile(&self, generation: u64, vendor_id: &str) -> String {
        format!(
            "{}catalog:g{generation}:vendor-profile:{vendor_id}",
            self.prefix
        )
    }

    /// Every product id of a vendor, published or not.
    pub fn vendor_products(&self, generation: u64, vendor_id: &str) -> String {
        format!(
            "{}catalog:g{generation}:vendor-products:{vendor_id}",
            self.prefix
        )
    }

    /// Vendor ids, all of them (`None`) or those in one status.
    pub fn vendors(&self, generation: u64, status: Option<VendorStatus>) -> String {
        match status {
            None => format!("{}catalog:g{generation}:vendors", self.prefix),
            Some(status) => format!(
                "{}catalog:g{generation}:vendors:{}",
                self.prefix,
                status.as_str()
            ),
        }
    }

    /// The indexes `doc` belongs in, each with whether it is in (published) or out.
    pub fn indexes(&self, generation: u64, doc: &ProductDocument) -> [(String, bool); 3] {
        [
            self.published(generation),
            self.category(generation, &doc.category),
            self.vendor(generation, &doc.vendor_id.to_string()),
        ]
        .map(|index| (index, doc.published))
    }

    /// Every key of one generation matches this pattern (for dropping it).
    pub fn generation_pattern(&self, generation: u64) -> String {
        format!("{}catalog:g{generation}:*", self.prefix)
    }

    /// The live generation; 1 until a rebuild has swapped.
    pub async fn live_generation(&self, redis: &mut ConnectionManager) -> redis::RedisResult<u64> {
        live_generation(redis, &self.current()).await
    }
}

/// Projects Product, Inventory and Vendor events into the catalog.
pub struct CatalogProjector {
    documents: Documents,
    keys: CatalogKeys,
    generation: Generation,
    product_write: Script,
    vendor_scripts: VendorScripts,
}

impl CatalogProjector {
    /// Projects into the live generation (creating the generation marker if absent), following
    /// it when a rebuild swaps it.
    pub async fn start(redis: ConnectionManager, keys: CatalogKeys) -> anyhow::Result<Self> {
        let generation = Generation::live(redis.clone(), keys.current()).await?;
        Ok(Self {
            documents: Documents::new(redis),
            keys,
            generation,
            product_write: Script::new(PRODUCT_WRITE),
            vendor_scripts: VendorScripts::new(),
        })
    }

    /// Projects into an explicit generation (used by rebuilds).
    pub fn into_generation(redis: ConnectionManager, keys: CatalogKeys, generation: u64) -> Self {
        Self {
            documents: Documents::new(redis),
            keys,
            generation: Generation::Fixed(generation),
            product_write: Script::new(PRODUCT_WRITE),
            vendor_scripts: VendorScripts::new(),
        }
    }

    async fn apply_product(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let generation = self.generation.get().await?;
        let key = self.keys.product(generation, &envelope.aggregate_id);
        let (stored_version, before) = self
            .documents
            .load::<ProductDocument>(&key, PRODUCT_VERSION)
            .await?;
        if let Some(outcome) = sequence_check(envelope.sequence, stored_version) {
            return Ok(outcome);
        }
        let event: ProductEvent = crate::upcast::read_event(envelope)
            .with_context(|| format!("payload of {} is not a ProductEvent", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        let doc = evolve(before, event, envelope.sequence, envelope.occurred_at)
            .map_err(ProjectionError::Unprocessable)?;
        let vendor_id = doc.vendor_id.to_string();
        let mut invocation = self.product_write.key(&key);
        invocation
            .key(self.keys.vendor_profile(generation, &vendor_id))
            .key(self.keys.vendor_products(generation, &vendor_id));
        let indexes = self.keys.indexes(generation, &doc);
        for (index, _) in &indexes {
            invocation.key(index);
        }
        invocation
            .arg(stored_version)
            .arg(doc.version)
            .arg(serde_json::to_string(&doc)?)
            .arg(doc.product_id.to_string());
        for (_, listed) in &indexes {
            invocation.arg(if *listed { "add" } else { "rem" });
        }
        let written = written(invocation, &self.documents).await?;
        Ok(after_write(written, envelope.sequence))
    }

    async fn apply_vendor(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let generation = self.generation.get().await?;
        let vendor_id = &envelope.aggregate_id;
        let key = self.keys.vendor_profile(generation, vendor_id);
        let mut redis = self.documents.connection();
        let (stored_version, published, pending): (Option<i64>, Option<String>, Option<String>) =
            redis::cmd("HMGET")
                .arg(&key)
                .arg(VENDOR_VERSION)
                .arg("doc")
                .arg("pending_doc")
                .query_async(&mut redis)
                .await?;
        let stored_version = stored_version.unwrap_or(0);
        // A profile left pending (the projector stopped between its steps) is finished first,
        // whichever event comes: its redelivery, or the next one.
        if pending.is_some() {
            self.vendor_scripts
                .finish(
                    &mut redis,
                    &self.keys,
                    generation,
                    vendor_id,
                    stored_version,
                )
                .await?;
        }
        if let Some(outcome) = sequence_check(envelope.sequence, stored_version) {
            return Ok(outcome);
        }
        let before = pending
            .or(published)
            .map(|doc| serde_json::from_str::<VendorDocument>(&doc))
            .transpose()
            .context("a stored vendor profile is not valid JSON")
            .map_err(ProjectionError::Failed)?;
        let event: VendorEvent = crate::upcast::read_event(envelope)
            .with_context(|| format!("payload of {} is not a VendorEvent", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        let doc = vendors::evolve(before, event, envelope.sequence, envelope.occurred_at)
            .map_err(ProjectionError::Unprocessable)?;
        let written = self
            .vendor_scripts
            .write(&mut redis, &self.keys, generation, &doc, stored_version)
            .await?;
        if written == WriteOutcome::Written {
            tracing::info!(%vendor_id, status = doc.status.as_str(), version = doc.version, "vendor projected");
        }
        Ok(after_write(written, envelope.sequence))
    }

    async fn apply_stock(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let key = self
            .keys
            .product(self.generation.get().await?, &envelope.aggregate_id);
        let (stored_version, _) = self
            .documents
            .load::<serde_json::Value>(&key, STOCK_VERSION)
            .await?;
        if let Some(outcome) = sequence_check(envelope.sequence, stored_version) {
            return Ok(outcome);
        }
        let event: InventoryEvent = crate::upcast::read_event(envelope)
            .with_context(|| {
                format!(
                    "payload of {} is not an InventoryEvent",
                    envelope.event_type
                )
            })
            .map_err(ProjectionError::Unprocessable)?;
        let available = available_after(&event);
        let written = self
            .documents
            .write_if(GuardedWrite {
                key: &key,
                version_field: STOCK_VERSION,
                expected: stored_version,
                new: envelope.sequence,
                fields: &[(AVAILABLE, available.to_string())],
                member: &envelope.aggregate_id,
                indexes: &[],
            })
            .await?;
        Ok(after_write(written, envelope.sequence))
    }
}

/// The three steps of a vendor event: the status, the walk of its products, the profile's new
/// document (see [`crate::vendors`]). The projector's, and a rebuild's.
pub(crate) struct VendorScripts {
    status: Script,
    walk: Script,
    publish: Script,
}

impl VendorScripts {
    pub(crate) fn new() -> Self {
        Self {
            status: Script::new(VENDOR_STATUS_WRITE),
            walk: Script::new(VENDOR_WALK),
            publish: Script::new(VENDOR_PUBLISH),
        }
    }

    /// Writes profile `doc` over `stored_version`, moves the vendor's products if its
    /// suspension changed, then publishes `doc`; `Stale` if the stored version moved on.
    pub(crate) async fn write(
        &self,
        redis: &mut ConnectionManager,
        keys: &CatalogKeys,
        generation: u64,
        doc: &VendorDocument,
        stored_version: i64,
    ) -> Result<WriteOutcome, ProjectionError> {
        let vendor_id = doc.vendor_id.to_string();
        let mut invocation = self.status.key(keys.vendor_profile(generation, &vendor_id));
        invocation
            .key(keys.vendors(generation, None))
            .key(keys.vendors(generation, Some(doc.status)));
        for other in vendors::STATUSES.into_iter().filter(|s| *s != doc.status) {
            invocation.key(keys.vendors(generation, Some(other)));
        }
        invocation
            .arg(stored_version)
            .arg(doc.version)
            .arg(serde_json::to_string(doc)?)
            .arg(doc.status.as_str())
            .arg(&vendor_id);
        let result: i64 = invocation.invoke_async(redis).await?;
        match result {
            -2 => {
                self.walk_products(redis, keys, generation, &vendor_id)
                    .await?
            }
            -1 => {}
            stored => return Ok(WriteOutcome::Stale { stored }),
        }
        self.publish(redis, keys, generation, &vendor_id, doc.version)
            .await?;
        Ok(WriteOutcome::Written)
    }

    /// Completes a profile left pending at `version`: walks its products, publishes it.
    pub(crate) async fn finish(
        &self,
        redis: &mut ConnectionManager,
        keys: &CatalogKeys,
        generation: u64,
        vendor_id: &str,
        version: i64,
    ) -> Result<(), ProjectionError> {
        tracing::info!(%vendor_id, version, "finishing a vendor's profile left pending");
        self.walk_products(redis, keys, generation, vendor_id)
            .await?;
        self.publish(redis, keys, generation, vendor_id, version)
            .await
    }

    /// Every product of the vendor to where its status puts it, chunk by chunk.
    async fn walk_products(
        &self,
        redis: &mut ConnectionManager,
        keys: &CatalogKeys,
        generation: u64,
        vendor_id: &str,
    ) -> Result<(), ProjectionError> {
        let mut cursor = "0".to_owned();
        loop {
            let mut invocation = self.walk.key(keys.vendor_profile(generation, vendor_id));
            invocation
                .key(keys.vendor_products(generation, vendor_id))
                .key(keys.published(generation))
                .key(keys.vendor(generation, vendor_id))
                .arg(&cursor)
                .arg(vendors::WALK_CHUNK)
                .arg(keys.product(generation, ""))
                .arg(keys.category(generation, ""));
            cursor = invocation.invoke_async(redis).await?;
            if cursor == "0" {
                return Ok(());
            }
        }
    }

    async fn publish(
        &self,
        redis: &mut ConnectionManager,
        keys: &CatalogKeys,
        generation: u64,
        vendor_id: &str,
        version: i64,
    ) -> Result<(), ProjectionError> {
        let _: i64 = self
            .publish
            .key(keys.vendor_profile(generation, vendor_id))
            .arg(version)
            .invoke_async(redis)
            .await?;
        Ok(())
    }
}

/// Runs a guarded write script (answering -1 when written, else the stored version).
async fn written(
    invocation: redis::ScriptInvocation<'_>,
    documents: &Documents,
) -> Result<WriteOutcome, ProjectionError> {
    let mut redis = documents.connection();
    let result: i64 = invocation.invoke_async(&mut redis).await?;
    Ok(match result {
        -1 => WriteOutcome::Written,
        stored => WriteOutcome::Stale { stored },
    })
}

/// Units available after a stock event: every one of them carries the new count.
pub(crate) fn available_after(event: &InventoryEvent) -> u64 {
    match event {
        InventoryEvent::StockReceived { available, .. }
        | InventoryEvent::StockReserved { available, .. }
        | InventoryEvent::StockReleased { available, .. }
        | InventoryEvent::StockCommitted { available, .. }
        | InventoryEvent::StockReturned { available, .. } => *available,
    }
}

/// Hash field holding the last applied Product sequence.
pub(crate) const PRODUCT_VERSION: &str = "version";
/// The hash field of the last applied Inventory sequence.
pub const STOCK_VERSION: &str = "stock_version";
/// Hash field holding the units available.
pub const AVAILABLE: &str = "available";
/// Hash field of a product saying its vendor is suspended (`1`) or not.
pub const VENDOR_SUSPENDED: &str = "vendor_suspended";
/// Hash field of a vendor's profile holding the last applied Vendor sequence.
pub(crate) const VENDOR_VERSION: &str = "version";

/// The document after `event` (the product stream's `sequence`, at `occurred_at`), or an error
/// if the event cannot follow `before`.
pub(crate) fn evolve(
    before: Option<ProductDocument>,
    event: ProductEvent,
    sequence: i64,
    occurred_at: DateTime<Utc>,
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
            stock_version: 0,
            vendor_suspended: false,
            updated_at: occurred_at,
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
    doc.version = sequence;
    doc.updated_at = occurred_at;
    Ok(doc)
}

impl Projector for CatalogProjector {
    fn name(&self) -> &'static str {
        "catalog"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        match envelope.aggregate_type.as_str() {
            "Product" => self.apply_product(envelope).await,
            "Inventory" => self.apply_stock(envelope).await,
            "Vendor" => self.apply_vendor(envelope).await,
            // Not ours (a filter changed under us): nothing to do, let it go.
            _ => Ok(Outcome::Duplicate),
        }
    }

    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        let generation = self.generation.get().await?;
        let (key, version_field) = match envelope.aggregate_type.as_str() {
            "Product" => (
                self.keys.product(generation, &envelope.aggregate_id),
                PRODUCT_VERSION,
            ),
            "Inventory" => (
                self.keys.product(generation, &envelope.aggregate_id),
                STOCK_VERSION,
            ),
            "Vendor" => (
                self.keys.vendor_profile(generation, &envelope.aggregate_id),
                VENDOR_VERSION,
            ),
            _ => return Ok(Outcome::Duplicate),
        };
        self.documents
            .advance(&key, version_field, envelope.sequence)
            .await
    }
}

#[cfg(test)]
mod tests {
    use commerce_domain::product::ProductEvent;
    use commerce_domain::vendor::VendorEvent;
    use commerce_domain::{
        Category, ContactEmail, Currency, Description, Money, ProductId, Reason, Sku, Title,
        UserId, VendorId, VendorName,
    };
    use commerce_platform::envelope::EventEnvelope;

    use super::*;

    fn envelope(
        kind: &str,
        id: String,
        sequence: i64,
        name: &str,
        payload: serde_json::Value,
    ) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::now_v7(),
            global_position: sequence,
            aggregate_type: kind.to_owned(),
            aggregate_id: id,
            sequence,
            event_type: name.to_owned(),
            event_version: "1.0".to_owned(),
            occurred_at: Utc::now(),
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }

    fn vendor_event(vendor_id: VendorId, sequence: i64, event: VendorEvent) -> EventEnvelope {
        let payload = serde_json::to_value(&event).unwrap();
        envelope(
            "Vendor",
            vendor_id.to_string(),
            sequence,
            event.name(),
            payload,
        )
    }

    fn product_event(product_id: ProductId, sequence: i64, event: ProductEvent) -> EventEnvelope {
        let payload = serde_json::to_value(&event).unwrap();
        envelope(
            "Product",
            product_id.to_string(),
            sequence,
            event.name(),
            payload,
        )
    }

    /// Against the local Redis (`COMMERCE_TEST_REDIS_URL`, default 127.0.0.1:6379), under a key
    /// prefix of its own.
    #[tokio::test]
    async fn a_suspension_stopped_after_its_status_step_is_finished_on_redelivery() {
        let url = std::env::var("COMMERCE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let mut redis = redis::Client::open(url)
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap();
        let prefix = format!("test:{}:", Uuid::new_v4().simple());
        let keys = CatalogKeys::new(&prefix);
        let projector = CatalogProjector::into_generation(redis.clone(), keys.clone(), 1);
        let vendor_id = VendorId(Uuid::now_v7());
        let reason = |text: &str| Reason::parse(text).unwrap();
        for (sequence, event) in [
            VendorEvent::VendorApplied {
                vendor_id,
                name: VendorName::parse("Ada's Atelier").unwrap(),
                contact_email: ContactEmail::parse("ada@example.com").unwrap(),
                applicant_id: UserId(Uuid::now_v7()),
            },
            VendorEvent::VendorApproved {
                vendor_id,
                reason: reason("ok"),
            },
        ]
        .into_iter()
        .zip(1..)
        .map(|(event, sequence)| (sequence, event))
        {
            let applied = projector
                .apply(&vendor_event(vendor_id, sequence, event))
                .await;
            assert_eq!(applied.unwrap(), Outcome::Applied);
        }
        for n in 0..3 {
            let product_id = ProductId(Uuid::now_v7());
            let created = ProductEvent::ProductCreated {
                product_id,
                vendor_id,
                sku: Sku::parse(&format!("SKU-{n}")).unwrap(),
                title: Title::parse("A thing").unwrap(),
                description: Description::parse("").unwrap(),
                category: Category::parse("things").unwrap(),
                price: Money::new(100, Currency::parse("EUR").unwrap()).unwrap(),
            };
            let published = ProductEvent::ProductPublished { product_id };
            for (sequence, event) in [(1, created), (2, published)] {
                let applied = projector
                    .apply(&product_event(product_id, sequence, event))
                    .await;
                assert_eq!(applied.unwrap(), Outcome::Applied);
            }
        }
        let listed = |mut redis: ConnectionManager| {
            let key = keys.published(1);
            async move {
                let n: u64 = redis::cmd("ZCARD")
                    .arg(key)
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                n
            }
        };
        assert_eq!(listed(redis.clone()).await, 3);

        // The projector stops after the status step of the suspension.
        let suspension = vendor_event(
            vendor_id,
            3,
            VendorEvent::VendorSuspended {
                vendor_id,
                reason: reason("reported"),
            },
        );
        let profile = keys.vendor_profile(1, &vendor_id.to_string());
        let before: String = redis::cmd("HGET")
            .arg(&profile)
            .arg("doc")
            .query_async(&mut redis)
            .await
            .unwrap();
        let mut doc: VendorDocument = serde_json::from_str(&before).unwrap();
        doc.status = VendorStatus::Suspended;
        doc.version = 3;
        let scripts = VendorScripts::new();
        let mut status = scripts.status.key(&profile);
        status
            .key(keys.vendors(1, None))
            .key(keys.vendors(1, Some(VendorStatus::Suspended)))
            .key(keys.vendors(1, Some(VendorStatus::Pending)))
            .key(keys.vendors(1, Some(VendorStatus::Approved)))
            .arg(2)
            .arg(3)
            .arg(serde_json::to_string(&doc).unwrap())
            .arg("suspended")
            .arg(vendor_id.to_string());
        let stepped: i64 = status.invoke_async(&mut redis).await.unwrap();
        assert_eq!(stepped, -2, "the products must follow");
        assert_eq!(listed(redis.clone()).await, 3, "not walked yet");

        // Its redelivery is a duplicate, and finishes what was left.
        assert_eq!(
            projector.apply(&suspension).await.unwrap(),
            Outcome::Duplicate
        );
        assert_eq!(listed(redis.clone()).await, 0);
        let after: String = redis::cmd("HGET")
            .arg(&profile)
            .arg("doc")
            .query_async(&mut redis)
            .await
            .unwrap();
        let after: VendorDocument = serde_json::from_str(&after).unwrap();
        assert_eq!((after.version, after.status), (3, VendorStatus::Suspended));
        let pending: Option<String> = redis::cmd("HGET")
            .arg(&profile)
            .arg("pending_doc")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(pending, None);

        let keys_left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut redis)
            .await
            .unwrap();
        if !keys_left.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys_left)
                .query_async(&mut redis)
                .await
                .unwrap();
        }
    }
}
