//! SNS's limits on what it publishes: carts are bounded so their checkout always fits, and an event
//! SNS will never take is parked instead of wedging the relay for every other aggregate.
use std::sync::Arc;
use std::time::Duration;

use commerce_command_api::relay::{claims, OutboxRelay, RelayConfig};
use commerce_platform::auth::Role;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::support::{Options, TestSystem};

/// A published product with a 200-character title (the longest allowed) and stock.
async fn listed_product(system: &TestSystem, vendor: &str, n: usize) -> Uuid {
    let (status, body) = system
        .command(
            Method::POST,
            "/v1/products",
            Some(vendor),
            Some(json!({
                "sku": format!("SKU-{n}"),
                "title": format!("{n:0>200}"),
                "description": "",
                "category": "apparel",
                "price": { "amount_minor": 100 + n, "currency": "EUR" }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = Uuid::parse_str(body["product_id"].as_str().expect("product_id")).expect("uuid");
    let (status, body) = system.publish(vendor, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

#[tokio::test]
async fn a_cart_at_the_line_limit_checks_out_and_one_more_line_is_refused() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let products: Vec<Uuid> = join_all((0..101).map(|n| listed_product(&system, &vendor, n))).await;
    let cart = system.open_cart(&customer).await;
    for product in &products[..100] {
        let (status, body) = system.add_to_cart(&customer, cart, *product, 99).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, problem) = system.add_to_cart(&customer, cart, products[100], 99).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("at most 100 lines")),
        "{problem}"
    );

    let (status, placed) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{placed}");
    let order = placed["order_id"].as_str().expect("order_id");
    let (status, doc) = system
        .read(&format!("/v1/orders/{order}?min_version=1"), &customer)
        .await;
    assert_eq!(status, StatusCode::OK, "the order reaches its model: {doc}");
    assert_eq!(doc["lines"].as_array().map(Vec::len), Some(100));
    let (status, doc) = system
        .read(&format!("/v1/carts/{cart}?min_version=102"), &customer)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the checkout reaches the cart model: {doc}"
    );
    assert_eq!(doc["status"], "checked_out");
    let largest: i32 = sqlx::query_scalar(
        "SELECT max(octet_length(payload::text)) FROM es.events WHERE event_type IN \
         ('CartCheckedOut', 'OrderPlaced')",
    )
    .fetch_one(&system.pool)
    .await
    .expect("event sizes");
    assert!(
        largest < 100_000,
        "a full cart's checkout stays far below SNS's 262,144 bytes: {largest}"
    );
    system.stop().await;
}

#[tokio::test]
async fn an_event_sns_will_never_take_is_parked_and_other_aggregates_flow() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let stuck = system.create_product(&vendor, 1000).await;
    // Larger than any SNS message may be, and a later event of the same product behind it.
    system
        .append_directly(
            "Product",
            stuck,
            2,
            "ProductPriceChanged",
            json!({ "type": "ProductPriceChanged", "data": { "padding": "x".repeat(300_000) } }),
            true,
        )
        .await;
    system
        .append_directly(
            "Product",
            stuck,
            3,
            "ProductPublished",
            json!({ "type": "ProductPublished", "data": { "product_id": stuck } }),
            true,
        )
        .await;
    let other = system.create_product(&vendor, 500).await;
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{other}?min_version=1"),
            &vendor,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another aggregate is not blocked: {doc}"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let parked = loop {
        let parked = claims::list_parked(&system.pool)
            .await
            .expect("parked rows");
        if parked.len() == 2 || tokio::time::Instant::now() > deadline {
            break parked;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sequences: Vec<i64> = parked.iter().map(|p| p.sequence).collect();
    assert_eq!(sequences, [2, 3], "{parked:?}");
    assert!(parked.iter().all(|p| p.aggregate_id == stuck.to_string()));
    assert!(
        parked[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("262144")),
        "{parked:?}"
    );
    let (status, doc) = system
        .read(&format!("/v1/catalog/products/{stuck}"), &vendor)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["version"], 1,
        "nothing of the parked aggregate overtook it"
    );
    assert_eq!(
        system.unpublished_outbox_rows().await,
        2,
        "parked, not lost"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_parked_row_put_back_is_published_in_order() {
    let system = TestSystem::start_with(Options {
        relay: false,
        ..Options::default()
    })
    .await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    system.drop_vendor_outbox_rows().await;
    let product = system.create_product(&vendor, 1000).await;
    let (status, _) = system.publish(&vendor, product).await;
    assert_eq!(status, StatusCode::OK);
    // As if SNS had refused the first event until it was parked: the second is held behind it.
    sqlx::query(
        "UPDATE es.outbox SET parked_at = now(), attempts = 5, last_error = 'refused' \
         WHERE global_position = (SELECT min(global_position) FROM es.outbox)",
    )
    .execute(&system.pool)
    .await
    .expect("park");
    let relay = OutboxRelay::new(
        system.pool.clone(),
        system.aws.sns.clone(),
        system.topology.topic_arn.clone(),
        RelayConfig::default(),
        Arc::new(tokio::sync::Notify::new()),
    );
    assert_eq!(relay.publish_backlog().await.expect("relay"), 0);
    assert_eq!(
        claims::list_parked(&system.pool)
            .await
            .expect("parked")
            .len(),
        2
    );

    assert_eq!(
        claims::retry_parked(&system.pool, None)
            .await
            .expect("retry"),
        2
    );
    assert_eq!(relay.publish_backlog().await.expect("relay"), 2);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2"),
            &vendor,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["published"], true);
    system.stop().await;
}
