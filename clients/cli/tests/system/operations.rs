use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::TestSystem;

#[tokio::test]
async fn both_services_report_health_readiness_and_metrics() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    system.create_product(&token, 100).await;

    for base in [&system.command_url, &system.read_url] {
        let health = system
            .http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(health.status(), StatusCode::OK);
        let ready = system
            .http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz");
        let status = ready.status();
        let body: Value = ready.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ready"], true);
    }
    let ready: Value = system
        .http
        .get(format!("{}/readyz", system.command_url))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    // The command API asks only about what it uses: its database and the topic it publishes to.
    for dependency in ["postgres", "sns"] {
        assert_eq!(ready["dependencies"][dependency], "ok", "{ready}");
    }
    assert!(ready["dependencies"].get("sqs").is_none(), "{ready}");

    // The relay counts what it published once its marks commit, and the projectors count their
    // receives (batch fill = received / receives): give them a moment under load.
    let expected = [
        "http_request_duration_seconds",
        "outbox_published_total",
        "outbox_backlog",
        "relay_claims_total",
        "relay_publish_calls_total",
        "projection_receives_total",
        "projection_received_total",
    ];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let response = system
            .http
            .get(format!("{}/metrics", system.command_url))
            .send()
            .await
            .expect("metrics");
        assert_eq!(response.status(), StatusCode::OK);
        let metrics = response.text().await.expect("text");
        if expected.iter().all(|name| metrics.contains(name))
            || tokio::time::Instant::now() > deadline
        {
            break metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for name in expected {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    // Correlation ids are echoed, and adopted when the caller sends one.
    let correlation = Uuid::now_v7();
    let response = system
        .http
        .get(format!("{}/healthz", system.read_url))
        .header("x-correlation-id", correlation.to_string())
        .send()
        .await
        .expect("healthz");
    assert_eq!(
        response
            .headers()
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some(correlation.to_string().as_str())
    );
    system.stop().await;
}

#[tokio::test]
async fn the_correlation_id_of_a_command_travels_in_the_event_envelope() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let correlation = Uuid::now_v7();
    let response = system
        .http
        .post(format!("{}/v1/products", system.command_url))
        .bearer_auth(&token)
        .header("x-correlation-id", correlation.to_string())
        .json(&crate::support::product_body(100))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = sqlx::query_scalar(
        "SELECT metadata FROM es.events WHERE aggregate_type = 'Product' LIMIT 1",
    )
    .fetch_one(&system.pool)
    .await
    .expect("metadata");
    assert_eq!(stored["correlation_id"], correlation.to_string());
    system.stop().await;
}

#[tokio::test]
async fn both_services_publish_an_openapi_document_that_matches_their_routes() {
    let system = TestSystem::start().await;
    let documents = [
        (
            &system.command_url,
            vec![
                ("/v1/products", "post"),
                ("/v1/products/{id}/price", "put"),
                ("/v1/products/{id}/publish", "post"),
                ("/v1/products/{id}/unpublish", "post"),
                ("/v1/inventory/{product_id}/receipts", "post"),
                ("/v1/carts", "post"),
                ("/v1/carts/{id}/items", "post"),
                ("/v1/carts/{id}/items/{product_id}", "put"),
                ("/v1/carts/{id}/items/{product_id}", "delete"),
                ("/v1/carts/{id}/checkout", "post"),
                ("/v1/orders/{id}/cancel", "post"),
                ("/v1/orders/{id}/ship", "post"),
                ("/v1/orders/{id}/returns", "post"),
                ("/v1/orders/{id}/returns/{return_id}/accept", "post"),
                ("/v1/orders/{id}/returns/{return_id}/reject", "post"),
                ("/v1/commission-rules", "put"),
                ("/v1/commission-rules", "get"),
                ("/v1/payouts/runs", "post"),
                ("/v1/vendors", "post"),
                ("/v1/vendors/{vendor_id}/approve", "post"),
                ("/v1/vendors/{vendor_id}/suspend", "post"),
                ("/v1/vendors/{vendor_id}/reinstate", "post"),
                ("/v1/vendors/{vendor_id}/webhook", "put"),
                ("/v1/vendors/{vendor_id}/webhook", "delete"),
            ],
        ),
        (
            &system.read_url,
            vec![
                ("/v1/catalog/products", "get"),
                ("/v1/catalog/products/{id}", "get"),
                ("/v1/carts/{id}", "get"),
                ("/v1/orders/{id}", "get"),
                ("/v1/orders", "get"),
                ("/v1/orders/{id}/events", "get"),
                ("/v1/orders/{id}/sub-orders/{vendor_id}", "get"),
                ("/v1/notifications", "get"),
                ("/v1/events", "get"),
                ("/v1/analytics/sales", "get"),
                ("/v1/analytics/funnel", "get"),
                ("/v1/vendors", "get"),
                ("/v1/vendors/{vendor_id}", "get"),
                ("/v1/vendors/{vendor_id}/dashboard", "get"),
                ("/v1/vendors/{vendor_id}/webhook/deliveries", "get"),
                ("/v1/vendors/{vendor_id}/balance", "get"),
                ("/v1/vendors/{vendor_id}/statement", "get"),
                ("/v1/vendors/{vendor_id}/payouts", "get"),
                ("/v1/commission-income", "get"),
            ],
        ),
    ];
    for (base, operations) in documents {
        let document: Value = system
            .http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("openapi.json")
            .json()
            .await
            .expect("json");
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(document["components"]["schemas"]["Problem"].is_object());
        let documented: usize = document["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|p| p.as_object().map_or(0, |o| o.len()))
            .sum();
        assert_eq!(
            documented,
            operations.len(),
            "every operation and only those"
        );
        for (path, method) in operations {
            let operation = &document["paths"][path][method];
            assert_eq!(
                operation["security"][0]["bearer"],
                serde_json::json!([]),
                "{path}"
            );
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["401", "500", "503"] {
                let problem = &responses[status]["content"]["application/problem+json"];
                assert!(
                    problem.is_object(),
                    "{method} {path} documents {status} as problem+json"
                );
            }
        }
        docs_are_served_by_the_service(&system.http, base).await;
    }
    let command: Value = system
        .http
        .get(format!("{}/openapi.json", system.command_url))
        .send()
        .await
        .expect("openapi.json")
        .json()
        .await
        .expect("json");
    let create = &command["components"]["schemas"]["CreateProductBody"];
    assert_eq!(
        create["additionalProperties"], false,
        "unknown fields are refused"
    );
    assert_eq!(
        create["required"],
        serde_json::json!(["sku", "title", "category", "price"])
    );
    let address = &command["components"]["schemas"]["ShippingAddressBody"];
    assert_eq!(address["additionalProperties"], false, "{address}");
    assert_eq!(
        address["properties"]["country"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(249),
        "the assigned ISO 3166-1 alpha-2 codes, and only those"
    );
    let read: Value = system
        .http
        .get(format!("{}/openapi.json", system.read_url))
        .send()
        .await
        .expect("openapi.json")
        .json()
        .await
        .expect("json");
    let schemas = &read["components"]["schemas"];
    assert!(
        schemas["OrderDocument"]["properties"]["shipping_address"].is_object(),
        "the order shows its address: {}",
        schemas["OrderDocument"]
    );
    assert_eq!(
        schemas["ShippingAddress"]["required"],
        serde_json::json!(["line1"])
    );
    system.stop().await;
}

/// `sslmode=require` in `COMMERCE_DATABASE_URL` encrypts the connections of every pool (production
/// databases such as RDS expect it). Where the local server has TLS off, the same URL must fail to
/// connect rather than silently fall back to plain text.
#[tokio::test]
async fn the_database_url_can_require_tls() {
    let admin_url = std::env::var("COMMERCE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let plain = commerce_platform::config::DatabaseConfig {
        url: commerce_platform::config::Secret::new(admin_url.clone()),
        max_connections: 1,
    };
    let pool = commerce_platform::database::connect(&plain)
        .await
        .expect("plain connection");
    let (server_tls,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&pool)
        .await
        .expect("SHOW ssl");
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let required = commerce_platform::config::DatabaseConfig {
        url: commerce_platform::config::Secret::new(format!(
            "{admin_url}{separator}sslmode=require"
        )),
        max_connections: 1,
    };
    let connected = commerce_platform::database::connect_with_generic_plans(&required).await;
    if server_tls != "on" {
        assert!(connected.is_err(), "no TLS on the server, so no connection");
        return;
    }
    let pool = connected.expect("a TLS connection");
    let (encrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("pg_stat_ssl");
    assert!(encrypted, "the connection is encrypted");
}

/// `/docs` works with no network: the page and every script, stylesheet and image it loads come
/// from the service itself (relative URLs that the service answers), and the UI is pointed at
/// the service's own `/openapi.json`.
async fn docs_are_served_by_the_service(http: &reqwest::Client, base: &str) {
    let page = http.get(format!("{base}/docs")).send().await.expect("docs");
    assert_eq!(page.status(), StatusCode::OK, "{base}/docs");
    let page_url = page.url().clone();
    let html = page.text().await.expect("html");
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            if let Some(end) = rest.find('"') {
                assets.push(rest[..end].to_owned());
            }
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "the page loads its UI: {assets:?}"
    );
    let mut initializer = String::new();
    for asset in &assets {
        assert!(
            !asset.contains("//"),
            "{asset} would be fetched from elsewhere than the service"
        );
        let url = page_url.join(asset).expect("asset url");
        assert_eq!(url.origin(), page_url.origin(), "{asset}");
        let answer = http.get(url.clone()).send().await.expect("asset");
        assert_eq!(answer.status(), StatusCode::OK, "{url}");
        let body = answer.text().await.expect("asset body");
        assert!(!body.is_empty(), "{url} is empty");
        if asset.contains("initializer") {
            initializer = body;
        }
    }
    assert!(
        initializer.contains("/openapi.json"),
        "the UI renders the service's own document"
    );
}
