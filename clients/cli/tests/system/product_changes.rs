//! A product that changes between the moment a command reads it and the moment the command's
//! events are appended: the append must notice, so no cart line or order stands on a price or a
//! published state that was already gone. Each test holds appends back with a lock, catches a
//! real request between its reads and its append, changes the product in that gap, and lets go.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use commerce_command_api::event_store::{
    within_request_transaction, CommandExecutor, PgEventRepository,
};
use commerce_domain::product::{product_upcasters, Product, ProductCommand};
use commerce_domain::{Actor, Currency, Money, VendorId};
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::support::{checkout_body, TestSystem};

/// Keeps every other session from appending to `es.events` (a SHARE lock lets reads through and
/// holds writes back) until a product change made inside the gate commits.
struct AppendGate {
    pool: PgPool,
    transaction: Transaction<'static, Postgres>,
}

impl AppendGate {
    async fn close(pool: &PgPool) -> Self {
        let mut transaction = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE es.events IN SHARE MODE")
            .execute(&mut *transaction)
            .await
            .expect("lock es.events");
        Self {
            pool: pool.clone(),
            transaction,
        }
    }

    /// Returns once some request waits at the gate with its append: it has read everything its
    /// decision stands on.
    async fn wait_for_a_held_append(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE NOT granted \
                 AND relation = 'es.events'::regclass \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&self.pool)
            .await
            .expect("pg_locks");
            if waiting > 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no append reached the gate"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Changes the product through the command path, inside the gate's transaction, then commits
    /// it, which lets the held append go on.
    async fn change_product_and_open(self, product: Uuid, command: ProductCommand) {
        let products = CommandExecutor::<Product>::new(PgEventRepository::new(self.pool), None)
            .with_upcasters(product_upcasters());
        let shared = Arc::new(Mutex::new(Some(self.transaction)));
        within_request_transaction(
            shared.clone(),
            products.execute(&product.to_string(), command, HashMap::new(), &()),
        )
        .await
        .expect("the product changes");
        let transaction = shared.lock().await.take().expect("the gate's transaction");
        transaction.commit().await.expect("commit the change");
    }
}

struct Shop {
    system: TestSystem,
    vendor_id: Uuid,
    vendor: String,
    customer: String,
}

impl Shop {
    async fn open() -> Self {
        let system = TestSystem::start().await;
        let vendor_id = Uuid::new_v4();
        let vendor = system.vendor_token(vendor_id).await;
        let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
        Self {
            system,
            vendor_id,
            vendor,
            customer,
        }
    }

    async fn published_product(&self, price_minor: i64) -> Uuid {
        let product = self.system.create_product(&self.vendor, price_minor).await;
        let (status, body) = self.system.publish(&self.vendor, product).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        product
    }

    fn vendor(&self) -> Actor {
        Actor::Vendor {
            vendor_id: VendorId(self.vendor_id),
        }
    }

    fn new_price(&self, amount_minor: i64) -> ProductCommand {
        let currency = Currency::parse("EUR").expect("EUR");
        ProductCommand::ChangePrice {
            price: Money::new(amount_minor, currency).expect("a price"),
            actor: self.vendor(),
        }
    }

    fn unpublish(&self) -> ProductCommand {
        ProductCommand::Unpublish {
            actor: self.vendor(),
        }
    }

    async fn cart(&self) -> Uuid {
        let (status, body) = self
            .system
            .command(
                Method::POST,
                "/v1/carts",
                Some(&self.customer),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Uuid::parse_str(body["cart_id"].as_str().expect("cart_id")).expect("uuid")
    }

    /// `POST /v1/carts/{id}/items`, with an `Idempotency-Key` when given one (its command then
    /// appends inside the key's transaction, behind a savepoint).
    async fn add(&self, cart: Uuid, product: Uuid, key: Option<&str>) -> (StatusCode, Value) {
        let body = json!({"product_id": product, "quantity": 1});
        self.post(&format!("/v1/carts/{cart}/items"), body, key)
            .await
    }

    async fn checkout(&self, cart: Uuid, key: Option<&str>) -> (StatusCode, Value) {
        self.post(&format!("/v1/carts/{cart}/checkout"), checkout_body(), key)
            .await
    }

    async fn post(&self, path: &str, body: Value, key: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .system
            .http
            .post(format!("{}{path}", self.system.command_url))
            .bearer_auth(&self.customer)
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("command API answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_price_change_between_reading_the_product_and_adding_it_prices_the_line_anew() {
    let shop = Shop::open().await;
    let product = shop.published_product(1000).await;
    let cart = shop.cart().await;

    let gate = AppendGate::close(&shop.system.pool).await;
    let ((status, body), ()) = tokio::join!(shop.add(cart, product, None), async {
        gate.wait_for_a_held_append().await;
        gate.change_product_and_open(product, shop.new_price(1200))
            .await;
    });

    assert_eq!(status, StatusCode::OK, "{body}");
    let added = shop.system.last_payload(cart).await;
    assert_eq!(added["type"], "ItemAddedToCart", "{added}");
    assert_eq!(
        added["data"]["unit_price"]["amount_minor"], 1200,
        "the line takes the price the product had when it was appended: {added}"
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn a_product_unpublished_between_reading_it_and_adding_it_is_refused_also_under_an_idempotency_key(
) {
    let shop = Shop::open().await;
    let product = shop.published_product(1000).await;
    let cart = shop.cart().await;
    let key = Uuid::new_v4().to_string();

    let gate = AppendGate::close(&shop.system.pool).await;
    let ((status, problem), ()) = tokio::join!(shop.add(cart, product, Some(&key)), async {
        gate.wait_for_a_held_append().await;
        gate.change_product_and_open(product, shop.unpublish())
            .await;
    });

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        shop.system.event_count(Some(cart)).await,
        1,
        "only CartCreated: nothing was added"
    );
    shop.system.stop().await;
}

#[tokio::test]
async fn a_price_change_between_reading_the_products_and_checking_out_places_the_order_at_the_new_price(
) {
    let shop = Shop::open().await;
    let tee = shop.published_product(1000).await;
    let mug = shop.published_product(500).await;
    let cart = shop.cart().await;
    for product in [tee, mug] {
        let (status, body) = shop.add(cart, product, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let gate = AppendGate::close(&shop.system.pool).await;
    let ((status, accepted), ()) = tokio::join!(shop.checkout(cart, None), async {
        gate.wait_for_a_held_append().await;
        gate.change_product_and_open(mug, shop.new_price(700)).await;
    });

    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order = Uuid::parse_str(accepted["order_id"].as_str().expect("order_id")).expect("uuid");
    let placed = shop.system.last_payload(order).await;
    assert_eq!(placed["type"], "OrderPlaced", "{placed}");
    let prices: HashMap<String, i64> = placed["data"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            let product = l["product_id"].as_str().expect("product_id").to_owned();
            (
                product,
                l["unit_price"]["amount_minor"].as_i64().expect("price"),
            )
        })
        .collect();
    assert_eq!(prices[&tee.to_string()], 1000);
    assert_eq!(
        prices[&mug.to_string()],
        700,
        "the order takes the price the product had when it was appended: {placed}"
    );
    assert_eq!(placed["data"]["total"]["amount_minor"], 1700);
    shop.system.stop().await;
}

#[tokio::test]
async fn a_product_unpublished_between_reading_it_and_checking_out_refuses_the_checkout_also_under_an_idempotency_key(
) {
    let shop = Shop::open().await;
    let product = shop.published_product(1000).await;
    let cart = shop.cart().await;
    let (status, body) = shop.add(cart, product, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = Uuid::new_v4().to_string();

    let gate = AppendGate::close(&shop.system.pool).await;
    let ((status, problem), ()) = tokio::join!(shop.checkout(cart, Some(&key)), async {
        gate.wait_for_a_held_append().await;
        gate.change_product_and_open(product, shop.unpublish())
            .await;
    });

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        shop.system.last_payload(cart).await["type"],
        "ItemAddedToCart",
        "the cart is still open"
    );
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM es.events WHERE aggregate_type = 'Order'")
            .fetch_one(&shop.system.pool)
            .await
            .expect("count orders");
    assert_eq!(orders, 0, "no order was placed");
    shop.system.stop().await;
}

#[tokio::test]
async fn an_add_refused_by_its_guard_as_the_cart_reaches_a_snapshot_writes_no_snapshot_either() {
    let shop = Shop::open().await;
    let mug = shop.published_product(500).await;
    let tee = shop.published_product(1000).await;
    let cart = shop.cart().await;
    // CartCreated and 18 adds: the next event is the 20th, which carries a snapshot.
    for _ in 0..18 {
        let (status, body) = shop.add(cart, mug, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let gate = AppendGate::close(&shop.system.pool).await;
    let ((status, body), ()) = tokio::join!(shop.add(cart, tee, None), async {
        gate.wait_for_a_held_append().await;
        gate.change_product_and_open(tee, shop.new_price(1200))
            .await;
    });

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 20, "no sequence skipped: {body}");
    let (last_sequence, snapshot): (i64, Value) = sqlx::query_as(
        "SELECT last_sequence, payload FROM es.snapshots \
         WHERE aggregate_type = 'Cart' AND aggregate_id = $1",
    )
    .bind(cart.to_string())
    .fetch_one(&shop.system.pool)
    .await
    .expect("a snapshot at 20");
    assert_eq!(last_sequence, 20);
    let tee_line = snapshot["contents"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["product_id"] == tee.to_string())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        tee_line["unit_price"]["amount_minor"], 1200,
        "the snapshot is the one of the append that went through: {snapshot}"
    );
    shop.system.stop().await;
}
