//! The order-fulfilment saga end to end: checkout over HTTP, the saga fed by its own queue, the
//! payment simulator over HTTP, and the order and stock as the read API shows them.
use std::time::Duration;

use commerce_platform::auth::Role;
use commerce_platform::messaging::ORDER_SAGA_QUEUE;
use commerce_platform::Shutdown;
use commerce_sagas::model::{OrderSaga, SagaState};
use commerce_sagas::payments::SimulatedPaymentStatus;
use commerce_sagas::runner::FaultInjection;
use commerce_sagas::store::SagaStore;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{shipping_address, Options, TestSystem};

/// A vendor with stocked products and customers who buy them.
struct Market {
    system: TestSystem,
    vendor: String,
    store: SagaStore,
}

impl Market {
    async fn open() -> Self {
        Self::open_with(Options::default()).await
    }

    async fn open_with(options: Options) -> Self {
        let system = TestSystem::start_with(options).await;
        let vendor = system.vendor_token(Uuid::new_v4()).await;
        let store = SagaStore::new(system.pool.clone());
        Self {
            system,
            vendor,
            store,
        }
    }

    /// A published product with `units` in stock (none received when 0).
    async fn product(&self, units: u32) -> Uuid {
        let product = self.system.published_product(&self.vendor, 1500).await;
        if units > 0 {
            let (status, body) = self
                .system
                .command(
                    Method::POST,
                    &format!("/v1/inventory/{product}/receipts"),
                    Some(&self.vendor),
                    Some(json!({ "quantity": units })),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        product
    }

    /// A new customer checks out `lines` paying with `token`; the order id.
    async fn order(&self, lines: &[(Uuid, u32)], token: &str) -> (String, Uuid) {
        let customer = self.system.token_for(Role::Customer, Uuid::new_v4(), None);
        let cart = self.system.open_cart(&customer).await;
        for (product, quantity) in lines {
            let (status, body) = self
                .system
                .add_to_cart(&customer, cart, *product, *quantity)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, body) = self
            .system
            .command(
                Method::POST,
                &format!("/v1/carts/{cart}/checkout"),
                Some(&customer),
                Some(json!({"shipping_address": shipping_address(), "payment_token": token})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
        (customer, order)
    }

    /// The order's saga once it is in a final state.
    async fn finished(&self, order: Uuid) -> OrderSaga {
        self.saga_until(order, |s| s.state.is_final()).await
    }

    async fn saga_until(&self, order: Uuid, done: impl Fn(&OrderSaga) -> bool) -> OrderSaga {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let saga = self.store.get(order).await.expect("read the saga");
            if let Some(saga) = saga.filter(|s| done(s)) {
                return saga;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "saga of {order} did not get there: {:?}",
                self.store.get(order).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The order as its customer reads it, once its status is `status`.
    async fn order_read(&self, customer: &str, order: Uuid, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (code, body) = self
                .system
                .read(&format!("/v1/orders/{order}"), customer)
                .await;
            if code == StatusCode::OK && body["status"] == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order} never read {status}: {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Units available as the catalog shows them, once it shows `expected`.
    async fn available_becomes(&self, product: Uuid, expected: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = self
                .system
                .read(&format!("/v1/catalog/products/{product}"), &self.vendor)
                .await;
            if body["available"] == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{product} never showed {expected} available: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The stock's own count of units on hand, from its latest event.
    async fn on_hand(&self, product: Uuid) -> u64 {
        let last = self.system.last_payload(product).await;
        last["data"]["on_hand"].as_u64().expect("on_hand")
    }

    /// How many `event_type` events name `order` in the stream of `aggregate`.
    async fn events_for(&self, aggregate: Uuid, event_type: &str, order: Uuid) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM es.events WHERE aggregate_id = $1 AND event_type = $2 \
             AND payload->'data'->>'order_id' = $3",
        )
        .bind(aggregate.to_string())
        .bind(event_type)
        .bind(order.to_string())
        .fetch_one(&self.system.pool)
        .await
        .expect("count events")
    }

    async fn stop(self) {
        self.system.stop().await;
    }
}

#[tokio::test]
async fn a_paid_order_is_confirmed_captured_and_its_stock_sold() {
    let market = Market::open().await;
    let tee = market.product(10).await;
    let (customer, order) = market.order(&[(tee, 2)], "tok_ok").await;

    let saga = market.finished(order).await;
    assert_eq!(saga.state, SagaState::Completed, "{saga:?}");
    assert_eq!(
        saga.steps_done,
        ["reserve", "authorize_and_confirm", "capture_and_commit"]
    );
    let read = market.order_read(&customer, order, "confirmed").await;
    assert_eq!(read["cancel_reason"], Value::Null);
    market.available_becomes(tee, 8).await;
    assert_eq!(market.on_hand(tee).await, 8, "the sale left the shelf");
    let payment = market
        .system
        .payments
        .payment(saga.payment_id().0)
        .expect("the provider knows the payment");
    assert_eq!(payment.status, SimulatedPaymentStatus::Captured);
    assert_eq!((payment.authorizations, payment.captures), (1, 1));
    assert_eq!(payment.amount_minor, 3000);
    assert_eq!(
        market.system.last_payload(saga.payment_id().0).await["type"],
        "PaymentCaptured"
    );
    market.stop().await;
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_puts_the_stock_back() {
    let market = Market::open().await;
    let tee = market.product(4).await;
    let (customer, order) = market.order(&[(tee, 3)], "tok_decline").await;

    let saga = market.finished(order).await;
    assert_eq!(saga.state, SagaState::Cancelled, "{saga:?}");
    assert_eq!(saga.cancel_reason.as_deref(), Some("payment_declined"));
    let read = market.order_read(&customer, order, "cancelled").await;
    assert_eq!(read["cancel_reason"], "payment_declined");
    market.available_becomes(tee, 4).await;
    assert_eq!(market.events_for(tee, "StockReleased", order).await, 1);
    market.stop().await;
}

#[tokio::test]
async fn a_payment_that_never_answers_is_given_up_at_its_deadline() {
    let market = Market::open().await;
    let tee = market.product(4).await;
    let (customer, order) = market.order(&[(tee, 1)], "tok_timeout").await;

    // Attempts time out and are retried while the deadline has not passed.
    let waiting = market
        .saga_until(order, |s| {
            s.state == SagaState::Authorizing && s.attempts >= 2
        })
        .await;
    assert!(
        waiting
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("provider"),
        "why it waits is recorded: {waiting:?}"
    );
    market.available_becomes(tee, 3).await;
    // The saga's clock passes the 30 s payment deadline; nobody sleeps through it.
    market.system.saga_clock.advance(Duration::from_secs(31));

    let saga = market.finished(order).await;
    assert_eq!(saga.state, SagaState::Cancelled, "{saga:?}");
    assert_eq!(saga.cancel_reason.as_deref(), Some("payment_timeout"));
    let read = market.order_read(&customer, order, "cancelled").await;
    assert_eq!(read["cancel_reason"], "payment_timeout");
    market.available_becomes(tee, 4).await;
    let payment = market.system.payments.payment(saga.payment_id().0);
    assert!(
        payment.as_ref().is_none_or(|p| p.captures == 0),
        "nothing was taken: {payment:?}"
    );
    market.stop().await;
}

#[tokio::test]
async fn an_order_out_of_stock_on_its_second_line_releases_the_first_and_never_pays() {
    let market = Market::open().await;
    let first = market.product(5).await;
    let second = market.product(1).await;
    let third = market.product(5).await;
    let (customer, order) = market
        .order(&[(first, 2), (second, 2), (third, 1)], "tok_ok")
        .await;

    let saga = market.finished(order).await;
    assert_eq!(saga.state, SagaState::Cancelled, "{saga:?}");
    assert_eq!(saga.cancel_reason.as_deref(), Some("out_of_stock"));
    let read = market.order_read(&customer, order, "cancelled").await;
    assert_eq!(read["cancel_reason"], "out_of_stock");
    assert_eq!(market.events_for(first, "StockReserved", order).await, 1);
    assert_eq!(market.events_for(first, "StockReleased", order).await, 1);
    assert_eq!(market.events_for(second, "StockReserved", order).await, 0);
    assert_eq!(market.events_for(third, "StockReserved", order).await, 0);
    market.available_becomes(first, 5).await;
    assert!(
        market
            .system
            .payments
            .payment(saga.payment_id().0)
            .is_none(),
        "no payment was attempted"
    );
    assert_eq!(
        market.system.event_count(Some(saga.payment_id().0)).await,
        0
    );
    market.stop().await;
}

#[tokio::test]
async fn twenty_customers_racing_for_five_units_get_five_orders_and_no_oversell() {
    let market = Market::open().await;
    let last_units = market.product(5).await;
    let mut orders = Vec::new();
    for _ in 0..20 {
        let customer = market
            .system
            .token_for(Role::Customer, Uuid::new_v4(), None);
        let cart = market.system.open_cart(&customer).await;
        let (status, body) = market
            .system
            .add_to_cart(&customer, cart, last_units, 1)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        orders.push((customer, cart));
    }
    // Every checkout at once.
    let checkouts = orders
        .iter()
        .map(|(customer, cart)| market.system.checkout(customer, *cart));
    let placed: Vec<Uuid> = futures::future::join_all(checkouts)
        .await
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid")
        })
        .collect();

    // Meanwhile, the catalog never shows fewer than zero units.
    let mut finished = Vec::new();
    for order in &placed {
        let (_, product) = market
            .system
            .read(
                &format!("/v1/catalog/products/{last_units}"),
                &market.vendor,
            )
            .await;
        assert!(product["available"].as_i64().unwrap_or(0) >= 0, "{product}");
        finished.push(market.finished(*order).await);
    }
    let confirmed = finished
        .iter()
        .filter(|s| s.state == SagaState::Completed)
        .count();
    let out_of_stock = finished
        .iter()
        .filter(|s| {
            s.state == SagaState::Cancelled && s.cancel_reason.as_deref() == Some("out_of_stock")
        })
        .count();
    assert_eq!((confirmed, out_of_stock), (5, 15), "{finished:?}");
    market.available_becomes(last_units, 0).await;
    assert_eq!(market.on_hand(last_units).await, 0);
    let lowest: Option<i64> = sqlx::query_scalar(
        "SELECT min((payload->'data'->>'available')::bigint) FROM es.events WHERE aggregate_id = $1",
    )
    .bind(last_units.to_string())
    .fetch_one(&market.system.pool)
    .await
    .expect("lowest count");
    assert_eq!(
        lowest,
        Some(0),
        "no event of the stock ever counted below zero"
    );
    market.stop().await;
}

#[tokio::test]
async fn a_saga_killed_after_any_step_resumes_and_doubles_nothing() {
    let market = Market::open_with(Options {
        sagas: false,
        ..Options::default()
    })
    .await;
    let tee = market.product(50).await;
    let mug = market.product(50).await;
    // Reserving, then authorizing (with the confirmation in the same append), then capturing
    // (with the sale of the stock in the same append): a crash after each.
    for crash_after in [
        SagaState::Reserving,
        SagaState::Authorizing,
        SagaState::Capturing,
    ] {
        // A saga service that dies right after the step's effects, before it records them.
        let faults = FaultInjection {
            crash_after: Some(crash_after),
            ..FaultInjection::default()
        };
        let crashed = faults.crashed.clone();
        let mut config = market.system.config.sagas.clone();
        config.faults = faults;
        let doomed = tokio::spawn(commerce_sagas::run(config, Shutdown::new()));
        let (customer, order) = market.order(&[(tee, 1), (mug, 2)], "tok_ok").await;
        tokio::time::timeout(Duration::from_secs(20), crashed.notified())
            .await
            .unwrap_or_else(|_| panic!("no crash after {crash_after:?}"));
        tokio::time::timeout(Duration::from_secs(20), doomed)
            .await
            .expect("the crashed service stops")
            .expect("no panic")
            .expect("stops without an error");

        // A new saga service takes over once the dead one's lease has run out.
        let shutdown = Shutdown::new();
        let revived = tokio::spawn(commerce_sagas::run(
            market.system.config.sagas.clone(),
            shutdown.clone(),
        ));
        let saga = market.finished(order).await;
        assert_eq!(
            saga.state,
            SagaState::Completed,
            "after {crash_after:?}: {saga:?}"
        );
        market.order_read(&customer, order, "confirmed").await;
        let payment = market
            .system
            .payments
            .payment(saga.payment_id().0)
            .expect("paid");
        assert_eq!(
            (payment.authorizations, payment.captures),
            (1, 1),
            "after {crash_after:?}"
        );
        for product in [tee, mug] {
            for event in ["StockReserved", "StockCommitted"] {
                assert_eq!(
                    market.events_for(product, event, order).await,
                    1,
                    "{event} of {product} after a crash after {crash_after:?}"
                );
            }
        }
        let confirmations: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM es.events WHERE aggregate_id = $1 AND event_type = 'OrderConfirmed'",
        )
        .bind(order.to_string())
        .fetch_one(&market.system.pool)
        .await
        .expect("count");
        assert_eq!(confirmations, 1);
        shutdown.cancel();
        revived.await.expect("no panic").expect("stops cleanly");
    }
    // 3 orders of 1 and 2 units each.
    market.available_becomes(tee, 47).await;
    market.available_becomes(mug, 44).await;
    market.stop().await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_without_holding_up_other_orders() {
    let market = Market::open().await;
    let queue = &market.system.topology.queues[ORDER_SAGA_QUEUE.name];
    let poison_order = Uuid::new_v4();
    let poison = json!({
        "event_id": Uuid::now_v7(), "global_position": 1, "aggregate_type": "Order",
        "aggregate_id": poison_order, "sequence": 1, "event_type": "OrderPlaced",
        "event_version": "2.0", "occurred_at": "2026-11-26T10:00:00Z",
        "correlation_id": null, "causation_id": null,
        "payload": {"type": "OrderPlaced", "data": {"order_id": "not an order"}}
    });
    for (group, body) in [
        (poison_order.to_string(), poison.to_string()),
        ("garbage".to_owned(), "this is not an event".to_owned()),
    ] {
        market
            .system
            .aws
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_group_id(group)
            .message_deduplication_id(Uuid::new_v4().to_string())
            .message_body(body)
            .send()
            .await
            .expect("send a poison message");
    }
    let tee = market.product(3).await;
    let (customer, order) = market.order(&[(tee, 1)], "tok_ok").await;
    assert_eq!(market.finished(order).await.state, SagaState::Completed);
    market.order_read(&customer, order, "confirmed").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while market.system.dead_lettered().await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both poison messages reach the DLQ"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(market
        .store
        .get(poison_order)
        .await
        .expect("read")
        .is_none());
    market.stop().await;
}

#[tokio::test]
async fn a_customer_cancelling_a_confirmed_order_gets_the_money_back_and_the_stock_returns() {
    let market = Market::open().await;
    let tee = market.product(6).await;
    let (customer, order) = market.order(&[(tee, 2)], "tok_ok").await;
    assert_eq!(market.finished(order).await.state, SagaState::Completed);
    market.available_becomes(tee, 4).await;

    let (status, body) = market
        .system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/cancel"),
            Some(&customer),
            Some(json!({"reason": "customer_request"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let saga = market
        .saga_until(order, |s| s.state == SagaState::Refunded)
        .await;
    assert_eq!(saga.cancel_reason.as_deref(), Some("customer_request"));
    let read = market.order_read(&customer, order, "cancelled").await;
    assert_eq!(read["cancel_reason"], "customer_request");
    market.available_becomes(tee, 6).await;
    assert_eq!(market.on_hand(tee).await, 6, "the sold units came back");
    let payment = market
        .system
        .payments
        .payment(saga.payment_id().0)
        .expect("paid");
    assert_eq!((payment.refunds, payment.refunded_minor), (1, 3000));
    assert_eq!(
        market.system.last_payload(saga.payment_id().0).await["type"],
        "PaymentRefunded"
    );
    // The refund is in the audit log, once.
    let refunds: Vec<(String, Value)> =
        sqlx::query_as("SELECT target, detail FROM audit.entries WHERE action = 'refund_issued'")
            .fetch_all(&market.system.pool)
            .await
            .expect("the audit log");
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].0, format!("order {order}"));
    assert_eq!(refunds[0].1["amount_minor"], 3000);
    market.stop().await;
}

#[tokio::test]
async fn operators_see_why_a_saga_waits_and_retry_or_abandon_it() {
    let market = Market::open().await;
    let tee = market.product(5).await;
    // The provider fails every call for a while: the capture cannot happen.
    market.system.payments.fail_next(1_000_000);
    let (_, order) = market.order(&[(tee, 1)], "tok_ok").await;
    let waiting = market
        .saga_until(order, |s| {
            s.state == SagaState::Authorizing && s.attempts >= 2
        })
        .await;
    assert!(
        waiting.last_error.as_deref().unwrap_or("").contains("503"),
        "{waiting:?}"
    );

    // `commerce sagas list` shows it, with why it waits.
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(["sagas", "list", "--state", "authorizing", "--json"])
        .env(
            "COMMERCE_DATABASE_URL",
            market.system.config.command_api.database.url.expose(),
        )
        .output()
        .expect("run commerce sagas list");
    assert!(listed.status.success(), "{listed:?}");
    let line: Value = serde_json::from_slice(&listed.stdout).expect("one JSON line");
    assert_eq!(line["order_id"], order.to_string());
    assert!(line["last_error"].as_str().unwrap_or("").contains("503"));

    // An operator abandons it: nothing more happens, even when the provider is back.
    assert!(market
        .store
        .abandon(order, "card network incident")
        .await
        .expect("abandon"));
    market.system.payments.fail_next(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let abandoned = market.store.get(order).await.expect("read").expect("saga");
    assert_eq!(abandoned.state, SagaState::Abandoned);
    assert!(abandoned
        .last_error
        .unwrap_or_default()
        .contains("card network incident"));

    // And retries it: it resumes where it stopped, and the order goes through.
    assert!(market
        .store
        .retry(order, chrono::Utc::now(), &Default::default())
        .await
        .expect("retry"));
    let saga = market.finished(order).await;
    assert_eq!(saga.state, SagaState::Completed, "{saga:?}");
    assert!(!market
        .store
        .retry(order, chrono::Utc::now(), &Default::default())
        .await
        .expect("retry"));
    market.stop().await;
}
