//! `commerce webhooks set|remove|deliveries`: a vendor's webhook and what became of its
//! deliveries, through `commerce-client`.
use clap::{Subcommand, ValueEnum};
use commerce_client::{Webhook, WebhookDelivery};
use uuid::Uuid;

use crate::output::{fields, Table};
use crate::storefront::{describe, parse_id, Session};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Post the vendor's order notifications to URL (the vendor, an admin); prints the new
    /// signing secret, shown only now.
    Set {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor: Uuid,
        /// An https URL of a public host (a local stack also takes http://127.0.0.1:…).
        #[arg(value_parser = parse_url)]
        url: String,
    },
    /// Stop posting the vendor's notifications; pending deliveries are dropped.
    Remove {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor: Uuid,
    },
    /// The vendor's deliveries, newest first: pending (and when next tried), delivered, dead.
    Deliveries {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor: Uuid,
        /// Only the deliveries in this state.
        #[arg(long, value_enum)]
        state: Option<DeliveryState>,
        /// How many, 1 to 100 (default 20).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
}

/// The API's own bounds on a URL, checked before anything is sent (whether a private address is
/// allowed depends on the deployment, so the API decides that).
fn parse_url(text: &str) -> Result<String, String> {
    commerce_platform::webhooks::target(text, commerce_platform::webhooks::Targets::AlsoLocal)
        .map(|_| text.to_owned())
}

pub async fn webhooks(session: &Session, command: WebhooksCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        WebhooksCommand::Set { vendor, url } => {
            let webhook = client
                .set_webhook(vendor, &url, options)
                .await
                .map_err(describe)?;
            output.print(&webhook, render_webhook)
        }
        WebhooksCommand::Remove { vendor } => {
            client
                .remove_webhook(vendor, options)
                .await
                .map_err(describe)?;
            output.print(
                &serde_json::json!({ "vendor_id": vendor, "removed": true }),
                |_| format!("Vendor {vendor}'s webhook removed."),
            )
        }
        WebhooksCommand::Deliveries {
            vendor,
            state,
            limit,
        } => {
            let deliveries = client
                .webhook_deliveries(vendor, state.map(DeliveryState::as_str), limit)
                .await
                .map_err(describe)?;
            output.print_rows(&deliveries, render_deliveries)
        }
    }
}

fn render_webhook(webhook: &Webhook) -> String {
    format!(
        "Vendor {}'s notifications go to {}.\n{}\nKeep the secret: it is not shown again. Check each \
         delivery's X-Commerce-Signature (v1=HMAC-SHA256 of \"{{X-Commerce-Timestamp}}.{{body}}\").",
        webhook.vendor_id,
        webhook.url,
        fields(&[("secret", webhook.secret.clone())]),
    )
}

fn render_deliveries(deliveries: &[WebhookDelivery]) -> String {
    if deliveries.is_empty() {
        return "No deliveries.".into();
    }
    let mut table = Table::new(&[
        ("DELIVERY", false),
        ("KIND", false),
        ("ORDER", false),
        ("STATE", false),
        ("ATTEMPTS", true),
        ("LAST", false),
    ]);
    for delivery in deliveries {
        let last = match (&delivery.last_error, delivery.last_status) {
            (Some(error), _) => error.clone(),
            (None, Some(status)) => status.to_string(),
            (None, None) => String::new(),
        };
        table.row(vec![
            delivery.delivery_id.to_string(),
            delivery.kind.clone(),
            delivery.order_id.to_string(),
            delivery.state.clone(),
            delivery.attempts.to_string(),
            last,
        ]);
    }
    table.render()
}
