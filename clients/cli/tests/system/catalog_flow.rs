use commerce_platform::auth::Role;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::TestSystem;

#[tokio::test]
async fn a_published_product_is_read_back_with_its_price_through_min_version() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let id = system.create_product(&token, 1999).await;
    let (status, accepted) = system.publish(&token, id).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["version"], 2);
    assert_eq!(accepted["aggregate_id"], id.to_string());

    // One read, no client-side polling: the read API waits for version 2.
    let customer = system.token(Role::Customer, None);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{id}?min_version=2"),
            &customer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["published"], true);
    assert_eq!(doc["price"]["amount_minor"], 1999);
    assert_eq!(doc["price"]["currency"], "EUR");
    assert_eq!(doc["vendor_id"], vendor.to_string());
    assert_eq!(doc["sku"], "TEE-001");

    let (status, page) = system.read("/v1/catalog/products", &customer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["product_id"], id.to_string());
    system.stop().await;
}

#[tokio::test]
async fn unpublished_products_stay_out_of_the_catalog_and_price_changes_arrive_in_order() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let hidden = system.create_product(&token, 500).await;
    let shown = system.create_product(&token, 1000).await;
    system.publish(&token, shown).await;
    let mut version = 2;
    for price in [1100, 1200, 1300] {
        let (status, body) = system.change_price(&token, shown, price).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        version = body["version"].as_i64().expect("version");
    }
    assert_eq!(version, 5);

    let customer = system.token(Role::Customer, None);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{shown}?min_version=5"),
            &customer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["price"]["amount_minor"], 1300, "the last change wins");

    // The hidden product is projected (its vendor can read it) but never listed.
    let (status, own) = system
        .read(
            &format!("/v1/catalog/products/{hidden}?min_version=1"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["published"], false);
    let (status, _) = system
        .read(&format!("/v1/catalog/products/{hidden}"), &customer)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "customers do not see unpublished products"
    );

    for query in [
        "",
        "?category=apparel",
        &format!("?vendor_id={vendor}"),
        "?q=cotton",
    ] {
        let (status, page) = system
            .read(&format!("/v1/catalog/products{query}"), &customer)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|p| p["product_id"].as_str())
            .collect();
        assert_eq!(ids, vec![shown.to_string().as_str()], "query {query:?}");
    }
    system.stop().await;
}

#[tokio::test]
async fn the_catalog_pages_with_a_cursor_and_filters_by_category() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = system.create_product(&token, 100).await;
        system.publish(&token, id).await;
        ids.push(id);
    }
    let customer = system.token(Role::Customer, None);
    // Wait for the last one so every earlier aggregate is projected too (they are independent, so
    // read each with min_version).
    for id in &ids {
        let (status, _) = system
            .read(
                &format!("/v1/catalog/products/{id}?min_version=2"),
                &customer,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/catalog/products?limit=2&cursor={c}"),
            None => "/v1/catalog/products?limit=2".to_owned(),
        };
        let (status, page) = system.read(&path, &customer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(Uuid::parse_str(item["product_id"].as_str().expect("id")).expect("uuid"));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every product once, in creation order");

    let (status, page) = system
        .read("/v1/catalog/products?category=garden", &customer)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    let (status, problem) = system.read("/v1/catalog/products?limit=0", &customer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = system
        .read("/v1/catalog/products?color=red", &customer)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown parameters are refused"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_version_that_never_arrives_answers_409_after_the_wait() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let id = system.create_product(&token, 100).await;
    let started = std::time::Instant::now();
    let (status, problem) = system
        .read(&format!("/v1/catalog/products/{id}?min_version=9"), &token)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/version-not-reached");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    system.stop().await;
}

/// A stock receipt's answer names what it covers and the read parameter that waits for it; the
/// catalog's product read with that parameter shows the receipt.
#[tokio::test]
async fn a_stock_receipt_is_read_back_through_the_catalog_with_the_token_it_answered() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1200).await;
    let (status, receipt) = system
        .command(
            reqwest::Method::POST,
            &format!("/v1/inventory/{product}/receipts"),
            Some(&vendor),
            Some(serde_json::json!({"quantity": 7})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{receipt}");
    assert_eq!(receipt["aggregate_type"], "Inventory", "{receipt}");
    assert_eq!(receipt["read_with"], "min_stock_version", "{receipt}");
    let version = receipt["version"].as_i64().expect("version");
    let (status, read) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_stock_version={version}"),
            &vendor,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{read}");
    assert_eq!(read["available"], 7, "the receipt is there: {read}");
    assert_eq!(read["stock_version"], version, "{read}");
    // The typed client waits the same way.
    let read = commerce_client::CommerceClient::new(&system.command_url, &system.read_url)
        .with_token(&vendor)
        .get_product_waiting(product, None, Some(version))
        .await
        .expect("read with the receipt's token");
    assert_eq!((read.available, read.stock_version), (7, version));
    // Both tokens at once: both are waited for; one not reached is a 409.
    let (status, both) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_stock_version={version}&min_version=1"),
            &vendor,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{both}");
    let (status, problem) = system
        .read(
            &format!(
                "/v1/catalog/products/{product}?min_stock_version={}&min_version=1",
                version + 5
            ),
            &vendor,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "{problem}");
}
