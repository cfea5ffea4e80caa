//! The vendors' ledger over real services: sales credited on capture, cancellations after capture
//! reversed, shipped sales released and paid out through the payment provider exactly once, and
//! the books balancing (from `es.events` and in the read model, before and after a rebuild).
use std::time::Duration;

use commerce_platform::auth::Role;
use commerce_projections::ledger::{check_books, Books};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{Options, TestSystem};

/// A published product of `token`'s vendor at `price_minor` of `currency`, with stock.
async fn product(system: &TestSystem, token: &str, price_minor: i64, currency: &str) -> Uuid {
    system
        .product_for_sale(token, "things", (price_minor, currency), 50)
        .await
}

/// An order of `lines` (product, units) by a new customer, once its payment is captured and
/// every vendor credited; the order and the customer's token.
async fn paid_order(system: &TestSystem, lines: &[(Uuid, u32)]) -> (Uuid, String) {
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    for (product, units) in lines {
        let (status, body) = system.add_to_cart(&customer, cart, *product, *units).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
    system
        .order_reaching(order, |doc| doc["status"] == "confirmed")
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let captured: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM es.events WHERE aggregate_type = 'Payment' \
               AND event_type = 'PaymentCaptured' AND payload->'data'->>'order_id' = $1",
        )
        .bind(order.to_string())
        .fetch_one(&system.pool)
        .await
        .expect("count");
        if captured == 1 {
            return (order, customer);
        }
        assert!(tokio::time::Instant::now() < deadline, "never captured");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ship(system: &TestSystem, order: Uuid, vendor_token: &str) {
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/ship"),
            Some(vendor_token),
            Some(json!({ "tracking": format!("T-{}", &Uuid::new_v4().simple().to_string()[..6]) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn cancel(system: &TestSystem, order: Uuid, customer: &str) {
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/cancel"),
            Some(customer),
            Some(json!({ "reason": "customer_request" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until the saga has refunded `order` (its sagas row is `refunded`).
async fn refunded(system: &TestSystem, order: Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM saga.order_sagas WHERE order_id = $1")
                .bind(order)
                .fetch_optional(&system.pool)
                .await
                .expect("saga");
        if state.as_deref() == Some("refunded") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "saga at {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the ledger's read model has `n` shipments.
async fn shipments_projected(system: &TestSystem, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM read.ledger_shipments")
            .fetch_one(&system.pool)
            .await
            .expect("count");
        if count >= n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} shipments");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the ledger's read model has `n` open payouts.
async fn open_payouts_projected(system: &TestSystem, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM read.ledger_payouts WHERE completed_at IS NULL",
        )
        .fetch_one(&system.pool)
        .await
        .expect("count");
        if count == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} open payouts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The books once the read model has caught up with the events (within 15 s).
async fn balanced_books(system: &TestSystem) -> Books {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let books = check_books(&system.pool, &system.pool)
            .await
            .expect("check the books");
        if books.problems().is_empty() {
            return books;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            books.problems()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `vendor`'s balances by currency: (pending, available, paid out).
async fn balances(system: &TestSystem, vendor: Uuid, token: &str) -> Vec<(String, [i64; 3])> {
    let (status, body) = system
        .read(&format!("/v1/vendors/{vendor}/balance"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .map(|b| {
            (
                b["currency"].as_str().expect("currency").to_owned(),
                [
                    b["pending_minor"].as_i64().expect("pending"),
                    b["available_minor"].as_i64().expect("available"),
                    b["paid_out_minor"].as_i64().expect("paid out"),
                ],
            )
        })
        .collect()
}

async fn run_payouts(system: &TestSystem) -> Value {
    let admin = system.token(Role::Admin, None);
    let (status, report) = system
        .command(Method::POST, "/v1/payouts/runs", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// Sets a 10 % default commission.
async fn ten_percent(system: &TestSystem) {
    let admin = system.token(Role::Admin, None);
    let (status, body) = system
        .command(
            Method::PUT,
            "/v1/commission-rules",
            Some(&admin),
            Some(json!({"default": {"percent_bp": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_books_balance_after_orders_cancellations_partial_returns_and_payouts_and_after_a_rebuild(
) {
    let system = TestSystem::start().await;
    ten_percent(&system).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (a_token, b_token) = (system.vendor_token(a).await, system.vendor_token(b).await);
    let a_eur = product(&system, &a_token, 2000, "EUR").await;
    let a_usd = product(&system, &a_token, 3000, "USD").await;
    let b_eur = product(&system, &b_token, 1250, "EUR").await;

    // 1: both vendors; A ships, B does not.
    let (one, one_customer) = paid_order(&system, &[(a_eur, 2), (b_eur, 1)]).await;
    ship(&system, one, &a_token).await;
    // 2: A alone, cancelled after capture: refunded and reversed whole.
    let (two, two_customer) = paid_order(&system, &[(a_eur, 1)]).await;
    cancel(&system, two, &two_customer).await;
    // 3: A ships, then the order is cancelled: only B's lines are refunded and reversed.
    let (three, three_customer) = paid_order(&system, &[(a_eur, 1), (b_eur, 2)]).await;
    ship(&system, three, &a_token).await;
    cancel(&system, three, &three_customer).await;
    // 4: another currency.
    let (four, _) = paid_order(&system, &[(a_usd, 1)]).await;
    ship(&system, four, &a_token).await;
    refunded(&system, two).await;
    refunded(&system, three).await;
    shipments_projected(&system, 3).await;
    balanced_books(&system).await;

    let report = run_payouts(&system).await;
    assert_eq!(report["released"], 3, "{report}");
    let mut paid: Vec<(String, i64)> = report["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .map(|p| {
            assert_eq!(p["vendor_id"], a.to_string(), "{report}");
            (
                p["currency"].as_str().expect("currency").to_owned(),
                p["amount_minor"].as_i64().expect("amount"),
            )
        })
        .collect();
    paid.sort();
    // A's shares: 90 % of 40.00 and of 20.00 in EUR, of 30.00 in USD.
    assert_eq!(paid, [("EUR".to_owned(), 5400), ("USD".to_owned(), 2700)]);
    let mut transfers: Vec<(Uuid, i64)> = system
        .payments
        .transfers()
        .iter()
        .map(|t| (t.vendor_id, t.amount_minor))
        .collect();
    transfers.sort();
    assert_eq!(transfers, [(a, 2700), (a, 5400)]);

    // A partial return after the payout: one of order 1's two units of A, refunded.
    let returned = request_return(&system, one, &one_customer, a_eur, 1).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{one}/returns/{returned}/accept"),
            Some(&a_token),
            Some(json!({"restock": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    return_reaching(&system, one, "refunded").await;

    let books = balanced_books(&system).await;
    let eur = books
        .currencies
        .iter()
        .find(|c| c.currency == "EUR")
        .expect("EUR books");
    // Captured 52.50 + 20.00 + 45.00; refunded 20.00 + 25.00 (cancellations) + 20.00 (return).
    assert_eq!(
        (eur.payments_captured_minor, eur.payments_refunded_minor),
        (11_750, 6_500)
    );
    assert_eq!(
        (
            eur.commission_minor,
            eur.pending_minor,
            eur.available_minor,
            eur.paid_out_minor
        ),
        (525, 1125, -1800, 5400)
    );
    assert_eq!(
        balances(&system, a, &a_token).await,
        [
            ("EUR".to_owned(), [0, -1800, 5400]),
            ("USD".to_owned(), [0, 0, 2700])
        ]
    );
    assert_eq!(
        balances(&system, b, &b_token).await,
        [("EUR".to_owned(), [1125, 0, 0])]
    );
    // Vendors read only their own ledger.
    let (status, _) = system
        .read(&format!("/v1/vendors/{a}/balance"), &b_token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // B's statement: its cancelled lines reversed, newest first, with the lines.
    let (status, statement) = system
        .read(&format!("/v1/vendors/{b}/statement"), &b_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    let reasons: Vec<&str> = statement["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(
        reasons,
        ["return_reversed", "sale_credited", "sale_credited"]
    );
    let reversal = &statement["items"][0];
    assert_eq!(reversal["order_id"], three.to_string());
    assert_eq!(
        (
            reversal["pending_minor"].as_i64(),
            reversal["customer_minor"].as_i64()
        ),
        (Some(-2250), Some(-2500))
    );
    assert_eq!(reversal["lines"][0]["quantity"], 2, "{reversal}");

    let admin = system.token(Role::Admin, None);
    let (status, income) = system.read("/v1/commission-income", &admin).await;
    assert_eq!(status, StatusCode::OK, "{income}");
    assert_eq!(income["currencies"][0]["currency"], "EUR", "{income}");
    assert_eq!(income["currencies"][0]["commission_minor"], 525, "{income}");

    // The CLI proves the same, and after a rebuild from es.events the model still agrees.
    let checked = system.run_commerce(&["ledger", "check"]).await;
    assert!(checked.contains("balanced"), "{checked}");
    system
        .run_commerce(&["projections", "rebuild", "ledger"])
        .await;
    let rebuilt = balanced_books(&system).await;
    assert_eq!(rebuilt, books);

    // Nothing is left to pay (A is below zero until its next sale): another run pays nobody.
    let again = run_payouts(&system).await;
    assert_eq!(again["payouts"], json!([]), "{again}");
    assert_eq!(system.payments.transfers().len(), 2);
    system.stop().await;
}

#[tokio::test]
async fn a_payout_run_stopped_halfway_or_run_twice_at_once_pays_each_vendor_exactly_once() {
    let system = TestSystem::start().await;
    ten_percent(&system).await;
    let vendors = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let mut tokens = Vec::new();
    for (index, vendor) in vendors.iter().enumerate() {
        let token = system.vendor_token(*vendor).await;
        let product = product(&system, &token, 1000 * (index as i64 + 1), "EUR").await;
        let (order, _) = paid_order(&system, &[(product, 1)]).await;
        ship(&system, order, &token).await;
        tokens.push(token);
    }
    shipments_projected(&system, 3).await;
    balanced_books(&system).await;

    // The provider fails the first transfer: that vendor's payout is started and its sale marked
    // paid, but no money moved; the run pays the others and says who was left.
    system.payments.fail_next(1);
    let first = run_payouts(&system).await;
    assert_eq!(first["released"], 3, "{first}");
    assert_eq!(
        first["payouts"].as_array().map(Vec::len),
        Some(2),
        "{first}"
    );
    assert_eq!(
        first["failures"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    assert_eq!(system.payments.transfers().len(), 2);
    open_payouts_projected(&system, 1).await;

    // Two runs at once finish the open payout between them, once.
    let (second, third) = tokio::join!(run_payouts(&system), run_payouts(&system));
    let finished = [&second, &third]
        .iter()
        .map(|r| r["payouts"].as_array().map_or(0, Vec::len))
        .sum::<usize>();
    assert!((1..=2).contains(&finished), "{second} {third}");
    let mut transfers: Vec<(Uuid, i64, u32)> = system
        .payments
        .transfers()
        .iter()
        .map(|t| (t.vendor_id, t.amount_minor, t.requests))
        .collect();
    transfers.sort_by_key(|t| t.1);
    let paid: Vec<(Uuid, i64)> = transfers.iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(
        paid,
        [(vendors[0], 900), (vendors[1], 1800), (vendors[2], 2700)]
    );

    let books = balanced_books(&system).await;
    assert_eq!(books.currencies[0].paid_out_minor, 5400);
    // Each vendor's one payout, completed (once the projector has it).
    for (vendor, token) in vendors.iter().zip(&tokens) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, page) = system
                .read(&format!("/v1/vendors/{vendor}/payouts"), token)
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= 1, "{page}");
            if items.len() == 1 && items[0]["completed_at"].is_string() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{page}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let last = run_payouts(&system).await;
    assert_eq!(last["payouts"], json!([]), "{last}");
    system.stop().await;
}

/// `customer` asks to return `units` of `product` from `order`; the return's id.
async fn request_return(
    system: &TestSystem,
    order: Uuid,
    customer: &str,
    product: Uuid,
    units: u32,
) -> Uuid {
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/returns"),
            Some(customer),
            Some(json!({
                "lines": [{"product_id": product, "quantity": units}],
                "reason": "too small",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["aggregate_type"], "Order", "{body}");
    Uuid::parse_str(body["return_id"].as_str().expect("return_id")).expect("uuid")
}

/// The order's return once its status is `status` (within 10 s).
async fn return_reaching(system: &TestSystem, order: Uuid, status: &str) -> Value {
    let doc = system
        .order_reaching(order, |doc| doc["returns"][0]["status"] == status)
        .await;
    doc["returns"][0].clone()
}

#[tokio::test]
async fn a_return_after_payout_takes_the_balance_below_zero_and_the_next_payout_nets_it() {
    let system = TestSystem::start().await;
    ten_percent(&system).await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let other_vendor = system.vendor_token(Uuid::new_v4()).await;
    let item = product(&system, &token, 2000, "EUR").await;
    let (first, customer) = paid_order(&system, &[(item, 2)]).await;

    // Not shipped yet: nothing to return.
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{first}/returns"),
            Some(&customer),
            Some(json!({"lines": [{"product_id": item, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    ship(&system, first, &token).await;
    shipments_projected(&system, 1).await;
    balanced_books(&system).await;
    let paid = run_payouts(&system).await;
    assert_eq!(paid["payouts"][0]["amount_minor"], 3600, "{paid}");

    // More than was bought is refused; one unit is asked back, and only its vendor decides.
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{first}/returns"),
            Some(&customer),
            Some(json!({"lines": [{"product_id": item, "quantity": 3}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let returned = request_return(&system, first, &customer, item, 1).await;
    assert_eq!(
        return_reaching(&system, first, "requested").await["refund_total"]["amount_minor"],
        2000
    );
    for refused in [&other_vendor, &customer] {
        let (status, body) = system
            .command(
                Method::POST,
                &format!("/v1/orders/{first}/returns/{returned}/accept"),
                Some(refused),
                Some(json!({"restock": true})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{first}/returns/{returned}/accept"),
            Some(&token),
            Some(json!({"restock": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done = return_reaching(&system, first, "refunded").await;
    assert_eq!(done["restock"], true, "{done}");

    // Refunded at the provider once, the unit back in stock, and the vendor's share and the
    // commission of it reversed out of what was already paid.
    let payment = system
        .payments
        .payment(Uuid::new_v5(&first, b"payment"))
        .expect("the payment");
    assert_eq!((payment.refunded_minor, payment.refunds), (2000, 1));
    let (status, doc) = system
        .read_eventually(
            &format!("/v1/catalog/products/{item}?min_stock_version=4"),
            &customer,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["available"], 49, "{doc}");
    balanced_books(&system).await;
    assert_eq!(
        balances(&system, vendor, &token).await,
        [("EUR".to_owned(), [0, -1800, 3600])]
    );
    let nothing = run_payouts(&system).await;
    assert_eq!(nothing["payouts"], json!([]), "{nothing}");

    // The next sale pays what is left of it after the return: 54.00 - 18.00.
    let (second, _) = paid_order(&system, &[(item, 3)]).await;
    ship(&system, second, &token).await;
    shipments_projected(&system, 2).await;
    balanced_books(&system).await;
    let netted = run_payouts(&system).await;
    assert_eq!(netted["payouts"][0]["amount_minor"], 3600, "{netted}");
    let books = balanced_books(&system).await;
    assert_eq!(
        (
            books.currencies[0].payments_captured_minor,
            books.currencies[0].payments_refunded_minor,
            books.currencies[0].commission_minor,
        ),
        (10_000, 2000, 800)
    );
    assert_eq!(
        balances(&system, vendor, &token).await,
        [("EUR".to_owned(), [0, 0, 7200])]
    );
    let mut transfers: Vec<i64> = system
        .payments
        .transfers()
        .iter()
        .map(|t| t.amount_minor)
        .collect();
    transfers.sort();
    assert_eq!(transfers, [3600, 3600]);
    system.stop().await;
}

#[tokio::test]
async fn a_return_the_provider_will_not_refund_fails_leaves_the_books_alone_and_frees_its_units() {
    let system = TestSystem::start().await;
    ten_percent(&system).await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let item = product(&system, &token, 1500, "EUR").await;
    let (order, customer) = paid_order(&system, &[(item, 1)]).await;
    ship(&system, order, &token).await;

    // Rejected: the customer is told why, and nothing moves.
    let rejected = request_return(&system, order, &customer, item, 1).await;
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/returns/{rejected}/reject"),
            Some(&token),
            Some(json!({"reason": "worn"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        return_reaching(&system, order, "rejected").await["reason"],
        "worn"
    );

    // Asked again and accepted, but the provider declines the refund: the return fails.
    let declined = request_return(&system, order, &customer, item, 1).await;
    system.payments.decline_next_refunds(1);
    let (status, body) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/returns/{declined}/accept"),
            Some(&token),
            Some(json!({"restock": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc = system
        .order_reaching(order, |doc| doc["returns"][1]["status"] == "refund_failed")
        .await;
    assert_eq!(doc["returns"][1]["return_id"], declined.to_string());
    let payment = system
        .payments
        .payment(Uuid::new_v5(&order, b"payment"))
        .expect("the payment");
    assert_eq!(payment.refunded_minor, 0);
    let books = balanced_books(&system).await;
    assert_eq!(books.currencies[0].payments_refunded_minor, 0);
    assert_eq!(books.currencies[0].pending_minor, 1350);

    // Its units are free again: a third asking is taken.
    request_return(&system, order, &customer, item, 1).await;
    let (status, notifications) = system.read("/v1/notifications", &customer).await;
    assert_eq!(status, StatusCode::OK, "{notifications}");
    let kinds: Vec<&str> = notifications["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .filter(|k| k.starts_with("return_"))
        .collect();
    assert!(
        kinds.contains(&"return_rejected") && kinds.contains(&"return_refund_failed"),
        "{kinds:?}"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_sale_is_not_released_before_its_hold_period_has_passed() {
    let system = TestSystem::start_with(Options {
        payout_hold: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    ten_percent(&system).await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let item = product(&system, &token, 1000, "EUR").await;
    let (order, _) = paid_order(&system, &[(item, 1)]).await;
    ship(&system, order, &token).await;
    shipments_projected(&system, 1).await;
    balanced_books(&system).await;
    let report = run_payouts(&system).await;
    assert_eq!(
        (report["released"].clone(), report["payouts"].clone()),
        (json!(0), json!([])),
        "{report}"
    );
    assert_eq!(
        balances(&system, vendor, &token).await,
        [("EUR".to_owned(), [900, 0, 0])]
    );
    assert!(system.payments.transfers().is_empty());
    system.stop().await;
}

#[tokio::test]
async fn the_books_check_fails_loudly_when_the_books_do_not_balance() {
    let system = TestSystem::start().await;
    ten_percent(&system).await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let item = product(&system, &token, 1000, "EUR").await;
    paid_order(&system, &[(item, 1)]).await;
    balanced_books(&system).await;
    system.run_commerce(&["ledger", "check"]).await;

    // An event whose entries do not sum to zero, written past the command side (and never
    // published, so the read model does not have it either).
    let sale = format!("{}:{vendor}", Uuid::new_v4());
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
           event_version, payload, metadata, event_id) \
         VALUES ('VendorSale', $1, 1, 'FundsReleased', '1.0', $2, '{}', $3)",
    )
    .bind(&sale)
    .bind(json!({"type": "FundsReleased", "data": {
        "vendor_id": vendor,
        "order_id": Uuid::new_v4(),
        "entries": [
            {"account": "pending", "currency": "EUR", "amount_minor": -100},
            {"account": "available", "currency": "EUR", "amount_minor": 50}
        ]
    }}))
    .bind(Uuid::now_v7())
    .execute(&system.pool)
    .await
    .expect("append");
    let books = check_books(&system.pool, &system.pool)
        .await
        .expect("check");
    let problems = books.problems().join("\n");
    assert!(problems.contains("sum to -50"), "{problems}");
    assert!(problems.contains("read model"), "{problems}");
    assert_eq!(books.unbalanced_events.len(), 1, "{problems}");
    let mut command = system.commerce();
    command.args(["ledger", "check"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    system.stop().await;
}
