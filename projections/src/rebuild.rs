//! Rebuilding a read model (catalog and cart in Redis, orders in Postgres) from `es.events` while
//! the live one serves.
//!
//! Each generation of a Redis model is a key space (`{prefix}{model}:g{N}:…`), named by
//! `{model}:current`; each generation of a Postgres model is a table (`read.orders_g{N}`), the live
//! one behind the view `read.orders` and named in `read.generations`. The steps are the same:
//!
//! 1. **Start.** Generation N serves (`{model}:current`). The rebuild takes N+1 and records, in
//!    `{model}:rebuild`, the generation and the safe horizon of that moment
//!    (`pg_snapshot_xmin(pg_current_snapshot())`): every event committed before it has a smaller
//!    transaction id, every event committed after it a larger or equal one.
//! 2. **Scan.** The model's streams are read aggregate by aggregate, in primary-key order (large
//!    pages, each stream in sequence order, so no gaps), folded in memory with the projector's own
//!    `evolve`, and written to N+1 with one pipelined `MULTI` (Redis) or one multi-row upsert in a
//!    transaction (Postgres) per page that also records where the scan stands: a rebuild that is killed resumes after the last page written, and an aggregate
//!    cut by a page boundary continues from its stored document (events at or below its stored
//!    version are skipped, so nothing is applied twice).
//! 3. **Catch up.** Events committed since the start (transaction id at or above the recorded
//!    horizon) are read from the global stream and applied through the projector's guarded path:
//!    duplicates are dropped, a gap is filled from the aggregate's history first.
//! 4. **Swap.** `{model}:current` becomes N+1 in one command; the read API reads it per request,
//!    the live projectors re-read it every 100 ms. In Postgres the view is redefined in the same
//!    transaction as `read.generations`: readers and the live projector see the new table from
//!    their next statement. A second catch-up then applies what the live
//!    projectors wrote to N in between; they repair any gap this leaves from `es.events` at once.
//! 5. **Drop.** After a grace period, N's keys are unlinked (its table dropped).
use std::time::Duration;

use anyhow::Context;
use commerce_domain::cart::CartEvent;
use commerce_domain::inventory::InventoryEvent;
use commerce_domain::order::OrderEvent;
use commerce_domain::product::ProductEvent;
use commerce_domain::vendor::VendorEvent;
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::event_stream::{self, StreamCursor, StreamFilter};
use commerce_platform::personal_data::{self, KeyRing};
use redis::aio::ConnectionManager;
use sqlx::{PgPool, Row};

use crate::analytics::AnalyticsProjector;
use crate::cart::{self, CartDocument, CartKeys, CartProjector};
use crate::catalog::{self, CatalogKeys, CatalogProjector, ProductDocument};
use crate::consumer::{Outcome, Projector};
use crate::documents::{live_generation, WriteOutcome};
use crate::history::EventHistory;
use crate::ledger::LedgerProjector;
use crate::notifications::NotificationsProjector;
use crate::orders::{self, OrderDocument, OrdersProjector};
use crate::vendors::{self, VendorDocument};

/// The read models a rebuild knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Catalog,
    Cart,
    Orders,
    Analytics,
    Notifications,
    Ledger,
}

impl Model {
    pub const ALL: [Model; 6] = [
        Model::Catalog,
        Model::Cart,
        Model::Orders,
        Model::Analytics,
        Model::Notifications,
        Model::Ledger,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::Catalog => "catalog",
            Model::Cart => "cart",
            Model::Orders => "orders",
            Model::Analytics => "analytics",
            Model::Notifications => "notifications",
            Model::Ledger => "ledger",
        }
    }

    /// Whether the model lives in Postgres (schema `read`) rather than Redis.
    fn in_postgres(self) -> bool {
        matches!(
            self,
            Model::Orders | Model::Analytics | Model::Notifications | Model::Ledger
        )
    }

    /// A Postgres model's tables by their plain names: the views of the live generation, each
    /// generation's own being `read.<name>_g{N}`.
    fn tables(self) -> &'static [&'static str] {
        match self {
            Model::Orders => &["orders"],
            Model::Analytics => &crate::analytics::TABLES,
            Model::Notifications => &crate::notifications::TABLES,
            Model::Ledger => &crate::ledger::TABLES,
            Model::Catalog | Model::Cart => &[],
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The aggregate types whose events feed the model.
    pub fn aggregate_types(self) -> &'static [&'static str] {
        match self {
            // Vendors last: a suspended vendor's profile hides the products written before it.
            Model::Catalog => &["Product", "Inventory", "Vendor"],
            Model::Cart => &["Cart"],
            Model::Orders => &["Order"],
            Model::Analytics => commerce_platform::messaging::ANALYTICS_QUEUE.aggregate_types,
            Model::Notifications => {
                commerce_platform::messaging::NOTIFICATIONS_QUEUE.aggregate_types
            }
            Model::Ledger => commerce_platform::messaging::LEDGER_QUEUE.aggregate_types,
        }
    }
}

/// Where a model stands: its live generation and the rebuild under way, if any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelStatus {
    pub model: &'static str,
    pub generation: u64,
    pub rebuilding: Option<RebuildState>,
}

/// A rebuild's record in `{model}:rebuild`, enough to resume it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RebuildState {
    pub generation: u64,
    /// The safe horizon when the rebuild started (a transaction id).
    pub start_horizon: i64,
    /// `scan` or `catch-up`.
    pub phase: String,
    /// Index into the model's aggregate types of the stream being scanned.
    pub scan_type: usize,
    /// The last aggregate id and sequence written by the scan.
    pub scan_aggregate: String,
    pub scan_sequence: i64,
    /// Events written so far.
    pub events: u64,
}

/// Progress as the rebuild reports it.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: &'static str,
    pub events: u64,
    /// Events the model's streams held at the start (an estimate of the total).
    pub total: u64,
}

/// What a rebuild does and reports.
pub struct Rebuild {
    pub model: Model,
    pub redis: ConnectionManager,
    /// Reads `es.events` (the read-only role will do).
    pub events: PgPool,
    /// Writes the Postgres read models (schema `read`).
    pub read_models: PgPool,
    pub key_prefix: String,
    /// Events per page of the scan.
    pub page: i64,
    /// How long the old generation is kept after the swap (live projectors re-read the live
    /// generation every 100 ms).
    pub grace: Duration,
}

impl Rebuild {
    fn state_key(&self) -> String {
        format!("{}{}:rebuild", self.key_prefix, self.model.name())
    }

    fn current_key(&self) -> String {
        format!("{}{}:current", self.key_prefix, self.model.name())
    }

    fn generation_pattern(&self, generation: u64) -> String {
        match self.model {
            Model::Catalog => CatalogKeys::new(&self.key_prefix).generation_pattern(generation),
            Model::Cart => CartKeys::new(&self.key_prefix).generation_pattern(generation),
            Model::Orders | Model::Analytics | Model::Notifications | Model::Ledger => {
                String::new()
            }
        }
    }

    /// The table of a Postgres model's generation.
    fn table(&self, generation: u64) -> String {
        format!("read.{}_g{generation}", self.model.name())
    }

    /// The model's live generation and its rebuild under way.
    pub async fn status(&self) -> anyhow::Result<ModelStatus> {
        Ok(ModelStatus {
            model: self.model.name(),
            generation: self.live_generation().await?,
            rebuilding: self.load_state().await?,
        })
    }

    async fn live_generation(&self) -> anyhow::Result<u64> {
        if self.model.in_postgres() {
            let generation: Option<i64> =
                sqlx::query_scalar("SELECT generation FROM read.generations WHERE model = $1")
                    .bind(self.model.name())
                    .fetch_optional(&self.read_models)
                    .await
                    .context("reading read.generations")?;
            return Ok(generation.unwrap_or(1).max(1) as u64);
        }
        let mut redis = self.redis.clone();
        Ok(live_generation(&mut redis, &self.current_key()).await?)
    }

    async fn load_state(&self) -> anyhow::Result<Option<RebuildState>> {
        if self.model.in_postgres() {
            let row = sqlx::query(
                "SELECT generation, start_horizon, phase, scan_type, scan_aggregate,                    scan_sequence, events FROM read.rebuilds WHERE model = $1",
            )
            .bind(self.model.name())
            .fetch_optional(&self.read_models)
            .await
            .context("reading read.rebuilds")?;
            return row
                .map(|row| -> anyhow::Result<RebuildState> {
                    Ok(RebuildState {
                        generation: row.try_get::<i64, _>("generation")?.max(1) as u64,
                        start_horizon: row.try_get("start_horizon")?,
                        phase: row.try_get("phase")?,
                        scan_type: row.try_get::<i32, _>("scan_type")?.max(0) as usize,
                        scan_aggregate: row.try_get("scan_aggregate")?,
                        scan_sequence: row.try_get("scan_sequence")?,
                        events: row.try_get::<i64, _>("events")?.max(0) as u64,
                    })
                })
                .transpose();
        }
        let mut redis = self.redis.clone();
        let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.state_key())
            .query_async(&mut redis)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| -> anyhow::Result<i64> {
            fields
                .get(name)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{} has no {name}", self.state_key()))
        };
        Ok(Some(RebuildState {
            generation: number("generation")? as u64,
            start_horizon: number("start_horizon")?,
            phase: fields
                .get("phase")
                .cloned()
                .unwrap_or_else(|| "scan".into()),
            scan_type: number("scan_type")? as usize,
            scan_aggregate: fields.get("scan_aggregate").cloned().unwrap_or_default(),
            scan_sequence: number("scan_sequence")?,
            events: number("events")? as u64,
        }))
    }

    /// Runs (or resumes) the rebuild to its swap; answers the new live generation.
    pub async fn run(&self, mut report: impl FnMut(Progress)) -> anyhow::Result<u64> {
        let total = self.count_events().await?;
        let mut state = match self.load_state().await? {
            Some(state) => {
                tracing::info!(
                    model = self.model.name(),
                    generation = state.generation,
                    events = state.events,
                    "resuming the rebuild"
                );
                state
            }
            None => self.begin().await?,
        };
        report(Progress {
            phase: "scan",
            events: state.events,
            total,
        });
        if state.phase == "scan" {
            self.scan(&mut state, total, &mut report).await?;
        }
        let generation = state.generation;
        let start = StreamCursor {
            transaction_id: state.start_horizon - 1,
            global_position: i64::MAX,
        };
        let caught_up = self
            .catch_up(generation, start, &mut state, total, &mut report)
            .await?;

        // Swap: readers see either generation whole.
        let old = self.live_generation().await?;
        self.swap(generation).await?;
        tracing::info!(
            model = self.model.name(),
            from = old,
            to = generation,
            "generation swapped"
        );
        // What the live projectors wrote to the old generation until they saw the swap.
        tokio::time::sleep(self.grace).await;
        self.catch_up(generation, caught_up, &mut state, total, &mut report)
            .await?;
        self.drop_generation(old).await?;
        Ok(generation)
    }

    /// Makes `generation` the live one and forgets the rebuild's state, in one step.
    async fn swap(&self, generation: u64) -> anyhow::Result<()> {
        if self.model.in_postgres() {
            let mut transaction = self.read_models.begin().await?;
            // Readers queue behind the view's lock for as long as the swap waits for it.
            sqlx::query("SET LOCAL lock_timeout = '5s'")
                .execute(&mut *transaction)
                .await?;
            for table in self.model.tables() {
                sqlx::query(&format!(
                    "CREATE OR REPLACE VIEW read.{table} AS SELECT * FROM read.{table}_g{generation}"
                ))
                .execute(&mut *transaction)
                .await
                .with_context(|| format!("pointing read.{table} at the new generation"))?;
            }
            sqlx::query(
                "INSERT INTO read.generations (model, generation) VALUES ($1, $2)                  ON CONFLICT (model) DO UPDATE SET generation = EXCLUDED.generation,                    swapped_at = now()",
            )
            .bind(self.model.name())
            .bind(generation as i64)
            .execute(&mut *transaction)
            .await?;
            sqlx::query("DELETE FROM read.rebuilds WHERE model = $1")
                .bind(self.model.name())
                .execute(&mut *transaction)
                .await?;
            transaction
                .commit()
                .await
                .context("swapping the live generation")?;
            return Ok(());
        }
        let mut redis = self.redis.clone();
        let _: () = redis::pipe()
            .atomic()
            .set(self.current_key(), generation)
            .del(self.state_key())
            .query_async(&mut redis)
            .await
            .context("swapping the live generation")?;
        Ok(())
    }

    /// Events of the model's streams now: the progress bar's total.
    async fn count_events(&self) -> anyhow::Result<u64> {
        let types: Vec<String> = self
            .model
            .aggregate_types()
            .iter()
            .map(|t| t.to_string())
            .collect();
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM es.events WHERE aggregate_type = ANY($1)")
                .bind(&types)
                .fetch_one(&self.events)
                .await?;
        Ok(count.max(0) as u64)
    }

    /// Takes the next generation and the horizon, and records them.
    async fn begin(&self) -> anyhow::Result<RebuildState> {
        let live = self.live_generation().await?;
        let generation = live + 1;
        // Leftovers of an abandoned rebuild into the same generation go first.
        self.drop_generation(generation).await?;
        if self.model.in_postgres() {
            // Each new table has the live one's columns, defaults, keys and indexes.
            for table in self.model.tables() {
                sqlx::query(&format!(
                    "CREATE TABLE read.{table}_g{generation} \
                     (LIKE read.{table}_g{live} INCLUDING ALL)"
                ))
                .execute(&self.read_models)
                .await
                .with_context(|| format!("creating read.{table}_g{generation}"))?;
            }
        }
        let horizon: i64 =
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                .fetch_one(&self.events)
                .await?;
        let state = RebuildState {
            generation,
            start_horizon: horizon,
            phase: "scan".into(),
            scan_type: 0,
            scan_aggregate: String::new(),
            scan_sequence: 0,
            events: 0,
        };
        self.save_state(&state).await?;
        tracing::info!(
            model = self.model.name(),
            generation,
            horizon,
            "rebuild started"
        );
        Ok(state)
    }

    /// Step 2: every stream of the model, page by page, folded and written with the page's place.
    async fn scan(
        &self,
        state: &mut RebuildState,
        total: u64,
        report: &mut impl FnMut(Progress),
    ) -> anyhow::Result<()> {
        let types = self.model.aggregate_types();
        // The next page is read while the current one is folded and written.
        let fetch = |aggregate_type: &'static str, after: (String, i64)| {
            let pool = self.events.clone();
            let page = self.page;
            tokio::spawn(async move {
                sqlx::query(
                    "SELECT event_id, aggregate_id, sequence, event_type, event_version, \
                       payload::text AS payload, occurred_at \
                     FROM es.events WHERE aggregate_type = $1 \
                       AND (aggregate_id, sequence) > ($2, $3) \
                     ORDER BY aggregate_id, sequence LIMIT $4",
                )
                .bind(aggregate_type)
                .bind(after.0)
                .bind(after.1)
                .bind(page)
                .fetch_all(&pool)
                .await
                .with_context(|| format!("reading {aggregate_type} events"))
            })
        };
        let mut next = None;
        while state.scan_type < types.len() {
            let aggregate_type = types[state.scan_type];
            let fetching = next.take().unwrap_or_else(|| {
                fetch(
                    aggregate_type,
                    (state.scan_aggregate.clone(), state.scan_sequence),
                )
            });
            let rows = fetching.await.context("reading the event store")??;
            let Some(last) = rows.last() else {
                state.scan_type += 1;
                state.scan_aggregate.clear();
                state.scan_sequence = 0;
                if state.scan_type == types.len() {
                    state.phase = "catch-up".into();
                }
                self.save_state(state).await?;
                continue;
            };
            state.scan_aggregate = last.try_get("aggregate_id")?;
            state.scan_sequence = last.try_get("sequence")?;
            next = Some(fetch(
                aggregate_type,
                (state.scan_aggregate.clone(), state.scan_sequence),
            ));
            self.write_page(state, aggregate_type, &rows).await?;
            report(Progress {
                phase: "scan",
                events: state.events,
                total,
            });
        }
        Ok(())
    }

    async fn save_state(&self, state: &RebuildState) -> anyhow::Result<()> {
        if self.model.in_postgres() {
            save_state_in_postgres(&self.read_models, self.model, state).await?;
            return Ok(());
        }
        let mut redis = self.redis.clone();
        let _: () = redis::cmd("HSET")
            .arg(self.state_key())
            .arg(state_fields(state))
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Folds one page of rows (one aggregate type, in (aggregate, sequence) order) and writes each
    /// aggregate's result and the rebuild's new place (`state`, whose event count it advances) in
    /// one `MULTI`: a rebuild killed at any point resumes from a page it wrote whole.
    async fn write_page(
        &self,
        state: &mut RebuildState,
        aggregate_type: &str,
        rows: &[sqlx::postgres::PgRow],
    ) -> anyhow::Result<()> {
        match self.model {
            Model::Orders => return self.write_orders_page(state, rows).await,
            Model::Analytics | Model::Notifications | Model::Ledger => {
                return self
                    .write_page_through_projector(state, aggregate_type, rows)
                    .await
            }
            Model::Catalog | Model::Cart => {}
        }
        let generation = state.generation;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut applied = 0;
        let mut start = 0;
        while start < rows.len() {
            let id: String = rows[start].try_get("aggregate_id")?;
            let mut end = start;
            while end < rows.len() && rows[end].try_get::<String, _>("aggregate_id")? == id {
                end += 1;
            }
            applied += self
                .fold_aggregate(
                    &mut pipe,
                    generation,
                    aggregate_type,
                    &id,
                    &rows[start..end],
                )
                .await?;
            start = end;
        }
        state.events += applied;
        pipe.cmd("HSET")
            .arg(self.state_key())
            .arg(state_fields(state));
        let mut redis = self.redis.clone();
        let _: () = pipe
            .query_async(&mut redis)
            .await
            .context("writing a page of the rebuild")?;
        Ok(())
    }

    /// Folds one page of Order rows into documents and upserts them into the generation's table
    /// with one multi-row statement, in the same transaction as the rebuild's new place.
    async fn write_orders_page(
        &self,
        state: &mut RebuildState,
        rows: &[sqlx::postgres::PgRow],
    ) -> anyhow::Result<()> {
        let table = self.table(state.generation);
        // Personal data is opened with one fetch of the page's keys; what was opened under a
        // key deleted meanwhile is erased again once the page is written (see `orders`).
        let mut opened: std::collections::HashMap<usize, String> = Default::default();
        let mut sealed_orders: Vec<(uuid::Uuid, uuid::Uuid)> = Vec::new();
        let mut sealed = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let event_type: &str = row.try_get("event_type")?;
            let text: &str = row.try_get("payload")?;
            if personal_data::may_be_sealed(event_type, text) {
                let payload: serde_json::Value = serde_json::from_str(text)?;
                let order_id = uuid::Uuid::parse_str(row.try_get("aggregate_id")?)?;
                for key_id in personal_data::sealed_key_ids(event_type, &payload) {
                    sealed_orders.push((key_id, order_id));
                }
                sealed.push((index, event_type, payload));
            }
        }
        let key_ids: Vec<uuid::Uuid> = sealed_orders.iter().map(|(key, _)| *key).collect();
        let keys = KeyRing::fetch(&self.events, &key_ids).await?;
        for (index, event_type, mut payload) in sealed {
            personal_data::open(event_type, &mut payload, &keys)?;
            opened.insert(index, payload.to_string());
        }
        let mut transaction = self.read_models.begin().await?;
        let mut documents: Vec<OrderDocument> = Vec::new();
        let mut applied = 0;
        let mut start = 0;
        while start < rows.len() {
            let id: String = rows[start].try_get("aggregate_id")?;
            let mut end = start;
            while end < rows.len() && rows[end].try_get::<String, _>("aggregate_id")? == id {
                end += 1;
            }
            let first: i64 = rows[start].try_get("sequence")?;
            // An order cut by the previous page continues from what that page wrote.
            let (mut version, mut doc) = if first > 1 {
                let stored: Option<(i64, serde_json::Value)> = sqlx::query_as(&format!(
                    "SELECT version, doc FROM {table} WHERE order_id = $1::uuid"
                ))
                .bind(&id)
                .fetch_optional(&mut *transaction)
                .await?;
                match stored {
                    Some((version, doc)) if !doc.is_null() => {
                        (version, Some(serde_json::from_value::<OrderDocument>(doc)?))
                    }
                    Some((version, _)) => (version, None),
                    None => (0, None),
                }
            } else {
                (0, None)
            };
            for (index, row) in rows.iter().enumerate().take(end).skip(start) {
                let sequence: i64 = row.try_get("sequence")?;
                if sequence <= version {
                    continue;
                }
                let payload = match opened.get(&index) {
                    Some(text) => text.as_str(),
                    None => row.try_get("payload")?,
                };
                let event: OrderEvent = crate::upcast::parse(
                    "Order",
                    &id,
                    row.try_get("event_type")?,
                    row.try_get("event_version")?,
                    payload,
                )
                .with_context(|| format!("Order {id} event {sequence}"))?;
                doc = Some(orders::evolve_at(
                    doc,
                    event,
                    sequence,
                    row.try_get("occurred_at")?,
                )?);
                version = sequence;
                applied += 1;
            }
            documents.extend(doc);
            start = end;
        }
        let mut order_ids = Vec::with_capacity(documents.len());
        let mut customer_ids = Vec::with_capacity(documents.len());
        let mut vendor_ids = Vec::with_capacity(documents.len());
        let mut versions = Vec::with_capacity(documents.len());
        let mut docs = Vec::with_capacity(documents.len());
        for doc in &documents {
            order_ids.push(doc.order_id);
            customer_ids.push(doc.customer_id);
            vendor_ids.push(uuid_array_literal(&orders::vendor_ids(doc)));
            versions.push(doc.version);
            docs.push(serde_json::to_string(doc)?);
        }
        sqlx::query(&format!(
            "INSERT INTO {table} (order_id, customer_id, vendor_ids, version, doc) \
             SELECT o, c, v::uuid[], n, d::jsonb \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[]) \
               AS page(o, c, v, n, d) \
             ON CONFLICT (order_id) DO UPDATE SET version = EXCLUDED.version, \
               doc = EXCLUDED.doc, vendor_ids = EXCLUDED.vendor_ids, updated_at = now() \
             WHERE {table}.version < EXCLUDED.version"
        ))
        .bind(&order_ids)
        .bind(&customer_ids)
        .bind(&vendor_ids)
        .bind(&versions)
        .bind(&docs)
        .execute(&mut *transaction)
        .await
        .with_context(|| format!("writing a page into {table}"))?;
        state.events += applied;
        save_state_in_postgres(&mut *transaction, self.model, state).await?;
        transaction
            .commit()
            .await
            .context("writing a page of the rebuild")?;
        let deleted = personal_data::deleted_keys(&self.read_models, &key_ids).await?;
        if !deleted.is_empty() {
            let forgotten: Vec<uuid::Uuid> = sealed_orders
                .iter()
                .filter(|(key, _)| deleted.contains(key))
                .map(|(_, order)| *order)
                .collect();
            OrdersProjector::into_table(self.read_models.clone(), &table)
                .erase_orders(&forgotten)
                .await?;
        }
        Ok(())
    }

    /// Applies one page of rows through the model's projector into the generation, then records
    /// the rebuild's place (analytics, notifications). What they write is keyed by what it
    /// records and each aggregate's checkpoint is written with it, so a page applied again after
    /// a kill changes nothing.
    async fn write_page_through_projector(
        &self,
        state: &mut RebuildState,
        aggregate_type: &str,
        rows: &[sqlx::postgres::PgRow],
    ) -> anyhow::Result<()> {
        let projector = self.projector_into(state.generation);
        for row in rows {
            let payload: &str = row.try_get("payload")?;
            let envelope = EventEnvelope {
                event_id: row.try_get("event_id")?,
                global_position: 0,
                aggregate_type: aggregate_type.to_owned(),
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                event_type: row.try_get("event_type")?,
                event_version: row.try_get("event_version")?,
                occurred_at: row.try_get("occurred_at")?,
                correlation_id: None,
                causation_id: None,
                payload: serde_json::from_str(payload)?,
            };
            if let Outcome::Gap { have } = projector
                .apply(&envelope)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
            {
                anyhow::bail!(
                    "{aggregate_type} {} is missing events after {have}",
                    envelope.aggregate_id
                );
            }
        }
        state.events += rows.len() as u64;
        self.save_state(state).await
    }

    /// Adds to `pipe` the writes of one aggregate's `rows`, continuing from what generation
    /// `generation` holds when the rows do not start at sequence 1.
    async fn fold_aggregate(
        &self,
        pipe: &mut redis::Pipeline,
        generation: u64,
        aggregate_type: &str,
        id: &str,
        rows: &[sqlx::postgres::PgRow],
    ) -> anyhow::Result<u64> {
        let first: i64 = rows[0].try_get("sequence")?;
        // Each event in the shape this code reads (older versions upcast on the way).
        fn event<T: serde::de::DeserializeOwned>(
            row: &sqlx::postgres::PgRow,
            aggregate_type: &str,
            id: &str,
        ) -> anyhow::Result<(i64, T, chrono::DateTime<chrono::Utc>)> {
            let sequence: i64 = row.try_get("sequence")?;
            let payload: &str = row.try_get("payload")?;
            let event_type: &str = row.try_get("event_type")?;
            let event_version: &str = row.try_get("event_version")?;
            let parsed =
                crate::upcast::parse(aggregate_type, id, event_type, event_version, payload)
                    .with_context(|| format!("{aggregate_type} {id} event {sequence}"))?;
            Ok((sequence, parsed, row.try_get("occurred_at")?))
        }
        let mut redis = self.redis.clone();
        let mut applied = 0;
        match (self.model, aggregate_type) {
            (Model::Catalog, "Product") => {
                let keys = CatalogKeys::new(&self.key_prefix);
                let key = keys.product(generation, id);
                let (mut version, mut doc) = if first > 1 {
                    stored::<ProductDocument>(&mut redis, &key, catalog::PRODUCT_VERSION).await?
                } else {
                    (0, None)
                };
                for row in rows {
                    let (sequence, parsed, occurred_at) =
                        event::<ProductEvent>(row, aggregate_type, id)?;
                    if sequence <= version {
                        continue;
                    }
                    doc = Some(catalog::evolve(doc, parsed, sequence, occurred_at)?);
                    version = sequence;
                    applied += 1;
                }
                if let Some(doc) = doc {
                    pipe.cmd("HSET")
                        .arg(&key)
                        .arg("doc")
                        .arg(serde_json::to_string(&doc)?)
                        .arg(catalog::PRODUCT_VERSION)
                        .arg(version)
                        .arg(catalog::VENDOR_SUSPENDED)
                        .arg("0");
                    pipe.cmd("SADD")
                        .arg(keys.vendor_products(generation, &doc.vendor_id.to_string()))
                        .arg(id);
                    for (index, member) in keys.indexes(generation, &doc) {
                        let command = if member { "ZADD" } else { "ZREM" };
                        let mut index_command = redis::cmd(command);
                        index_command.arg(index);
                        if member {
                            index_command.arg(0);
                        }
                        index_command.arg(doc.product_id.to_string());
                        pipe.add_command(index_command);
                    }
                }
            }
            (Model::Catalog, "Inventory") => {
                let key = CatalogKeys::new(&self.key_prefix).product(generation, id);
                let mut version = if first > 1 {
                    let stored: Option<i64> = redis::cmd("HGET")
                        .arg(&key)
                        .arg(catalog::STOCK_VERSION)
                        .query_async(&mut redis)
                        .await?;
                    stored.unwrap_or(0)
                } else {
                    0
                };
                let mut available = None;
                for row in rows {
                    let (sequence, parsed, _) = event::<InventoryEvent>(row, aggregate_type, id)?;
                    if sequence <= version {
                        continue;
                    }
                    available = Some(catalog::available_after(&parsed));
                    version = sequence;
                    applied += 1;
                }
                if let Some(available) = available {
                    pipe.cmd("HSET")
                        .arg(&key)
                        .arg(catalog::AVAILABLE)
                        .arg(available)
                        .arg(catalog::STOCK_VERSION)
                        .arg(version);
                }
            }
            (Model::Catalog, "Vendor") => {
                let keys = CatalogKeys::new(&self.key_prefix);
                let key = keys.vendor_profile(generation, id);
                let (stored_version, mut doc) = if first > 1 {
                    stored::<VendorDocument>(&mut redis, &key, catalog::VENDOR_VERSION).await?
                } else {
                    (0, None)
                };
                let mut version = stored_version;
                for row in rows {
                    let (sequence, parsed, occurred_at) =
                        event::<VendorEvent>(row, aggregate_type, id)?;
                    if sequence <= version {
                        continue;
                    }
                    doc = Some(vendors::evolve(doc, parsed, sequence, occurred_at)?);
                    version = sequence;
                    applied += 1;
                }
                // Through the projector's scripts, at once: every product was written before
                // (vendors are scanned last), and a suspension hides them.
                if let Some(doc) = doc.filter(|_| version > stored_version) {
                    let written = catalog::VendorScripts::new()
                        .write(&mut redis, &keys, generation, &doc, stored_version)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    if let WriteOutcome::Stale { stored } = written {
                        anyhow::bail!("vendor {id} moved to version {stored} during its rebuild");
                    }
                }
            }
            (Model::Cart, "Cart") => {
                let key = CartKeys::new(&self.key_prefix).cart(generation, id);
                let (mut version, mut doc) = if first > 1 {
                    stored::<CartDocument>(&mut redis, &key, "version").await?
                } else {
                    (0, None)
                };
                for row in rows {
                    let (sequence, parsed, _) = event::<CartEvent>(row, aggregate_type, id)?;
                    if sequence <= version {
                        continue;
                    }
                    doc = Some(cart::evolve(doc, parsed, sequence)?);
                    version = sequence;
                    applied += 1;
                }
                if let Some(doc) = doc {
                    pipe.cmd("HSET")
                        .arg(&key)
                        .arg("doc")
                        .arg(serde_json::to_string(&doc)?)
                        .arg("version")
                        .arg(version);
                }
            }
            (model, other) => anyhow::bail!("{} does not project {other}", model.name()),
        }
        Ok(applied)
    }

    /// Steps 3 and 4b: the model's events after `from` in the global stream, applied to
    /// `generation` through the projector's guarded path, gaps filled from each aggregate's history.
    /// Answers where it stopped.
    async fn catch_up(
        &self,
        generation: u64,
        from: StreamCursor,
        state: &mut RebuildState,
        total: u64,
        report: &mut impl FnMut(Progress),
    ) -> anyhow::Result<StreamCursor> {
        let filter = StreamFilter {
            aggregate_types: self
                .model
                .aggregate_types()
                .iter()
                .map(|t| t.to_string())
                .collect(),
            ..StreamFilter::default()
        };
        let history = EventHistory::new(self.events.clone());
        // One projector for the whole catch-up: its write script is hashed once, not per event.
        let projector = self.projector_into(generation);
        let mut cursor = from;
        loop {
            let page = event_stream::read_page(&self.events, cursor, &filter, 1000).await?;
            for streamed in &page {
                let envelope = EventEnvelope::from_row(&streamed.row)?;
                self.apply_guarded(&projector, &history, &envelope).await?;
                cursor = streamed.cursor;
            }
            state.events += page.len() as u64;
            report(Progress {
                phase: "catch-up",
                events: state.events,
                total,
            });
            if page.len() < 1000 {
                return Ok(cursor);
            }
        }
    }

    /// The model's projector, writing `generation` through its guarded path.
    fn projector_into(&self, generation: u64) -> GuardedProjector {
        match self.model {
            Model::Catalog => GuardedProjector::Catalog(CatalogProjector::into_generation(
                self.redis.clone(),
                CatalogKeys::new(&self.key_prefix),
                generation,
            )),
            Model::Cart => GuardedProjector::Cart(CartProjector::into_generation(
                self.redis.clone(),
                CartKeys::new(&self.key_prefix),
                generation,
            )),
            Model::Orders => GuardedProjector::Orders(OrdersProjector::into_table(
                self.read_models.clone(),
                &self.table(generation),
            )),
            Model::Analytics => GuardedProjector::Analytics(AnalyticsProjector::into_generation(
                self.read_models.clone(),
                generation,
            )),
            Model::Notifications => GuardedProjector::Notifications(
                NotificationsProjector::into_generation(self.read_models.clone(), generation),
            ),
            Model::Ledger => GuardedProjector::Ledger(LedgerProjector::into_generation(
                self.read_models.clone(),
                generation,
            )),
        }
    }

    async fn apply_guarded(
        &self,
        projector: &GuardedProjector,
        history: &EventHistory,
        envelope: &EventEnvelope,
    ) -> anyhow::Result<()> {
        match projector.apply(envelope).await? {
            Outcome::Applied | Outcome::Duplicate => Ok(()),
            Outcome::Gap { have } => {
                let missing = history
                    .between(
                        &envelope.aggregate_type,
                        &envelope.aggregate_id,
                        have,
                        envelope.sequence,
                    )
                    .await?;
                for event in missing.iter().chain([envelope]) {
                    if let Outcome::Gap { have } = projector.apply(event).await? {
                        anyhow::bail!(
                            "{} {} is missing events after {have}",
                            event.aggregate_type,
                            event.aggregate_id
                        );
                    }
                }
                Ok(())
            }
        }
    }

    /// Unlinks every key of `generation`, a batch at a time.
    async fn drop_generation(&self, generation: u64) -> anyhow::Result<()> {
        if self.model.in_postgres() {
            for table in self.model.tables() {
                sqlx::query(&format!("DROP TABLE IF EXISTS read.{table}_g{generation}"))
                    .execute(&self.read_models)
                    .await
                    .with_context(|| format!("dropping read.{table}_g{generation}"))?;
            }
            return Ok(());
        }
        let mut redis = self.redis.clone();
        let pattern = self.generation_pattern(generation);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut redis)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// The live projector's guarded path, into the generation being rebuilt.
enum GuardedProjector {
    Catalog(CatalogProjector),
    Cart(CartProjector),
    Orders(OrdersProjector),
    Analytics(AnalyticsProjector),
    Notifications(NotificationsProjector),
    Ledger(LedgerProjector),
}

impl GuardedProjector {
    async fn apply(&self, event: &EventEnvelope) -> Result<Outcome, crate::error::ProjectionError> {
        match self {
            GuardedProjector::Catalog(projector) => projector.apply(event).await,
            GuardedProjector::Cart(projector) => projector.apply(event).await,
            GuardedProjector::Orders(projector) => projector.apply(event).await,
            GuardedProjector::Analytics(projector) => projector.apply(event).await,
            GuardedProjector::Notifications(projector) => projector.apply(event).await,
            GuardedProjector::Ledger(projector) => projector.apply(event).await,
        }
    }
}

/// The stored version and document of a hash, as a page boundary left them.
async fn stored<T: serde::de::DeserializeOwned>(
    redis: &mut ConnectionManager,
    key: &str,
    version_field: &str,
) -> anyhow::Result<(i64, Option<T>)> {
    let (version, doc): (Option<i64>, Option<String>) = redis::cmd("HMGET")
        .arg(key)
        .arg(version_field)
        .arg("doc")
        .query_async(redis)
        .await?;
    let doc = doc.map(|d| serde_json::from_str(&d)).transpose()?;
    Ok((version.unwrap_or(0), doc))
}

/// Postgres's literal of a `uuid[]`: `{a,b}`.
fn uuid_array_literal(ids: &[uuid::Uuid]) -> String {
    let mut literal = String::with_capacity(2 + ids.len() * 37);
    literal.push('{');
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            literal.push(',');
        }
        literal.push_str(&id.to_string());
    }
    literal.push('}');
    literal
}

/// Records where a Postgres model's rebuild stands (in the caller's transaction, when given one).
async fn save_state_in_postgres(
    executor: impl sqlx::PgExecutor<'_>,
    model: Model,
    state: &RebuildState,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO read.rebuilds (model, generation, start_horizon, phase, scan_type, \
           scan_aggregate, scan_sequence, events) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (model) DO UPDATE SET generation = EXCLUDED.generation, \
           start_horizon = EXCLUDED.start_horizon, phase = EXCLUDED.phase, \
           scan_type = EXCLUDED.scan_type, scan_aggregate = EXCLUDED.scan_aggregate, \
           scan_sequence = EXCLUDED.scan_sequence, events = EXCLUDED.events",
    )
    .bind(model.name())
    .bind(state.generation as i64)
    .bind(state.start_horizon)
    .bind(&state.phase)
    .bind(state.scan_type as i32)
    .bind(&state.scan_aggregate)
    .bind(state.scan_sequence)
    .bind(state.events as i64)
    .execute(executor)
    .await
    .context("recording the rebuild's place")?;
    Ok(())
}

fn state_fields(state: &RebuildState) -> Vec<(&'static str, String)> {
    vec![
        ("generation", state.generation.to_string()),
        ("start_horizon", state.start_horizon.to_string()),
        ("phase", state.phase.clone()),
        ("scan_type", state.scan_type.to_string()),
        ("scan_aggregate", state.scan_aggregate.clone()),
        ("scan_sequence", state.scan_sequence.to_string()),
        ("events", state.events.to_string()),
    ]
}
