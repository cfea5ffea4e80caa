//! A vendor's webhook (command API) and what became of its deliveries (read API).
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::{endpoint, QueryString};
use crate::{ClientError, CommandOptions, CommerceClient};

/// A vendor's webhook with the secret that signs its deliveries (shown only when it is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub vendor_id: Uuid,
    pub url: String,
    /// Check each delivery's `X-Commerce-Signature` with it.
    pub secret: String,
    pub updated_at: DateTime<Utc>,
}

/// One notification's delivery to a vendor's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    /// `order_confirmed`, `order_cancelled` or `order_shipped`.
    pub kind: String,
    pub order_id: Uuid,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i32,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_status: Option<i32>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
struct DeliveryList {
    #[serde(default)]
    items: Vec<WebhookDelivery>,
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    url: &'a str,
}

impl CommerceClient {
    /// `PUT /v1/vendors/{vendor_id}/webhook` (the vendor, an admin): posts the vendor's order
    /// notifications to `url` from now on, signed with the new secret answered.
    pub async fn set_webhook(
        &self,
        vendor_id: Uuid,
        url: &str,
        options: &CommandOptions,
    ) -> Result<Webhook, ClientError> {
        let path = format!("/v1/vendors/{vendor_id}/webhook");
        self.command(Method::PUT, &path, &WebhookBody { url }, options)
            .await
    }

    /// `DELETE /v1/vendors/{vendor_id}/webhook`: no more deliveries; pending ones are dropped.
    pub async fn remove_webhook(
        &self,
        vendor_id: Uuid,
        options: &CommandOptions,
    ) -> Result<(), ClientError> {
        let path = format!("/v1/vendors/{vendor_id}/webhook");
        self.command_without_body(Method::DELETE, &path, options)
            .await
    }

    /// `GET /v1/vendors/{vendor_id}/webhook/deliveries`, newest first, optionally only those in
    /// `state` (`pending`, `delivered`, `dead`).
    pub async fn webhook_deliveries(
        &self,
        vendor_id: Uuid,
        state: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<WebhookDelivery>, ClientError> {
        let list: DeliveryList = self
            .read(deliveries_url(
                self.read_api_base(),
                vendor_id,
                state,
                limit,
            ))
            .await?;
        Ok(list.items)
    }
}

fn deliveries_url(base: &str, vendor_id: Uuid, state: Option<&str>, limit: Option<u32>) -> String {
    QueryString::default()
        .param("state", state)
        .param("limit", limit)
        .append_to(endpoint(
            base,
            &format!("/v1/vendors/{vendor_id}/webhook/deliveries"),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_url_sends_only_what_is_set() {
        let vendor = Uuid::nil();
        assert_eq!(
            deliveries_url("http://reads.test", vendor, Some("dead"), Some(5)),
            format!("http://reads.test/v1/vendors/{vendor}/webhook/deliveries?state=dead&limit=5")
        );
        assert_eq!(
            deliveries_url("http://reads.test", vendor, None, None),
            format!("http://reads.test/v1/vendors/{vendor}/webhook/deliveries")
        );
    }
}
