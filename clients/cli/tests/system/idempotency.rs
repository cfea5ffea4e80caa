use commerce_platform::auth::Role;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
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
    let token = system.vendor_token(Uuid::new_v4()).await;
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
    let other = system.vendor_token(Uuid::new_v4()).await;
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
    let token = system.vendor_token(Uuid::new_v4()).await;
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
    let token = system.vendor_token(Uuid::new_v4()).await;
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

/// POSTs `body` to `path` with an `Authorization` header written exactly as given.
async fn post_as(
    system: &TestSystem,
    path: &str,
    authorization: Option<&str>,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = system
        .http
        .post(format!("{}{path}", system.command_url))
        .header("idempotency-key", key)
        .json(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("answer")
}

#[tokio::test]
async fn a_retried_add_item_with_a_lower_case_bearer_scheme_adds_once() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.create_product(&vendor, 1000).await;
    assert_eq!(system.publish(&vendor, product).await.0, StatusCode::OK);
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, cart) = system
        .command(
            reqwest::Method::POST,
            "/v1/carts",
            Some(&customer),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cart}");
    let cart = cart["cart_id"].as_str().expect("cart_id").to_owned();

    let add = json!({"product_id": product, "quantity": 2});
    let key = Uuid::new_v4().to_string();
    let lower_case = format!("bearer {customer}");
    let first = post_as(
        &system,
        &format!("/v1/carts/{cart}/items"),
        Some(&lower_case),
        &key,
        &add,
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let retry = post_as(
        &system,
        &format!("/v1/carts/{cart}/items"),
        Some(&lower_case),
        &key,
        &add,
    )
    .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "the retry is the first answer again"
    );
    let cart_id = Uuid::parse_str(&cart).expect("uuid");
    assert_eq!(
        system.event_count(Some(cart_id)).await,
        2,
        "opened, then one AddItem: the quantity is not doubled"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_key_whose_caller_cannot_be_derived_is_refused_401_and_runs_nothing() {
    let system = TestSystem::start().await;
    let key = Uuid::new_v4().to_string();
    for authorization in [None, Some("Bearer not-a-jwt"), Some("Basic dXNlcjpwdw==")] {
        let refused = post_as(
            &system,
            "/v1/products",
            authorization,
            &key,
            &product_body(100),
        )
        .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert_eq!(
            refused
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        assert_eq!(
            refused
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }
    assert_eq!(system.event_count(None).await, 0);
    let (kept,): (i64,) = sqlx::query_as("SELECT count(*) FROM es.idempotency_keys")
        .fetch_one(&system.pool)
        .await
        .expect("count keys");
    assert_eq!(kept, 0, "no key is kept for nobody");
    system.stop().await;
}

#[tokio::test]
async fn two_vendors_sharing_a_subject_never_receive_each_others_answers() {
    let system = TestSystem::start().await;
    let subject = Uuid::new_v4();
    let first_vendor = Uuid::new_v4();
    let second_vendor = Uuid::new_v4();
    system.approved_vendor(first_vendor).await;
    system.approved_vendor(second_vendor).await;
    let first = system.token_for(Role::Vendor, subject, Some(first_vendor));
    let second = system.token_for(Role::Vendor, subject, Some(second_vendor));
    let key = Uuid::new_v4().to_string();
    let body = product_body(1500);

    let (status, _, created) = create_with_key(&system, &first, &key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, replayed, other) = create_with_key(&system, &second, &key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_eq!(replayed, None, "not the other vendor's stored answer");
    assert_ne!(other["product_id"], created["product_id"]);
    assert_eq!(system.event_count(None).await, 2);

    // The same vendor, its subject spelled in upper case, is the same caller.
    let shouted = system.token_with_subject(
        Role::Vendor,
        &subject.to_string().to_uppercase(),
        Some(first_vendor),
    );
    let (status, replayed, again) = create_with_key(&system, &shouted, &key, &body).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(again, created);
    system.stop().await;
}
