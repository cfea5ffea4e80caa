//! `commerce dlq list|show|redrive`: a message forced into a DLQ is listed, shown, and after the
//! redrive applied once, however many copies went back.
use std::time::Duration;

use aws_sdk_sqs::types::MessageAttributeValue;
use commerce_platform::auth::Role;
use commerce_platform::envelope::{EnvelopeHead, ENVELOPE_COLUMNS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::TestSystem;

/// Runs `commerce dlq …` against the test's queues.
async fn dlq(system: &TestSystem, args: &[&str]) -> String {
    let mut command = system.commerce();
    command.arg("dlq").args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce dlq");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn a_dead_lettered_event_is_listed_shown_and_applied_once_after_redrive() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1999).await;
    let reader = system.token(Role::Admin, None);
    let (status, _) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2"),
            &reader,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Its next event is stored, but its message died (as if the projector had failed on it five
    // times): it sits in the catalog DLQ, twice.
    system
        .append_directly(
            "Product",
            product,
            3,
            "ProductPriceChanged",
            json!({"type": "ProductPriceChanged", "data": {
                "product_id": product,
                "previous_price": {"amount_minor": 1999, "currency": "EUR"},
                "price": {"amount_minor": 2500, "currency": "EUR"}}}),
            false,
        )
        .await;
    let row = sqlx::query(&format!(
        "SELECT {ENVELOPE_COLUMNS} FROM es.events e WHERE aggregate_id = $1 AND sequence = 3"
    ))
    .bind(product.to_string())
    .fetch_one(&system.pool)
    .await
    .expect("the event");
    let payload: &str = sqlx::Row::try_get(&row, "payload_text").expect("payload");
    let envelope = EnvelopeHead::from_row(&row)
        .expect("head")
        .render(payload)
        .expect("envelope");
    for _ in 0..2 {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .expect("attribute")
        };
        system
            .aws
            .sqs
            .send_message()
            .queue_url(system.catalog_dlq_url())
            .message_body(&envelope)
            .message_group_id(product.to_string())
            .message_deduplication_id(Uuid::new_v4().to_string())
            .message_attributes("aggregate_type", attribute("Product"))
            .message_attributes("event_type", attribute("ProductPriceChanged"))
            .send()
            .await
            .expect("dead-letter it");
    }

    let listed = json_lines(&dlq(&system, &["list", "--json"]).await);
    let catalog = listed
        .iter()
        .find(|row| row["queue"] == "catalog")
        .expect("the catalog queue is listed");
    assert_eq!(catalog["dead_lettered"], 2, "{listed:?}");
    let shown = json_lines(&dlq(&system, &["show", "catalog", "--json"]).await);
    assert!(!shown.is_empty());
    assert_eq!(shown[0]["group_id"], product.to_string());
    assert_eq!(shown[0]["attributes"]["event_type"], "ProductPriceChanged");
    let body: Value = serde_json::from_str(shown[0]["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["sequence"], 3);
    let human = dlq(&system, &["show", "catalog", "--output", "human"]).await;
    assert!(human.contains("ProductPriceChanged"), "{human}");

    let redriven = dlq(&system, &["redrive", "catalog"]).await;
    assert!(
        redriven.starts_with("2 message(s) sent back to catalog"),
        "{redriven}"
    );
    let (status, document) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=3"),
            &reader,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_eq!(document["price"]["amount_minor"], 2500);
    assert_eq!(document["version"], 3, "applied once");

    // Both copies were consumed (the second as a duplicate): none comes back to the DLQ.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(system.dead_lettered().await, 0);
    let listed = json_lines(&dlq(&system, &["list", "--json"]).await);
    assert!(
        listed.iter().all(|row| row["dead_lettered"] == 0),
        "{listed:?}"
    );
    system.stop().await;
}
