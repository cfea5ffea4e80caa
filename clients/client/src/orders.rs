//! Orders: cancelling and shipping (command API) and reading orders (read API).
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::{endpoint, single_read_url, QueryString};
use crate::{Accepted, ClientError, CommandOptions, CommerceClient, Money, ShippingAddress};

/// Where an order stands. `Unknown` stands for a status this client version does not know, so a
/// server adding one does not make whole documents unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; waiting for stock and payment.
    Pending,
    /// Paid and stock reserved.
    Confirmed,
    Shipped,
    Cancelled,
    #[default]
    #[serde(other)]
    Unknown,
}

/// Why an order was cancelled; `Unknown` as for [`OrderStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    OutOfStock,
    PaymentDeclined,
    /// The payment provider never answered and the saga's deadline passed.
    PaymentTimeout,
    CustomerRequest,
    Admin,
    #[serde(other)]
    Unknown,
}

/// An order as its customer, the vendors of its lines, or an admin reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDocument {
    pub order_id: Uuid,
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    #[serde(default)]
    pub status: OrderStatus,
    /// A vendor sees only its own lines.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub total: Option<Money>,
    /// Set when `status` is `Cancelled`.
    #[serde(default)]
    pub cancel_reason: Option<CancelReason>,
    /// Every status the order went through, oldest first.
    #[serde(default)]
    pub status_history: Vec<StatusChange>,
    /// Where the order goes; absent from documents the server projected before it kept them.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
    pub version: i64,
}

/// One line of an order, priced at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: Uuid,
    /// Who ships this line.
    pub vendor_id: Uuid,
    pub quantity: u32,
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
}

/// One page of orders the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPage {
    #[serde(default)]
    pub items: Vec<OrderDocument>,
    /// Pass as `cursor` to [`CommerceClient::list_orders`] for the next page; `None` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize)]
struct CancelBody<'a> {
    reason: &'a str,
}

#[derive(Serialize)]
struct ShipBody<'a> {
    tracking: &'a str,
}

impl CommerceClient {
    /// `POST /v1/orders/{id}/cancel`: the order's customer before shipping, or an admin.
    pub async fn cancel_order(
        &self,
        order_id: Uuid,
        reason: &str,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/orders/{order_id}/cancel");
        self.command(Method::POST, &path, &CancelBody { reason }, options)
            .await
    }

    /// `POST /v1/orders/{id}/ship` (vendor of the lines, admin) with the carrier's tracking number.
    pub async fn ship_order(
        &self,
        order_id: Uuid,
        tracking: &str,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/orders/{order_id}/ship");
        self.command(Method::POST, &path, &ShipBody { tracking }, options)
            .await
    }

    /// `GET /v1/orders/{id}`, waiting up to 2 s for `min_version` (then 409).
    pub async fn get_order(
        &self,
        order_id: Uuid,
        min_version: Option<i64>,
    ) -> Result<OrderDocument, ClientError> {
        self.read(order_url(self.read_api_base(), order_id, min_version))
            .await
    }

    /// `GET /v1/orders`: a customer's own orders, a vendor's orders with its lines, or all (admin).
    pub async fn list_orders(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<OrderPage, ClientError> {
        self.read(list_orders_url(self.read_api_base(), cursor, limit))
            .await
    }
}

fn order_url(base: &str, order_id: Uuid, min_version: Option<i64>) -> String {
    single_read_url(base, &format!("/v1/orders/{order_id}"), min_version)
}

fn list_orders_url(base: &str, cursor: Option<&str>, limit: Option<u32>) -> String {
    QueryString::default()
        .param("cursor", cursor)
        .param("limit", limit)
        .append_to(endpoint(base, "/v1/orders"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_orders_url_sends_only_what_is_set() {
        assert_eq!(
            list_orders_url("http://reads.test", Some("c 1"), Some(50)),
            "http://reads.test/v1/orders?cursor=c%201&limit=50"
        );
        assert_eq!(
            list_orders_url("http://reads.test", None, Some(5)),
            "http://reads.test/v1/orders?limit=5"
        );
        assert_eq!(
            list_orders_url("http://reads.test", None, None),
            "http://reads.test/v1/orders"
        );
    }

    #[test]
    fn order_url_carries_min_version() {
        let id = Uuid::from_u128(1);
        assert_eq!(
            order_url("http://reads.test/", id, Some(9)),
            format!("http://reads.test/v1/orders/{id}?min_version=9")
        );
    }

    #[test]
    fn a_cancelled_order_decodes_with_its_reason_and_history() {
        let json = json!({
            "order_id": Uuid::from_u128(1),
            "customer_id": Uuid::from_u128(2),
            "status": "cancelled",
            "lines": [{"product_id": Uuid::from_u128(3), "vendor_id": Uuid::from_u128(4),
                       "quantity": 2, "unit_price": {"amount_minor": 500, "currency": "EUR"}}],
            "total": {"amount_minor": 1000, "currency": "EUR"},
            "cancel_reason": "payment_declined",
            "status_history": [
                {"status": "pending", "at": "2025-01-01T10:00:00Z"},
                {"status": "cancelled", "at": "2025-01-01T10:00:05Z"}
            ],
            "version": 3
        });
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(order.cancel_reason, Some(CancelReason::PaymentDeclined));
        assert_eq!(order.lines.len(), 1);
        assert_eq!(order.status_history[0].status, OrderStatus::Pending);
        assert_eq!(order.version, 3);
        assert_eq!(order.shipping_address, None);
    }

    #[test]
    fn an_order_placed_before_addresses_had_parts_decodes_its_text_into_line1() {
        let json = json!({
            "order_id": Uuid::from_u128(1),
            "shipping_address": {"line1": "1 Main St\nSpringfield"},
            "version": 1
        });
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        let address = order.shipping_address.expect("an address");
        assert_eq!(address.line1, "1 Main St\nSpringfield");
        assert_eq!((address.name.as_str(), address.country.as_str()), ("", ""));
    }

    #[test]
    fn statuses_this_client_does_not_know_decode_as_unknown() {
        let json = json!({
            "order_id": Uuid::from_u128(1), "status": "refunded",
            "cancel_reason": "fraud", "cancel_reason_detail": "new field", "version": 1
        });
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        assert_eq!(order.status, OrderStatus::Unknown);
        assert_eq!(order.cancel_reason, Some(CancelReason::Unknown));
        assert!(order.lines.is_empty());
    }

    #[test]
    fn request_bodies_match_the_contract() {
        assert_eq!(
            serde_json::to_value(CancelBody {
                reason: "changed my mind"
            })
            .ok(),
            Some(json!({"reason": "changed my mind"}))
        );
        assert_eq!(
            serde_json::to_value(ShipBody { tracking: "1Z 999" }).ok(),
            Some(json!({"tracking": "1Z 999"}))
        );
    }
}
