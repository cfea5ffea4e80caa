//! `GET /v1/analytics/sales` and `/v1/analytics/funnel`: after a scripted set of orders (paid,
//! shipped, refunded, declined) every figure equals the one computed here, independently, from
//! the stored events.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{shipping_address, TestSystem};

/// A published product of `vendor` in `category` at `price_minor`, with 100 units in stock.
pub(crate) async fn product(
    system: &TestSystem,
    vendor: &str,
    category: &str,
    price_minor: i64,
) -> Uuid {
    let (status, body) = system
        .command(
            Method::POST,
            "/v1/products",
            Some(vendor),
            Some(json!({"sku": format!("SKU-{category}-{price_minor}"), "title": format!("A {category} item"),
                        "description": "", "category": category,
                        "price": {"amount_minor": price_minor, "currency": "EUR"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = Uuid::parse_str(body["product_id"].as_str().expect("product_id")).expect("uuid");
    let (status, body) = system.publish(vendor, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/inventory/{id}/receipts"),
            Some(vendor),
            Some(json!({"quantity": 100})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// A new customer's order of `lines`, paid with `card`; the customer's token and the order id,
/// once the saga has finished with it.
pub(crate) async fn order(
    system: &TestSystem,
    lines: &[(Uuid, u32)],
    card: &str,
) -> (String, Uuid) {
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    for (product, quantity) in lines {
        let (status, body) = system
            .add_to_cart(&customer, cart, *product, *quantity)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/carts/{cart}/checkout"),
            Some(&customer),
            Some(json!({"shipping_address": shipping_address(), "payment_token": card})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = system.read(&format!("/v1/orders/{order}"), &customer).await;
        if status == StatusCode::OK && body["status"] != "pending" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (customer, order)
}

/// One group's figures, as the API gives them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Figures {
    orders: std::collections::BTreeSet<String>,
    units: i64,
    revenue: i64,
    refunded_orders: std::collections::BTreeSet<String>,
    refunded_units: i64,
    refunds: i64,
}

/// Every group's figures per `group_by`, computed from the stored events: a line counts as sold
/// on the day its order was confirmed, as refunded on the day a confirmed order was cancelled.
async fn expected(system: &TestSystem) -> BTreeMap<&'static str, BTreeMap<String, Figures>> {
    let rows: Vec<(String, String, DateTime<Utc>, Value)> = sqlx::query_as(
        "SELECT aggregate_type, event_type, occurred_at, payload FROM es.events \
         ORDER BY global_position",
    )
    .fetch_all(&system.pool)
    .await
    .expect("events");
    let mut categories = BTreeMap::new();
    for (_, event_type, _, payload) in &rows {
        if event_type == "ProductCreated" {
            categories.insert(
                payload["data"]["product_id"]
                    .as_str()
                    .expect("id")
                    .to_owned(),
                payload["data"]["category"]
                    .as_str()
                    .expect("category")
                    .to_owned(),
            );
        }
    }
    let mut groups: BTreeMap<&'static str, BTreeMap<String, Figures>> = BTreeMap::new();
    for (_, event_type, at, payload) in &rows {
        let refund = match event_type.as_str() {
            "OrderConfirmed" => false,
            "OrderCancelled"
                if matches!(
                    payload["data"]["previous_status"].as_str(),
                    Some("confirmed" | "shipped")
                ) =>
            {
                true
            }
            _ => continue,
        };
        let order = payload["data"]["order_id"]
            .as_str()
            .expect("order")
            .to_owned();
        for line in payload["data"]["lines"].as_array().expect("lines") {
            let product = line["product_id"].as_str().expect("product").to_owned();
            let keys = [
                ("day", at.date_naive().to_string()),
                (
                    "vendor",
                    line["vendor_id"].as_str().expect("vendor").to_owned(),
                ),
                ("product", product.clone()),
                ("category", categories[&product].clone()),
            ];
            let units = line["quantity"].as_i64().expect("quantity");
            let amount = line["line_total"]["amount_minor"].as_i64().expect("amount");
            for (group_by, key) in keys {
                let figures = groups.entry(group_by).or_default().entry(key).or_default();
                if refund {
                    figures.refunded_orders.insert(order.clone());
                    figures.refunded_units += units;
                    figures.refunds += amount;
                } else {
                    figures.orders.insert(order.clone());
                    figures.units += units;
                    figures.revenue += amount;
                }
            }
        }
    }
    groups
}

/// The figures the API gives for `group_by` (order sets replaced by their sizes for comparison).
fn counted(figures: &BTreeMap<String, Figures>) -> BTreeMap<String, Value> {
    figures
        .iter()
        .map(|(key, f)| {
            (
                key.clone(),
                json!({"orders": f.orders.len(), "units": f.units, "revenue": f.revenue,
                       "refunded_orders": f.refunded_orders.len(), "refunded_units": f.refunded_units,
                       "refunds": f.refunds, "net_revenue": f.revenue - f.refunds}),
            )
        })
        .collect()
}

fn served(report: &Value) -> BTreeMap<String, Value> {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            assert_eq!(row["revenue"]["currency"], "EUR", "{row}");
            (
                row["key"].as_str().expect("key").to_owned(),
                json!({"orders": row["orders"], "units": row["units"],
                       "revenue": row["revenue"]["amount_minor"],
                       "refunded_orders": row["refunded_orders"],
                       "refunded_units": row["refunded_units"],
                       "refunds": row["refunds"]["amount_minor"],
                       "net_revenue": row["net_revenue"]["amount_minor"]}),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_sales_and_funnel_figure_equals_the_one_computed_from_the_events() {
    let system = TestSystem::start().await;
    let (north, south) = (Uuid::new_v4(), Uuid::new_v4());
    let (north_token, south_token) = (
        system.vendor_token(north).await,
        system.vendor_token(south).await,
    );
    let book = product(&system, &north_token, "books", 1250).await;
    let toy = product(&system, &north_token, "toys", 990).await;
    let atlas = product(&system, &south_token, "books", 4500).await;

    // Paid and shipped; paid, then refunded; declined; paid; one cart never checked out.
    let (_, shipped) = order(&system, &[(book, 2), (toy, 1), (atlas, 1)], "tok_ok").await;
    let (refunded_by, refunded) = order(&system, &[(atlas, 1), (book, 1)], "tok_ok").await;
    let (_, _declined) = order(&system, &[(toy, 3)], "tok_decline").await;
    let (_, _paid) = order(&system, &[(toy, 2)], "tok_ok").await;
    let idle = system.token_for(Role::Customer, Uuid::new_v4(), None);
    system.open_cart(&idle).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{shipped}/ship"),
            Some(&north_token),
            Some(json!({"tracking": "TRK-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{refunded}/cancel"),
            Some(&refunded_by),
            Some(json!({"reason": "customer_request"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let analyst = system.token(Role::Analyst, None);
    let today = Utc::now().date_naive();
    let range = format!(
        "from={}&to={}",
        today.checked_sub_days(Days::new(1)).expect("yesterday"),
        today.checked_add_days(Days::new(1)).expect("tomorrow")
    );
    // The projector catches up with the last events within a few seconds.
    let funnel = json!({"carts_created": 5, "carts_checked_out": 4, "orders_paid": 3,
                        "orders_cancelled": 2});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, report) = system
            .read(&format!("/v1/analytics/funnel?{range}"), &analyst)
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        let counts = json!({"carts_created": report["carts_created"],
                            "carts_checked_out": report["carts_checked_out"],
                            "orders_paid": report["orders_paid"],
                            "orders_cancelled": report["orders_cancelled"]});
        if counts == funnel {
            assert_eq!(report["checkout_rate"], 0.8);
            assert_eq!(report["payment_rate"], 0.75);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Until the projector has every event: each grouping is polled until it agrees.
    let expected = expected(&system).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for group_by in ["day", "vendor", "product", "category"] {
        let want = counted(&expected[group_by]);
        loop {
            let (status, report) = system
                .read(
                    &format!("/v1/analytics/sales?group_by={group_by}&{range}"),
                    &analyst,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            assert_eq!(report["group_by"], group_by);
            let got = served(&report);
            if got == want {
                if group_by == "product" {
                    assert_eq!(
                        report["rows"][0]["title"]
                            .as_str()
                            .map(|t| t.starts_with("A ")),
                        Some(true)
                    );
                }
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{group_by}: {got:#?} != {want:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The script's own arithmetic, so the computation above cannot agree with a wrong model:
    // books: 2×12.50 + 45.00 (shipped) + 45.00 + 12.50 (refunded) sold, 57.50 refunded.
    let books = &counted(&expected["category"])["books"];
    assert_eq!(books["revenue"], 2 * 1250 + 4500 + 4500 + 1250);
    assert_eq!(books["refunds"], 4500 + 1250);
    assert_eq!(books["orders"], 2);

    // Per vendor, only that vendor's lines.
    let (status, report) = system
        .read(
            &format!("/v1/analytics/sales?group_by=product&vendor_id={south}&{range}"),
            &analyst,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let keys: Vec<&str> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, [atlas.to_string()]);

    // North's dashboard, as North reads it: net of the refund, by day, its products, its stock.
    // Stock events of other aggregates may still be on their way: until the two agree.
    let fields = [
        "orders",
        "units",
        "revenue",
        "refunds",
        "by_day",
        "top_products",
        "stock_alerts",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let served = loop {
        let (status, served) = system
            .read(
                &format!("/v1/vendors/{north}/dashboard?{range}&low_stock=1000"),
                &north_token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{served}");
        let dashboard = vendor_dashboard(&system, north).await;
        if fields.iter().all(|f| served[f] == dashboard[f]) {
            break served;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{served:#} != {dashboard:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(served["currency"], "EUR");
    // The script's own arithmetic: 2 books and a toy shipped, a book refunded, 2 toys paid.
    assert_eq!(served["revenue"]["amount_minor"], 2 * 1250 + 990 + 2 * 990);
    assert_eq!(served["units"], 2 + 1 + 2);
    assert_eq!(served["orders"], 3);
    assert_eq!(served["by_day"].as_array().map(Vec::len), Some(3));

    // Tenant isolation: North never reads South's; analysts and admins read any.
    let (status, problem) = system
        .read(&format!("/v1/vendors/{south}/dashboard"), &north_token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    for token in [&analyst, &system.token(Role::Admin, None)] {
        let (status, served) = system
            .read(&format!("/v1/vendors/{south}/dashboard?{range}"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{served}");
        assert_eq!(served["vendor_id"], south.to_string());
        assert_eq!(
            served["revenue"]["amount_minor"], 4500,
            "the refunded atlas nets out"
        );
    }
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, _) = system
        .read(&format!("/v1/vendors/{north}/dashboard"), &customer)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Ops rebuild the model from the events: a new generation, swapped in, the same figures.
    let reports = [
        format!("/v1/analytics/sales?group_by=product&{range}"),
        format!("/v1/analytics/funnel?{range}"),
        format!("/v1/vendors/{north}/dashboard?{range}&low_stock=1000"),
    ];
    let mut before = Vec::new();
    for path in &reports {
        before.push(system.read(path, &analyst).await.1);
    }
    let mut rebuild = system.commerce();
    rebuild.args(["projections", "rebuild", "analytics", "--page", "7"]);
    let output = tokio::task::spawn_blocking(move || rebuild.output())
        .await
        .expect("join")
        .expect("run the rebuild");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("analytics rebuilt into generation 2"));
    for (path, before) in reports.iter().zip(before) {
        let (status, after) = system.read(path, &analyst).await;
        assert_eq!(status, StatusCode::OK, "{after}");
        assert_eq!(after, before, "{path}");
    }
    let old: Option<String> = sqlx::query_scalar("SELECT to_regclass('read.sales_lines_g1')::text")
        .fetch_one(&system.pool)
        .await
        .expect("old table");
    assert_eq!(old, None, "the old generation is dropped");
    system.stop().await;
}

/// `vendor`'s dashboard over yesterday to tomorrow, computed from the stored events: net units
/// and revenue per day and product, paid orders, and each product's last stock count.
pub(crate) async fn vendor_dashboard(system: &TestSystem, vendor: Uuid) -> Value {
    let rows: Vec<(String, DateTime<Utc>, Value)> = sqlx::query_as(
        "SELECT event_type, occurred_at, payload FROM es.events ORDER BY global_position",
    )
    .fetch_all(&system.pool)
    .await
    .expect("events");
    let vendor = vendor.to_string();
    let today = Utc::now().date_naive();
    let days: Vec<String> = [
        today.checked_sub_days(Days::new(1)).expect("yesterday"),
        today,
        today.checked_add_days(Days::new(1)).expect("tomorrow"),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut per_day: BTreeMap<String, (std::collections::BTreeSet<String>, i64, i64)> = days
        .iter()
        .map(|d| (d.clone(), Default::default()))
        .collect();
    let mut per_product: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut titles = BTreeMap::new();
    let mut stock: BTreeMap<String, i64> = BTreeMap::new();
    let (mut orders, mut refunds) = (std::collections::BTreeSet::new(), 0);
    for (event_type, at, payload) in &rows {
        let data = &payload["data"];
        match event_type.as_str() {
            "ProductCreated" if data["vendor_id"] == vendor.as_str() => {
                titles.insert(
                    data["product_id"].as_str().expect("id").to_owned(),
                    data["title"].clone(),
                );
            }
            "StockReceived" | "StockReserved" | "StockReleased" | "StockCommitted"
            | "StockReturned"
                if data["vendor_id"] == vendor.as_str() =>
            {
                stock.insert(
                    data["product_id"].as_str().expect("id").to_owned(),
                    data["available"].as_i64().expect("available"),
                );
            }
            "OrderConfirmed" | "OrderCancelled" => {
                let sign = if event_type == "OrderConfirmed" {
                    1
                } else if matches!(
                    data["previous_status"].as_str(),
                    Some("confirmed" | "shipped")
                ) {
                    -1
                } else {
                    continue;
                };
                let order = data["order_id"].as_str().expect("order").to_owned();
                for line in data["lines"].as_array().expect("lines") {
                    if line["vendor_id"] != vendor.as_str() {
                        continue;
                    }
                    let units = sign * line["quantity"].as_i64().expect("quantity");
                    let amount =
                        sign * line["line_total"]["amount_minor"].as_i64().expect("amount");
                    let day = per_day.entry(at.date_naive().to_string()).or_default();
                    if sign > 0 {
                        day.0.insert(order.clone());
                        orders.insert(order.clone());
                    } else {
                        refunds -= amount;
                    }
                    day.1 += units;
                    day.2 += amount;
                    let product = per_product
                        .entry(line["product_id"].as_str().expect("product").to_owned())
                        .or_default();
                    product.0 += units;
                    product.1 += amount;
                }
            }
            _ => {}
        }
    }
    let money = |amount: i64| json!({"amount_minor": amount, "currency": "EUR"});
    let mut top: Vec<(String, (i64, i64))> = per_product.into_iter().collect();
    top.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let mut alerts: Vec<(String, i64)> = stock.into_iter().collect();
    alerts.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    json!({
        "orders": orders.len(),
        "units": per_day.values().map(|d| d.1).sum::<i64>(),
        "revenue": money(per_day.values().map(|d| d.2).sum()),
        "refunds": money(refunds),
        "by_day": per_day.iter().map(|(day, (orders, units, revenue))| json!({
            "day": day, "revenue": money(*revenue), "orders": orders.len(), "units": units,
        })).collect::<Vec<_>>(),
        "top_products": top.iter().take(5).map(|(id, (units, revenue))| json!({
            "product_id": id, "title": titles[id], "units": units, "revenue": money(*revenue),
        })).collect::<Vec<_>>(),
        "stock_alerts": alerts.iter().map(|(id, available)| json!({
            "product_id": id, "title": titles[id], "available": available,
        })).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn analytics_are_for_analysts_and_admins_over_a_range_that_makes_sense() {
    let system = TestSystem::start().await;
    for role in [Role::Customer, Role::Ops] {
        let token = system.token_for(role, Uuid::new_v4(), None);
        for path in ["/v1/analytics/sales", "/v1/analytics/funnel"] {
            let (status, body) = system.read(path, &token).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {path}: {body}");
        }
    }
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let (status, _) = system.read("/v1/analytics/sales", &vendor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = system.token(Role::Admin, None);
    let (status, report) = system.read("/v1/analytics/sales", &admin).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["group_by"], "day");
    assert_eq!(report["rows"], json!([]));
    let (status, problem) = system
        .read("/v1/analytics/funnel?from=2026-02-01&to=2026-01-01", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("/problems/rule-violation")));
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("from must be on or before to (2026-01-01), got 2026-02-01")));
    let (status, problem) = system
        .read("/v1/analytics/sales?from=2000-01-01&to=2026-01-01", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("at most 3660 days")));
    let (status, _) = system
        .read("/v1/analytics/sales?group_by=week", &admin)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = system
        .read("/v1/analytics/sales?from=yesterday", &admin)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    system.stop().await;
}
