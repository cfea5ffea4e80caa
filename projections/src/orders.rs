//! The orders read model in Postgres (schema `read`): one row per order, its document in `doc`.
//!
//! Each event is applied by a write that goes through only while the row is at the version the
//! document was read at, so an event lands exactly once even when SQS delivers it twice.
use anyhow::Context;
use chrono::{DateTime, Utc};
use commerce_domain::order::{OrderEvent, PricedLine};
use commerce_domain::{Money, ShippingAddress, Withheld};
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::personal_data::{self, KeyRing};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::error::ProjectionError;
use crate::sequence::sequence_check;

/// The Postgres channel on which each write of an order document is announced (payload: the
/// order id), so the read API wakes reads waiting for it.
pub const ORDER_CHANGES_CHANNEL: &str = "read_orders";

/// Applies the `read` schema migrations (shared bookkeeping with other crates' migrations).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| anyhow::anyhow!("migrating schema read: {e}"))
}

/// An order as its customer, its vendors and admins read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderDocument {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// `pending` (placed: the order saga is reserving stock and taking the payment, usually for
    /// well under a second), `confirmed` (every line's stock held and the payment captured),
    /// `partially_shipped` (some vendors' sub-orders shipped, others not yet), `shipped` (every
    /// sub-order) or `cancelled` (see `cancel_reason`; the holds of what had not shipped
    /// released, its payment voided or refunded; `sub_orders` say which parts had shipped).
    pub status: String,
    pub lines: Vec<OrderLineDocument>,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub total: Money,
    /// Why it was cancelled, when it was: `out_of_stock` (a line could not be reserved; no
    /// payment was attempted), `payment_declined` (the card was refused), `payment_timeout` (the
    /// payment provider did not answer within 30 s), `customer_request` or `admin`.
    pub cancel_reason: Option<String>,
    /// The tracking number of the last shipment; each sub-order has its own.
    pub tracking: Option<String>,
    /// One per vendor of the lines, in the order the vendors first appear: each vendor's lines,
    /// their subtotal, and that vendor's shipment. A vendor reading the order sees only its own.
    #[serde(default)]
    pub sub_orders: Vec<SubOrderDocument>,
    /// Returns of shipped goods, in the order asked; a vendor reading the order sees only its own.
    #[serde(default)]
    pub returns: Vec<ReturnDocument>,
    pub status_history: Vec<StatusChange>,
    /// Where the order goes; shown to the order's customer, the vendors of its lines and admins,
    /// the only ones who may read an order. Absent from documents projected before the read
    /// model kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<commerce_platform::openapi::ShippingAddressSchema>)]
    pub shipping_address: Option<ShippingAddress>,
    /// `true` when the customer's personal data was erased at their request (the shipping
    /// address is then absent); absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal_data_erased: bool,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLineDocument {
    pub product_id: Uuid,
    pub vendor_id: Uuid,
    pub quantity: u32,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub unit_price: Money,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub line_total: Money,
}

/// One vendor's part of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubOrderDocument {
    pub vendor_id: Uuid,
    pub lines: Vec<OrderLineDocument>,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub subtotal: Money,
    /// `pending`, `confirmed`, `shipped` or `cancelled`.
    pub status: String,
    pub tracking: Option<String>,
}

/// A return of some units of a vendor's shipped sub-order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnDocument {
    pub return_id: Uuid,
    pub vendor_id: Uuid,
    /// `requested` (the vendor decides), `accepted` (being refunded), `rejected` (see
    /// `reason`), `refunded`, or `refund_failed` (the payment provider would not refund; the
    /// units may be asked for again).
    pub status: String,
    pub lines: Vec<ReturnLineDocument>,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub refund_total: Money,
    /// Whether the units go back to the vendor's stock (said on acceptance).
    pub restock: bool,
    /// The customer's reason when asking, the vendor's when rejecting.
    pub reason: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnLineDocument {
    pub product_id: Uuid,
    pub quantity: u32,
    #[schema(value_type = commerce_platform::openapi::MoneySchema)]
    pub refund: Money,
}

impl SubOrderDocument {
    fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "confirmed")
    }
}

impl OrderDocument {
    /// The sub-orders of a document projected before orders had them, worked out from its lines
    /// and status (such an order was shipped or cancelled whole).
    pub fn with_sub_orders(mut self) -> Self {
        if !self.sub_orders.is_empty() {
            return self;
        }
        let mut vendors: Vec<Uuid> = Vec::new();
        for line in &self.lines {
            if !vendors.contains(&line.vendor_id) {
                vendors.push(line.vendor_id);
            }
        }
        self.sub_orders = vendors
            .into_iter()
            .map(|vendor_id| {
                let lines: Vec<OrderLineDocument> = self
                    .lines
                    .iter()
                    .filter(|l| l.vendor_id == vendor_id)
                    .cloned()
                    .collect();
                let mut subtotal = self.total.clone();
                subtotal.amount_minor = lines.iter().map(|l| l.line_total.amount_minor).sum();
                SubOrderDocument {
                    vendor_id,
                    lines,
                    subtotal,
                    status: self.status.clone(),
                    tracking: self.tracking.clone(),
                }
            })
            .collect();
        self
    }

    /// Moves every open sub-order to `status` (with `tracking`, when shipped).
    fn settle_open(&mut self, status: &str, tracking: Option<&str>) {
        for sub_order in self.sub_orders.iter_mut().filter(|s| s.is_open()) {
            sub_order.status = status.to_owned();
            if let Some(tracking) = tracking {
                sub_order.tracking = Some(tracking.to_owned());
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    pub status: String,
    pub at: DateTime<Utc>,
}

fn line_documents(lines: Vec<PricedLine>) -> Vec<OrderLineDocument> {
    lines
        .into_iter()
        .map(|l| OrderLineDocument {
            product_id: l.product_id.0,
            vendor_id: l.vendor_id.0,
            quantity: l.quantity.get(),
            unit_price: l.unit_price,
            line_total: l.line_total,
        })
        .collect()
}

/// The document after `event`, or an error if the event cannot follow `before`.
fn evolve(
    before: Option<OrderDocument>,
    event: OrderEvent,
    envelope: &EventEnvelope,
) -> anyhow::Result<OrderDocument> {
    evolve_at(before, event, envelope.sequence, envelope.occurred_at)
}

/// [`evolve`] from an event's parts: its sequence and when it occurred.
pub(crate) fn evolve_at(
    before: Option<OrderDocument>,
    event: OrderEvent,
    sequence: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<OrderDocument> {
    let doc = match (before, event) {
        (
            None,
            OrderEvent::OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
                shipping_address,
                ..
            },
        ) => OrderDocument {
            order_id: order_id.0,
            customer_id: customer_id.0,
            status: "pending".into(),
            lines: line_documents(lines),
            total,
            cancel_reason: None,
            tracking: None,
            // Filled from the lines below.
            sub_orders: Vec::new(),
            returns: Vec::new(),
            status_history: vec![StatusChange {
                status: "pending".into(),
                at,
            }],
            personal_data_erased: shipping_address.withheld() == Some(Withheld::Erased),
            // Sealed here means unopened: the projector opens every sealed field before it
            // folds, so only an erased one reaches this.
            shipping_address: shipping_address
                .withheld()
                .is_none()
                .then_some(shipping_address),
            version: 0,
        },
        (Some(doc), OrderEvent::OrderConfirmed { .. }) => {
            let mut doc = doc.with_sub_orders();
            doc.status = "confirmed".into();
            doc.settle_open("confirmed", None);
            doc
        }
        (Some(doc), OrderEvent::OrderCancelled { reason, .. }) => {
            let mut doc = doc.with_sub_orders();
            doc.status = "cancelled".into();
            doc.cancel_reason = Some(reason.as_str().to_owned());
            doc.settle_open("cancelled", None);
            doc
        }
        (Some(doc), OrderEvent::OrderShipped { tracking, .. }) => {
            let mut doc = doc.with_sub_orders();
            doc.status = "shipped".into();
            doc.settle_open("shipped", Some(tracking.as_str()));
            doc.tracking = Some(tracking.to_string());
            doc
        }
        (
            Some(doc),
            OrderEvent::SubOrderShipped {
                vendor_id,
                tracking,
                ..
            },
        ) => {
            let mut doc = doc.with_sub_orders();
            doc.status = "partially_shipped".into();
            doc.tracking = Some(tracking.to_string());
            if let Some(sub_order) = doc
                .sub_orders
                .iter_mut()
                .find(|s| s.vendor_id == vendor_id.0)
            {
                sub_order.status = "shipped".into();
                sub_order.tracking = Some(tracking.to_string());
            }
            doc
        }
        (
            Some(mut doc),
            OrderEvent::ReturnRequested {
                return_id,
                vendor_id,
                lines,
                refund_total,
                reason,
                ..
            },
        ) => {
            if !doc.returns.iter().any(|r| r.return_id == return_id.0) {
                doc.returns.push(ReturnDocument {
                    return_id: return_id.0,
                    vendor_id: vendor_id.0,
                    status: "requested".into(),
                    lines: lines
                        .into_iter()
                        .map(|l| ReturnLineDocument {
                            product_id: l.product_id.0,
                            quantity: l.quantity.get(),
                            refund: l.refund,
                        })
                        .collect(),
                    refund_total,
                    restock: false,
                    reason: reason.map(|r| r.to_string()),
                    requested_at: at,
                    updated_at: at,
                });
            }
            doc
        }
        (
            Some(mut doc),
            OrderEvent::ReturnAccepted {
                return_id, restock, ..
            },
        ) => {
            if let Some(r) = doc.returns.iter_mut().find(|r| r.return_id == return_id.0) {
                r.status = "accepted".into();
                r.restock = restock;
                r.updated_at = at;
            }
            doc
        }
        (
            Some(mut doc),
            OrderEvent::ReturnRejected {
                return_id, reason, ..
            },
        ) => {
            if let Some(r) = doc.returns.iter_mut().find(|r| r.return_id == return_id.0) {
                r.status = "rejected".into();
                r.reason = Some(reason.to_string());
                r.updated_at = at;
            }
            doc
        }
        (Some(mut doc), OrderEvent::ReturnRefunded { return_id, .. }) => {
            if let Some(r) = doc.returns.iter_mut().find(|r| r.return_id == return_id.0) {
                r.status = "refunded".into();
                r.updated_at = at;
            }
            doc
        }
        (Some(mut doc), OrderEvent::ReturnRefundFailed { return_id, .. }) => {
            if let Some(r) = doc.returns.iter_mut().find(|r| r.return_id == return_id.0) {
                r.status = "refund_failed".into();
                r.updated_at = at;
            }
            doc
        }
        (before, event) => anyhow::bail!(
            "{} cannot follow {}",
            event.name(),
            if before.is_some() {
                "an existing order"
            } else {
                "nothing"
            }
        ),
    };
    let mut doc = doc.with_sub_orders();
    if doc.status_history.last().map(|s| s.status.as_str()) != Some(doc.status.as_str()) {
        doc.status_history.push(StatusChange {
            status: doc.status.clone(),
            at,
        });
    }
    doc.version = sequence;
    Ok(doc)
}

/// Projects Order events into `read.orders` (the live generation), or into one generation's table
/// for a rebuild.
pub struct OrdersProjector {
    pool: PgPool,
    statements: Statements,
    recent: RecentDocuments,
}

/// The projector's SQL, written once for the table it writes.
struct Statements {
    write: String,
    erase: String,
    read: String,
    skip: String,
    version: String,
}

impl Statements {
    fn for_table(table: &str) -> Self {
        Self {
            // `$8`, when given, is the row's `updated_at` as the writer last saw it: a write from
            // a remembered or just-read document goes through only if nothing else changed the
            // row since (a rebuild's swap, an erasure of personal data).
            write: format!(
                "WITH written AS ( \
                   INSERT INTO {table} (order_id, customer_id, vendor_ids, version, doc) \
                   VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (order_id) DO UPDATE SET version = EXCLUDED.version, \
                     doc = EXCLUDED.doc, vendor_ids = EXCLUDED.vendor_ids, updated_at = now() \
                   WHERE {table}.version = $6 \
                     AND ($8::timestamptz IS NULL OR {table}.updated_at = $8) \
                   RETURNING order_id, version, updated_at) \
                 SELECT updated_at, pg_notify($7, order_id::text || ':' || version) \
                 FROM written"
            ),
            read: format!("SELECT version, doc, updated_at FROM {table} WHERE order_id = $1"),
            skip: format!(
                "INSERT INTO {table} (order_id, customer_id, vendor_ids, version, doc) \
                 SELECT $1, '00000000-0000-0000-0000-000000000000', '{{}}', $2, 'null'::jsonb \
                 WHERE $2 = 1 \
                 ON CONFLICT (order_id) DO UPDATE SET version = EXCLUDED.version, \
                   updated_at = now() \
                 WHERE {table}.version = EXCLUDED.version - 1"
            ),
            version: format!("SELECT version FROM {table} WHERE order_id = $1"),
            erase: erase_statement(table, "order_id = ANY($1)"),
        }
    }
}

/// A document as its row holds it, with the row's `updated_at` (what a guarded write compares).
type Written = (OrderDocument, DateTime<Utc>);

/// How many times an event is retried when its row changed between read and write for a reason
/// other than another event (an erasure, a swap): each retry reads the row afresh.
const WRITE_ATTEMPTS: usize = 5;

impl OrdersProjector {
    pub fn new(pool: PgPool) -> Self {
        Self::into_table(pool, "read.orders")
    }

    /// A projector writing `table` (a generation's table, `read.orders_g{N}`) rather than the live
    /// generation.
    pub fn into_table(pool: PgPool, table: &str) -> Self {
        Self {
            pool,
            statements: Statements::for_table(table),
            recent: RecentDocuments::new(RECENT_DOCUMENTS),
        }
    }

    /// Writes `doc` over the row at `stored_version` (0: no row yet) and, when given, last
    /// changed at `stored_at`. The row's new `updated_at`, or `None` if the row was not as
    /// expected: another write got there first. The write notifies readers waiting for the
    /// order (sent when it commits).
    async fn write(
        &self,
        order_id: Uuid,
        doc: &OrderDocument,
        stored_version: i64,
        stored_at: Option<DateTime<Utc>>,
    ) -> Result<Option<DateTime<Utc>>, ProjectionError> {
        let written = sqlx::query(&self.statements.write)
            .bind(order_id)
            .bind(doc.customer_id)
            .bind(vendor_ids(doc))
            .bind(doc.version)
            .bind(serde_json::to_value(doc)?)
            .bind(stored_version)
            .bind(ORDER_CHANGES_CHANNEL)
            .bind(stored_at)
            .fetch_optional(&self.pool)
            .await?;
        Ok(written
            .map(|row| row.try_get::<DateTime<Utc>, _>("updated_at"))
            .transpose()?)
    }

    /// The order's row: its version, its document (absent when its first event was skipped)
    /// and when it last changed.
    async fn stored(
        &self,
        order_id: Uuid,
    ) -> Result<Option<(i64, Option<OrderDocument>, DateTime<Utc>)>, ProjectionError> {
        let Some(row) = sqlx::query(&self.statements.read)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let doc: serde_json::Value = row.try_get("doc")?;
        // The order's row exists before its first readable document when that first event was
        // skipped (see `skip`).
        let doc = (!doc.is_null())
            .then(|| serde_json::from_value(doc))
            .transpose()?;
        Ok(Some((
            row.try_get("version")?,
            doc,
            row.try_get("updated_at")?,
        )))
    }
}

/// The vendors of an order's lines, each once, in order: the column the vendor filter searches.
pub(crate) fn vendor_ids(doc: &OrderDocument) -> Vec<Uuid> {
    let mut vendor_ids: Vec<Uuid> = doc.lines.iter().map(|l| l.vendor_id).collect();
    vendor_ids.sort();
    vendor_ids.dedup();
    vendor_ids
}

/// How many order documents the projector remembers after writing them: the orders in flight
/// (an order's next events, confirmed then shipped, follow within seconds to days), a few MB.
const RECENT_DOCUMENTS: usize = 10_000;

/// The documents last written, by order, oldest forgotten first once `capacity` is reached.
/// Only ever a shortcut: a write from a remembered document is guarded by its version and by
/// the row's `updated_at` as written.
struct RecentDocuments {
    capacity: usize,
    inner: std::sync::Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    documents: std::collections::HashMap<Uuid, Written>,
    /// Orders in the order they were remembered; may name orders since taken or replaced.
    age: std::collections::VecDeque<Uuid>,
}

impl RecentDocuments {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: std::sync::Mutex::new(RecentInner::default()),
        }
    }

    /// The remembered document of `order_id` if it is at `version`; forgotten either way (the
    /// caller keeps what it writes next).
    fn take(&self, order_id: Uuid, version: i64) -> Option<Written> {
        let mut inner = self.inner.lock().ok()?;
        inner
            .documents
            .remove(&order_id)
            .filter(|(doc, _)| doc.version == version)
    }

    fn keep(&self, order_id: Uuid, doc: OrderDocument, written_at: DateTime<Utc>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner
            .documents
            .insert(order_id, (doc, written_at))
            .is_none()
        {
            inner.age.push_back(order_id);
        }
        while inner.documents.len() > self.capacity {
            match inner.age.pop_front() {
                Some(oldest) => {
                    inner.documents.remove(&oldest);
                }
                None => break,
            }
        }
        // Entries taken and never kept again leave their ids behind; drop them when they
        // outnumber the documents.
        if inner.age.len() > 2 * self.capacity.max(1) {
            let RecentInner { documents, age } = &mut *inner;
            age.retain(|id| documents.contains_key(id));
        }
    }
}

impl Projector for OrdersProjector {
    fn name(&self) -> &'static str {
        "orders"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Order" {
            return Ok(Outcome::Duplicate);
        }
        let order_id = Uuid::parse_str(&envelope.aggregate_id)
            .context("order id is not a UUID")
            .map_err(ProjectionError::Unprocessable)?;
        let key_ids = personal_data::sealed_key_ids(&envelope.event_type, &envelope.payload);
        if key_ids.is_empty() {
            return self.apply_opened(order_id, envelope).await;
        }
        // Personal data: opened with its key, written, and erased again at once if the key was
        // deleted while this wrote (`commerce gdpr forget` deletes the key before it erases the
        // read models, so a write it could have missed is caught here).
        let keys = KeyRing::fetch(&self.pool, &key_ids)
            .await
            .map_err(personal_data_failure)?;
        let mut opened = envelope.clone();
        personal_data::open(&opened.event_type, &mut opened.payload, &keys)
            .context("opening personal data")
            .map_err(ProjectionError::Unprocessable)?;
        let outcome = self.apply_opened(order_id, &opened).await?;
        if !personal_data::deleted_keys(&self.pool, &key_ids)
            .await
            .map_err(personal_data_failure)?
            .is_empty()
        {
            self.erase_orders(&[order_id]).await?;
        }
        Ok(outcome)
    }

    /// Advances the order's version without changing its document. An order whose first event is
    /// skipped gets a row without a document (`doc` JSON null), which the read API treats as absent.
    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Order" {
            return Ok(Outcome::Duplicate);
        }
        let order_id = Uuid::parse_str(&envelope.aggregate_id)
            .context("order id is not a UUID")
            .map_err(ProjectionError::Failed)?;
        let advanced = sqlx::query(&self.statements.skip)
            .bind(order_id)
            .bind(envelope.sequence)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if advanced == 1 {
            return Ok(Outcome::Applied);
        }
        let stored: i64 = sqlx::query_scalar(&self.statements.version)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or(0);
        Ok(sequence_check(envelope.sequence, stored).unwrap_or(Outcome::Gap { have: stored }))
    }
}

/// A key store failure is transient (retried); a sealed field that does not open is not.
fn personal_data_failure(error: personal_data::PersonalDataError) -> ProjectionError {
    match error {
        personal_data::PersonalDataError::Database(e) => e.into(),
        other => ProjectionError::Unprocessable(other.into()),
    }
}

/// The statement erasing the personal data of documents in `table`, chosen by `condition` (on
/// `$1`): the address goes, `personal_data_erased` says so, and `updated_at` moves, so that no
/// projector writes a document it remembers from before over it.
fn erase_statement(table: &str, condition: &str) -> String {
    format!(
        "UPDATE {table} SET doc = (doc - 'shipping_address') \
           || '{{\"personal_data_erased\": true}}'::jsonb, updated_at = now() \
         WHERE {condition} AND jsonb_typeof(doc) = 'object' \
           AND NOT doc @> '{{\"personal_data_erased\": true}}'::jsonb"
    )
}

/// Erases `customer_id`'s personal data from every generation of the orders model (the live
/// one, and one a rebuild is filling). Run after the customer's key is deleted
/// (`commerce_platform::personal_data::forget`): from then on no projector or rebuild can open
/// their data again. Answers how many documents changed.
pub async fn erase_customer(pool: &PgPool, customer_id: Uuid) -> anyhow::Result<u64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
         WHERE schemaname = 'read' AND tablename ~ '^orders_g[0-9]+$' ORDER BY tablename",
    )
    .fetch_all(pool)
    .await?;
    let mut erased = 0;
    for table in tables {
        erased += sqlx::query(&erase_statement(&table, "customer_id = $1"))
            .bind(customer_id)
            .execute(pool)
            .await
            .with_context(|| format!("erasing personal data in {table}"))?
            .rows_affected();
    }
    Ok(erased)
}

impl OrdersProjector {
    /// Erases the personal data of these orders in this projector's table.
    pub async fn erase_orders(&self, order_ids: &[Uuid]) -> Result<u64, ProjectionError> {
        Ok(sqlx::query(&self.statements.erase)
            .bind(order_ids)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Applies an event whose personal data, if any, is open.
    async fn apply_opened(
        &self,
        order_id: Uuid,
        envelope: &EventEnvelope,
    ) -> Result<Outcome, ProjectionError> {
        // An order's first event needs nothing stored: its document is written straight away.
        // Only a row already there (a redelivery, or a first event that was skipped) sends it
        // the long way below, which then finds it a duplicate.
        if envelope.sequence == 1 {
            if let Some(doc) = serde_json::from_value::<OrderEvent>(envelope.payload.clone())
                .ok()
                .and_then(|event| evolve(None, event, envelope).ok())
            {
                if let Some(at) = self.write(order_id, &doc, 0, None).await? {
                    self.recent.keep(order_id, doc, at);
                    return Ok(Outcome::Applied);
                }
            }
        }
        // The document this projector wrote last for the order, if it is the version this event
        // follows: applied without reading the row. The write is guarded by that version and
        // that write's time, so a row changed meanwhile (another projector, a redelivery, an
        // erasure, a rebuild's swap) refuses it, and the event goes the long way below.
        if let Some((before, written_at)) = self.recent.take(order_id, envelope.sequence - 1) {
            let stored_version = before.version;
            if let Ok(event) = serde_json::from_value::<OrderEvent>(envelope.payload.clone()) {
                if let Ok(doc) = evolve(Some(before), event, envelope) {
                    if let Some(at) = self
                        .write(order_id, &doc, stored_version, Some(written_at))
                        .await?
                    {
                        self.recent.keep(order_id, doc, at);
                        return Ok(Outcome::Applied);
                    }
                }
            }
        }
        let event: OrderEvent = crate::upcast::read_event(envelope)
            .with_context(|| format!("payload of {} is not an OrderEvent", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        // No lock and no transaction: the write below goes through only if the row is still as
        // read here, so two statements give the exactly-once effect that a locked read, a write
        // and a commit gave in four round trips.
        for _ in 0..WRITE_ATTEMPTS {
            let (stored_version, before, stored_at) = match self.stored(order_id).await? {
                Some((version, doc, at)) => (version, doc, Some(at)),
                None => (0, None, None),
            };
            if let Some(outcome) = sequence_check(envelope.sequence, stored_version) {
                return Ok(outcome);
            }
            let doc =
                evolve(before, event.clone(), envelope).map_err(ProjectionError::Unprocessable)?;
            if let Some(at) = self
                .write(order_id, &doc, stored_version, stored_at)
                .await?
            {
                self.recent.keep(order_id, doc, at);
                return Ok(Outcome::Applied);
            }
        }
        Err(ProjectionError::Failed(anyhow::anyhow!(
            "order {order_id} kept changing under event {}; retried {WRITE_ATTEMPTS} times",
            envelope.sequence
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(event_version: &str, payload: serde_json::Value) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::from_u128(9),
            global_position: 1,
            aggregate_type: "Order".into(),
            aggregate_id: Uuid::from_u128(1).to_string(),
            sequence: 1,
            event_type: "OrderPlaced".into(),
            event_version: event_version.into(),
            occurred_at: Utc::now(),
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }

    fn placed(shipping_address: serde_json::Value) -> serde_json::Value {
        let eur = json!({"amount_minor": 500, "currency": "EUR"});
        json!({"type": "OrderPlaced", "data": {
            "order_id": Uuid::from_u128(1), "customer_id": Uuid::from_u128(2),
            "lines": [{"product_id": Uuid::from_u128(3), "vendor_id": Uuid::from_u128(4),
                       "quantity": 1, "unit_price": eur, "line_total": eur}],
            "total": eur, "shipping_address": shipping_address, "payment_token": "tok_ok"}})
    }

    fn project(envelope: &EventEnvelope) -> OrderDocument {
        let event: OrderEvent = serde_json::from_value(envelope.payload.clone()).expect("reads");
        evolve(None, event, envelope).expect("evolves")
    }

    #[test]
    fn a_placed_order_shows_its_address_in_parts() {
        let address = json!({"name": "Ada Lovelace", "line1": "Unter den Linden 1",
                             "city": "Berlin", "postal_code": "10117", "country": "DE"});
        let doc = project(&envelope("2.0", placed(address.clone())));
        assert_eq!(
            serde_json::to_value(&doc).expect("json")["shipping_address"],
            address
        );
    }

    #[test]
    fn an_order_relayed_with_a_free_text_address_shows_it_in_line1() {
        let doc = project(&envelope("1.0", placed(json!("1 Main St\nSpringfield"))));
        assert_eq!(
            serde_json::to_value(&doc).expect("json")["shipping_address"],
            json!({"line1": "1 Main St\nSpringfield"})
        );
    }

    #[test]
    fn a_document_stored_before_it_kept_the_address_still_reads() {
        let mut stored =
            serde_json::to_value(project(&envelope("2.0", placed(json!("x"))))).expect("json");
        stored.as_object_mut().map(|o| o.remove("shipping_address"));
        let doc: OrderDocument = serde_json::from_value(stored).expect("reads");
        assert_eq!(doc.shipping_address, None);
    }

    fn document(version: i64) -> OrderDocument {
        let mut doc = project(&envelope("2.0", placed(json!("Some Street 1"))));
        doc.version = version;
        doc
    }

    #[test]
    fn a_remembered_document_is_given_only_at_the_version_asked_and_only_once() {
        let recent = RecentDocuments::new(2);
        let (a, b, c) = (
            Uuid::from_u128(11),
            Uuid::from_u128(12),
            Uuid::from_u128(13),
        );
        recent.keep(a, document(1), Utc::now());
        assert_eq!(recent.take(a, 2), None, "another version is no shortcut");
        assert_eq!(recent.take(a, 1), None, "a mismatch forgets it");
        recent.keep(a, document(1), Utc::now());
        assert_eq!(recent.take(a, 1).map(|(d, _)| d.version), Some(1));
        assert_eq!(recent.take(a, 1), None, "taken once");
        for id in [a, b, c] {
            recent.keep(id, document(1), Utc::now());
        }
        assert_eq!(
            recent.take(a, 1),
            None,
            "the oldest is forgotten beyond capacity"
        );
        assert!(recent.take(b, 1).is_some() && recent.take(c, 1).is_some());
    }

    /// Against the local Postgres (`COMMERCE_TEST_DATABASE_URL`, default the `postgres`
    /// database), in a database of its own.
    #[tokio::test]
    async fn a_remembered_document_that_the_row_has_moved_past_is_not_written() {
        let admin = std::env::var("COMMERCE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("test_orders_{}", Uuid::new_v4().simple());
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("COMMERCE_TEST_DATABASE_URL names no database"),
        };
        commerce_platform::database::create_database_if_missing(&url)
            .await
            .unwrap();
        let pool = PgPool::connect(&url).await.unwrap();
        migrate(&pool).await.unwrap();
        let first = OrdersProjector::new(pool.clone());
        let second = OrdersProjector::new(pool.clone());
        let placed = envelope("2.0", placed(json!("Some Street 1")));
        let doc = project(&placed);
        let confirmed = EventEnvelope {
            sequence: 2,
            event_type: "OrderConfirmed".into(),
            payload: json!({"type": "OrderConfirmed", "data": {
                "order_id": doc.order_id, "customer_id": doc.customer_id,
                "lines": placed.payload["data"]["lines"], "total": placed.payload["data"]["total"]}}),
            ..placed.clone()
        };
        let cancelled = EventEnvelope {
            sequence: 3,
            event_type: "OrderCancelled".into(),
            payload: json!({"type": "OrderCancelled", "data": {
                "order_id": doc.order_id, "customer_id": doc.customer_id,
                "reason": "customer_request", "previous_status": "confirmed",
                "lines": placed.payload["data"]["lines"], "total": placed.payload["data"]["total"]}}),
            ..placed.clone()
        };
        // The first projector writes the order and remembers it at version 1; the second
        // moves the row on to 3 behind its back.
        assert!(matches!(
            first.apply(&placed).await.unwrap(),
            Outcome::Applied
        ));
        assert!(matches!(
            second.apply(&placed).await.unwrap(),
            Outcome::Duplicate
        ));
        assert!(matches!(
            second.apply(&confirmed).await.unwrap(),
            Outcome::Applied
        ));
        assert!(matches!(
            second.apply(&cancelled).await.unwrap(),
            Outcome::Applied
        ));
        // A redelivered confirmation reaching the first: its remembered version 1 is refused by
        // the row, and the long way finds the event already applied.
        assert!(matches!(
            first.apply(&confirmed).await.unwrap(),
            Outcome::Duplicate
        ));
        let (version, status): (i64, String) =
            sqlx::query_as("SELECT version, doc->>'status' FROM read.orders WHERE order_id = $1")
                .bind(doc.order_id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((version, status.as_str()), (3, "cancelled"));
        pool.close().await;
        let admin_pool = PgPool::connect(&admin).await.unwrap();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin_pool)
            .await;
    }
}
