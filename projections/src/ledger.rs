//! The ledger projector (Postgres schema `read`): the vendors' ledger as it is read.
//!
//! - A **posting** per ledger event, its entries by account: a vendor's balance is the sum of its
//!   postings, its statement their list, the marketplace's commission income the sum of every
//!   posting's commission.
//! - Each **sale** (a vendor's part of an order): whether it was released, and what a payout
//!   would pay of it now: the payout run's list of what to release and whom to pay.
//! - Each sub-order's **shipment** (from the Order stream): when a sale may be released.
//! - Each **payout**: its amount, and when it completed.
//!
//! Each event's rows and its aggregate's checkpoint are written by one statement, only if the
//! event is the aggregate's next: nothing is counted twice. The payout run only nominates from
//! these tables; the ledger's aggregates decide.
use anyhow::Context;
use commerce_domain::ledger::{Account, PayoutsEvent, SaleEvent};
use commerce_domain::order::OrderEvent;
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::messaging::LEDGER_QUEUE;
use sqlx::PgPool;
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::error::ProjectionError;
use crate::sequence::{checkpoint_advance, refused_at_checkpoint};

/// The model's tables by their plain names (`read.ledger_postings`, …): in a generation, each is
/// `read.<name>_g{N}`, and the plain name is the view of the live one.
pub const TABLES: [&str; 5] = [
    "ledger_checkpoints",
    "ledger_postings",
    "ledger_sales",
    "ledger_shipments",
    "ledger_payouts",
];

/// The vendor "every sub-order still open" of an `OrderShipped` (the last to ship).
pub const EVERY_OPEN_SUB_ORDER: Uuid = Uuid::nil();

/// A posting's amounts, by account.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Amounts {
    clearing: i64,
    commission: i64,
    pending: i64,
    available: i64,
    paid_out: i64,
}

/// One ledger event as posted.
#[derive(Debug)]
struct Posting {
    vendor_id: Uuid,
    reason: &'static str,
    order_id: Uuid,
    return_id: Option<Uuid>,
    payout_id: Option<Uuid>,
    currency: String,
    amounts: Amounts,
    lines: serde_json::Value,
}

/// What one event adds to the model.
#[derive(Debug, Default)]
struct Facts {
    posting: Option<Posting>,
    /// The sale's stream, and whether the event released it.
    sale: Option<(String, bool)>,
    /// Payout id, vendor, currency, amount, sales; `completed` when it was completed.
    payout: Option<(Uuid, Uuid, String, i64, i32, bool)>,
    /// Order, vendor (or [`EVERY_OPEN_SUB_ORDER`]).
    shipment: Option<(Uuid, Uuid)>,
}

fn posting_of(event: &SaleEvent) -> Posting {
    let mut amounts = Amounts::default();
    let mut currency = String::new();
    for entry in event.entries() {
        currency = entry.currency.to_string();
        let account = match entry.account {
            Account::Clearing => &mut amounts.clearing,
            Account::Commission => &mut amounts.commission,
            Account::Pending => &mut amounts.pending,
            Account::Available => &mut amounts.available,
            Account::PaidOut => &mut amounts.paid_out,
        };
        *account = account.saturating_add(entry.amount_minor);
    }
    let (vendor_id, order_id, reason, return_id, payout_id, lines) = match event {
        SaleEvent::SaleCredited {
            vendor_id,
            order_id,
            lines,
            ..
        } => (
            vendor_id,
            order_id,
            "sale_credited",
            None,
            None,
            serde_json::to_value(lines).unwrap_or_default(),
        ),
        SaleEvent::FundsReleased {
            vendor_id,
            order_id,
            ..
        } => (
            vendor_id,
            order_id,
            "funds_released",
            None,
            None,
            serde_json::json!([]),
        ),
        SaleEvent::ReturnReversed {
            vendor_id,
            order_id,
            return_id,
            lines,
            ..
        } => (
            vendor_id,
            order_id,
            "return_reversed",
            Some(return_id.0),
            None,
            serde_json::to_value(lines).unwrap_or_default(),
        ),
        SaleEvent::SharePaidOut {
            vendor_id,
            order_id,
            payout_id,
            ..
        } => (
            vendor_id,
            order_id,
            "share_paid_out",
            None,
            Some(payout_id.0),
            serde_json::json!([]),
        ),
    };
    Posting {
        vendor_id: vendor_id.0,
        reason,
        order_id: order_id.0,
        return_id,
        payout_id,
        currency,
        amounts,
        lines,
    }
}

/// The facts `envelope` adds; none for the Order events that are not shipments.
fn facts_of(envelope: &EventEnvelope) -> anyhow::Result<Facts> {
    let mut facts = Facts::default();
    match envelope.aggregate_type.as_str() {
        "VendorSale" => {
            let event: SaleEvent = crate::upcast::read_event(envelope)?;
            let released = matches!(event, SaleEvent::FundsReleased { .. });
            facts.sale = Some((envelope.aggregate_id.clone(), released));
            facts.posting = Some(posting_of(&event));
        }
        "VendorPayouts" => match crate::upcast::read_event::<PayoutsEvent>(envelope)? {
            PayoutsEvent::PayoutStarted {
                vendor_id,
                payout_id,
                currency,
                amount_minor,
                items,
            } => {
                let sales = i32::try_from(items.len()).unwrap_or(i32::MAX);
                facts.payout = Some((
                    payout_id.0,
                    vendor_id.0,
                    currency.to_string(),
                    amount_minor,
                    sales,
                    false,
                ));
            }
            PayoutsEvent::PayoutCompleted {
                vendor_id,
                payout_id,
                currency,
                amount_minor,
            } => {
                facts.payout = Some((
                    payout_id.0,
                    vendor_id.0,
                    currency.to_string(),
                    amount_minor,
                    0,
                    true,
                ));
            }
        },
        // Only shipments are read: the other Order events only move the checkpoint.
        "Order"
            if matches!(
                envelope.event_type.as_str(),
                "SubOrderShipped" | "OrderShipped"
            ) =>
        {
            match crate::upcast::read_event::<OrderEvent>(envelope)? {
                OrderEvent::SubOrderShipped {
                    order_id,
                    vendor_id,
                    ..
                } => facts.shipment = Some((order_id.0, vendor_id.0)),
                OrderEvent::OrderShipped { order_id, .. } => {
                    facts.shipment = Some((order_id.0, EVERY_OPEN_SUB_ORDER))
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(facts)
}

fn table(name: &str, generation: Option<u64>) -> String {
    match generation {
        Some(generation) => format!("read.{name}_g{generation}"),
        None => format!("read.{name}"),
    }
}

/// Advances the aggregate's checkpoint to `$3` if it is the next sequence, and only then writes
/// the event's posting (`$4`..`$16`, `$4` null for none), its sale (`$17` stream, `$18` whether it
/// was released; the posting's `available` moves what is payable), its payout (`$19`..`$24`) and
/// its shipment (`$25` order, `$26` vendor), all at `$27`.
fn record_statement(generation: Option<u64>) -> String {
    let [checkpoints, postings, sales, shipments, payouts] = TABLES.map(|t| table(t, generation));
    let advanced = checkpoint_advance(&checkpoints);
    format!(
        "\
    WITH {advanced}, \
    posting AS ( \
      INSERT INTO {postings} (event_id, vendor_id, reason, order_id, return_id, payout_id, \
          currency, clearing_minor, commission_minor, pending_minor, available_minor, \
          paid_out_minor, lines, at) \
      SELECT $4::uuid, $5::uuid, $6::text, $7::uuid, $8::uuid, $9::uuid, $10::text, $11::bigint, \
          $12::bigint, $13::bigint, $14::bigint, $15::bigint, $16::jsonb, $27::timestamptz \
      WHERE $4::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT DO NOTHING), \
    sale AS ( \
      INSERT INTO {sales} (sale_id, vendor_id, order_id, currency, released, payable_minor) \
      SELECT $17::text, $5::uuid, $7::uuid, $10::text, $18::boolean, $14::bigint \
      WHERE $17::text IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (sale_id) DO UPDATE SET \
        released = {sales}.released OR EXCLUDED.released, \
        payable_minor = {sales}.payable_minor + EXCLUDED.payable_minor), \
    payout AS ( \
      INSERT INTO {payouts} (payout_id, vendor_id, currency, amount_minor, sales, started_at, \
          completed_at) \
      SELECT $19::uuid, $20::uuid, $21::text, $22::bigint, $23::integer, $27::timestamptz, \
          CASE WHEN $24::boolean THEN $27::timestamptz END \
      WHERE $19::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (payout_id) DO UPDATE SET \
        completed_at = COALESCE(EXCLUDED.completed_at, {payouts}.completed_at)), \
    shipment AS ( \
      INSERT INTO {shipments} (order_id, vendor_id, shipped_at) \
      SELECT $25::uuid, $26::uuid, $27::timestamptz \
      WHERE $25::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT DO NOTHING) \
    SELECT count(*) FROM advanced"
    )
}

/// Projects the ledger's events and the orders' shipments into the ledger's read model.
pub struct LedgerProjector {
    pool: PgPool,
    record: String,
    /// The checkpoints' table, to tell a duplicate from a gap.
    checkpoints: String,
}

impl LedgerProjector {
    /// The live projector: it writes the live generation, through the views.
    pub fn new(pool: PgPool) -> Self {
        Self::writing(pool, None)
    }

    /// A projector writing generation `generation`'s tables (a rebuild's).
    pub fn into_generation(pool: PgPool, generation: u64) -> Self {
        Self::writing(pool, Some(generation))
    }

    fn writing(pool: PgPool, generation: Option<u64>) -> Self {
        Self {
            pool,
            record: record_statement(generation),
            checkpoints: table(TABLES[0], generation),
        }
    }

    async fn record(
        &self,
        envelope: &EventEnvelope,
        facts: &Facts,
    ) -> Result<Outcome, ProjectionError> {
        let posting = facts.posting.as_ref();
        let amounts = posting.map(|p| p.amounts).unwrap_or_default();
        let payout = facts.payout.as_ref();
        let advanced: i64 = sqlx::query_scalar(&self.record)
            .bind(&envelope.aggregate_type)
            .bind(&envelope.aggregate_id)
            .bind(envelope.sequence)
            .bind(posting.map(|_| envelope.event_id))
            .bind(posting.map(|p| p.vendor_id))
            .bind(posting.map(|p| p.reason))
            .bind(posting.map(|p| p.order_id))
            .bind(posting.and_then(|p| p.return_id))
            .bind(posting.and_then(|p| p.payout_id))
            .bind(posting.map(|p| p.currency.as_str()))
            .bind(amounts.clearing)
            .bind(amounts.commission)
            .bind(amounts.pending)
            .bind(amounts.available)
            .bind(amounts.paid_out)
            .bind(posting.map(|p| &p.lines))
            .bind(facts.sale.as_ref().map(|(sale, _)| sale.as_str()))
            .bind(facts.sale.as_ref().is_some_and(|(_, released)| *released))
            .bind(payout.map(|p| p.0))
            .bind(payout.map(|p| p.1))
            .bind(payout.map(|p| p.2.as_str()))
            .bind(payout.map(|p| p.3))
            .bind(payout.map(|p| p.4))
            .bind(payout.is_some_and(|p| p.5))
            .bind(facts.shipment.map(|s| s.0))
            .bind(facts.shipment.map(|s| s.1))
            .bind(envelope.occurred_at)
            .fetch_one(&self.pool)
            .await?;
        if advanced == 1 {
            return Ok(Outcome::Applied);
        }
        refused_at_checkpoint(&self.pool, &self.checkpoints, envelope).await
    }
}

/// Whether the model reads this aggregate type's events: those its queue delivers.
fn reads_aggregate(aggregate_type: &str) -> bool {
    LEDGER_QUEUE.aggregate_types.contains(&aggregate_type)
}

impl Projector for LedgerProjector {
    fn name(&self) -> &'static str {
        "ledger"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if !reads_aggregate(&envelope.aggregate_type) {
            return Ok(Outcome::Duplicate);
        }
        let facts = facts_of(envelope)
            .with_context(|| format!("reading {} for the ledger", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        self.record(envelope, &facts).await
    }

    /// Advances the checkpoint without adding anything. A ledger event skipped this way leaves
    /// the books unbalanced: `commerce ledger check` reports it.
    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if !reads_aggregate(&envelope.aggregate_type) {
            return Ok(Outcome::Duplicate);
        }
        self.record(envelope, &Facts::default()).await
    }
}

/// The books of one currency, in minor units: what the ledger's events hold per account, what
/// the payments of the orders in the ledger captured and refunded, and what the read model sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CurrencyBooks {
    pub currency: String,
    /// Customer payments held, negative: minus (captured − refunded).
    pub clearing_minor: i64,
    pub commission_minor: i64,
    pub pending_minor: i64,
    pub available_minor: i64,
    pub paid_out_minor: i64,
    /// From the Payment streams of the orders the ledger has credited.
    pub payments_captured_minor: i64,
    pub payments_refunded_minor: i64,
    /// The same five accounts as the read model (`read.ledger_postings`) sums them.
    pub read_model: [i64; 5],
}

impl CurrencyBooks {
    fn accounts(&self) -> [i64; 5] {
        [
            self.clearing_minor,
            self.commission_minor,
            self.pending_minor,
            self.available_minor,
            self.paid_out_minor,
        ]
    }

    /// Why these books do not balance; empty when they do.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let total: i128 = self.accounts().iter().map(|a| i128::from(*a)).sum();
        if total != 0 {
            problems.push(format!(
                "{}: the ledger's entries sum to {total}, not 0",
                self.currency
            ));
        }
        let net_payments =
            i128::from(self.payments_captured_minor) - i128::from(self.payments_refunded_minor);
        let owed: i128 = [
            self.pending_minor,
            self.available_minor,
            self.paid_out_minor,
            self.commission_minor,
        ]
        .iter()
        .map(|a| i128::from(*a))
        .sum();
        if net_payments != owed || net_payments != -i128::from(self.clearing_minor) {
            problems.push(format!(
                "{}: payments captured minus refunded ({net_payments}) differ from vendors' \
                 balances plus payouts plus commission ({owed}) or from the clearing account ({})",
                self.currency, -self.clearing_minor
            ));
        }
        if self.read_model != self.accounts() {
            problems.push(format!(
                "{}: the read model sums {:?} where the events hold {:?} (clearing, commission, \
                 pending, available, paid out): behind, or wrong (rebuild it)",
                self.currency,
                self.read_model,
                self.accounts()
            ));
        }
        problems
    }
}

/// The result of [`check_books`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Books {
    pub currencies: Vec<CurrencyBooks>,
    /// Ledger events whose own entries do not sum to zero (the first few).
    pub unbalanced_events: Vec<Uuid>,
}

impl Books {
    /// Every reason the books do not balance; empty when they do.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.currencies.iter().flat_map(|c| c.problems()).collect();
        if !self.unbalanced_events.is_empty() {
            problems.push(format!(
                "ledger events whose entries do not sum to zero: {:?}",
                self.unbalanced_events
            ));
        }
        problems
    }
}

/// Proves the books from the event store itself (`events`: `es.events`), and that the read model
/// (`read_models`) agrees: for every currency the ledger's entries sum to zero, every event's
/// own entries do, and payments captured minus refunded (for the orders in the ledger) equal the
/// vendors' balances plus their payouts plus the commission income.
pub async fn check_books(events: &PgPool, read_models: &PgPool) -> anyhow::Result<Books> {
    use sqlx::Row;
    let mut books: std::collections::BTreeMap<String, CurrencyBooks> = Default::default();
    let of = |currency: String| -> CurrencyBooks {
        CurrencyBooks {
            currency,
            ..CurrencyBooks::default()
        }
    };
    let rows = sqlx::query(
        "SELECT x->>'currency' AS currency, x->>'account' AS account, \
           sum((x->>'amount_minor')::bigint)::bigint AS amount \
         FROM es.events e CROSS JOIN LATERAL jsonb_array_elements(e.payload->'data'->'entries') x \
         WHERE e.aggregate_type = 'VendorSale' GROUP BY 1, 2",
    )
    .fetch_all(events)
    .await
    .context("summing the ledger's entries")?;
    for row in rows {
        let currency: String = row.try_get("currency")?;
        let account: String = row.try_get("account")?;
        let amount: i64 = row.try_get("amount")?;
        let entry = books
            .entry(currency.clone())
            .or_insert_with(|| of(currency));
        let slot = match account.as_str() {
            "clearing" => &mut entry.clearing_minor,
            "commission" => &mut entry.commission_minor,
            "pending" => &mut entry.pending_minor,
            "available" => &mut entry.available_minor,
            "paid_out" => &mut entry.paid_out_minor,
            other => anyhow::bail!("a ledger entry on an unknown account {other:?}"),
        };
        *slot = amount;
    }
    let rows = sqlx::query(
        "SELECT p.payload->'data'->'amount'->>'currency' AS currency, \
           sum(CASE WHEN p.event_type = 'PaymentCaptured' \
             THEN (p.payload->'data'->'amount'->>'amount_minor')::bigint ELSE 0 END)::bigint \
             AS captured, \
           sum(CASE WHEN p.event_type = 'PaymentRefunded' \
             THEN (p.payload->'data'->'amount'->>'amount_minor')::bigint ELSE 0 END)::bigint \
             AS refunded \
         FROM es.events p \
         WHERE p.aggregate_type = 'Payment' \
           AND p.event_type IN ('PaymentCaptured', 'PaymentRefunded') \
           AND p.payload->'data'->>'order_id' IN ( \
             SELECT DISTINCT split_part(aggregate_id, ':', 1) FROM es.events \
             WHERE aggregate_type = 'VendorSale' AND event_type = 'SaleCredited') \
         GROUP BY 1",
    )
    .fetch_all(events)
    .await
    .context("summing the payments of the orders in the ledger")?;
    for row in rows {
        let currency: String = row.try_get("currency")?;
        let entry = books
            .entry(currency.clone())
            .or_insert_with(|| of(currency));
        entry.payments_captured_minor = row.try_get("captured")?;
        entry.payments_refunded_minor = row.try_get("refunded")?;
    }
    let rows = sqlx::query(
        "SELECT currency, sum(clearing_minor)::bigint AS clearing, \
           sum(commission_minor)::bigint AS commission, sum(pending_minor)::bigint AS pending, \
           sum(available_minor)::bigint AS available, sum(paid_out_minor)::bigint AS paid_out \
         FROM read.ledger_postings GROUP BY currency",
    )
    .fetch_all(read_models)
    .await
    .context("summing the ledger's read model")?;
    for row in rows {
        let currency: String = row.try_get("currency")?;
        let entry = books
            .entry(currency.clone())
            .or_insert_with(|| of(currency));
        entry.read_model = [
            row.try_get("clearing")?,
            row.try_get("commission")?,
            row.try_get("pending")?,
            row.try_get("available")?,
            row.try_get("paid_out")?,
        ];
    }
    let unbalanced_events: Vec<Uuid> = sqlx::query_scalar(
        "SELECT e.event_id FROM es.events e \
         CROSS JOIN LATERAL jsonb_array_elements(e.payload->'data'->'entries') x \
         WHERE e.aggregate_type = 'VendorSale' \
         GROUP BY e.event_id, x->>'currency' \
         HAVING sum((x->>'amount_minor')::bigint) <> 0 LIMIT 20",
    )
    .fetch_all(events)
    .await
    .context("looking for unbalanced ledger events")?;
    Ok(Books {
        currencies: books.into_values().collect(),
        unbalanced_events,
    })
}
