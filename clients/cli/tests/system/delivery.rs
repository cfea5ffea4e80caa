use std::time::Duration;

use commerce_command_api::relay::{OutboxRelay, RelayConfig};
use commerce_platform::auth::Role;
use commerce_platform::envelope::EventEnvelope;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;
use uuid::Uuid;

use crate::support::{Options, TestSystem};

/// The stored envelope of one event, as the relay would publish it.
async fn stored_envelope(system: &TestSystem, aggregate_id: Uuid, sequence: i64) -> EventEnvelope {
    let row = sqlx::query(&format!(
        "SELECT {} FROM es.events e WHERE e.aggregate_id = $1 AND e.sequence = $2",
        commerce_platform::envelope::ENVELOPE_COLUMNS
    ))
    .bind(aggregate_id.to_string())
    .bind(sequence)
    .fetch_one(&system.pool)
    .await
    .expect("stored event");
    EventEnvelope::from_row(&row).expect("envelope")
}

fn relay_for(system: &TestSystem) -> OutboxRelay {
    OutboxRelay::new(
        system.pool.clone(),
        system.aws.sns.clone(),
        system.topology.topic_arn.clone(),
        RelayConfig::default(),
        Arc::new(tokio::sync::Notify::new()),
    )
}

#[tokio::test]
async fn the_same_message_delivered_twice_changes_the_read_model_once() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let id = system.create_product(&token, 1000).await;
    system.change_price(&token, id, 2000).await; // sequence 2
    system.change_price(&token, id, 3000).await; // sequence 3
    let (status, _) = system
        .read(&format!("/v1/catalog/products/{id}?min_version=3"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Redeliver sequence 2 twice, as SQS may after a lost acknowledgement. Different
    // deduplication ids get past SQS's own deduplication, as a redelivery would.
    let old = stored_envelope(&system, id, 2).await;
    for _ in 0..2 {
        system
            .aws
            .sqs
            .send_message()
            .queue_url(system.catalog_queue_url())
            .message_body(serde_json::to_string(&old).expect("json"))
            .message_group_id(id.to_string())
            .message_deduplication_id(Uuid::new_v4().to_string())
            .send()
            .await
            .expect("send the duplicate");
    }
    // Same message group: the duplicates are consumed before this publish's event.
    let (status, _) = system.publish(&token, id).await;
    assert_eq!(status, StatusCode::OK);
    let (status, doc) = system
        .read(&format!("/v1/catalog/products/{id}?min_version=4"), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["price"]["amount_minor"], 3000,
        "the old price must not come back"
    );
    assert_eq!(doc["version"], 4);
    system.stop().await;
}

#[tokio::test]
async fn a_relay_that_dies_after_sns_accepted_but_before_marking_loses_and_doubles_nothing() {
    let system = TestSystem::start_with(Options {
        relay: false,
        ..Options::default()
    })
    .await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    system.drop_vendor_outbox_rows().await;
    let id = system.create_product(&token, 1000).await;
    system.publish(&token, id).await;
    system.change_price(&token, id, 1500).await;
    let other = system.create_product(&token, 700).await;
    assert_eq!(system.unpublished_outbox_rows().await, 4);

    // The first relay claims and publishes, then "crashes": its transaction rolls back unmarked.
    let crashed = relay_for(&system);
    let mut tx = system.pool.begin().await.expect("begin");
    let claimed = crashed.claim(&mut tx).await.expect("claim").pending;
    assert_eq!(claimed.len(), 4);
    let acknowledged = crashed.publish(&claimed).await;
    assert_eq!(acknowledged.len(), 4, "SNS accepted the batch");
    drop(tx);
    assert_eq!(
        system.unpublished_outbox_rows().await,
        4,
        "nothing was marked"
    );

    // A restarted relay publishes the same events again and marks them.
    let restarted = relay_for(&system);
    assert_eq!(restarted.relay_once().await.expect("relay"), 4);
    assert_eq!(system.unpublished_outbox_rows().await, 0);

    let (status, doc) = system
        .read(&format!("/v1/catalog/products/{id}?min_version=3"), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["price"]["amount_minor"], 1500);
    assert_eq!(doc["published"], true);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{other}?min_version=1"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // Nothing is left over in the queue: every copy was consumed or dropped, none failed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attributes = system
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(system.catalog_dlq_url())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("dlq attributes");
    let in_dlq = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .cloned()
        .unwrap_or_default();
    assert_eq!(in_dlq, "0");
    system.stop().await;
}

#[tokio::test]
async fn an_event_committed_late_with_a_lower_position_is_still_delivered() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let slow_id = Uuid::now_v7();

    // A slow writer takes a position first and commits last.
    let mut slow = system.pool.begin().await.expect("begin");
    let payload = json!({ "type": "ProductCreated", "data": {
        "product_id": slow_id, "vendor_id": vendor, "sku": "SLOW-1", "title": "Slow",
        "description": "", "category": "apparel",
        "price": { "amount_minor": 100, "currency": "EUR" } } });
    let slow_position: i64 = sqlx::query(
        "WITH e AS (INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, event_id) VALUES ('Product', $1, 1, 'ProductCreated', \
         '1.0', $2, '{}', $3) RETURNING global_position) \
         INSERT INTO es.outbox (global_position) SELECT global_position FROM e RETURNING global_position",
    )
    .bind(slow_id.to_string())
    .bind(&payload)
    .bind(Uuid::now_v7())
    .fetch_one(&mut *slow)
    .await
    .expect("slow insert")
    .get(0);

    let fast = system.create_product(&token, 200).await;
    let (status, _) = system
        .read(
            &format!("/v1/catalog/products/{fast}?min_version=1"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the later event is delivered first");
    let fast_position: i64 =
        sqlx::query_scalar("SELECT global_position FROM es.events WHERE aggregate_id = $1")
            .bind(fast.to_string())
            .fetch_one(&system.pool)
            .await
            .expect("position");
    assert!(slow_position < fast_position);

    slow.commit().await.expect("commit the slow writer");
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{slow_id}?min_version=1"),
            &token,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the slow event is not skipped: {doc}"
    );
    assert_eq!(doc["sku"], "SLOW-1");
    system.stop().await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_moves_to_the_dead_letter_queue() {
    let system = TestSystem::start().await;
    system
        .aws
        .sqs
        .send_message()
        .queue_url(system.catalog_queue_url())
        .message_body("this is not an event envelope")
        .message_group_id("poison")
        .message_deduplication_id(Uuid::new_v4().to_string())
        .send()
        .await
        .expect("send poison");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let moved = loop {
        let received = system
            .aws
            .sqs
            .receive_message()
            .queue_url(system.catalog_dlq_url())
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from the DLQ");
        if let Some(message) = received.messages().first() {
            break message.body().map(str::to_owned);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poison message never reached the DLQ"
        );
    };
    assert_eq!(moved.as_deref(), Some("this is not an event envelope"));

    // The projector keeps working after it.
    let token = system.vendor_token(Uuid::new_v4()).await;
    let id = system.create_product(&token, 100).await;
    let customer = system.token(Role::Admin, None);
    let (status, _) = system
        .read(
            &format!("/v1/catalog/products/{id}?min_version=1"),
            &customer,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    system.stop().await;
}

#[tokio::test]
async fn commands_are_accepted_and_kept_while_sns_is_unreachable_then_delivered() {
    let system = TestSystem::start_with(Options {
        command_api_without_sns: true,
        ..Options::default()
    })
    .await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    system.drop_vendor_outbox_rows().await;
    let id = system.create_product(&token, 1234).await;
    assert_eq!(
        system.unpublished_outbox_rows().await,
        1,
        "kept in the outbox"
    );

    let ready = system
        .http
        .get(format!("{}/readyz", system.command_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.headers().contains_key("retry-after"));
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["dependencies"]["postgres"], "ok");
    assert!(body["dependencies"]["sns"]["error"].is_string(), "{body}");

    // SNS is back (a relay that can reach it): the event arrives.
    assert_eq!(
        relay_for(&system).publish_backlog().await.expect("relay"),
        1
    );
    let (status, doc) = system
        .read(&format!("/v1/catalog/products/{id}?min_version=1"), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["price"]["amount_minor"], 1234);
    system.stop().await;
}
