//! The analytics projector (Postgres schema `read`): the facts every sales and funnel figure is
//! summed from when read.
//!
//! - A **sales line** per product of an order, `sale` on the UTC day the order was confirmed (its
//!   payment captured), `refund` on the day an order cancelled after confirmation was cancelled:
//!   revenue counts only paid orders, net of refunds, each day's figures final once the day ends.
//! - A **funnel step** per cart created and checked out, per order paid and cancelled.
//! - Each product's title and category (from `ProductCreated`), for grouping by category.
//! - Each product's units available (from every stock event), for vendors' low-stock alerts.
//!
//! Each event's facts and the aggregate's checkpoint are written by one statement: all or
//! nothing, and only if the event is the next one of its aggregate.
use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use commerce_domain::cart::CartEvent;
use commerce_domain::inventory::InventoryEvent;
use commerce_domain::order::{OrderEvent, OrderStatus, PricedLine};
use commerce_domain::product::ProductEvent;
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::messaging::ANALYTICS_QUEUE;
use sqlx::PgPool;
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::error::ProjectionError;
use crate::sequence::{checkpoint_advance, refused_at_checkpoint};

/// A step of the funnel, as stored and as the API names its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelStep {
    CartCreated,
    CartCheckedOut,
    OrderPaid,
    OrderCancelled,
}

impl FunnelStep {
    pub const ALL: [FunnelStep; 4] = [
        FunnelStep::CartCreated,
        FunnelStep::CartCheckedOut,
        FunnelStep::OrderPaid,
        FunnelStep::OrderCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FunnelStep::CartCreated => "cart_created",
            FunnelStep::CartCheckedOut => "cart_checked_out",
            FunnelStep::OrderPaid => "order_paid",
            FunnelStep::OrderCancelled => "order_cancelled",
        }
    }
}

/// One product of one order, sold or refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SalesLine {
    order_id: Uuid,
    product_id: Uuid,
    kind: &'static str,
    vendor_id: Uuid,
    currency: String,
    units: i64,
    amount_minor: i64,
}

/// What one event adds to the model.
#[derive(Debug, Default, PartialEq, Eq)]
struct Facts {
    lines: Vec<SalesLine>,
    steps: Vec<(Uuid, FunnelStep)>,
    /// Product id, vendor id, title, category.
    product: Option<(Uuid, Uuid, String, String)>,
    /// Product id, vendor id, units available.
    stock: Option<(Uuid, Uuid, i64)>,
}

/// The lines of an order by product (a product on two lines counts once, its units and amounts
/// summed), as `kind`.
fn sales_lines(order_id: Uuid, lines: &[PricedLine], kind: &'static str) -> Vec<SalesLine> {
    let mut by_product: BTreeMap<(Uuid, String), SalesLine> = BTreeMap::new();
    for line in lines {
        let currency = line.line_total.currency.to_string();
        let entry = by_product
            .entry((line.product_id.0, currency.clone()))
            .or_insert_with(|| SalesLine {
                order_id,
                product_id: line.product_id.0,
                kind,
                vendor_id: line.vendor_id.0,
                currency,
                units: 0,
                amount_minor: 0,
            });
        entry.units += i64::from(line.quantity.get());
        entry.amount_minor += line.line_total.amount_minor;
    }
    by_product.into_values().collect()
}

/// The events analytics counts; every other event only moves its aggregate's checkpoint, and is
/// not even read (an event type this version does not know is no reason to stop counting).
const COUNTED: &[(&str, &str)] = &[
    ("Order", "OrderConfirmed"),
    ("Order", "OrderCancelled"),
    ("Order", "ReturnRefunded"),
    ("Cart", "CartCreated"),
    ("Cart", "CartCheckedOut"),
    ("Product", "ProductCreated"),
    ("Inventory", "StockReceived"),
    ("Inventory", "StockReserved"),
    ("Inventory", "StockReleased"),
    ("Inventory", "StockCommitted"),
    ("Inventory", "StockReturned"),
];

/// The facts `envelope` adds; none for the events analytics does not count.
fn facts_of(envelope: &EventEnvelope) -> anyhow::Result<Facts> {
    let mut facts = Facts::default();
    let counted = COUNTED
        .iter()
        .any(|(a, e)| *a == envelope.aggregate_type && *e == envelope.event_type);
    if !counted {
        return Ok(facts);
    }
    match envelope.aggregate_type.as_str() {
        "Order" => match crate::upcast::read_event::<OrderEvent>(envelope)? {
            OrderEvent::OrderConfirmed {
                order_id, lines, ..
            } => {
                facts.lines = sales_lines(order_id.0, &lines, "sale");
                facts.steps.push((order_id.0, FunnelStep::OrderPaid));
            }
            OrderEvent::OrderCancelled {
                order_id,
                previous_status,
                lines,
                ..
            } => {
                // Paid, so counted as a sale: a cancellation's lines are what it refunds.
                if matches!(
                    previous_status,
                    OrderStatus::Confirmed | OrderStatus::PartiallyShipped | OrderStatus::Shipped
                ) {
                    facts.lines = sales_lines(order_id.0, &lines, "refund");
                }
                facts.steps.push((order_id.0, FunnelStep::OrderCancelled));
            }
            // A refunded return takes its lines' units and refunds off the sales, on its day.
            OrderEvent::ReturnRefunded {
                order_id,
                vendor_id,
                lines,
                ..
            } => {
                facts.lines = lines
                    .iter()
                    .map(|line| SalesLine {
                        order_id: order_id.0,
                        product_id: line.product_id.0,
                        kind: "refund",
                        vendor_id: vendor_id.0,
                        currency: line.refund.currency.to_string(),
                        units: i64::from(line.quantity.get()),
                        amount_minor: line.refund.amount_minor,
                    })
                    .collect();
            }
            OrderEvent::OrderPlaced { .. }
            | OrderEvent::OrderShipped { .. }
            | OrderEvent::SubOrderShipped { .. }
            | OrderEvent::ReturnRequested { .. }
            | OrderEvent::ReturnAccepted { .. }
            | OrderEvent::ReturnRejected { .. }
            | OrderEvent::ReturnRefundFailed { .. } => {}
        },
        "Cart" => match crate::upcast::read_event::<CartEvent>(envelope)? {
            CartEvent::CartCreated { cart_id, .. } => {
                facts.steps.push((cart_id.0, FunnelStep::CartCreated));
            }
            CartEvent::CartCheckedOut { cart_id, .. } => {
                facts.steps.push((cart_id.0, FunnelStep::CartCheckedOut));
            }
            _ => {}
        },
        "Product" => {
            if let ProductEvent::ProductCreated {
                product_id,
                vendor_id,
                title,
                category,
                ..
            } = crate::upcast::read_event::<ProductEvent>(envelope)?
            {
                facts.product = Some((
                    product_id.0,
                    vendor_id.0,
                    title.to_string(),
                    category.to_string(),
                ));
            }
        }
        "Inventory" => {
            let (product_id, vendor_id, available) =
                match crate::upcast::read_event::<InventoryEvent>(envelope)? {
                    InventoryEvent::StockReceived {
                        product_id,
                        vendor_id,
                        available,
                        ..
                    }
                    | InventoryEvent::StockReserved {
                        product_id,
                        vendor_id,
                        available,
                        ..
                    }
                    | InventoryEvent::StockReleased {
                        product_id,
                        vendor_id,
                        available,
                        ..
                    }
                    | InventoryEvent::StockCommitted {
                        product_id,
                        vendor_id,
                        available,
                        ..
                    }
                    | InventoryEvent::StockReturned {
                        product_id,
                        vendor_id,
                        available,
                        ..
                    } => (product_id, vendor_id, available),
                };
            facts.stock = Some((
                product_id.0,
                vendor_id.0,
                i64::try_from(available).unwrap_or(i64::MAX),
            ));
        }
        _ => {}
    }
    Ok(facts)
}

/// Advances the aggregate's checkpoint to `$3` if it is the next sequence (`$3 = 1` and no
/// checkpoint, or the checkpoint at `$3 - 1`), and only then writes the event's facts, all on
/// the UTC day `$4`: sales lines (`$5`..`$11`), funnel steps (`$12`, `$13`), a product
/// (`$14`..`$17`), a stock level (`$18`..`$20`).
fn record_statement(tables: &Tables) -> String {
    let Tables {
        checkpoints,
        sales_lines,
        products,
        funnel_steps,
        stock_levels,
    } = tables;
    let advanced = checkpoint_advance(checkpoints);
    format!(
        "\
    WITH {advanced}, \
    lines AS ( \
      INSERT INTO {sales_lines} (order_id, product_id, kind, vendor_id, day, currency, units, \
          amount_minor) \
      SELECT l.order_id, l.product_id, l.kind, l.vendor_id, $4::date, l.currency, l.units, \
          l.amount_minor \
      FROM UNNEST($5::uuid[], $6::uuid[], $7::text[], $8::uuid[], $9::text[], $10::bigint[], \
          $11::bigint[]) AS l(order_id, product_id, kind, vendor_id, currency, units, amount_minor) \
      WHERE EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (order_id, product_id, kind) DO UPDATE SET \
        units = {sales_lines}.units + EXCLUDED.units, \
        amount_minor = {sales_lines}.amount_minor + EXCLUDED.amount_minor), \
    steps AS ( \
      INSERT INTO {funnel_steps} (subject_id, step, day) \
      SELECT s.subject_id, s.step, $4::date \
      FROM UNNEST($12::uuid[], $13::text[]) AS s(subject_id, step) \
      WHERE EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT DO NOTHING), \
    products AS ( \
      INSERT INTO {products} (product_id, vendor_id, title, category) \
      SELECT * FROM UNNEST($14::uuid[], $15::uuid[], $16::text[], $17::text[]) \
      WHERE EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (product_id) DO UPDATE SET vendor_id = EXCLUDED.vendor_id, \
        title = EXCLUDED.title, category = EXCLUDED.category), \
    stock AS ( \
      INSERT INTO {stock_levels} (product_id, vendor_id, available) \
      SELECT * FROM UNNEST($18::uuid[], $19::uuid[], $20::bigint[]) \
      WHERE EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (product_id) DO UPDATE SET vendor_id = EXCLUDED.vendor_id, \
        available = EXCLUDED.available) \
    SELECT count(*) FROM advanced"
    )
}

/// The tables one generation of the model is written to.
pub struct Tables {
    checkpoints: String,
    sales_lines: String,
    products: String,
    funnel_steps: String,
    stock_levels: String,
}

/// The model's tables by their plain names (`read.sales_lines`, …): in a generation, each is
/// `read.<name>_g{N}`, and the plain name is the view of the live one.
pub const TABLES: [&str; 5] = [
    "analytics_checkpoints",
    "sales_lines",
    "analytics_products",
    "funnel_steps",
    "stock_levels",
];

impl Tables {
    /// The live generation, through the views.
    fn live() -> Self {
        Self::named(|table| format!("read.{table}"))
    }

    /// Generation `generation`'s own tables.
    fn of_generation(generation: u64) -> Self {
        Self::named(|table| format!("read.{table}_g{generation}"))
    }

    fn named(name: impl Fn(&str) -> String) -> Self {
        Self {
            checkpoints: name(TABLES[0]),
            sales_lines: name(TABLES[1]),
            products: name(TABLES[2]),
            funnel_steps: name(TABLES[3]),
            stock_levels: name(TABLES[4]),
        }
    }
}

/// Projects Order, Cart, Product and Inventory events into the analytics facts.
pub struct AnalyticsProjector {
    pool: PgPool,
    record: String,
    /// The checkpoints' table, to tell a duplicate from a gap.
    checkpoints: String,
}

impl AnalyticsProjector {
    /// The live projector: it writes the live generation, through the views.
    pub fn new(pool: PgPool) -> Self {
        Self::writing(pool, &Tables::live())
    }

    /// A projector writing generation `generation`'s tables (a rebuild's).
    pub fn into_generation(pool: PgPool, generation: u64) -> Self {
        Self::writing(pool, &Tables::of_generation(generation))
    }

    fn writing(pool: PgPool, tables: &Tables) -> Self {
        Self {
            pool,
            record: record_statement(tables),
            checkpoints: tables.checkpoints.clone(),
        }
    }

    /// Writes `facts` with the checkpoint's advance to `envelope.sequence`, or tells why not.
    async fn record(
        &self,
        envelope: &EventEnvelope,
        facts: &Facts,
    ) -> Result<Outcome, ProjectionError> {
        let day: NaiveDate = envelope.occurred_at.date_naive();
        let mut columns = LineColumns::default();
        for line in &facts.lines {
            columns.push(line);
        }
        let (subjects, steps): (Vec<Uuid>, Vec<&str>) = facts
            .steps
            .iter()
            .map(|(subject, step)| (*subject, step.as_str()))
            .unzip();
        let product = facts.product.iter();
        let advanced: i64 = sqlx::query_scalar(&self.record)
            .bind(&envelope.aggregate_type)
            .bind(&envelope.aggregate_id)
            .bind(envelope.sequence)
            .bind(day)
            .bind(&columns.order_ids)
            .bind(&columns.product_ids)
            .bind(&columns.kinds)
            .bind(&columns.vendor_ids)
            .bind(&columns.currencies)
            .bind(&columns.units)
            .bind(&columns.amounts)
            .bind(&subjects)
            .bind(&steps)
            .bind(product.clone().map(|p| p.0).collect::<Vec<_>>())
            .bind(product.clone().map(|p| p.1).collect::<Vec<_>>())
            .bind(product.clone().map(|p| p.2.as_str()).collect::<Vec<_>>())
            .bind(product.map(|p| p.3.as_str()).collect::<Vec<_>>())
            .bind(facts.stock.iter().map(|s| s.0).collect::<Vec<_>>())
            .bind(facts.stock.iter().map(|s| s.1).collect::<Vec<_>>())
            .bind(facts.stock.iter().map(|s| s.2).collect::<Vec<_>>())
            .fetch_one(&self.pool)
            .await?;
        if advanced == 1 {
            return Ok(Outcome::Applied);
        }
        refused_at_checkpoint(&self.pool, &self.checkpoints, envelope).await
    }
}

/// The sales lines' columns, bound as arrays.
#[derive(Default)]
struct LineColumns {
    order_ids: Vec<Uuid>,
    product_ids: Vec<Uuid>,
    kinds: Vec<&'static str>,
    vendor_ids: Vec<Uuid>,
    currencies: Vec<String>,
    units: Vec<i64>,
    amounts: Vec<i64>,
}

impl LineColumns {
    fn push(&mut self, line: &SalesLine) {
        self.order_ids.push(line.order_id);
        self.product_ids.push(line.product_id);
        self.kinds.push(line.kind);
        self.vendor_ids.push(line.vendor_id);
        self.currencies.push(line.currency.clone());
        self.units.push(line.units);
        self.amounts.push(line.amount_minor);
    }
}

/// Whether the model counts this aggregate type's events: those its queue delivers.
fn counts_aggregate(aggregate_type: &str) -> bool {
    ANALYTICS_QUEUE.aggregate_types.contains(&aggregate_type)
}

impl Projector for AnalyticsProjector {
    fn name(&self) -> &'static str {
        "analytics"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if !counts_aggregate(&envelope.aggregate_type) {
            return Ok(Outcome::Duplicate);
        }
        let facts = facts_of(envelope)
            .with_context(|| format!("reading {} for analytics", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        self.record(envelope, &facts).await
    }

    /// Advances the checkpoint without adding facts.
    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if !counts_aggregate(&envelope.aggregate_type) {
            return Ok(Outcome::Duplicate);
        }
        self.record(envelope, &Facts::default()).await
    }
}
