//! The notifications projector (Postgres schema `read`): what each customer and vendor is told
//! about their orders, for the read API's list (`GET /v1/notifications`).
//!
//! An order confirmed, cancelled or shipped tells its customer and the vendors of its lines. A
//! shipment names no lines, so each order's vendors are kept from its placement. Each event's
//! notifications and the order's checkpoint are written by one statement, only if the event is
//! the order's next: nobody is told twice. The live projector also queues a webhook delivery
//! to each told vendor that has one, in the same statement; `crate::webhooks` sends them.
use anyhow::Context;
use commerce_domain::order::{OrderEvent, PricedLine};
use commerce_platform::envelope::EventEnvelope;
use sqlx::PgPool;
use uuid::Uuid;

use crate::consumer::{Outcome, Projector};
use crate::error::ProjectionError;
use crate::sequence::{checkpoint_advance, refused_at_checkpoint};

/// What one Order event adds.
#[derive(Debug, Default)]
struct Told {
    /// The order's vendors, on its placement.
    placed_vendors: Option<Vec<Uuid>>,
    /// Who is told (besides the order's vendors on a shipment), and what.
    recipients: Vec<Uuid>,
    kind: Option<&'static str>,
    /// Tell the vendors recorded at placement too (a shipment).
    recorded_vendors: bool,
    detail: serde_json::Value,
}

fn vendors(lines: &[PricedLine]) -> Vec<Uuid> {
    let mut vendors: Vec<Uuid> = lines.iter().map(|l| l.vendor_id.0).collect();
    vendors.sort();
    vendors.dedup();
    vendors
}

fn told_by(envelope: &EventEnvelope) -> anyhow::Result<Told> {
    // The placement's address is not read here; only its lines.
    let event: OrderEvent = crate::upcast::read_event(envelope)?;
    let mut told = Told {
        detail: serde_json::json!({}),
        ..Told::default()
    };
    match event {
        OrderEvent::OrderPlaced { lines, .. } => told.placed_vendors = Some(vendors(&lines)),
        OrderEvent::OrderConfirmed {
            customer_id, lines, ..
        } => {
            told.recipients = vendors(&lines);
            told.recipients.push(customer_id.0);
            told.kind = Some("order_confirmed");
        }
        OrderEvent::OrderCancelled {
            customer_id,
            lines,
            reason,
            ..
        } => {
            told.recipients = vendors(&lines);
            told.recipients.push(customer_id.0);
            told.kind = Some("order_cancelled");
            told.detail = serde_json::json!({ "reason": reason.as_str() });
        }
        OrderEvent::OrderShipped {
            customer_id,
            tracking,
            ..
        } => {
            told.recipients.push(customer_id.0);
            told.recorded_vendors = true;
            told.kind = Some("order_shipped");
            told.detail = serde_json::json!({ "tracking": tracking.to_string() });
        }
        // One vendor's part: its customer and that vendor are told, with its tracking.
        OrderEvent::SubOrderShipped {
            customer_id,
            vendor_id,
            tracking,
            ..
        } => {
            told.recipients = vec![vendor_id.0, customer_id.0];
            told.kind = Some("order_shipped");
            told.detail = serde_json::json!({
                "tracking": tracking.to_string(),
                "vendor_id": vendor_id.0,
                "partial": true,
            });
        }
        // Returns: the vendor is asked; the customer hears the answer; both hear how it ended.
        OrderEvent::ReturnRequested {
            return_id,
            vendor_id,
            refund_total,
            ..
        } => {
            told.recipients = vec![vendor_id.0];
            told.kind = Some("return_requested");
            told.detail = serde_json::json!({
                "return_id": return_id.0,
                "refund_minor": refund_total.amount_minor,
                "currency": refund_total.currency.as_str(),
            });
        }
        OrderEvent::ReturnAccepted {
            customer_id,
            return_id,
            ..
        } => {
            told.recipients = vec![customer_id.0];
            told.kind = Some("return_accepted");
            told.detail = serde_json::json!({ "return_id": return_id.0 });
        }
        OrderEvent::ReturnRejected {
            customer_id,
            return_id,
            reason,
            ..
        } => {
            told.recipients = vec![customer_id.0];
            told.kind = Some("return_rejected");
            told.detail =
                serde_json::json!({ "return_id": return_id.0, "reason": reason.to_string() });
        }
        OrderEvent::ReturnRefunded {
            customer_id,
            vendor_id,
            return_id,
            refund_total,
            ..
        } => {
            told.recipients = vec![vendor_id.0, customer_id.0];
            told.kind = Some("return_refunded");
            told.detail = serde_json::json!({
                "return_id": return_id.0,
                "refund_minor": refund_total.amount_minor,
                "currency": refund_total.currency.as_str(),
            });
        }
        OrderEvent::ReturnRefundFailed {
            customer_id,
            vendor_id,
            return_id,
            ..
        } => {
            told.recipients = vec![vendor_id.0, customer_id.0];
            told.kind = Some("return_refund_failed");
            told.detail = serde_json::json!({ "return_id": return_id.0 });
        }
    }
    Ok(told)
}

/// The model's tables by their plain names: in a generation, each is `read.<name>_g{N}`, and
/// the plain name is the view of the live one.
pub const TABLES: [&str; 3] = ["notifications", "notification_checkpoints", "order_vendors"];

/// Table `name` of generation `generation`, or its view (the live one) without one.
fn table(name: &str, generation: Option<u64>) -> String {
    match generation {
        Some(generation) => format!("read.{name}_g{generation}"),
        None => format!("read.{name}"),
    }
}

/// Advances the order's checkpoint to `$3` if it is the next sequence, and only then records its
/// vendors (`$5`, on a placement) and tells each recipient (`$6`, plus the recorded vendors when
/// `$7`) of event `$8`: kind `$9`, at `$10`, with `$11`.
fn record_statement(generation: Option<u64>) -> String {
    let (checkpoints, vendors, notifications) = (
        table(TABLES[1], generation),
        table(TABLES[2], generation),
        table(TABLES[0], generation),
    );
    let advanced = checkpoint_advance(&checkpoints);
    format!(
        "\
    WITH {advanced}, \
    placed AS ( \
      INSERT INTO {vendors} (order_id, vendor_ids) \
      SELECT $4, $5::uuid[] WHERE $5::uuid[] IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT (order_id) DO NOTHING), \
    recipients AS ( \
      SELECT unnest($6::uuid[]) AS recipient_id \
      UNION SELECT unnest(v.vendor_ids) FROM {vendors} v \
          WHERE $7 AND v.order_id = $4), \
    told AS ( \
      INSERT INTO {notifications} (recipient_id, event_id, kind, order_id, at, detail) \
      SELECT recipient_id, $8, $9::text, $4, $10, $11 FROM recipients \
      WHERE $9::text IS NOT NULL AND EXISTS (SELECT 1 FROM advanced) \
      ON CONFLICT DO NOTHING){queued} \
    SELECT count(*) FROM advanced",
        queued = match generation {
            None => queue_deliveries(&checkpoints),
            Some(_) => String::new(),
        }
    )
}

/// The live statement's last part: a webhook delivery to each told vendor with a webhook. Queued
/// for an event applied now or before (a copy arriving after a rebuild's swap, which applied it,
/// still queues what the live model never did); once per event and vendor. An event delivered
/// again revives its dead deliveries: that is how `commerce dlq redrive notifications` retries
/// them. A rebuild's statement queues nothing: replaying history tells nobody anything again.
fn queue_deliveries(checkpoints: &str) -> String {
    format!(
        ", \
    queued AS ( \
      INSERT INTO notify.webhook_deliveries \
        (delivery_id, vendor_id, event_id, kind, order_id, at, detail) \
      SELECT gen_random_uuid(), w.vendor_id, $8, $9::text, $4, $10, $11 \
      FROM notify.webhooks w \
      WHERE $9::text IS NOT NULL \
        AND w.vendor_id IN (SELECT recipient_id FROM recipients) \
        AND (EXISTS (SELECT 1 FROM advanced) \
             OR $3 <= (SELECT c.version FROM {checkpoints} c \
                       WHERE c.aggregate_type = $1 AND c.aggregate_id = $2)) \
      ON CONFLICT (event_id, vendor_id) DO UPDATE \
        SET state = 'pending', attempts = 0, next_attempt_at = now() \
        WHERE notify.webhook_deliveries.state = 'dead')"
    )
}

/// Projects Order events into customers' and vendors' notifications.
pub struct NotificationsProjector {
    pool: PgPool,
    record: String,
    /// The checkpoints' table, to tell a duplicate from a gap.
    checkpoints: String,
}

impl NotificationsProjector {
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
            checkpoints: table(TABLES[1], generation),
        }
    }

    async fn record(
        &self,
        envelope: &EventEnvelope,
        told: &Told,
    ) -> Result<Outcome, ProjectionError> {
        let order_id = Uuid::parse_str(&envelope.aggregate_id)
            .context("order id is not a UUID")
            .map_err(ProjectionError::Unprocessable)?;
        let advanced: i64 = sqlx::query_scalar(&self.record)
            .bind(&envelope.aggregate_type)
            .bind(&envelope.aggregate_id)
            .bind(envelope.sequence)
            .bind(order_id)
            .bind(told.placed_vendors.as_deref())
            .bind(&told.recipients)
            .bind(told.recorded_vendors)
            .bind(envelope.event_id)
            .bind(told.kind)
            .bind(envelope.occurred_at)
            .bind(&told.detail)
            .fetch_one(&self.pool)
            .await?;
        if advanced == 1 {
            return Ok(Outcome::Applied);
        }
        refused_at_checkpoint(&self.pool, &self.checkpoints, envelope).await
    }
}

impl Projector for NotificationsProjector {
    fn name(&self) -> &'static str {
        "notifications"
    }

    async fn apply(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Order" {
            return Ok(Outcome::Duplicate);
        }
        let told = told_by(envelope)
            .with_context(|| format!("reading {} for notifications", envelope.event_type))
            .map_err(ProjectionError::Unprocessable)?;
        self.record(envelope, &told).await
    }

    /// Advances the checkpoint, telling nobody.
    async fn skip(&self, envelope: &EventEnvelope) -> Result<Outcome, ProjectionError> {
        if envelope.aggregate_type != "Order" {
            return Ok(Outcome::Duplicate);
        }
        self.record(
            envelope,
            &Told {
                detail: serde_json::json!({}),
                ..Told::default()
            },
        )
        .await
    }
}
