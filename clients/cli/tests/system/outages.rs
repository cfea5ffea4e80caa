//! The projectors through outages and holes in what SQS delivers: nothing healthy is dead-lettered,
//! gaps are repaired from the event store, and an event the projector cannot read is skipped, not
//! left blocking its aggregate.
use std::time::Duration;

use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{Options, TestSystem};

const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

fn price_changed(product: Uuid, from: i64, to: i64) -> Value {
    json!({ "type": "ProductPriceChanged", "data": {
        "product_id": product,
        "previous_price": { "amount_minor": from, "currency": "EUR" },
        "price": { "amount_minor": to, "currency": "EUR" } } })
}

async fn version_of(system: &TestSystem, aggregate: &str) -> i64 {
    sqlx::query_scalar("SELECT max(sequence) FROM es.events WHERE aggregate_id = $1")
        .bind(aggregate)
        .fetch_one(&system.pool)
        .await
        .expect("version")
}

#[tokio::test]
async fn an_outage_of_the_projectors_stores_dead_letters_nothing_and_every_model_converges() {
    // Retries without delay: on a failure the old consumer spent its five receives in well under
    // a second, so this outage is longer than the whole five-receive window.
    let mut system = TestSystem::start_with(Options {
        projection_stores_behind_proxies: true,
        ..Options::default()
    })
    .await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let product = system.create_product(&vendor, 1000).await;
    system.publish(&vendor, product).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/inventory/{product}/receipts"),
            Some(&vendor),
            Some(json!({ "quantity": 500 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut carts = Vec::new();
    for _ in 0..3 {
        carts.push(system.open_cart(&customer).await);
    }
    let add = |cart: Uuid| {
        let (system, customer) = (&system, &customer);
        async move {
            let (status, body) = system.add_to_cart(customer, cart, product, 1).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    add(carts[0]).await;
    let (status, _) = system
        .read(&format!("/v1/carts/{}?min_version=2", carts[0]), &customer)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the projectors work before the outage"
    );

    system.cut_projection_stores();
    let outage = tokio::time::Instant::now();
    let mut price = 1000;
    while outage.elapsed() < Duration::from_secs(4) {
        price += 10;
        let (status, _) = system.change_price(&vendor, product, price).await;
        assert_eq!(status, StatusCode::OK);
        for cart in &carts {
            add(*cart).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, placed) = system.checkout(&customer, carts[2]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{placed}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    system.restore_projection_stores();

    let product_version = version_of(&system, &product.to_string()).await;
    let (status, doc) = system
        .read_eventually(
            &format!("/v1/catalog/products/{product}?min_version={product_version}"),
            &customer,
            CONVERGE_WITHIN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the catalog converges: {doc}");
    assert_eq!(doc["price"]["amount_minor"], price);
    for cart in &carts {
        let version = version_of(&system, &cart.to_string()).await;
        let (status, doc) = system
            .read_eventually(
                &format!("/v1/carts/{cart}?min_version={version}"),
                &customer,
                CONVERGE_WITHIN,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "cart {cart} converges: {doc}");
    }
    let order = placed["order_id"].as_str().expect("order_id");
    let (status, doc) = system
        .read_eventually(
            &format!("/v1/orders/{order}?min_version=1"),
            &customer,
            CONVERGE_WITHIN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the orders model converges: {doc}");
    assert_eq!(system.dead_lettered().await, 0, "nothing was dead-lettered");
    system.stop().await;
}

#[tokio::test]
async fn an_event_whose_message_was_lost_is_read_from_the_event_store() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.create_product(&vendor, 1000).await;
    let (status, _) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=1"),
            &vendor,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Sequence 2 is committed but never published; sequence 3 comes through the API.
    system
        .append_directly(
            "Product",
            product,
            2,
            "ProductPriceChanged",
            price_changed(product, 1000, 2000),
            false,
        )
        .await;
    let (status, body) = system.change_price(&vendor, product, 3000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 3);

    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=3"),
            &vendor,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the gap is repaired at once: {doc}");
    assert_eq!(doc["price"]["amount_minor"], 3000);
    assert_eq!(system.dead_lettered().await, 0);
    system.stop().await;
}

#[tokio::test]
async fn an_event_the_projector_cannot_read_is_skipped_after_its_retries_and_recorded() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.create_product(&vendor, 1000).await;

    // A newer writer's event type this projector does not know, then an event it knows.
    system
        .append_directly(
            "Product",
            product,
            2,
            "ProductDiscontinued",
            json!({ "type": "ProductDiscontinued", "data": { "product_id": product } }),
            true,
        )
        .await;
    system
        .append_directly(
            "Product",
            product,
            3,
            "ProductPriceChanged",
            price_changed(product, 1000, 1500),
            true,
        )
        .await;

    let (status, doc) = system
        .read_eventually(
            &format!("/v1/catalog/products/{product}?min_version=3"),
            &vendor,
            CONVERGE_WITHIN,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "later events are not blocked: {doc}"
    );
    assert_eq!(doc["price"]["amount_minor"], 1500);
    let skipped: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT projection, sequence, event_type FROM read.skipped_events WHERE aggregate_id = $1",
    )
    .bind(product.to_string())
    .fetch_all(&system.pool)
    .await
    .expect("skipped events");
    assert_eq!(
        skipped,
        vec![("catalog".to_owned(), 2, "ProductDiscontinued".to_owned())]
    );
    assert_eq!(
        system.dead_lettered().await,
        0,
        "skipped, not dead-lettered"
    );

    let metrics = system
        .http
        .get(format!("{}/metrics", system.read_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("projection_events_total") && l.contains("outcome=\"skipped\"")),
        "the skip is counted"
    );
    system.stop().await;
}
