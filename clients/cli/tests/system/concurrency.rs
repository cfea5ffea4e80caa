use std::collections::BTreeSet;

use futures::future::join_all;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::TestSystem;

#[tokio::test]
async fn twenty_concurrent_price_changes_lose_nothing_and_conflicts_answer_409() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let id = system.create_product(&token, 1000).await;

    let results = join_all((1..=20).map(|i| system.change_price(&token, id, 1000 + i))).await;
    let mut accepted_prices = BTreeSet::new();
    let mut versions = BTreeSet::new();
    for ((status, body), i) in results.iter().zip(1..=20) {
        match *status {
            StatusCode::OK => {
                accepted_prices.insert(1000 + i);
                assert!(versions.insert(body["version"].as_i64().expect("version")));
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["status"], 409, "{body}");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(!accepted_prices.is_empty());

    let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload FROM es.events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id.to_string())
    .fetch_all(&system.pool)
    .await
    .expect("events");
    let sequences: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
    let expected: Vec<i64> = (1..=1 + accepted_prices.len() as i64).collect();
    assert_eq!(
        sequences, expected,
        "consecutive sequences, one per accepted change"
    );
    let stored_prices: BTreeSet<i64> = rows[1..]
        .iter()
        .filter_map(|(_, p)| p["data"]["price"]["amount_minor"].as_i64())
        .collect();
    assert_eq!(
        stored_prices, accepted_prices,
        "every accepted change is stored"
    );
    assert_eq!(versions, (2..=1 + accepted_prices.len() as i64).collect());
    system.stop().await;
}
