//! Orders: cancelling and shipping, and returns of shipped goods (command API); reading orders,
//! their per-vendor sub-orders and their returns (read API).
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
    /// Some vendors' sub-orders shipped, others not yet (an order's status only).
    PartiallyShipped,
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
    /// The tracking number of the last shipment; each sub-order has its own.
    #[serde(default)]
    pub tracking: Option<String>,
    /// One per vendor of the lines, in the order the vendors first appear. A vendor reading the
    /// order sees only its own (and `total` is then its subtotal).
    #[serde(default)]
    pub sub_orders: Vec<SubOrder>,
    /// Every status the order went through, oldest first.
    #[serde(default)]
    pub status_history: Vec<StatusChange>,
    /// Where the order goes; absent from documents the server projected before it kept them.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
    /// Returns of shipped goods, in the order asked. A vendor reading the order sees only its
    /// own; absent from documents the server projected before returns existed.
    #[serde(default)]
    pub returns: Vec<OrderReturn>,
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

/// One vendor's part of an order: its lines, their subtotal and that vendor's shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubOrder {
    pub vendor_id: Uuid,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub subtotal: Money,
    /// `Pending`, `Confirmed`, `Shipped` or `Cancelled`.
    #[serde(default)]
    pub status: OrderStatus,
    /// Set once this sub-order has shipped.
    #[serde(default)]
    pub tracking: Option<String>,
}

/// One vendor's sub-order with the order it belongs to, from
/// [`CommerceClient::get_sub_order`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubOrderView {
    pub order_id: Uuid,
    /// The whole order's status (`PartiallyShipped` while some sub-orders have not shipped).
    #[serde(default)]
    pub order_status: OrderStatus,
    /// The order's version: what `min_version` waits for.
    pub version: i64,
    pub vendor_id: Uuid,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub subtotal: Money,
    /// This sub-order's own status.
    #[serde(default)]
    pub status: OrderStatus,
    #[serde(default)]
    pub tracking: Option<String>,
}

/// Where a return stands; `Unknown` as for [`OrderStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Asked by the customer; the vendor decides.
    Requested,
    /// Accepted by the vendor; the refund is under way.
    Accepted,
    /// Refused by the vendor (see [`OrderReturn::reason`]).
    Rejected,
    Refunded,
    /// The payment provider would not refund; the units may be asked for again.
    RefundFailed,
    #[default]
    #[serde(other)]
    Unknown,
}

/// A return of some units of one vendor's shipped sub-order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReturn {
    /// Names the return in [`CommerceClient::accept_return`] and
    /// [`CommerceClient::reject_return`].
    pub return_id: Uuid,
    /// Whose sub-order the units come from: the vendor who decides.
    pub vendor_id: Uuid,
    #[serde(default)]
    pub status: ReturnStatus,
    #[serde(default)]
    pub lines: Vec<ReturnLine>,
    /// The sum of the lines' refunds.
    #[serde(default)]
    pub refund_total: Money,
    /// Whether the units go back into the vendor's stock (said on acceptance).
    #[serde(default)]
    pub restock: bool,
    /// The customer's reason when asking, the vendor's when rejecting.
    #[serde(default)]
    pub reason: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One product's units in a return, with what they refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub product_id: Uuid,
    pub quantity: u32,
    pub refund: Money,
}

/// Units of one product to return, sent with [`CommerceClient::request_return`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReturnItem {
    pub product_id: Uuid,
    /// 1 to 99, at most what the line holds less the units of its other returns (422
    /// otherwise).
    pub quantity: u32,
}

/// The answer to [`CommerceClient::request_return`]: the new return's id, and the order's
/// version that shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequested {
    pub return_id: Uuid,
    /// The order's: pass `version` as `min_version` to [`CommerceClient::get_order`].
    #[serde(flatten)]
    pub accepted: Accepted,
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
    /// Pass as `cursor` to [`CommerceClient::list_orders`] (or [`OrderQuery::cursor`]) for the
    /// next page; `None` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Filters for [`CommerceClient::list_orders_matching`]; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// Only orders holding this vendor's lines. A vendor may name only itself (403 otherwise);
    /// an admin may name any vendor; a customer filters its own orders.
    pub vendor_id: Option<Uuid>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (the server's default is 20).
    pub limit: Option<u32>,
}

#[derive(Serialize)]
struct CancelBody<'a> {
    reason: &'a str,
}

#[derive(Serialize)]
struct ShipBody<'a> {
    tracking: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<Uuid>,
}

#[derive(Serialize)]
struct RequestReturnBody<'a> {
    lines: &'a [ReturnItem],
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct AcceptReturnBody {
    restock: bool,
}

#[derive(Serialize)]
struct RejectReturnBody<'a> {
    reason: &'a str,
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

    /// `POST /v1/orders/{id}/ship` (vendor of the lines, admin) with the carrier's tracking number,
    /// naming no vendor: a vendor ships its own sub-order; an admin ships an order of a single
    /// vendor (an order of several answers 422: use [`CommerceClient::ship_sub_order`]).
    pub async fn ship_order(
        &self,
        order_id: Uuid,
        tracking: &str,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        self.ship_sub_order(order_id, tracking, None, options).await
    }

    /// `POST /v1/orders/{id}/ship`: hands `vendor_id`'s sub-order to a carrier. A vendor ships its
    /// own and may pass `None` (another vendor's is 403); an admin must name the vendor when the
    /// order holds several vendors' lines (422 otherwise). The order is `PartiallyShipped` until
    /// every sub-order has shipped, then `Shipped`.
    pub async fn ship_sub_order(
        &self,
        order_id: Uuid,
        tracking: &str,
        vendor_id: Option<Uuid>,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/orders/{order_id}/ship");
        let body = ShipBody {
            tracking,
            vendor_id,
        };
        self.command(Method::POST, &path, &body, options).await
    }

    /// `POST /v1/orders/{id}/returns` (the order's customer, an admin): asks to return units of
    /// one vendor's shipped sub-order, 1 to 50 lines, each product once. `vendor_id` may be left
    /// out: the vendor of the lines' products. The vendor then accepts or rejects it; the refund
    /// follows acceptance.
    pub async fn request_return(
        &self,
        order_id: Uuid,
        lines: &[ReturnItem],
        vendor_id: Option<Uuid>,
        reason: Option<&str>,
        options: &CommandOptions,
    ) -> Result<ReturnRequested, ClientError> {
        let path = format!("/v1/orders/{order_id}/returns");
        let body = RequestReturnBody {
            lines,
            vendor_id,
            reason,
        };
        self.command(Method::POST, &path, &body, options).await
    }

    /// `POST /v1/orders/{id}/returns/{return_id}/accept` (the return's vendor, an admin): the
    /// saga refunds the customer and, with `restock`, puts the units back into stock. Accepting
    /// again changes nothing; a rejected or failed return answers 409.
    pub async fn accept_return(
        &self,
        order_id: Uuid,
        return_id: Uuid,
        restock: bool,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/orders/{order_id}/returns/{return_id}/accept");
        self.command(Method::POST, &path, &AcceptReturnBody { restock }, options)
            .await
    }

    /// `POST /v1/orders/{id}/returns/{return_id}/reject` (the return's vendor, an admin), saying
    /// why. Rejecting again changes nothing; an accepted return answers 409.
    pub async fn reject_return(
        &self,
        order_id: Uuid,
        return_id: Uuid,
        reason: &str,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/orders/{order_id}/returns/{return_id}/reject");
        self.command(Method::POST, &path, &RejectReturnBody { reason }, options)
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

    /// `GET /v1/orders/{id}/sub-orders/{vendor_id}`: one vendor's sub-order, for the order's
    /// customer, admins and that vendor (another vendor gets 403), waiting up to 2 s for
    /// `min_version` (the order's version; then 409).
    pub async fn get_sub_order(
        &self,
        order_id: Uuid,
        vendor_id: Uuid,
        min_version: Option<i64>,
    ) -> Result<SubOrderView, ClientError> {
        self.read(sub_order_url(
            self.read_api_base(),
            order_id,
            vendor_id,
            min_version,
        ))
        .await
    }

    /// `GET /v1/orders`: a customer's own orders, a vendor's orders with its lines, or all (admin).
    pub async fn list_orders(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<OrderPage, ClientError> {
        let query = OrderQuery {
            vendor_id: None,
            cursor: cursor.map(str::to_owned),
            limit,
        };
        self.list_orders_matching(&query).await
    }

    /// `GET /v1/orders` with [`OrderQuery`]'s filters, such as only one vendor's orders.
    pub async fn list_orders_matching(&self, query: &OrderQuery) -> Result<OrderPage, ClientError> {
        self.read(list_orders_url(self.read_api_base(), query))
            .await
    }
}

fn order_url(base: &str, order_id: Uuid, min_version: Option<i64>) -> String {
    single_read_url(base, &format!("/v1/orders/{order_id}"), min_version)
}

fn sub_order_url(base: &str, order_id: Uuid, vendor_id: Uuid, min_version: Option<i64>) -> String {
    single_read_url(
        base,
        &format!("/v1/orders/{order_id}/sub-orders/{vendor_id}"),
        min_version,
    )
}

fn list_orders_url(base: &str, query: &OrderQuery) -> String {
    QueryString::default()
        .param("vendor_id", query.vendor_id)
        .param("cursor", query.cursor.as_deref())
        .param("limit", query.limit)
        .append_to(endpoint(base, "/v1/orders"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_orders_url_sends_only_what_is_set() {
        let query = |cursor: Option<&str>, limit| OrderQuery {
            vendor_id: None,
            cursor: cursor.map(str::to_owned),
            limit,
        };
        assert_eq!(
            list_orders_url("http://reads.test", &query(Some("c 1"), Some(50))),
            "http://reads.test/v1/orders?cursor=c%201&limit=50"
        );
        assert_eq!(
            list_orders_url("http://reads.test", &query(None, Some(5))),
            "http://reads.test/v1/orders?limit=5"
        );
        assert_eq!(
            list_orders_url("http://reads.test", &OrderQuery::default()),
            "http://reads.test/v1/orders"
        );
        let vendor = Uuid::from_u128(4);
        let by_vendor = OrderQuery {
            vendor_id: Some(vendor),
            limit: Some(10),
            ..OrderQuery::default()
        };
        assert_eq!(
            list_orders_url("http://reads.test", &by_vendor),
            format!("http://reads.test/v1/orders?vendor_id={vendor}&limit=10")
        );
    }

    #[test]
    fn sub_order_url_names_the_order_and_vendor_and_carries_min_version() {
        let (order, vendor) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(
            sub_order_url("http://reads.test/", order, vendor, Some(4)),
            format!("http://reads.test/v1/orders/{order}/sub-orders/{vendor}?min_version=4")
        );
        assert_eq!(
            sub_order_url("http://reads.test", order, vendor, None),
            format!("http://reads.test/v1/orders/{order}/sub-orders/{vendor}")
        );
    }

    #[test]
    fn a_partially_shipped_order_decodes_with_its_sub_orders() {
        let (vendor_a, vendor_b) = (Uuid::from_u128(4), Uuid::from_u128(5));
        let line = |product: u128, vendor: Uuid, minor: i64| {
            json!({"product_id": Uuid::from_u128(product), "vendor_id": vendor, "quantity": 1,
                   "unit_price": {"amount_minor": minor, "currency": "EUR"},
                   "line_total": {"amount_minor": minor, "currency": "EUR"}})
        };
        let json = json!({
            "order_id": Uuid::from_u128(1),
            "customer_id": Uuid::from_u128(2),
            "status": "partially_shipped",
            "lines": [line(3, vendor_a, 500), line(6, vendor_b, 700)],
            "total": {"amount_minor": 1200, "currency": "EUR"},
            "cancel_reason": null,
            "tracking": "1Z 999",
            "sub_orders": [
                {"vendor_id": vendor_a, "lines": [line(3, vendor_a, 500)],
                 "subtotal": {"amount_minor": 500, "currency": "EUR"},
                 "status": "shipped", "tracking": "1Z 999"},
                {"vendor_id": vendor_b, "lines": [line(6, vendor_b, 700)],
                 "subtotal": {"amount_minor": 700, "currency": "EUR"},
                 "status": "confirmed", "tracking": null}
            ],
            "status_history": [
                {"status": "pending", "at": "2025-01-01T10:00:00Z"},
                {"status": "confirmed", "at": "2025-01-01T10:00:01Z"},
                {"status": "partially_shipped", "at": "2025-01-01T11:00:00Z"}
            ],
            "version": 4
        });
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        assert_eq!(order.status, OrderStatus::PartiallyShipped);
        assert_eq!(order.tracking.as_deref(), Some("1Z 999"));
        assert_eq!(
            order.status_history[2].status,
            OrderStatus::PartiallyShipped
        );
        assert_eq!(order.sub_orders.len(), 2);
        let (shipped, open) = (&order.sub_orders[0], &order.sub_orders[1]);
        assert_eq!(
            (
                shipped.vendor_id,
                shipped.status,
                shipped.tracking.as_deref()
            ),
            (vendor_a, OrderStatus::Shipped, Some("1Z 999"))
        );
        assert_eq!(shipped.subtotal, Money::new(500, "EUR"));
        assert_eq!(shipped.lines[0].vendor_id, vendor_a);
        assert_eq!(
            (open.vendor_id, open.status, open.tracking.as_deref()),
            (vendor_b, OrderStatus::Confirmed, None)
        );
        assert_eq!(
            serde_json::to_value(OrderStatus::PartiallyShipped).ok(),
            Some(json!("partially_shipped"))
        );
    }

    #[test]
    fn an_order_without_sub_orders_decodes_with_none() {
        let json = json!({"order_id": Uuid::from_u128(1), "status": "shipped", "version": 3});
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        assert_eq!(order.status, OrderStatus::Shipped);
        assert!(order.sub_orders.is_empty());
        assert!(order.returns.is_empty());
        assert_eq!(order.tracking, None);
    }

    #[test]
    fn an_order_decodes_with_its_returns_and_statuses_this_client_does_not_know() {
        let (vendor, product) = (Uuid::from_u128(4), Uuid::from_u128(3));
        let a_return = |id: u128, status: &str| {
            json!({
                "return_id": Uuid::from_u128(id), "vendor_id": vendor, "status": status,
                "lines": [{"product_id": product, "quantity": 2,
                           "refund": {"amount_minor": 1000, "currency": "EUR"}}],
                "refund_total": {"amount_minor": 1000, "currency": "EUR"},
                "restock": true, "reason": "too small",
                "requested_at": "2025-01-02T10:00:00Z", "updated_at": "2025-01-02T11:00:00Z"
            })
        };
        let json = json!({
            "order_id": Uuid::from_u128(1), "status": "shipped", "version": 7,
            "returns": [a_return(10, "refund_failed"), a_return(11, "exchanged")]
        });
        let order: OrderDocument = serde_json::from_value(json).expect("decodes");
        let (failed, unknown) = (&order.returns[0], &order.returns[1]);
        assert_eq!(
            (failed.return_id, failed.vendor_id, failed.status),
            (Uuid::from_u128(10), vendor, ReturnStatus::RefundFailed)
        );
        assert_eq!(
            failed.lines,
            vec![ReturnLine {
                product_id: product,
                quantity: 2,
                refund: Money::new(1000, "EUR")
            }]
        );
        assert_eq!(failed.refund_total, Money::new(1000, "EUR"));
        assert!(failed.restock);
        assert_eq!(failed.reason.as_deref(), Some("too small"));
        assert_eq!(unknown.status, ReturnStatus::Unknown);
    }

    #[test]
    fn a_requested_return_reads_its_id_and_the_flattened_answer() {
        let (order, return_id) = (Uuid::from_u128(1), Uuid::from_u128(10));
        let requested: ReturnRequested = serde_json::from_value(json!({
            "return_id": return_id, "aggregate_type": "Order",
            "aggregate_id": order.to_string(), "version": 6, "read_with": "min_version"
        }))
        .expect("decodes");
        assert_eq!(requested.return_id, return_id);
        assert_eq!(requested.accepted.aggregate_type.as_deref(), Some("Order"));
        assert_eq!(
            (
                requested.accepted.aggregate_id.as_str(),
                requested.accepted.version
            ),
            (order.to_string().as_str(), 6)
        );
    }

    #[test]
    fn a_sub_order_view_decodes_flattened() {
        let (order_id, vendor) = (Uuid::from_u128(1), Uuid::from_u128(4));
        let json = json!({
            "order_id": order_id,
            "order_status": "partially_shipped",
            "version": 5,
            "vendor_id": vendor,
            "lines": [{"product_id": Uuid::from_u128(3), "vendor_id": vendor, "quantity": 2,
                       "unit_price": {"amount_minor": 250, "currency": "EUR"},
                       "line_total": {"amount_minor": 500, "currency": "EUR"}}],
            "subtotal": {"amount_minor": 500, "currency": "EUR"},
            "status": "shipped",
            "tracking": "1Z 999"
        });
        let view: SubOrderView = serde_json::from_value(json).expect("decodes");
        assert_eq!((view.order_id, view.vendor_id), (order_id, vendor));
        assert_eq!(view.order_status, OrderStatus::PartiallyShipped);
        assert_eq!((view.status, view.version), (OrderStatus::Shipped, 5));
        assert_eq!(view.lines[0].quantity, 2);
        assert_eq!(view.subtotal, Money::new(500, "EUR"));
        assert_eq!(view.tracking.as_deref(), Some("1Z 999"));
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
            serde_json::to_value(ShipBody {
                tracking: "1Z 999",
                vendor_id: None
            })
            .ok(),
            Some(json!({"tracking": "1Z 999"}))
        );
        let vendor = Uuid::from_u128(4);
        assert_eq!(
            serde_json::to_value(ShipBody {
                tracking: "1Z 999",
                vendor_id: Some(vendor)
            })
            .ok(),
            Some(json!({"tracking": "1Z 999", "vendor_id": vendor}))
        );
    }

    #[test]
    fn return_bodies_match_the_contract() {
        let (product, vendor) = (Uuid::from_u128(3), Uuid::from_u128(4));
        let lines = [ReturnItem {
            product_id: product,
            quantity: 2,
        }];
        assert_eq!(
            serde_json::to_value(RequestReturnBody {
                lines: &lines,
                vendor_id: None,
                reason: None
            })
            .ok(),
            Some(json!({"lines": [{"product_id": product, "quantity": 2}]}))
        );
        assert_eq!(
            serde_json::to_value(RequestReturnBody {
                lines: &lines,
                vendor_id: Some(vendor),
                reason: Some("too small")
            })
            .ok(),
            Some(json!({"lines": [{"product_id": product, "quantity": 2}],
                        "vendor_id": vendor, "reason": "too small"}))
        );
        assert_eq!(
            serde_json::to_value(AcceptReturnBody { restock: false }).ok(),
            Some(json!({"restock": false}))
        );
        assert_eq!(
            serde_json::to_value(RejectReturnBody { reason: "worn" }).ok(),
            Some(json!({"reason": "worn"}))
        );
    }
}
