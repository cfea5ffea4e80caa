use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::{product_body, TestSystem};

async fn create_with_key(
    system: &TestSystem,
    token: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Option<String>, Value) {
    let response = system
        .http
        .post(format!("{}/v1/products", system.command_url))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("answer");
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn ten_concurrent_requests_with_one_key_append_once_and_get_the_same_answer() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4());
    let key = Uuid::new_v4().to_string();
    let body = product_body(1500);

    let answers = join_all((0..10).map(|_| create_with_key(&system, &token, &key, &body))).await;
    let first = &answers[0].2;
    for (status, _, answer) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer, first, "every repeat gets the first answer");
    }
    let replays = answers
        .iter()
        .filter(|(_, r, _)| r.as_deref() == Some("true"))
        .count();
    assert_eq!(replays, 9, "one ran, nine were replayed");
    assert_eq!(system.event_count(None).await, 1, "appended once");

    // Later repeats replay too; another body with the same key is refused and appends nothing.
    let (status, replayed, again) = create_with_key(&system, &token, &key, &body).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(&again, first);
    let (status, _, problem) = create_with_key(&system, &token, &key, &product_body(999)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(system.event_count(None).await, 1);

    // Keys belong to their caller: another user's identical key is a new request.
    let other = system.vendor_token(Uuid::new_v4());
    let (status, replayed, created) = create_with_key(&system, &other, &key, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed, None);
    assert_ne!(created["product_id"], first["product_id"]);
    assert_eq!(system.event_count(None).await, 2);
    system.stop().await;
}

#[tokio::test]
async fn a_refused_command_is_replayed_as_refused_and_a_bad_key_is_malformed() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4());
    let key = Uuid::new_v4().to_string();
    let bad = product_body(-1);
    let (status, replayed, _) = create_with_key(&system, &token, &key, &bad).await;
    assert_eq!((status, replayed), (StatusCode::UNPROCESSABLE_ENTITY, None));
    let (status, replayed, problem) = create_with_key(&system, &token, &key, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(problem["status"], 422);

    let long_key = "k".repeat(300);
    let (status, _, problem) = create_with_key(&system, &token, &long_key, &product_body(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(system.event_count(None).await, 0);
    system.stop().await;
}

#[tokio::test]
async fn a_commands_events_commit_in_the_same_transaction_as_its_key_and_answer() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4());
    let key = Uuid::new_v4().to_string();
    let (status, _, answer) = create_with_key(&system, &token, &key, &product_body(900)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let product = answer["product_id"]
        .as_str()
        .expect("product_id")
        .to_owned();
    // So no crash between two commits can keep the events and lose the key (a retry would then
    // run the command again) or keep the key without the events.
    let (same,): (bool,) = sqlx::query_as(
        "SELECT (e.transaction_id::text::bigint % 4294967296) = k.xmin::text::bigint \
         FROM es.events e, es.idempotency_keys k WHERE e.aggregate_id = $1 AND k.key = $2",
    )
    .bind(&product)
    .bind(&key)
    .fetch_one(&system.pool)
    .await
    .expect("the event and the key are stored");
    assert!(same, "events and key committed by one transaction");
    system.stop().await;
}
