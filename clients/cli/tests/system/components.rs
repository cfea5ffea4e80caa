//! `commerce serve`: each component in a process of its own, as a deployment runs them.
use commerce_cli::system::{self, Component};
use commerce_platform::auth::Role;
use commerce_platform::config::Secret;
use commerce_platform::Shutdown;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::{Options, TestSystem};

/// The projectors run apart from the APIs, each alone: the catalog projector still fills the
/// catalog, the orders projector fills the orders model without any Redis at all, and a process
/// of workers answers its health, readiness and metrics on its own port.
#[tokio::test]
async fn projectors_run_apart_from_the_apis_and_only_what_needs_redis_connects_to_it() {
    const PROJECTORS: &[Component] = &[
        Component::CatalogProjector,
        Component::CartProjector,
        Component::OrdersProjector,
        Component::AnalyticsProjector,
        Component::NotificationsProjector,
        Component::LedgerProjector,
        Component::Webhooks,
    ];
    let system = TestSystem::start_with(Options {
        components_elsewhere: PROJECTORS,
        ..Options::default()
    })
    .await;
    let redis_workers = system::start_components(
        system.config.clone(),
        &[Component::CatalogProjector, Component::CartProjector],
        Shutdown::new(),
    )
    .await
    .expect("start the Redis projectors");
    // Nothing listens on port 9: a worker that touched Redis would never get going.
    let mut without_redis = system.config.clone();
    without_redis.projections.redis.url = Secret::new("redis://127.0.0.1:9");
    let postgres_workers = system::start_components(
        without_redis,
        &[
            Component::OrdersProjector,
            Component::AnalyticsProjector,
            Component::NotificationsProjector,
            Component::LedgerProjector,
            Component::Webhooks,
        ],
        Shutdown::new(),
    )
    .await
    .expect("start the Postgres projectors");

    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let product = system.stocked_product(&token, 1500, 5).await;
    let customer = system.token(Role::Customer, None);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2"),
            &customer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let order = system.confirmed_order(product, Uuid::new_v4()).await;
    let doc = system
        .order_reaching(order, |doc| doc["status"] == "confirmed")
        .await;
    assert_eq!(doc["order_id"], order.to_string(), "{doc}");

    for workers in [&redis_workers, &postgres_workers] {
        let ops = workers.address("ops").expect("workers serve an ops port");
        for (path, expected) in [
            ("/healthz", "ok"),
            ("/readyz", "postgres"),
            ("/metrics", ""),
        ] {
            let response = system
                .http
                .get(format!("http://{ops}{path}"))
                .send()
                .await
                .expect("ops endpoint answers");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let body = response.text().await.expect("body");
            assert!(body.contains(expected), "{path}: {body}");
        }
    }
    redis_workers
        .stop()
        .await
        .expect("Redis projectors stop cleanly");
    postgres_workers
        .stop()
        .await
        .expect("Postgres projectors stop cleanly");
    system.stop().await;
}

/// `commerce serve` names what it can run, and refuses to run nothing.
#[tokio::test]
async fn serve_needs_components_and_names_the_valid_ones() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_commerce"))
        .args(["serve", "catalog"])
        .output()
        .await
        .expect("run commerce");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("catalog-projector") && stderr.contains("command-api"),
        "{stderr}"
    );
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_commerce"))
        .arg("serve")
        .output()
        .await
        .expect("run commerce");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("<COMPONENTS>"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The saga in a process of its own drives orders, and its readiness asks SQS only about its own
/// queue (its role may look up that queue and nothing account-wide).
#[tokio::test]
async fn the_saga_runs_apart_and_its_readiness_asks_only_about_its_own_queue() {
    let system = TestSystem::start_with(Options {
        components_elsewhere: &[Component::Sagas],
        ..Options::default()
    })
    .await;
    let saga =
        system::start_components(system.config.clone(), &[Component::Sagas], Shutdown::new())
            .await
            .expect("start the saga");
    let address = saga.address("sagas").expect("the saga listens");
    let ready: serde_json::Value = system
        .http
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["dependencies"]["sqs"], "ok", "{ready}");
    assert!(ready["dependencies"].get("sns").is_none(), "{ready}");

    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.stocked_product(&vendor, 900, 2).await;
    system.confirmed_order(product, Uuid::new_v4()).await;
    saga.stop().await.expect("the saga stops cleanly");
    system.stop().await;
}

/// A worker process whose Postgres is away stays alive (its workers wait for it) and says so:
/// `/healthz` answers, `/readyz` is 503 naming Postgres.
#[tokio::test]
async fn a_worker_process_without_its_database_is_alive_but_not_ready() {
    let system = TestSystem::start().await;
    let mut config = system.config.clone();
    // Nothing listens on port 9.
    config.projections.database.url = Secret::new("postgres://postgres@127.0.0.1:9/commerce");
    let workers = system::start_components(config, &[Component::OrdersProjector], Shutdown::new())
        .await
        .expect("a worker process starts without its database");
    let ops = workers.address("ops").expect("an ops port");
    let health = system
        .http
        .get(format!("http://{ops}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = system
        .http
        .get(format!("http://{ops}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert!(
        body["dependencies"]["postgres"]["error"].is_string(),
        "{body}"
    );
    workers
        .stop()
        .await
        .expect("stops cleanly while still waiting");
    system.stop().await;
}
