//! `GET /v1/orders/{id}/events`: an order's status changes as Server-Sent Events, as they happen.
use std::time::Duration;

use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{checkout_body, TestSystem};

/// One event as the stream sent it.
#[derive(Debug)]
struct SentEvent {
    id: String,
    event: String,
    data: Value,
}

/// Reads events from an open stream (comments skipped) until `count` arrived or the stream ends.
async fn read_events(response: &mut reqwest::Response, count: usize) -> (Vec<SentEvent>, bool) {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the next event within 15 s")
            .expect("the stream reads");
        let Some(chunk) = chunk else {
            return (events, true);
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !event.is_empty() {
                events.push(SentEvent {
                    id,
                    event,
                    data: serde_json::from_str(&data).expect("JSON data"),
                });
            }
        }
    }
    (events, false)
}

async fn open(
    system: &TestSystem,
    order: Uuid,
    token: &str,
    last: Option<&str>,
) -> reqwest::Response {
    let mut request = system
        .http
        .get(format!("{}/v1/orders/{order}/events", system.read_url))
        .bearer_auth(token);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    request.send().await.expect("open the stream")
}

#[tokio::test]
async fn a_customer_sees_pending_then_confirmed_then_shipped_as_they_happen() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 2500).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/inventory/{product}/receipts"),
            Some(&vendor),
            Some(json!({"quantity": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    let (status, body) = system.add_to_cart(&customer, cart, product, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/carts/{cart}/checkout"),
            Some(&customer),
            Some(checkout_body()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");

    // Opened right after checkout: the order may not be projected yet, and is waited for.
    let mut stream = open(&system, order, &customer, None).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()["content-type"].to_str().expect("type"),
        "text/event-stream"
    );
    let (events, ended) = read_events(&mut stream, 2).await;
    assert!(!ended);
    let seen: Vec<(&str, &str, &Value)> = events
        .iter()
        .map(|e| (e.id.as_str(), e.event.as_str(), &e.data["status"]))
        .collect();
    assert_eq!(
        seen,
        [
            ("1", "status", &json!("pending")),
            ("2", "status", &json!("confirmed"))
        ]
    );
    assert_eq!(events[1].data["order_id"], order.to_string());

    // Shipping is the last change: it arrives, and the stream ends.
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/ship"),
            Some(&vendor),
            Some(json!({"tracking": "TRK-SSE"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (events, ended) = read_events(&mut stream, 2).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].id.as_str(), &events[0].data["status"]),
        ("3", &json!("shipped"))
    );
    assert!(ended, "the stream ends after the order's last change");

    // Reconnecting after event 2 sends only what followed.
    let mut again = open(&system, order, &customer, Some("2")).await;
    let (events, ended) = read_events(&mut again, 5).await;
    assert!(ended);
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["3"]);

    // Someone else's order is not theirs to watch.
    let stranger = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let response = open(&system, order, &stranger, None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = open(&system, order, &customer, Some("two")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // The customer and the vendor were told, newest first; nobody else was.
    let expected = json!([
        {"kind": "order_shipped", "order_id": order, "detail": {"tracking": "TRK-SSE"}},
        {"kind": "order_confirmed", "order_id": order, "detail": {}},
    ]);
    for token in [&customer, &vendor] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, page) = system.read("/v1/notifications", token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let told: Vec<Value> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|n| json!({"kind": n["kind"], "order_id": n["order_id"], "detail": n["detail"]}))
                .collect();
            if Value::from(told.clone()) == expected {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{told:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (status, page) = system.read("/v1/notifications?limit=1", &customer).await;
    assert_eq!(status, StatusCode::OK);
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, older) = system
        .read(
            &format!("/v1/notifications?limit=1&cursor={cursor}"),
            &customer,
        )
        .await;
    assert_eq!(older["items"][0]["kind"], "order_confirmed");
    assert!(older["next_cursor"].is_null());
    let (_, page) = system.read("/v1/notifications", &stranger).await;
    assert_eq!(page["items"], json!([]));
    let analyst = system.token(Role::Analyst, None);
    let (status, _) = system.read("/v1/notifications", &analyst).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Ops rebuild the notifications from the events: a new generation, the same lists.
    let (_, customers_before) = system.read("/v1/notifications", &customer).await;
    let (_, vendors_before) = system.read("/v1/notifications", &vendor).await;
    let mut rebuild = system.commerce();
    rebuild.args(["projections", "rebuild", "notifications"]);
    let output = tokio::task::spawn_blocking(move || rebuild.output())
        .await
        .expect("join")
        .expect("run the rebuild");
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("notifications rebuilt into generation 2")
    );
    assert_eq!(
        system.read("/v1/notifications", &customer).await.1,
        customers_before
    );
    assert_eq!(
        system.read("/v1/notifications", &vendor).await.1,
        vendors_before
    );
    system.stop().await;
}
