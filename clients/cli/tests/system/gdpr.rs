//! `commerce gdpr forget`: a customer's names and addresses are stored sealed under their key;
//! once the key is deleted, replays, the read models and rebuilt read models show them as erased,
//! every other field still replays, and other customers are untouched.
use std::time::Duration;

use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{shipping_address, TestSystem};

/// The `OrderPlaced` of `order` as `commerce events replay` gives it. The stream is read below
/// the cluster's safe horizon, which another test's open transaction may hold back a moment.
async fn replayed_placement(system: &TestSystem, order: Uuid) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = system
            .run_commerce(&["events", "replay", "--event-type", "OrderPlaced"])
            .await
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
            .find(|event| event["aggregate_id"] == order.to_string());
        if let Some(placement) = found {
            return placement;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order's placement is replayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_forgotten_customer_is_erased_from_replays_and_read_models_and_no_one_else_is() {
    let system = TestSystem::start().await;
    let vendor_id = Uuid::new_v4();
    let vendor = system.vendor_token(vendor_id).await;
    let product = system.published_product(&vendor, 1200).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/inventory/{product}/receipts"),
            Some(&vendor),
            Some(json!({ "quantity": 10 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ada, grace) = (Uuid::new_v4(), Uuid::new_v4());
    let ada_order = system.confirmed_order(product, ada).await;
    let grace_order = system.confirmed_order(product, grace).await;

    // Stored sealed: no copy of the address in the event store or the outbox's events.
    let in_clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM es.events WHERE payload::text LIKE '%Lovelace%' \
            OR payload::text LIKE '%Linden%'",
    )
    .fetch_one(&system.pool)
    .await
    .expect("count");
    assert_eq!(in_clear, 0, "personal data is never stored in clear");
    let sealed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM es.events WHERE event_type IN ('OrderPlaced', 'CartCheckedOut') \
           AND payload->'data'->'shipping_address' ? '$sealed'",
    )
    .fetch_one(&system.pool)
    .await
    .expect("count");
    assert_eq!(sealed, 4, "two checkouts and two placements, sealed");

    // Opened for those allowed to read it, before anyone is forgotten.
    for order in [ada_order, grace_order] {
        let doc = system.order_reaching(order, |_| true).await;
        assert_eq!(doc["shipping_address"], shipping_address());
        assert_eq!(
            replayed_placement(&system, order).await["payload"]["data"]["shipping_address"],
            shipping_address()
        );
    }

    let forgotten = system
        .run_commerce(&["gdpr", "forget", &ada.to_string(), "--json"])
        .await;
    let forgotten: Value = serde_json::from_str(&forgotten).expect("JSON");
    assert_eq!(forgotten["keys_deleted"], 1);
    assert_eq!(forgotten["documents_erased"], 1);

    // The read model: Ada's address is gone at once, Grace's is not.
    let doc = system.order_reaching(ada_order, |_| true).await;
    assert!(doc.get("shipping_address").is_none(), "{doc}");
    assert_eq!(doc["personal_data_erased"], true);
    assert_eq!(doc["status"], "confirmed", "everything else stays");
    let doc = system.order_reaching(grace_order, |_| true).await;
    assert_eq!(doc["shipping_address"], shipping_address());
    assert!(doc.get("personal_data_erased").is_none(), "{doc}");

    // Replay, over the CLI and over HTTP: erased for Ada, every other field as it was.
    let placement = replayed_placement(&system, ada_order).await;
    assert_eq!(
        placement["payload"]["data"]["shipping_address"],
        json!({"$erased": true})
    );
    assert_eq!(
        placement["payload"]["data"]["order_id"],
        ada_order.to_string()
    );
    assert_eq!(placement["payload"]["data"]["total"]["amount_minor"], 1200);
    assert_eq!(
        replayed_placement(&system, grace_order).await["payload"]["data"]["shipping_address"],
        shipping_address()
    );
    let analyst = system.token(Role::Analyst, None);
    let (status, page) = system
        .read("/v1/events?event_type=CartCheckedOut&limit=1000", &analyst)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let checkouts: Vec<&Value> = page["items"].as_array().expect("items").iter().collect();
    assert_eq!(checkouts.len(), 2);
    for checkout in checkouts {
        let expected = if checkout["payload"]["data"]["customer_id"] == ada.to_string() {
            json!({"$erased": true})
        } else {
            shipping_address()
        };
        assert_eq!(checkout["payload"]["data"]["shipping_address"], expected);
    }

    // Ada's order still moves on: shipped, and still erased (the projector's remembered copy
    // of her document is not written back).
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{ada_order}/ship"),
            Some(&vendor),
            Some(json!({"tracking": "TRK-ADA"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc = system
        .order_reaching(ada_order, |doc| doc["status"] == "shipped")
        .await;
    assert!(doc.get("shipping_address").is_none(), "{doc}");
    assert_eq!(doc["personal_data_erased"], true);

    // A rebuilt orders model erases her too, and keeps Grace's address.
    let rebuilt = system
        .run_commerce(&["projections", "rebuild", "orders"])
        .await;
    assert!(
        rebuilt.contains("orders rebuilt into generation 2"),
        "{rebuilt}"
    );
    let doc = system.order_reaching(ada_order, |_| true).await;
    assert!(doc.get("shipping_address").is_none(), "{doc}");
    assert_eq!(doc["personal_data_erased"], true);
    assert_eq!(doc["status"], "shipped");
    let doc = system.order_reaching(grace_order, |_| true).await;
    assert_eq!(doc["shipping_address"], shipping_address());

    // Asking again is harmless; and what Ada orders after her request is hers to see again.
    let again: Value = serde_json::from_str(
        &system
            .run_commerce(&["gdpr", "forget", &ada.to_string(), "--json"])
            .await,
    )
    .expect("JSON");
    assert_eq!(again["keys_deleted"], 0);
    assert_eq!(again["documents_erased"], 0);
    let later = system.confirmed_order(product, ada).await;
    let doc = system.order_reaching(later, |_| true).await;
    assert_eq!(doc["shipping_address"], shipping_address());
    let doc = system.order_reaching(ada_order, |_| true).await;
    assert_eq!(
        doc["personal_data_erased"], true,
        "the old order stays erased"
    );
    system.stop().await;
}

#[tokio::test]
async fn personal_data_stored_in_clear_by_an_older_version_is_sealed_and_then_forgotten() {
    let system = TestSystem::start_with(crate::support::Options {
        sagas: false,
        ..Default::default()
    })
    .await;
    // An order placed by a version that stored addresses in clear (1.0: one free-text string).
    let (customer, order) = (Uuid::new_v4(), Uuid::new_v4());
    let eur = json!({"amount_minor": 700, "currency": "EUR"});
    let payload = json!({"type": "OrderPlaced", "data": {
        "order_id": order, "customer_id": customer,
        "lines": [{"product_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(), "quantity": 1,
                   "unit_price": eur, "line_total": eur}],
        "total": eur, "payment_token": "tok_ok",
        "shipping_address": "Charles Babbage\n1 Dorset Street\nLondon"}});
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
           event_version, payload, metadata, event_id) \
         VALUES ('Order', $1, 1, 'OrderPlaced', '1.0', $2, '{}', gen_random_uuid())",
    )
    .bind(order.to_string())
    .bind(&payload)
    .execute(&system.pool)
    .await
    .expect("an event stored in clear");

    // Events stay facts: an ordinary change is refused, and so is a sealing that changes
    // anything outside the payload's data.
    let refused = sqlx::query("UPDATE es.events SET payload = '{}' WHERE aggregate_id = $1")
        .bind(order.to_string())
        .execute(&system.pool)
        .await;
    assert!(refused.is_err(), "es.events is append-only");
    let mut transaction = system.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL commerce.sealing_stored_events = 'on'")
        .execute(&mut *transaction)
        .await
        .expect("mark");
    let refused = sqlx::query(
        "UPDATE es.events SET payload = jsonb_set(payload, '{type}', '\"OrderShipped\"') \
         WHERE aggregate_id = $1",
    )
    .bind(order.to_string())
    .execute(&mut *transaction)
    .await;
    assert!(refused.is_err(), "only the data's fields may change");
    drop(transaction);

    let sealed: Value = serde_json::from_str(
        &system
            .run_commerce(&["gdpr", "seal-stored", "--json"])
            .await,
    )
    .expect("JSON");
    assert!(
        sealed["events_sealed"].as_u64().is_some_and(|n| n >= 1),
        "{sealed}"
    );
    let stored: Value = sqlx::query_scalar("SELECT payload FROM es.events WHERE aggregate_id = $1")
        .bind(order.to_string())
        .fetch_one(&system.pool)
        .await
        .expect("stored");
    assert!(!stored.to_string().contains("Babbage"), "{stored}");
    assert_eq!(stored["data"]["order_id"], payload["data"]["order_id"]);
    let again: Value = serde_json::from_str(
        &system
            .run_commerce(&["gdpr", "seal-stored", "--json"])
            .await,
    )
    .expect("JSON");
    assert_eq!(again["events_sealed"], 0, "nothing is sealed twice");

    // Replay opens it as it was stored (then upcast by readers); forgetting erases it.
    assert_eq!(
        replayed_placement(&system, order).await["payload"]["data"]["shipping_address"],
        payload["data"]["shipping_address"]
    );
    system
        .run_commerce(&["gdpr", "forget", &customer.to_string()])
        .await;
    assert_eq!(
        replayed_placement(&system, order).await["payload"]["data"]["shipping_address"],
        json!({"$erased": true})
    );
    system.stop().await;
}
