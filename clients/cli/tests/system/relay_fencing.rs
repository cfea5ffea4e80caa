//! Two relays and a leader whose lock is killed under load: the lease keeps them from publishing at
//! the same time, so on the topic every aggregate's events still arrive in order, none missing.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use commerce_command_api::relay::{LeaseConfig, OutboxRelay, RelayConfig};
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::Shutdown;
use futures::future::join_all;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::{Options, TestSystem};

/// A FIFO queue subscribed to the whole topic, to see what the relays published, in order.
async fn tap_the_topic(system: &TestSystem) -> String {
    let name = format!(
        "{}tap.fifo",
        system.config.command_api.messaging.queue_prefix
    );
    let url = system
        .aws
        .sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create the tap queue")
        .queue_url
        .expect("queue url");
    let arn = system
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("queue arn");
    system
        .aws
        .sns
        .subscribe()
        .topic_arn(&system.topology.topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe the tap");
    url
}

/// Every envelope in the tap queue, in the order received (per message group, publish order).
async fn drain(system: &TestSystem, url: &str) -> Vec<EventEnvelope> {
    let mut envelopes = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 3 {
        let received = system
            .aws
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from the tap");
        let messages = received.messages();
        if messages.is_empty() {
            empty_polls += 1;
            continue;
        }
        empty_polls = 0;
        for message in messages {
            envelopes
                .push(serde_json::from_str(message.body().expect("a body")).expect("an envelope"));
            system
                .aws
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().expect("receipt handle"))
                .send()
                .await
                .expect("delete from the tap");
        }
    }
    envelopes
}

fn relay(system: &TestSystem) -> OutboxRelay {
    OutboxRelay::new(
        system.pool.clone(),
        system.aws.sns.clone(),
        system.topology.topic_arn.clone(),
        RelayConfig {
            idle_poll: Duration::from_millis(20),
            lease: LeaseConfig {
                duration: Duration::from_millis(1500),
                renew_every: Duration::from_millis(200),
                publish_timeout: Duration::from_millis(500),
                claim_grace: Duration::from_millis(1000),
            },
            ..RelayConfig::default()
        },
        Arc::new(tokio::sync::Notify::new()),
    )
}

async fn lease_holder(system: &TestSystem) -> Option<Uuid> {
    sqlx::query_scalar("SELECT holder FROM es.relay_lease WHERE valid_until > now()")
        .fetch_optional(&system.pool)
        .await
        .expect("read the lease")
}

#[tokio::test]
async fn killing_the_leaders_lock_under_load_keeps_every_aggregates_events_in_order() {
    let system = TestSystem::start_with(Options {
        relay: false,
        ..Options::default()
    })
    .await;
    let tap = tap_the_topic(&system).await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let products = join_all((0..6).map(|_| system.create_product(&vendor, 100))).await;

    let (first, second) = (Shutdown::new(), Shutdown::new());
    let relays = [
        tokio::spawn(relay(&system).run(first.clone())),
        tokio::spawn(relay(&system).run(second.clone())),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let leader = loop {
        if let Some(holder) = lease_holder(&system).await {
            break holder;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no relay took the lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Load: every product's price changes again and again, from several callers at once.
    let load = |product: Uuid| {
        let (system, vendor) = (&system, &vendor);
        async move {
            let started = tokio::time::Instant::now();
            let mut price = 100;
            while started.elapsed() < Duration::from_secs(4) {
                price += 1;
                let (status, body) = system.change_price(vendor, product, price).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        }
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND database = (SELECT oid FROM pg_database \
                                         WHERE datname = current_database())",
        )
        .fetch_all(&system.pool)
        .await
        .expect("terminate the leader's lock backend");
        assert_eq!(killed, [true], "one leader's lock was killed");
    };
    let loads = join_all(products.iter().map(|p| load(*p)));
    tokio::join!(loads, kill);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while system.unpublished_outbox_rows().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox was not drained after the takeover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_leader = lease_holder(&system).await;
    assert!(
        new_leader.is_some() && new_leader != Some(leader),
        "leadership was taken over (a new lease)"
    );

    let published = drain(&system, &tap).await;
    let mut by_aggregate: HashMap<String, Vec<i64>> = HashMap::new();
    for envelope in &published {
        by_aggregate
            .entry(envelope.aggregate_id.clone())
            .or_default()
            .push(envelope.sequence);
    }
    for product in &products {
        let stored: i64 =
            sqlx::query_scalar("SELECT max(sequence) FROM es.events WHERE aggregate_id = $1")
                .bind(product.to_string())
                .fetch_one(&system.pool)
                .await
                .expect("stored version");
        let arrived = by_aggregate
            .remove(&product.to_string())
            .unwrap_or_default();
        let mut highest = 0;
        for sequence in &arrived {
            assert!(
                *sequence > highest,
                "product {product}: {sequence} arrived after {highest}: {arrived:?}"
            );
            highest = *sequence;
        }
        assert_eq!(
            arrived,
            (1..=stored).collect::<Vec<_>>(),
            "product {product}: every event, once"
        );
    }
    first.cancel();
    second.cancel();
    for relay in relays {
        relay
            .await
            .expect("relay task")
            .expect("relay stops cleanly");
    }
    let _ = system.aws.sqs.delete_queue().queue_url(&tap).send().await;
    system.stop().await;
}
