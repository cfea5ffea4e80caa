//! The storefront's commands against the event store (the cart and order read models come next).
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{checkout_body, shipping_address, Options, TestSystem};
use commerce_platform::auth::Role;

struct Shop {
    system: TestSystem,
    vendor: String,
    customer: String,
    customer_id: Uuid,
}

impl Shop {
    /// Without the saga: these tests are about the order as checkout places it (pending, then
    /// whatever its customer does); what the saga does with it is tested in `order_saga`.
    async fn open() -> Self {
        let system = TestSystem::start_with(Options {
            sagas: false,
            ..Options::default()
        })
        .await;
        let vendor = system.vendor_token(Uuid::new_v4()).await;
        let customer_id = Uuid::new_v4();
        let customer = system.token_for(Role::Customer, customer_id, None);
        Self {
            system,
            vendor,
            customer,
            customer_id,
        }
    }

    /// A published product with `price` and 100 units of stock.
    async fn product(&self, price: i64) -> Uuid {
        let id = self.system.create_product(&self.vendor, price).await;
        let (status, _) = self.system.publish(&self.vendor, id).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/inventory/{id}/receipts"),
                &self.vendor,
                json!({"quantity": 100}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let body = if method == Method::DELETE {
            None
        } else {
            Some(body)
        };
        self.system.command(method, path, Some(token), body).await
    }

    /// A new cart of the customer's holding `units` of `product`, added one command at a time.
    async fn cart_with_single_adds(&self, product: Uuid, units: usize) -> Uuid {
        let cart = self.cart(&self.customer).await;
        for _ in 0..units {
            let (status, body) = self.add(&self.customer, cart, product, 1).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        cart
    }

    async fn cart(&self, token: &str) -> Uuid {
        let (status, body) = self.call(Method::POST, "/v1/carts", token, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Uuid::parse_str(body["cart_id"].as_str().expect("cart_id")).expect("uuid")
    }

    async fn add(
        &self,
        token: &str,
        cart: Uuid,
        product: Uuid,
        quantity: i64,
    ) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/carts/{cart}/items"),
            token,
            json!({"product_id": product, "quantity": quantity}),
        )
        .await
    }

    async fn checkout(&self, token: &str, cart: Uuid) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/carts/{cart}/checkout"),
            token,
            checkout_body(),
        )
        .await
    }
}

#[tokio::test]
async fn a_customer_fills_a_cart_and_checks_out_placing_the_order_at_current_prices() {
    let shop = Shop::open().await;
    let tee = shop.product(1000).await;
    let mug = shop.product(500).await;
    let cart = shop.cart(&shop.customer).await;

    let (status, added) = shop.add(&shop.customer, cart, tee, 2).await;
    assert_eq!(
        (status, added["version"].clone()),
        (StatusCode::OK, json!(2))
    );
    shop.add(&shop.customer, cart, mug, 1).await;
    let (status, changed) = shop
        .call(
            Method::PUT,
            &format!("/v1/carts/{cart}/items/{tee}"),
            &shop.customer,
            json!({"quantity": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, removed) = shop
        .call(
            Method::DELETE,
            &format!("/v1/carts/{cart}/items/{mug}"),
            &shop.customer,
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, removed["version"].clone()),
        (StatusCode::OK, json!(5))
    );

    // The customer reads its cart back through the read model, at the version it just wrote.
    let (status, read) = shop
        .system
        .read(&format!("/v1/carts/{cart}?min_version=5"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "open");
    assert_eq!(read["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(read["items"][0]["product_id"], tee.to_string());
    assert_eq!(read["items"][0]["quantity"], 3);
    assert_eq!(read["total"]["amount_minor"], 3000);
    let stranger = shop.system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, _) = shop
        .system
        .read(&format!("/v1/carts/{cart}"), &stranger)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer's cart is, to them, no cart at all"
    );

    // The catalog shows the stock the vendor received.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, product) = shop
            .system
            .read(&format!("/v1/catalog/products/{tee}"), &shop.customer)
            .await;
        if product["available"] == 100 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stock never reached the catalog: {product}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The vendor raises the price before checkout: the order takes the price at checkout.
    shop.system.change_price(&shop.vendor, tee, 1200).await;
    let (status, accepted) = shop.checkout(&shop.customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order = Uuid::parse_str(accepted["order_id"].as_str().expect("order_id")).expect("uuid");
    assert_eq!(accepted["aggregate_id"], order.to_string());
    assert_eq!(accepted["version"], 1);

    let placed = shop.system.last_payload(order).await;
    assert_eq!(placed["type"], "OrderPlaced", "{placed}");
    let data = &placed["data"];
    assert_eq!(data["customer_id"], shop.customer_id.to_string());
    assert_eq!(data["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(data["lines"][0]["unit_price"]["amount_minor"], 1200);
    assert_eq!(data["lines"][0]["quantity"], 3);
    assert_eq!(data["total"]["amount_minor"], 3600);
    assert_eq!(
        shop.system.last_payload(cart).await["type"],
        "CartCheckedOut"
    );
    let (status, read) = shop
        .system
        .read(&format!("/v1/carts/{cart}?min_version=6"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "checked_out");
    assert_eq!(read["order_id"], order.to_string());
    assert_eq!(read["total"]["amount_minor"], 3600, "priced at checkout");

    // The customer reads the order back through the read model.
    let (status, read) = shop
        .system
        .read(&format!("/v1/orders/{order}?min_version=1"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "pending");
    assert_eq!(read["customer_id"], shop.customer_id.to_string());
    assert_eq!(read["total"]["amount_minor"], 3600);
    assert_eq!(read["lines"][0]["unit_price"]["amount_minor"], 1200);
    assert_eq!(read["status_history"][0]["status"], "pending");
    assert_eq!(
        read["shipping_address"],
        shipping_address(),
        "the customer sees where the order goes"
    );
    let (status, page) = shop.system.read("/v1/orders", &shop.customer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let (status, vendor_view) = shop
        .system
        .read(&format!("/v1/orders/{order}"), &shop.vendor)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the vendor of its lines reads it: {vendor_view}"
    );
    assert_eq!(
        vendor_view["shipping_address"],
        shipping_address(),
        "the vendor of its lines sees where to ship"
    );

    // A checked-out cart accepts nothing more.
    let (status, _) = shop.add(&shop.customer, cart, tee, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = shop.checkout(&shop.customer, cart).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The customer cancels its own order; repeating the same cancellation changes nothing.
    let cancel = format!("/v1/orders/{order}/cancel");
    let (status, body) = shop
        .call(
            Method::POST,
            &cancel,
            &shop.customer,
            json!({"reason": "customer_request"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, again) = shop
        .call(
            Method::POST,
            &cancel,
            &shop.customer,
            json!({"reason": "customer_request"}),
        )
        .await;
    assert_eq!(
        (status, again["version"].clone()),
        (StatusCode::OK, body["version"].clone())
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn bad_cart_commands_are_refused_and_append_nothing() {
    let shop = Shop::open().await;
    let tee = shop.product(1000).await;
    let hidden = shop.system.create_product(&shop.vendor, 700).await;
    let cart = shop.cart(&shop.customer).await;
    let before = shop.system.event_count(None).await;

    let cases = [
        (
            "unpublished product",
            shop.add(&shop.customer, cart, hidden, 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown product",
            shop.add(&shop.customer, cart, Uuid::new_v4(), 1).await,
            StatusCode::NOT_FOUND,
        ),
        (
            "zero quantity",
            shop.add(&shop.customer, cart, tee, 0).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "negative quantity (a value outside the bounds, like 0 or 100)",
            shop.add(&shop.customer, cart, tee, -2).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "over the line maximum",
            shop.add(&shop.customer, cart, tee, 100).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty cart checkout",
            shop.checkout(&shop.customer, cart).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown cart",
            shop.add(&shop.customer, Uuid::new_v4(), tee, 1).await,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (name, (status, problem), expected) in cases {
        assert_eq!(status, expected, "{name}: {problem}");
        assert_eq!(problem["status"], expected.as_u16(), "{name}: {problem}");
    }
    assert_eq!(
        shop.system.event_count(None).await,
        before,
        "nothing appended"
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn customers_and_vendors_act_only_on_what_is_theirs() {
    let shop = Shop::open().await;
    let tee = shop.product(1000).await;
    let cart = shop.cart(&shop.customer).await;
    shop.add(&shop.customer, cart, tee, 1).await;
    let (status, accepted) = shop.checkout(&shop.customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order = accepted["order_id"].as_str().expect("order_id").to_owned();

    let stranger = shop.system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, _) = shop.add(&stranger, cart, tee, 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another customer's cart");
    let (status, _) = shop
        .call(
            Method::POST,
            &format!("/v1/orders/{order}/cancel"),
            &stranger,
            json!({"reason": "customer_request"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another customer's order");
    let (status, _) = shop
        .call(Method::POST, "/v1/carts", &shop.vendor, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "vendors have no carts");
    let other_vendor = shop.system.vendor_token(Uuid::new_v4()).await;
    let (status, body) = shop
        .call(
            Method::POST,
            &format!("/v1/orders/{order}/ship"),
            &other_vendor,
            json!({"tracking": "TRK-1"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another vendor's order: {body}"
    );
    let (status, _) = shop
        .call(
            Method::POST,
            &format!("/v1/inventory/{tee}/receipts"),
            &other_vendor,
            json!({"quantity": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another vendor's stock");
    shop.system.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_adds_to_one_cart_lose_nothing() {
    let shop = Shop::open().await;
    let tee = shop.product(1000).await;
    let cart = shop.cart(&shop.customer).await;
    let results = join_all((0..50).map(|_| shop.add(&shop.customer, cart, tee, 1))).await;
    let accepted = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    for (status, body) in &results {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
    }
    assert!(accepted > 0);
    let last = shop.system.last_payload(cart).await;
    assert_eq!(last["type"], "ItemAddedToCart");
    assert_eq!(
        last["data"]["quantity"], accepted,
        "the line holds every accepted unit"
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn a_busy_cart_is_loaded_from_a_snapshot_and_stays_right() {
    let shop = Shop::open().await;
    let tee = shop.product(100).await;
    let cart = shop.cart_with_single_adds(tee, 25).await;
    let (snapshot_at,): (i64,) = sqlx::query_as(
        "SELECT last_sequence FROM es.snapshots WHERE aggregate_type = 'Cart' AND aggregate_id = $1",
    )
    .bind(cart.to_string())
    .fetch_one(&shop.system.pool)
    .await
    .expect("a snapshot was taken");
    assert_eq!(snapshot_at, 20, "taken every 20 events");
    // Decisions after the snapshot see everything before it: 25 units held, 75 more refused.
    let (status, _) = shop.add(&shop.customer, cart, tee, 75).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "over the 99-unit line maximum"
    );
    let (status, read) = shop
        .system
        .read(&format!("/v1/carts/{cart}?min_version=26"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["items"][0]["quantity"], 25);
    shop.system.stop().await;
}

#[tokio::test]
async fn a_snapshot_that_no_longer_reads_is_skipped_for_a_full_replay() {
    let shop = Shop::open().await;
    let tee = shop.product(100).await;
    let cart = shop.cart_with_single_adds(tee, 20).await;
    // As if the cart's shape had changed since the snapshot was taken.
    let damaged = sqlx::query(
        "UPDATE es.snapshots SET payload = '\"an older shape\"' \
         WHERE aggregate_type = 'Cart' AND aggregate_id = $1",
    )
    .bind(cart.to_string())
    .execute(&shop.system.pool)
    .await
    .expect("snapshot updated");
    assert_eq!(damaged.rows_affected(), 1, "a snapshot was taken at 20");
    let (status, body) = shop.add(&shop.customer, cart, tee, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 22, "every event replayed");
    let (status, body) = shop.add(&shop.customer, cart, tee, 79).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "21 units held, so 79 more would pass the line maximum: {body}"
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn a_product_stored_in_an_older_shape_is_read_through_its_upcaster() {
    let shop = Shop::open().await;
    let vendor_id = Uuid::new_v4();
    let vendor = shop.system.vendor_token(vendor_id).await;
    let product = Uuid::new_v4();
    // ProductCreated 0.9 had no category.
    let payload = json!({"type": "ProductCreated", "data": {
        "product_id": product, "vendor_id": vendor_id, "sku": "OLD-1", "title": "Old tee",
        "description": "", "price": {"amount_minor": 700, "currency": "EUR"}}});
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, event_id) VALUES ('Product', $1, 1, 'ProductCreated', '0.9', $2, '{}', $3)",
    )
    .bind(product.to_string())
    .bind(&payload)
    .bind(Uuid::now_v7())
    .execute(&shop.system.pool)
    .await
    .expect("old event stored");

    let (status, body) = shop.system.publish(&vendor, product).await;
    assert_eq!(status, StatusCode::OK, "the product loads: {body}");
    assert_eq!(body["version"], 2);
    let cart = shop.cart(&shop.customer).await;
    let (status, body) = shop.add(&shop.customer, cart, product, 1).await;
    assert_eq!(status, StatusCode::OK, "AddItem reads it too: {body}");
    shop.system.stop().await;
}

#[tokio::test]
async fn a_vendor_reads_only_its_own_lines_of_an_order() {
    let shop = Shop::open().await;
    let ours = shop.product(1000).await;
    let other_vendor = shop.system.vendor_token(Uuid::new_v4()).await;
    let theirs = shop.system.create_product(&other_vendor, 300).await;
    shop.system.publish(&other_vendor, theirs).await;
    let cart = shop.cart(&shop.customer).await;
    shop.add(&shop.customer, cart, ours, 2).await;
    shop.add(&shop.customer, cart, theirs, 1).await;
    let (status, accepted) = shop.checkout(&shop.customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order = accepted["order_id"].as_str().expect("order_id").to_owned();

    let (status, full) = shop
        .system
        .read(&format!("/v1/orders/{order}?min_version=1"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(full["total"]["amount_minor"], 2300);
    let (status, mine) = shop
        .system
        .read(&format!("/v1/orders/{order}"), &shop.vendor)
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["lines"][0]["product_id"], ours.to_string());
    assert_eq!(mine["total"]["amount_minor"], 2000);
    let (status, page) = shop.system.read("/v1/orders", &other_vendor).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["total"]["amount_minor"], 300);
    shop.system.stop().await;
}

#[tokio::test]
async fn only_the_customer_the_vendors_of_its_lines_and_admins_see_an_orders_address() {
    let shop = Shop::open().await;
    let tee = shop.product(1000).await;
    let cart = shop.cart(&shop.customer).await;
    shop.add(&shop.customer, cart, tee, 1).await;
    let (status, accepted) = shop.checkout(&shop.customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order = accepted["order_id"].as_str().expect("order_id").to_owned();
    let path = format!("/v1/orders/{order}");

    let admin = shop.system.token(Role::Admin, None);
    for (who, token) in [
        ("its customer", &shop.customer),
        ("the vendor of its lines", &shop.vendor),
        ("an admin", &admin),
    ] {
        let (status, read) = shop
            .system
            .read(&format!("{path}?min_version=1"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who}: {read}");
        assert_eq!(read["shipping_address"], shipping_address(), "{who}");
    }

    let other_customer = shop.system.token_for(Role::Customer, Uuid::new_v4(), None);
    let other_vendor = shop.system.vendor_token(Uuid::new_v4()).await;
    let analyst = shop.system.token(Role::Analyst, None);
    // Another customer or vendor learns nothing, not even that the order exists (404, as for an
    // unknown id); a role that reads no orders is refused outright (403).
    for (who, token, refused) in [
        ("another customer", &other_customer, StatusCode::NOT_FOUND),
        ("another vendor", &other_vendor, StatusCode::NOT_FOUND),
        ("an analyst", &analyst, StatusCode::FORBIDDEN),
    ] {
        let (status, answer) = shop.system.read(&path, token).await;
        assert_eq!(status, refused, "{who}: {answer}");
        assert!(
            !answer.to_string().contains("Unter den Linden"),
            "{who} never sees the address: {answer}"
        );
        let (_, page) = shop.system.read("/v1/orders", token).await;
        assert!(
            !page.to_string().contains("Unter den Linden"),
            "{who}'s order list holds no one else's address: {page}"
        );
    }
    shop.system.stop().await;
}

/// Stores `(type, id, sequence, event_type, event_version, payload)` rows as an older release
/// wrote them, with their outbox rows so the relay publishes them to the projectors.
async fn store_old_events(pool: &sqlx::PgPool, events: &[(&str, Uuid, i64, &str, &str, Value)]) {
    for (aggregate_type, id, sequence, event_type, version, payload) in events {
        sqlx::query(
            "WITH e AS (INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, event_id) VALUES ($1, $2, $3, $4, $5, $6, '{}', $7) \
             RETURNING global_position) \
             INSERT INTO es.outbox (global_position) SELECT global_position FROM e",
        )
        .bind(aggregate_type)
        .bind(id.to_string())
        .bind(sequence)
        .bind(event_type)
        .bind(version)
        .bind(payload)
        .bind(Uuid::now_v7())
        .execute(pool)
        .await
        .expect("old event stored");
    }
}

#[tokio::test]
async fn an_order_and_a_cart_checked_out_with_a_free_text_address_still_load_and_project() {
    let shop = Shop::open().await;
    let product = shop.product(500).await;
    let (cart, order, vendor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::new_v4());
    let text = "1 Main St\nSpringfield";
    let eur = |amount: i64| json!({"amount_minor": amount, "currency": "EUR"});
    let line = json!({"product_id": product, "vendor_id": vendor, "quantity": 2,
                      "unit_price": eur(500), "line_total": eur(1000)});
    // CartCheckedOut and OrderPlaced 1.0 carried the address as one string.
    store_old_events(
        &shop.system.pool,
        &[
            (
                "Cart",
                cart,
                1,
                "CartCreated",
                "1.0",
                json!({"type": "CartCreated", "data": {
                "cart_id": cart, "customer_id": shop.customer_id}}),
            ),
            (
                "Cart",
                cart,
                2,
                "CartCheckedOut",
                "1.0",
                json!({"type": "CartCheckedOut", "data": {
                "cart_id": cart, "customer_id": shop.customer_id, "order_id": order,
                "lines": [line], "total": eur(1000), "shipping_address": text,
                "payment_token": "tok_ok"}}),
            ),
            (
                "Order",
                order,
                1,
                "OrderPlaced",
                "1.0",
                json!({"type": "OrderPlaced", "data": {
                "order_id": order, "customer_id": shop.customer_id, "lines": [line],
                "total": eur(1000), "shipping_address": text, "payment_token": "tok_ok"}}),
            ),
        ],
    )
    .await;

    // The command side reads them through the upcasters.
    let (status, body) = shop
        .call(
            Method::POST,
            &format!("/v1/orders/{order}/cancel"),
            &shop.customer,
            json!({"reason": "customer_request"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the old order loads: {body}");
    assert_eq!(body["version"], 2);
    let (status, body) = shop.add(&shop.customer, cart, product, 1).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the old cart loads, checked out: {body}"
    );

    // The projectors read the relayed 1.0 payloads as they are.
    let (status, read) = shop
        .system
        .read(&format!("/v1/orders/{order}?min_version=2"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "cancelled");
    assert_eq!(read["shipping_address"], json!({ "line1": text }));
    let (status, read) = shop
        .system
        .read(&format!("/v1/carts/{cart}?min_version=2"), &shop.customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["status"], "checked_out");
    assert_eq!(read["order_id"], order.to_string());
    shop.system.stop().await;
}
