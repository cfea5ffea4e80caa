//! Vendors' webhooks: a vendor sets a URL and gets a secret; each order confirmed, cancelled or
//! shipped with its lines is posted there, signed; a failing receiver is retried with backoff
//! and gets each notification once in effect; one that always fails ends dead and in the
//! notifications DLQ, from where a redrive delivers it once the receiver is back.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as ReceiverStatus};
use commerce_platform::auth::Role;
use commerce_platform::messaging::NOTIFICATIONS_QUEUE;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::support::TestSystem;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery_id: String,
    kind: String,
    timestamp: String,
    signature: String,
    body: Bytes,
    /// Whether it was answered 2xx.
    accepted: bool,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// 500 to the first `n` requests of each delivery, then 204.
    FailFirst(usize),
    /// 500, always.
    AlwaysFail,
}

#[derive(Clone)]
struct Receiver {
    behaviour: Arc<Mutex<Behaviour>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver on 127.0.0.1; its URL.
    async fn start(behaviour: Behaviour) -> (Self, String) {
        let receiver = Receiver {
            behaviour: Arc::new(Mutex::new(behaviour)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("lock") = behaviour;
    }

    /// The requests of the first delivery of `kind` once one was accepted (within 15 s).
    async fn accepted(&self, kind: &str) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received();
            if let Some(done) = received.iter().find(|r| r.kind == kind && r.accepted) {
                return received
                    .iter()
                    .filter(|r| r.delivery_id == done.delivery_id)
                    .cloned()
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no accepted {kind} delivery: {received:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> ReceiverStatus {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery_id = header("x-commerce-delivery");
    let mut received = receiver.received.lock().expect("lock");
    let earlier = received
        .iter()
        .filter(|r| r.delivery_id == delivery_id)
        .count();
    let accepted = match *receiver.behaviour.lock().expect("lock") {
        Behaviour::FailFirst(n) => earlier >= n,
        Behaviour::AlwaysFail => false,
    };
    received.push(Received {
        delivery_id,
        kind: header("x-commerce-event"),
        timestamp: header("x-commerce-timestamp"),
        signature: header("x-commerce-signature"),
        body,
        accepted,
    });
    match accepted {
        true => ReceiverStatus::NO_CONTENT,
        false => ReceiverStatus::INTERNAL_SERVER_ERROR,
    }
}

/// What a receiver computes to check a delivery: `v1=` and the hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` under the secret.
fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1={hex}")
}

/// `PUT /v1/vendors/{vendor}/webhook` with `url`, as `token`.
async fn set_webhook(
    system: &TestSystem,
    token: &str,
    vendor: Uuid,
    url: &str,
) -> (StatusCode, Value) {
    system
        .command(
            Method::PUT,
            &format!("/v1/vendors/{vendor}/webhook"),
            Some(token),
            Some(json!({ "url": url })),
        )
        .await
}

/// The vendor's deliveries as the read API lists them, once `ready` holds (within 15 s).
async fn deliveries_once(
    system: &TestSystem,
    token: &str,
    vendor: Uuid,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = system
            .read(&format!("/v1/vendors/{vendor}/webhook/deliveries"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().expect("items").clone();
        if ready(&items) {
            return items;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_vendor_receives_signed_notifications_once_each_from_a_receiver_that_fails_twice() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let vendor_token = system.vendor_token(vendor).await;
    let (receiver, url) = Receiver::start(Behaviour::FailFirst(2)).await;

    // Only the vendor itself (or an admin) sets its webhook, and only to a URL.
    let other_vendor = system.vendor_token(Uuid::new_v4()).await;
    let (status, body) = set_webhook(&system, &other_vendor, vendor, &url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let customer = system.token(Role::Customer, None);
    let (status, body) = set_webhook(&system, &customer, vendor, &url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = set_webhook(&system, &vendor_token, vendor, "ftp://example.com/").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("url")),
        "{body}"
    );

    let (status, webhook) = set_webhook(&system, &vendor_token, vendor, &url).await;
    assert_eq!(status, StatusCode::OK, "{webhook}");
    assert_eq!(webhook["url"], url.as_str());
    let secret = webhook["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{webhook}");

    // An order with the vendor's line is confirmed, then shipped.
    let product = system.stocked_product(&vendor_token, 1500, 10).await;
    let order = system.confirmed_order(product, Uuid::new_v4()).await;
    let confirmed = receiver.accepted("order_confirmed").await;

    // Three requests of one delivery: two refused, the third accepted; the same body each time,
    // each signed over its own timestamp with the vendor's secret.
    assert_eq!(confirmed.len(), 3, "{confirmed:?}");
    assert_eq!(
        confirmed.iter().map(|r| r.accepted).collect::<Vec<_>>(),
        [false, false, true]
    );
    for request in &confirmed {
        assert_eq!(request.body, confirmed[0].body, "one body on every attempt");
        assert_eq!(
            request.signature,
            expected_signature(&secret, &request.timestamp, &request.body),
            "the signature verifies"
        );
        assert_ne!(
            request.signature,
            expected_signature("whsec_other", &request.timestamp, &request.body)
        );
        let signed_at: i64 = request.timestamp.parse().expect("a Unix time");
        assert!((chrono::Utc::now().timestamp() - signed_at).abs() < 300);
    }
    let told: Value = serde_json::from_slice(&confirmed[0].body).expect("JSON body");
    assert_eq!(told["type"], "order_confirmed", "{told}");
    assert_eq!(told["order_id"], order.to_string(), "{told}");
    assert_eq!(told["vendor_id"], vendor.to_string(), "{told}");
    assert_eq!(
        told["delivery_id"],
        confirmed[0].delivery_id.as_str(),
        "{told}"
    );

    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/ship"),
            Some(&vendor_token),
            Some(json!({ "tracking": "1Z 42" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shipped = receiver.accepted("order_shipped").await;
    let told: Value = serde_json::from_slice(&shipped[0].body).expect("JSON body");
    assert_eq!(told["detail"]["tracking"], "1Z 42", "{told}");

    // Each notification accepted once, and the record says how it went.
    let accepted = receiver.received().iter().filter(|r| r.accepted).count();
    assert_eq!(accepted, 2, "{:?}", receiver.received());
    let items = deliveries_once(&system, &vendor_token, vendor, |items| {
        items.len() == 2 && items.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    for delivery in &items {
        assert_eq!(delivery["attempts"], 3, "{delivery}");
        assert_eq!(delivery["last_status"], 204, "{delivery}");
        assert!(delivery["delivered_at"].is_string(), "{delivery}");
    }
    let (status, body) = system
        .read(
            &format!("/v1/vendors/{vendor}/webhook/deliveries"),
            &other_vendor,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The CLI lists the same, one JSON line each.
    let vendor_arg = vendor.to_string();
    let listed = system
        .run_commerce(&[
            "webhooks",
            "deliveries",
            &vendor_arg,
            "--state",
            "delivered",
            "--json",
            "--token",
            &vendor_token,
        ])
        .await;
    let kinds: Vec<String> = listed
        .lines()
        .map(|line| {
            let delivery: Value = serde_json::from_str(line).expect("a JSON line");
            delivery["kind"].as_str().expect("kind").to_owned()
        })
        .collect();
    assert_eq!(kinds, ["order_shipped", "order_confirmed"], "{listed}");

    // Removed, the webhook is told nothing more: the next order's confirmation is in the
    // vendor's list (written with the deliveries it queues) and no delivery is added.
    let (status, body) = system
        .command(
            Method::DELETE,
            &format!("/v1/vendors/{vendor}/webhook"),
            Some(&vendor_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let later = system.confirmed_order(product, Uuid::new_v4()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = system.read("/v1/notifications", &vendor_token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let told_later = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|n| n["order_id"] == later.to_string() && n["kind"] == "order_confirmed");
        if told_later {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items = deliveries_once(&system, &vendor_token, vendor, |_| true).await;
    assert_eq!(items.len(), 2, "{items:?}");
    system.stop().await;
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_dead_in_the_dlq_and_a_redrive_delivers_it() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let vendor_token = system.vendor_token(vendor).await;
    let (receiver, url) = Receiver::start(Behaviour::AlwaysFail).await;
    let admin = system.token(Role::Admin, None);
    let (status, webhook) = set_webhook(&system, &admin, vendor, &url).await;
    assert_eq!(status, StatusCode::OK, "{webhook}");

    let product = system.stocked_product(&vendor_token, 900, 10).await;
    let order = system.confirmed_order(product, Uuid::new_v4()).await;
    let items = deliveries_once(&system, &vendor_token, vendor, |items| {
        items.first().is_some_and(|d| d["state"] == "dead")
    })
    .await;
    let dead = &items[0];
    assert_eq!(
        dead["attempts"], 3,
        "all of the configured attempts: {dead}"
    );
    assert_eq!(dead["last_status"], 500, "{dead}");
    assert!(
        dead["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{dead}"
    );
    assert_eq!(dead["order_id"], order.to_string());
    let delivery_id = dead["delivery_id"]
        .as_str()
        .expect("delivery_id")
        .to_owned();
    assert_eq!(receiver.received().len(), 3, "{:?}", receiver.received());

    // The dead delivery's event is in the notifications DLQ, named by the delivery.
    let dlq_url = system
        .aws
        .sqs
        .get_queue_url()
        .queue_name(NOTIFICATIONS_QUEUE.dlq_name(&system.config.projections.messaging))
        .send()
        .await
        .expect("the DLQ")
        .queue_url()
        .expect("url")
        .to_owned();
    let letters = commerce_platform::dead_letters::peek(&system.aws.sqs, &dlq_url, 10)
        .await
        .expect("peek");
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(
        letter.attributes.get("webhook_delivery_id"),
        Some(&delivery_id),
        "{letter:?}"
    );
    assert_eq!(
        letter.attributes.get("event_type").map(String::as_str),
        Some("OrderConfirmed")
    );
    let envelope: Value = serde_json::from_str(&letter.body).expect("an event envelope");
    assert_eq!(envelope["aggregate_id"], order.to_string(), "{envelope}");

    // The receiver is fixed; the redrive sends the event back, which revives its delivery.
    receiver.behave(Behaviour::FailFirst(0));
    let redriven = system
        .run_commerce(&["dlq", "redrive", "notifications"])
        .await;
    assert!(redriven.starts_with("1 message(s) sent back"), "{redriven}");
    let accepted = receiver.accepted("order_confirmed").await;
    assert_eq!(
        accepted.last().map(|r| r.delivery_id.as_str()),
        Some(delivery_id.as_str())
    );
    let items = deliveries_once(&system, &vendor_token, vendor, |items| {
        items.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(
        items.len(),
        1,
        "the same delivery, not a new one: {items:?}"
    );
    assert_eq!(items[0]["delivery_id"], delivery_id.as_str());
    assert_eq!(
        receiver.received().iter().filter(|r| r.accepted).count(),
        1,
        "{:?}",
        receiver.received()
    );
    system.stop().await;
}
