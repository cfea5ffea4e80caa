//! The event store keeps postgres-es's layout: postgres-es's own repository, pointed at
//! `es.events` and `es.snapshots`, loads the streams this store wrote into the same aggregates.
//! (It cannot append to them, on purpose: `event_id` has no default and it writes no outbox row,
//! so every write goes through our store and reaches the relay.)
use commerce_command_api::event_store::{CommandExecutor, PgEventRepository};
use commerce_domain::order::Order;
use commerce_domain::product::Product;
use commerce_platform::auth::Role;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, EventStore};
use postgres_es::PostgresEventRepository;
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::TestSystem;

/// `id` loaded by this store and by postgres-es: the same state at the same version.
async fn loads_the_same<A>(pool: &PgPool, id: Uuid) -> A
where
    A: Aggregate + Clone + PartialEq + std::fmt::Debug,
    A::Command: Clone,
{
    let id = id.to_string();
    let ours = CommandExecutor::<A>::new(PgEventRepository::new(pool.clone()), None);
    let (state, version) = ours.load(&id).await.expect("our store loads it");
    let theirs = PersistedEventStore::<_, A>::new_event_store(
        PostgresEventRepository::new(pool.clone()).with_tables("es.events", "es.snapshots"),
    );
    let context = theirs
        .load_aggregate(&id)
        .await
        .expect("postgres-es loads it");
    assert!(version > 1, "{} {id} has a history", A::TYPE);
    assert_eq!(context.current_sequence as i64, version, "{}", A::TYPE);
    assert_eq!(context.aggregate, state, "{}", A::TYPE);
    state
}

#[tokio::test]
async fn postgres_es_loads_the_streams_this_store_wrote() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1999).await;
    let (status, body) = system.change_price(&vendor, product, 2500).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    let (status, body) = system.add_to_cart(&customer, cart, product, 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");

    let loaded: Product = loads_the_same(&system.pool, product).await;
    assert!(loaded.is_published());
    assert_eq!(loaded.price().map(|p| p.amount_minor), Some(2500));
    loads_the_same::<commerce_domain::cart::Cart>(&system.pool, cart).await;
    // The order: placed, then settled by the saga (a new version each time).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let versions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM es.events WHERE aggregate_id = $1")
                .bind(order.to_string())
                .fetch_one(&system.pool)
                .await
                .expect("count");
        if versions > 1 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    loads_the_same::<Order>(&system.pool, order).await;
    system.stop().await;
}
