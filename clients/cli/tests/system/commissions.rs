//! Commission rules: an admin sets them; each order line's commission is fixed under the rules in
//! force when the saga confirms its order (vendor override, then category, then default; floor
//! and cap), and a later change of the rules leaves confirmed orders as they were.
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::TestSystem;

/// A published product of `token`'s vendor in `category`, with stock.
async fn product_in(system: &TestSystem, token: &str, category: &str, price_minor: i64) -> Uuid {
    system
        .product_for_sale(token, category, (price_minor, "EUR"), 10)
        .await
}

/// A confirmed order of one unit of each of `products`; its commissions by product.
async fn confirmed_commissions(system: &TestSystem, products: &[Uuid]) -> Vec<(String, i64)> {
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    for product in products {
        let (status, body) = system.add_to_cart(&customer, cart, *product, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
    system
        .order_reaching(order, |doc| doc["status"] == "confirmed")
        .await;
    let confirmed: Value = sqlx::query_scalar(
        "SELECT payload FROM es.events WHERE aggregate_id = $1 AND event_type = 'OrderConfirmed'",
    )
    .bind(order.to_string())
    .fetch_one(&system.pool)
    .await
    .expect("the confirmation");
    confirmed["data"]["commissions"]
        .as_array()
        .expect("commissions")
        .iter()
        .map(|c| {
            (
                c["product_id"].as_str().expect("product").to_owned(),
                c["commission_minor"].as_i64().expect("minor"),
            )
        })
        .collect()
}

async fn set_rules(system: &TestSystem, token: &str, rules: Value) -> (StatusCode, Value) {
    system
        .command(
            Method::PUT,
            "/v1/commission-rules",
            Some(token),
            Some(rules),
        )
        .await
}

#[tokio::test]
async fn each_lines_commission_is_fixed_at_confirmation_under_the_rule_that_applies() {
    let system = TestSystem::start().await;
    let (favoured, other) = (Uuid::new_v4(), Uuid::new_v4());
    let favoured_token = system.vendor_token(favoured).await;
    let other_token = system.vendor_token(other).await;
    // The favoured vendor's book, another vendor's book, another vendor's tee, a luxury item.
    let products = [
        product_in(&system, &favoured_token, "books", 2000).await,
        product_in(&system, &other_token, "books", 2000).await,
        product_in(&system, &other_token, "apparel", 1250).await,
        product_in(&system, &other_token, "luxury", 500_000).await,
    ];
    let admin = system.token(Role::Admin, None);
    let (status, body) = set_rules(
        &system,
        &admin,
        json!({
            "default": {"percent_bp": 1000},
            "vendors": {favoured.to_string(): {"percent_bp": 300}},
            "categories": {
                "books": {"percent_bp": 800, "floor": 200},
                "luxury": {"percent_bp": 1500, "cap": 5000}
            }
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["aggregate_type"], "CommissionSchedule");
    // Admins read back what is in force, in the shape they set it; vendors may not.
    let (status, rules) = system
        .command(Method::GET, "/v1/commission-rules", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(rules["default"], json!({"percent_bp": 1000}));
    assert_eq!(
        rules["vendors"][favoured.to_string()],
        json!({"percent_bp": 300})
    );
    assert_eq!(
        rules["categories"]["books"],
        json!({"percent_bp": 800, "floor": 200})
    );
    assert_eq!(rules["version"], body["version"]);
    let (status, _) = system
        .command(
            Method::GET,
            "/v1/commission-rules",
            Some(&favoured_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let fixed = confirmed_commissions(&system, &products).await;
    let expected = [
        // The vendor's 3 % beats the books rule: 0.60.
        (products[0], 60),
        // Books: 8 % of 20.00 is 1.60, raised to the 2.00 floor.
        (products[1], 200),
        // The default 10 % of 12.50 is 1.25.
        (products[2], 125),
        // Luxury: 15 % of 5,000.00, held at the 50.00 cap.
        (products[3], 5000),
    ];
    assert_eq!(
        fixed,
        expected
            .iter()
            .map(|(p, c)| (p.to_string(), *c))
            .collect::<Vec<_>>()
    );

    // Once the payment is captured, each vendor's part is credited its share as pending, and
    // the commission goes to the marketplace; every credit balances.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let credits: Vec<Value> = loop {
        let credits: Vec<Value> = sqlx::query_scalar(
            "SELECT payload FROM es.events WHERE aggregate_type = 'VendorSale' \
               AND event_type = 'SaleCredited' ORDER BY global_position",
        )
        .fetch_all(&system.pool)
        .await
        .expect("credits");
        if credits.len() == 2 {
            break credits;
        }
        assert!(tokio::time::Instant::now() < deadline, "{credits:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let entries = |vendor: Uuid| -> Vec<(String, i64)> {
        let credit = credits
            .iter()
            .find(|c| c["data"]["vendor_id"] == vendor.to_string())
            .expect("the vendor's credit");
        credit["data"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["account"].as_str().expect("account").to_owned(),
                    e["amount_minor"].as_i64().expect("amount"),
                )
            })
            .collect()
    };
    let owned = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect()
    };
    assert_eq!(
        entries(favoured),
        owned(&[("clearing", -2000), ("pending", 1940), ("commission", 60)])
    );
    // The other vendor's three lines: 20.00 + 12.50 + 5,000.00, commissions 2.00 + 1.25 + 50.00.
    assert_eq!(
        entries(other),
        owned(&[
            ("clearing", -503_250),
            ("pending", 503_250 - 5_325),
            ("commission", 5_325)
        ])
    );

    // A later change applies to orders confirmed after it, and to none before.
    let (status, body) = set_rules(&system, &admin, json!({"default": {"flat": 7}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let later = confirmed_commissions(&system, &products[2..3]).await;
    assert_eq!(later, [(products[2].to_string(), 7)]);
    let first_again: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM es.events WHERE event_type = 'OrderConfirmed' \
           AND payload->'data'->'commissions' @> $1",
    )
    .bind(json!([{"product_id": products[3], "commission_minor": 5000}]))
    .fetch_one(&system.pool)
    .await
    .expect("count");
    assert_eq!(first_again, 1, "the first order keeps its commission");
    system.stop().await;
}

#[tokio::test]
async fn only_admins_set_rules_and_bad_rules_are_refused_with_the_rule_named() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let (status, body) = set_rules(&system, &vendor, json!({"default": {"percent_bp": 0}})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let admin = system.token(Role::Admin, None);
    for (rules, named) in [
        (
            json!({"default": {"percent_bp": 10001}}),
            "default.percent_bp",
        ),
        (json!({"default": {}}), "default"),
        (
            json!({"default": {"percent_bp": 100, "floor": 500, "cap": 100}}),
            "default.floor",
        ),
        (
            json!({"default": {"flat": 1}, "categories": {"Not A Slug": {"flat": 1}}}),
            "categories.Not A Slug",
        ),
    ] {
        let (status, problem) = set_rules(&system, &admin, rules.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rules}: {problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(named)),
            "{rules}: {problem}"
        );
    }
    let (status, problem) = set_rules(&system, &admin, json!({"default": {"percent": 5}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    system.stop().await;
}
