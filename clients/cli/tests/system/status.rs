//! `commerce status`: the pipeline at a glance, for a person and for scripts.
use std::time::Duration;

use commerce_platform::auth::Role;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::TestSystem;

async fn status(system: &TestSystem, args: &[&str]) -> String {
    let mut command = system.commerce();
    command.arg("status").args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce status");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn status_shows_the_outbox_relay_queues_sagas_and_models() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1999).await;
    let reader = system.token(Role::Admin, None);
    let (status_code, _) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2"),
            &reader,
        )
        .await;
    assert_eq!(status_code, StatusCode::OK);

    // Once the relay has published everything, the outbox is empty and a leader holds the lease.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        let report: Value =
            serde_json::from_str(&status(&system, &["--json"]).await).expect("JSON");
        if report["outbox"]["backlog"] == 0 || tokio::time::Instant::now() >= deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["outbox"]["backlog"], 0, "{report}");
    assert_eq!(report["outbox"]["parked"], 0);
    assert!(report["relay"]["leader"].is_string(), "{report}");
    assert!(report["relay"]["lease_seconds"]
        .as_f64()
        .is_some_and(|s| s > 0.0));
    let queues: Vec<&str> = report["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["queue"].as_str())
        .collect();
    assert_eq!(
        queues,
        [
            "catalog",
            "cart",
            "orders",
            "analytics",
            "notifications",
            "ledger",
            "order-saga"
        ]
    );
    let catalog = &report["queues"][0];
    assert_eq!(catalog["dead_lettered"], 0);
    assert!(
        catalog["lag_seconds"].as_f64().is_some(),
        "the catalog projector's lag: {report}"
    );
    assert!(report["sagas"].is_object());
    assert_eq!(report["models"][0]["model"], "catalog");
    assert_eq!(report["models"][0]["generation"], 1);
    assert!(
        report["unavailable"]
            .as_object()
            .is_some_and(|u| u.is_empty()),
        "{report}"
    );

    let human = status(&system, &["--output", "human"]).await;
    for words in [
        "outbox: 0 waiting",
        "relay:",
        "models: catalog g1, cart g1, orders g1",
        "analytics",
        "QUEUE",
        "order-saga",
    ] {
        assert!(human.contains(words), "{words}: {human}");
    }
    system.stop().await;
}
