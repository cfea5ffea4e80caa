//! `commerce projections rebuild`: a new generation built from `es.events` while the live one
//! serves and commands keep coming, swapped in, equal to the model the projectors built event by
//! event; killed halfway, it resumes and ends the same.
use std::collections::BTreeMap;
use std::time::Duration;

use commerce_platform::auth::Role;
use commerce_platform::envelope::{EventEnvelope, ENVELOPE_COLUMNS};
use commerce_projections::cart::{CartKeys, CartProjector};
use commerce_projections::catalog::{CatalogKeys, CatalogProjector};
use commerce_projections::consumer::{Outcome, Projector};
use commerce_projections::orders::OrdersProjector;
use redis::aio::ConnectionManager;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::{checkout_body, TestSystem};

/// The generation the reference model is built into, out of the way of real ones.
const REFERENCE: u64 = 900;

async fn redis(system: &TestSystem) -> ConnectionManager {
    commerce_platform::redis_connection::connect(&system.config.read_api.redis)
        .await
        .expect("redis")
}

fn prefix(system: &TestSystem) -> String {
    system.config.read_api.redis.key_prefix.clone()
}

/// A `commerce projections …` command for the test's stack.
fn projections(system: &TestSystem, args: &[&str]) -> std::process::Command {
    let mut command = system.commerce();
    command.arg("projections").args(args);
    command
}

async fn run(mut command: std::process::Command) -> String {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce projections");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The model built the way the live projectors build it, event by event through their guarded
/// path, into generation [`REFERENCE`].
async fn reference(system: &TestSystem) {
    let redis = redis(system).await;
    let catalog = CatalogProjector::into_generation(
        redis.clone(),
        CatalogKeys::new(&prefix(system)),
        REFERENCE,
    );
    let carts = CartProjector::into_generation(redis, CartKeys::new(&prefix(system)), REFERENCE);
    let rows = sqlx::query(&format!(
        "SELECT {ENVELOPE_COLUMNS} FROM es.events e \
         WHERE aggregate_type IN ('Product', 'Inventory', 'Vendor', 'Cart') \
         ORDER BY aggregate_type, aggregate_id, sequence"
    ))
    .fetch_all(&system.pool)
    .await
    .expect("events");
    for row in &rows {
        let envelope = EventEnvelope::from_row(row).expect("envelope");
        let outcome = if envelope.aggregate_type == "Cart" {
            carts.apply(&envelope).await
        } else {
            catalog.apply(&envelope).await
        };
        assert_eq!(outcome.expect("applied"), Outcome::Applied, "{envelope:?}");
    }
}

/// Every key of a generation with its contents (hash fields, or sorted-set members), keyed by
/// the key without its generation.
async fn snapshot(system: &TestSystem, model: &str, generation: u64) -> BTreeMap<String, Value> {
    let mut redis = redis(system).await;
    let head = format!("{}{model}:g{generation}:", prefix(system));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{head}*"))
        .query_async(&mut redis)
        .await
        .expect("keys");
    let mut contents = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .expect("type");
        let value = if kind == "hash" {
            let fields: BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut redis)
                .await
                .expect("hash");
            fields
                .into_iter()
                .map(|(field, value)| {
                    let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
                    (field, value)
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        } else if kind == "set" {
            let mut members: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(&mut redis)
                .await
                .expect("members");
            members.sort();
            Value::from(members)
        } else {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut redis)
                .await
                .expect("members");
            Value::from(members)
        };
        contents.insert(key.trim_start_matches(&head).to_owned(), value);
    }
    contents
}

async fn live_generation(system: &TestSystem, model: &str) -> u64 {
    let mut redis = redis(system).await;
    let current: Option<u64> = redis::cmd("GET")
        .arg(format!("{}{model}:current", prefix(system)))
        .query_async(&mut redis)
        .await
        .expect("current");
    current.unwrap_or(1)
}

/// Waits until the live catalog holds every stored event (the load has stopped).
async fn settled(system: &TestSystem, token: &str) {
    let streams: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, max(sequence) FROM es.events \
         WHERE aggregate_type IN ('Product', 'Inventory', 'Vendor', 'Cart') GROUP BY 1, 2",
    )
    .fetch_all(&system.pool)
    .await
    .expect("streams");
    for (aggregate_type, id, version) in streams {
        let path = match aggregate_type.as_str() {
            "Product" => format!("/v1/catalog/products/{id}?min_version={version}"),
            "Inventory" => format!("/v1/catalog/products/{id}?min_stock_version={version}"),
            "Vendor" => format!("/v1/vendors/{id}?min_version={version}"),
            _ => continue,
        };
        let (status, body) = system.read(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_rebuild_under_load_serves_throughout_and_equals_the_incremental_model() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let admin = system.token(Role::Admin, None);
    let mut products = Vec::new();
    for _ in 0..6 {
        products.push(system.published_product(&vendor, 1000).await);
    }

    let load = async {
        for round in 0..40_i64 {
            let product = products[round as usize % products.len()];
            let (status, body) = system.change_price(&vendor, product, 1000 + round).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
            let cart = system.open_cart(&customer).await;
            let (status, body) = system.add_to_cart(&customer, cart, product, 1).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if round % 5 == 0 {
                system.published_product(&vendor, 500).await;
            }
        }
    };
    let rebuild = async {
        let mut rebuild = projections(&system, &["rebuild", "catalog", "--page", "3"]);
        let rebuilt = tokio::task::spawn_blocking(move || rebuild.output());
        let carts = run(projections(&system, &["rebuild", "cart", "--page", "2"]));
        let (rebuilt, carts) = tokio::join!(rebuilt, carts);
        let rebuilt = rebuilt.expect("join").expect("run the rebuild");
        assert!(rebuilt.status.success(), "{rebuilt:?}");
        assert!(carts.contains("cart rebuilt into generation 2"), "{carts}");
        String::from_utf8_lossy(&rebuilt.stdout).into_owned()
    };
    let serving = async {
        // The storefront reads throughout: never an error, never an empty catalog.
        let mut reads = 0;
        while live_generation(&system, "catalog").await == 1 || reads < 20 {
            let (status, page) = system.read("/v1/catalog/products?limit=100", &admin).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(
                !page["items"].as_array().is_some_and(Vec::is_empty),
                "the catalog is never empty"
            );
            let (status, body) = system
                .read(&format!("/v1/catalog/products/{}", products[0]), &admin)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            reads += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        reads
    };
    let ((), rebuilt, reads) = tokio::join!(load, rebuild, serving);
    assert!(
        rebuilt.contains("catalog rebuilt into generation 2"),
        "{rebuilt}"
    );
    assert!(reads >= 20);

    settled(&system, &admin).await;
    reference(&system).await;
    assert_eq!(live_generation(&system, "catalog").await, 2);
    for model in ["catalog", "cart"] {
        // The live projectors may still be applying the last commands of the load.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let expected = snapshot(&system, model, REFERENCE).await;
        let mut rebuilt = snapshot(&system, model, 2).await;
        while rebuilt != expected && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            rebuilt = snapshot(&system, model, 2).await;
        }
        assert!(rebuilt.len() > 6, "{model}: {rebuilt:?}");
        assert_eq!(rebuilt, expected, "{model}");
    }
    assert!(
        snapshot(&system, "catalog", 1).await.is_empty(),
        "the old generation is dropped"
    );

    let listed = run(projections(&system, &["list", "--json"])).await;
    let catalog: Value = listed
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON"))
        .find(|row| row["model"] == "catalog")
        .expect("catalog listed");
    assert_eq!(catalog["generation"], 2);
    assert!(catalog["rebuilding"].is_null());
    system.stop().await;
}

#[tokio::test]
async fn a_rebuild_killed_halfway_resumes_and_ends_the_same() {
    let system = TestSystem::start().await;
    // Three thousand products, stored (never published on the topic): the rebuild has pages to
    // go through.
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata, event_id) \
         SELECT 'Product', id::text, 1, 'ProductCreated', '1.0', \
           jsonb_build_object('type', 'ProductCreated', 'data', jsonb_build_object( \
             'product_id', id, 'vendor_id', '0191e5c4-3f7a-7c2e-9b1d-4a5e6f708192', \
             'sku', 'SKU-' || i, 'title', 'Product ' || i, 'description', '', \
             'category', 'bulk', 'price', jsonb_build_object('amount_minor', 100 + i, 'currency', 'EUR'))), \
           '{}', gen_random_uuid() \
         FROM generate_series(1, 3000) AS i, LATERAL (SELECT md5('product-' || i)::uuid AS id) AS ids",
    )
    .execute(&system.pool)
    .await
    .expect("seed products");

    let mut child = projections(&system, &["rebuild", "catalog", "--page", "10"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the rebuild");
    let mut redis = redis(&system).await;
    let state_key = format!("{}catalog:rebuild", prefix(&system));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let written: Option<u64> = redis::cmd("HGET")
            .arg(&state_key)
            .arg("events")
            .query_async(&mut redis)
            .await
            .expect("state");
        if written.is_some_and(|w| w >= 500) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rebuild makes no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("kill the rebuild");
    let _ = child.wait();
    let written: u64 = redis::cmd("HGET")
        .arg(&state_key)
        .arg("events")
        .query_async(&mut redis)
        .await
        .expect("state");
    assert!(written < 3000, "killed halfway: {written}");
    assert_eq!(
        live_generation(&system, "catalog").await,
        1,
        "not swapped yet"
    );

    let resumed = run(projections(
        &system,
        &["rebuild", "catalog", "--page", "10"],
    ))
    .await;
    assert!(
        resumed.contains("catalog rebuilt into generation 2"),
        "{resumed}"
    );
    reference(&system).await;
    let rebuilt = snapshot(&system, "catalog", 2).await;
    assert_eq!(
        rebuilt.len(),
        3001,
        "every product (none is published: no index), and their vendor's set of them"
    );
    assert_eq!(rebuilt, snapshot(&system, "catalog", REFERENCE).await);
    system.stop().await;
}

#[tokio::test]
async fn a_rebuild_reads_events_stored_in_older_shapes_through_the_upcasters() {
    let system = TestSystem::start().await;
    // `ProductCreated` 0.9 had no category; the upcaster gives it the default one.
    let product = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata, event_id) \
         VALUES ('Product', $1, 1, 'ProductCreated', '0.9', $2, '{}', gen_random_uuid())",
    )
    .bind(product.to_string())
    .bind(serde_json::json!({"type": "ProductCreated", "data": {
        "product_id": product, "vendor_id": Uuid::new_v4(), "sku": "OLD-1",
        "title": "From before categories", "description": "",
        "price": {"amount_minor": 500, "currency": "EUR"}}}))
    .execute(&system.pool)
    .await
    .expect("store an old event");

    let rebuilt = run(projections(&system, &["rebuild", "catalog"])).await;
    assert!(rebuilt.contains("generation 2"), "{rebuilt}");
    let admin = system.token(Role::Admin, None);
    let (status, document) = system
        .read(&format!("/v1/catalog/products/{product}"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_eq!(
        document["category"],
        commerce_domain::product::UNCATEGORIZED
    );
    assert_eq!(document["sku"], "OLD-1");
    system.stop().await;
}

/// The orders model built event by event through the live projector's guarded path into a table
/// of its own (`read.orders_g900`), and every row of it.
async fn orders_reference(system: &TestSystem) -> BTreeMap<Uuid, Value> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS read.orders_g900; \
         CREATE TABLE read.orders_g900 (LIKE read.orders, PRIMARY KEY (order_id)); \
         ALTER TABLE read.orders_g900 ALTER updated_at SET DEFAULT now()",
    )
    .execute(&system.pool)
    .await
    .expect("reference table");
    let projector = OrdersProjector::into_table(system.pool.clone(), "read.orders_g900");
    let rows = sqlx::query(&format!(
        "SELECT {ENVELOPE_COLUMNS} FROM es.events e WHERE aggregate_type = 'Order' \
         ORDER BY aggregate_id, sequence"
    ))
    .fetch_all(&system.pool)
    .await
    .expect("events");
    for row in &rows {
        let envelope = EventEnvelope::from_row(row).expect("envelope");
        let outcome = projector.apply(&envelope).await.expect("applied");
        assert_eq!(outcome, Outcome::Applied, "{envelope:?}");
    }
    orders_in(system, "read.orders_g900").await
}

/// Every order of a table (or the view `read.orders`): its version, vendors and document.
async fn orders_in(system: &TestSystem, table: &str) -> BTreeMap<Uuid, Value> {
    let rows: Vec<(Uuid, i64, Vec<Uuid>, Value)> = sqlx::query_as(&format!(
        "SELECT order_id, version, vendor_ids, doc FROM {table}"
    ))
    .fetch_all(&system.pool)
    .await
    .expect("orders");
    rows.into_iter()
        .map(|(id, version, vendors, doc)| {
            (
                id,
                serde_json::json!({"version": version, "vendor_ids": vendors, "doc": doc}),
            )
        })
        .collect()
}

async fn orders_generation(system: &TestSystem) -> i64 {
    sqlx::query_scalar("SELECT generation FROM read.generations WHERE model = 'orders'")
        .fetch_one(&system.pool)
        .await
        .expect("generation")
}

#[tokio::test]
async fn an_orders_rebuild_under_load_serves_throughout_and_equals_the_incremental_model() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let admin = system.token(Role::Admin, None);
    let product = system.published_product(&vendor, 1000).await;
    let checkout = |count: usize| {
        let system = &system;
        async move {
            let mut orders = Vec::new();
            for _ in 0..count {
                let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
                let cart = system.open_cart(&customer).await;
                let (status, body) = system.add_to_cart(&customer, cart, product, 1).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let (status, body) = system
                    .command(
                        reqwest::Method::POST,
                        &format!("/v1/carts/{cart}/checkout"),
                        Some(&customer),
                        Some(checkout_body()),
                    )
                    .await;
                assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                orders.push(body["order_id"].as_str().expect("order_id").to_owned());
            }
            orders
        }
    };
    let first = checkout(5).await;
    for order in &first {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = system.read(&format!("/v1/orders/{order}"), &admin).await;
            if status == StatusCode::OK {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{status} {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let load = checkout(25);
    let rebuild = run(projections(&system, &["rebuild", "orders", "--page", "4"]));
    let serving = async {
        // Customers and vendors read throughout: never an error, never an empty list.
        let mut reads = 0;
        while orders_generation(&system).await == 1 || reads < 20 {
            let (status, page) = system.read("/v1/orders?limit=100", &admin).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(
                !page["items"].as_array().is_some_and(Vec::is_empty),
                "the order list is never empty"
            );
            let (status, body) = system
                .read(&format!("/v1/orders/{}", first[0]), &admin)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            reads += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        reads
    };
    let (placed, rebuilt, reads) = tokio::join!(load, rebuild, serving);
    assert!(
        rebuilt.contains("orders rebuilt into generation 2"),
        "{rebuilt}"
    );
    assert!(reads >= 20);
    assert_eq!(orders_generation(&system).await, 2);
    let old: Option<String> = sqlx::query_scalar("SELECT to_regclass('read.orders_g1')::text")
        .fetch_one(&system.pool)
        .await
        .expect("old table");
    assert_eq!(old, None, "the old generation is dropped");

    // The sagas confirm the last orders while this compares: until both agree.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let expected = orders_reference(&system).await;
        let live = orders_in(&system, "read.orders").await;
        if live == expected || tokio::time::Instant::now() > deadline {
            assert_eq!(live.len(), 30);
            assert_eq!(live, expected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for order in first.iter().chain(&placed) {
        let (status, body) = system.read(&format!("/v1/orders/{order}"), &admin).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    system.stop().await;
}

#[tokio::test]
async fn an_orders_rebuild_killed_halfway_resumes_and_ends_the_same() {
    let system = TestSystem::start_with(crate::support::Options {
        sagas: false,
        ..Default::default()
    })
    .await;
    // Two thousand orders, placed and then confirmed, stored only (never published).
    sqlx::raw_sql(
        "CREATE TEMP TABLE seeded AS SELECT i, md5('order-' || i)::uuid AS id, \
           jsonb_build_object('order_id', md5('order-' || i)::uuid, \
             'customer_id', md5('customer-' || (i % 50))::uuid, \
             'lines', jsonb_build_array(jsonb_build_object( \
               'product_id', md5('product-' || (i % 7))::uuid, \
               'vendor_id', md5('vendor-' || (i % 3))::uuid, 'quantity', 1 + i % 4, \
               'unit_price', jsonb_build_object('amount_minor', 250, 'currency', 'EUR'), \
               'line_total', jsonb_build_object('amount_minor', 250 * (1 + i % 4), 'currency', 'EUR'))), \
             'total', jsonb_build_object('amount_minor', 250 * (1 + i % 4), 'currency', 'EUR')) AS data \
         FROM generate_series(1, 2000) AS i; \
         INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata, event_id) \
         SELECT 'Order', id::text, 1, 'OrderPlaced', '2.0', jsonb_build_object('type', 'OrderPlaced', \
             'data', data || jsonb_build_object('payment_token', 'tok_ok', 'shipping_address', \
               jsonb_build_object('name', 'Customer ' || i, 'line1', i || ' Main Street', \
                 'city', 'Springfield', 'postal_code', '12345', 'country', 'US'))), \
           '{}'::jsonb, gen_random_uuid() FROM seeded \
         UNION ALL \
         SELECT 'Order', id::text, 2, 'OrderConfirmed', '1.0', \
           jsonb_build_object('type', 'OrderConfirmed', 'data', data), '{}'::jsonb, gen_random_uuid() \
         FROM seeded WHERE i % 2 = 0;",
    )
    .execute(&system.pool)
    .await
    .expect("seed orders");

    let mut child = projections(&system, &["rebuild", "orders", "--page", "10"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the rebuild");
    let written = || async {
        sqlx::query_scalar::<_, i64>("SELECT events FROM read.rebuilds WHERE model = 'orders'")
            .fetch_optional(&system.pool)
            .await
            .expect("state")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while written().await.is_none_or(|w| w < 500) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rebuild makes no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("kill the rebuild");
    let _ = child.wait();
    let written = written().await.expect("a rebuild under way");
    assert!(written < 3000, "killed halfway: {written}");
    assert_eq!(orders_generation(&system).await, 1, "not swapped yet");

    let resumed = run(projections(&system, &["rebuild", "orders", "--page", "10"])).await;
    assert!(
        resumed.contains("orders rebuilt into generation 2"),
        "{resumed}"
    );
    let rebuilt = orders_in(&system, "read.orders_g2").await;
    assert_eq!(rebuilt.len(), 2000);
    assert_eq!(rebuilt, orders_reference(&system).await);
    let listed = run(projections(&system, &["list", "--json"])).await;
    let orders: Value = listed
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON"))
        .find(|row| row["model"] == "orders")
        .expect("orders listed");
    assert_eq!(orders["generation"], 2);
    system.stop().await;
}
