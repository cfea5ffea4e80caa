//! An order over three vendors' products: one sub-order per vendor, each read and shipped by its
//! vendor alone; the order is `partially_shipped` until the last ships, and a cancellation gives
//! back only what had not shipped.
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::TestSystem;

/// Three vendors with a stocked product each, and a customer's confirmed order of one of each.
struct ThreeVendorOrder {
    vendors: Vec<(Uuid, String, Uuid)>,
    customer: String,
    order: Uuid,
}

impl ThreeVendorOrder {
    async fn place(system: &TestSystem) -> Self {
        let mut vendors = Vec::new();
        for price in [1000, 500, 250] {
            let vendor = Uuid::new_v4();
            let token = system.vendor_token(vendor).await;
            let product = system.stocked_product(&token, price, 5).await;
            vendors.push((vendor, token, product));
        }
        let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
        let cart = system.open_cart(&customer).await;
        for (_, _, product) in &vendors {
            let (status, body) = system.add_to_cart(&customer, cart, *product, 1).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, body) = system.checkout(&customer, cart).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("id");
        system
            .order_reaching(order, |doc| doc["status"] == "confirmed")
            .await;
        Self {
            vendors,
            customer,
            order,
        }
    }

    async fn ship(
        &self,
        system: &TestSystem,
        vendor: usize,
        tracking: &str,
    ) -> (StatusCode, Value) {
        system
            .command(
                Method::POST,
                &format!("/v1/orders/{}/ship", self.order),
                Some(&self.vendors[vendor].1),
                Some(json!({ "tracking": tracking })),
            )
            .await
    }

    async fn sub_order(
        &self,
        system: &TestSystem,
        reader: &str,
        vendor: usize,
    ) -> (StatusCode, Value) {
        system
            .read(
                &format!(
                    "/v1/orders/{}/sub-orders/{}",
                    self.order, self.vendors[vendor].0
                ),
                reader,
            )
            .await
    }
}

/// `field` of each sub-order of an order document, in order.
fn of_each_sub_order<'a>(order: &'a Value, field: &str) -> Vec<&'a str> {
    order["sub_orders"]
        .as_array()
        .expect("sub_orders")
        .iter()
        .filter_map(|s| s[field].as_str())
        .collect()
}

#[tokio::test]
async fn three_vendors_each_read_and_ship_only_their_own_sub_order() {
    let system = TestSystem::start().await;
    let three = ThreeVendorOrder::place(&system).await;
    let (status, order) = system
        .read(&format!("/v1/orders/{}", three.order), &three.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let sub_orders = order["sub_orders"].as_array().expect("sub_orders");
    assert_eq!(sub_orders.len(), 3, "{order}");
    for (sub_order, (vendor, _, product)) in sub_orders.iter().zip(&three.vendors) {
        assert_eq!(sub_order["vendor_id"], vendor.to_string());
        assert_eq!(sub_order["status"], "confirmed");
        assert_eq!(sub_order["lines"][0]["product_id"], product.to_string());
    }
    assert_eq!(sub_orders[1]["subtotal"]["amount_minor"], 500);

    // Each vendor reads its own sub-order, is refused the others', and sees only its part.
    for (mine, (_, token, _)) in three.vendors.iter().enumerate() {
        for theirs in 0..3 {
            let (status, body) = three.sub_order(&system, token, theirs).await;
            let expected = if mine == theirs {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "vendor {mine} reading {theirs}: {body}");
        }
        let (status, seen) = system
            .read(&format!("/v1/orders/{}", three.order), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{seen}");
        assert_eq!(seen["sub_orders"].as_array().map(Vec::len), Some(1));
        assert_eq!(seen["lines"].as_array().map(Vec::len), Some(1));
    }
    // A vendor with no part in the order learns nothing of it.
    let stranger = system.vendor_token(Uuid::new_v4()).await;
    let (status, body) = three.sub_order(&system, &stranger, 0).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Shipped one by one: partially shipped, then shipped.
    let (status, first) = three.ship(&system, 1, "B-1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let order = system
        .order_reaching(three.order, |doc| doc["status"] == "partially_shipped")
        .await;
    assert_eq!(order["sub_orders"][1]["status"], "shipped");
    assert_eq!(order["sub_orders"][1]["tracking"], "B-1");
    assert_eq!(order["sub_orders"][0]["status"], "confirmed");
    // Shipping one's own sub-order again with the same tracking is a retry; another's is refused.
    let (status, again) = three.ship(&system, 1, "B-1").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["version"], first["version"], "nothing recorded");
    let (status, refused) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{}/ship", three.order),
            Some(&three.vendors[1].1),
            Some(json!({ "tracking": "B-2", "vendor_id": three.vendors[0].0 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // An admin ships an order of several vendors only by naming one.
    let admin = system.token(Role::Admin, None);
    let (status, unnamed) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{}/ship", three.order),
            Some(&admin),
            Some(json!({ "tracking": "A-1" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unnamed}");
    let (status, shipped) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{}/ship", three.order),
            Some(&admin),
            Some(json!({ "tracking": "A-1", "vendor_id": three.vendors[0].0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let (status, last) = three.ship(&system, 2, "C-1").await;
    assert_eq!(status, StatusCode::OK, "{last}");
    let order = system
        .order_reaching(three.order, |doc| doc["status"] == "shipped")
        .await;
    let history: Vec<&str> = order["status_history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(
        history,
        ["pending", "confirmed", "partially_shipped", "shipped"]
    );
    assert_eq!(of_each_sub_order(&order, "tracking"), ["A-1", "B-1", "C-1"]);
    let (status, mine) = three.sub_order(&system, &three.vendors[2].1, 2).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["order_status"], "shipped");
    assert_eq!(mine["status"], "shipped");
    system.stop().await;
}

#[tokio::test]
async fn three_vendors_shipping_at_once_all_succeed_and_none_is_lost() {
    let system = TestSystem::start().await;
    let three = ThreeVendorOrder::place(&system).await;
    let (a, b, c) = tokio::join!(
        three.ship(&system, 0, "A-1"),
        three.ship(&system, 1, "B-1"),
        three.ship(&system, 2, "C-1"),
    );
    for (status, body) in [&a, &b, &c] {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let versions: std::collections::BTreeSet<i64> = [&a, &b, &c]
        .iter()
        .filter_map(|(_, body)| body["version"].as_i64())
        .collect();
    assert_eq!(versions.len(), 3, "three appends, one after another");
    let order = system
        .order_reaching(three.order, |doc| doc["status"] == "shipped")
        .await;
    assert_eq!(of_each_sub_order(&order, "tracking"), ["A-1", "B-1", "C-1"]);
    let recorded: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM es.events WHERE aggregate_id = $1 \
           AND event_type IN ('SubOrderShipped', 'OrderShipped') ORDER BY sequence",
    )
    .bind(three.order.to_string())
    .fetch_all(&system.pool)
    .await
    .expect("events");
    assert_eq!(
        recorded,
        ["SubOrderShipped", "SubOrderShipped", "OrderShipped"]
    );
    system.stop().await;
}

#[tokio::test]
async fn cancelling_a_partially_shipped_order_gives_back_only_what_had_not_shipped() {
    let system = TestSystem::start().await;
    let three = ThreeVendorOrder::place(&system).await;
    let (status, body) = three.ship(&system, 0, "A-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{}/cancel", three.order),
            Some(&three.customer),
            Some(json!({ "reason": "customer_request" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let order = system
        .order_reaching(three.order, |doc| doc["status"] == "cancelled")
        .await;
    assert_eq!(
        of_each_sub_order(&order, "status"),
        ["shipped", "cancelled", "cancelled"]
    );

    // The saga refunds the two open sub-orders (5.00 + 2.50), and returns their units only.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let refunded = loop {
        let refunds: Vec<Value> = sqlx::query_scalar(
            "SELECT payload FROM es.events WHERE aggregate_type = 'Payment' \
               AND event_type = 'PaymentRefunded' AND payload->'data'->>'order_id' = $1",
        )
        .bind(three.order.to_string())
        .fetch_all(&system.pool)
        .await
        .expect("refunds");
        if let Some(refund) = refunds.first() {
            break refund.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no refund recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        refunded["data"]["amount"]["amount_minor"], 750,
        "{refunded}"
    );
    let admin = system.token(Role::Admin, None);
    for (index, units) in [(0, 4), (1, 5), (2, 5)] {
        let product = three.vendors[index].2;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, doc) = system
                .read(&format!("/v1/catalog/products/{product}"), &admin)
                .await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            if doc["available"] == units {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "product {index}: {} units, expected {units}",
                doc["available"]
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    system.stop().await;
}

/// The notifications of `token` of `kind`, once `ready` holds for them (within 10 s).
async fn notifications_reaching(
    system: &TestSystem,
    token: &str,
    kind: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, page) = system.read("/v1/notifications", token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let told: Vec<Value> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|n| n["kind"] == kind)
            .cloned()
            .collect();
        if ready(&told) {
            return told;
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sub_orders_shipment_is_told_to_the_customer_and_to_that_vendor_only() {
    let system = TestSystem::start().await;
    let three = ThreeVendorOrder::place(&system).await;
    let (status, body) = three.ship(&system, 1, "B-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let told =
        notifications_reaching(&system, &three.customer, "order_shipped", |n| !n.is_empty()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["order_id"], three.order.to_string());
    assert_eq!(
        told[0]["detail"],
        json!({"tracking": "B-1", "vendor_id": three.vendors[1].0, "partial": true})
    );
    // The same event told every recipient in one write: what the others have now is final.
    let shipper = notifications_reaching(&system, &three.vendors[1].1, "order_shipped", |n| {
        !n.is_empty()
    })
    .await;
    assert_eq!(shipper[0]["detail"]["tracking"], "B-1");
    for other in [0, 2] {
        let none =
            notifications_reaching(&system, &three.vendors[other].1, "order_shipped", |_| true)
                .await;
        assert!(none.is_empty(), "vendor {other} was told: {none:?}");
    }
    system.stop().await;
}
