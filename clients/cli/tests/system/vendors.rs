//! Vendors: a seller applies, an admin approves, suspends and reinstates it with reasons; only an
//! approved vendor lists and publishes products; a suspension hides the vendor's products from
//! the catalog (from the event, in the projection) and a reinstatement shows them again.
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{product_body, TestSystem};

/// `POST /v1/vendors/{id}/{decision}` with `reason`.
async fn decide(
    system: &TestSystem,
    token: &str,
    vendor: Uuid,
    decision: &str,
    reason: &str,
) -> (StatusCode, Value) {
    system
        .command(
            Method::POST,
            &format!("/v1/vendors/{vendor}/{decision}"),
            Some(token),
            Some(json!({ "reason": reason })),
        )
        .await
}

/// The vendor's profile as `token` reads it once it reached `version`.
async fn profile(system: &TestSystem, token: &str, vendor: Uuid, version: i64) -> Value {
    let (status, body) = system
        .read(
            &format!("/v1/vendors/{vendor}?min_version={version}"),
            token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The ids of one page of the catalog (`query` after `?`), as `token` lists it.
async fn listed(system: &TestSystem, token: &str, query: &str) -> Vec<String> {
    let (status, page) = system
        .read(&format!("/v1/catalog/products?limit=100&{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["product_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_seller_applies_and_sells_only_once_an_admin_approves() {
    let system = TestSystem::start().await;
    let person = Uuid::new_v4();
    let applicant = system.token_for(Role::Customer, person, None);
    let (status, applied) = system
        .command(
            Method::POST,
            "/v1/vendors",
            Some(&applicant),
            Some(json!({"name": "Ada's Atelier", "contact_email": "ada@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{applied}");
    assert_eq!(applied["aggregate_type"], "Vendor");
    let vendor = Uuid::parse_str(applied["vendor_id"].as_str().expect("vendor_id")).expect("id");

    // Its applicant sees the pending application; a stranger sees nothing, not even that it is.
    let mine = profile(&system, &applicant, vendor, 1).await;
    assert_eq!(mine["status"], "pending");
    assert_eq!(mine["applicant_id"], person.to_string());
    let stranger = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, hidden) = system
        .read(&format!("/v1/vendors/{vendor}"), &stranger)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{hidden}");

    // The applicant may not admit itself, at once or later.
    let (status, refused) = system
        .command(
            Method::POST,
            "/v1/vendors",
            Some(&applicant),
            Some(
                json!({"name": "Self-admitted", "contact_email": "me@example.com",
                        "status": "approved", "reason": "trust me"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, refused) = decide(&system, &applicant, vendor, "approve", "trust me").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    // Pending: its member may not list a product, and is told why.
    let member = system.token(Role::Vendor, Some(vendor));
    let (status, problem) = system
        .command(
            Method::POST,
            "/v1/products",
            Some(&member),
            Some(product_body(1500)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("is pending") && detail.contains("only an approved vendor"),
        "{problem}"
    );

    let admin = system.token(Role::Admin, None);
    let (status, pending) = system.read("/v1/vendors?status=pending", &admin).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert!(
        pending["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|v| v["vendor_id"] == vendor.to_string()),
        "{pending}"
    );
    let (status, approved) = decide(&system, &admin, vendor, "approve", "documents checked").await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (status, again) = decide(&system, &admin, vendor, "approve", "twice").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Approved: it lists and publishes, and everyone sees its profile (not its history).
    let product = system.create_product(&member, 1500).await;
    let (status, published) = system.publish(&member, product).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let public = profile(
        &system,
        &stranger,
        vendor,
        approved["version"].as_i64().expect("version"),
    )
    .await;
    assert_eq!(public["status"], "approved");
    assert_eq!(public["name"], "Ada's Atelier");
    assert!(public.get("history").is_none(), "{public}");
    let inside = profile(&system, &admin, vendor, 2).await;
    assert_eq!(inside["history"][0]["decision"], "approved");
    assert_eq!(inside["history"][0]["reason"], "documents checked");
    let (status, list) = system.read("/v1/vendors?status=approved", &stranger).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{list}");

    // The contact address is personal data: sealed in the store, never in the read model.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM es.events WHERE aggregate_id = $1 AND event_type = 'VendorApplied' \
           AND payload->'data'->'contact_email' ? '$sealed'",
    )
    .bind(vendor.to_string())
    .fetch_one(&system.pool)
    .await
    .expect("count");
    assert_eq!(stored, 1);
    assert!(!inside.to_string().contains("ada@example.com"), "{inside}");
    // A replay opens it; once the applicant is forgotten it reads erased, and the vendor is
    // still decided on as before.
    assert_eq!(
        replayed_application(&system, vendor).await["payload"]["data"]["contact_email"],
        "ada@example.com"
    );
    system
        .run_commerce(&["gdpr", "forget", &person.to_string(), "--json"])
        .await;
    assert_eq!(
        replayed_application(&system, vendor).await["payload"]["data"]["contact_email"],
        json!({"$erased": true})
    );
    let (status, suspended) = decide(&system, &admin, vendor, "suspend", "after erasure").await;
    assert_eq!(status, StatusCode::OK, "{suspended}");
    system.stop().await;
}

/// The vendor's application as `commerce events replay` prints it, once the stream's horizon
/// (held back by transactions open anywhere in the cluster) has passed it.
async fn replayed_application(system: &TestSystem, vendor: Uuid) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = system
            .run_commerce(&["events", "replay", "--event-type", "VendorApplied"])
            .await
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
            .find(|event| event["aggregate_id"] == vendor.to_string());
        if let Some(application) = found {
            return application;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the application is replayed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_suspension_hides_the_vendors_products_and_a_reinstatement_shows_them() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let member = system.vendor_token(vendor).await;
    let shown = system.published_product(&member, 1200).await;
    let draft = system.create_product(&member, 1300).await;
    let neighbour = system.vendor_token(Uuid::new_v4()).await;
    let other = system.published_product(&neighbour, 900).await;
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    // An order of its product, confirmed before the suspension.
    let stocked = system.stocked_product(&member, 700, 5).await;
    let order = system.confirmed_order(stocked, Uuid::new_v4()).await;

    let admin = system.token(Role::Admin, None);
    let (status, suspended) = decide(
        &system,
        &admin,
        vendor,
        "suspend",
        "counterfeit goods reported",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{suspended}");
    let version = suspended["version"].as_i64().expect("version");
    assert_eq!(suspended["read_with"], "min_version");
    // Once the profile shows the suspension, the catalog has hidden its products.
    let seen = profile(&system, &customer, vendor, version).await;
    assert_eq!(seen["status"], "suspended");
    assert!(listed(&system, &customer, &format!("vendor_id={vendor}"))
        .await
        .is_empty());
    let everything = listed(&system, &customer, "").await;
    assert!(!everything.contains(&shown.to_string()), "{everything:?}");
    assert!(everything.contains(&other.to_string()), "{everything:?}");
    let (status, gone) = system
        .read(&format!("/v1/catalog/products/{shown}"), &customer)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    // Its own members still read it, marked.
    let (status, own) = system
        .read(&format!("/v1/catalog/products/{shown}"), &member)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["vendor_suspended"], true);

    // Suspended: no new listing, no publishing; but what it sold still ships.
    let (status, refused) = system.publish(&member, draft).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("is suspended")),
        "{refused}"
    );
    let (status, shipped) = system
        .command(
            Method::POST,
            &format!("/v1/orders/{order}/ship"),
            Some(&member),
            Some(json!({"tracking": "1Z 999 AA1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");

    let (status, reinstated) = decide(&system, &admin, vendor, "reinstate", "cleared").await;
    assert_eq!(status, StatusCode::OK, "{reinstated}");
    let back = profile(
        &system,
        &customer,
        vendor,
        reinstated["version"].as_i64().expect("version"),
    )
    .await;
    assert_eq!(back["status"], "approved");
    let theirs = listed(&system, &customer, &format!("vendor_id={vendor}")).await;
    assert!(theirs.contains(&shown.to_string()), "{theirs:?}");
    assert!(
        !theirs.contains(&draft.to_string()),
        "a draft stays a draft"
    );
    let (status, product) = system
        .read(&format!("/v1/catalog/products/{shown}"), &customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["vendor_suspended"], false);
    let history = profile(&system, &admin, vendor, 3).await;
    let decisions: Vec<_> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|d| (d["decision"].clone(), d["reason"].clone()))
        .collect();
    assert_eq!(
        decisions,
        [
            (json!("approved"), json!("admitted for the test")),
            (json!("suspended"), json!("counterfeit goods reported")),
            (json!("reinstated"), json!("cleared")),
        ]
    );
    system.stop().await;
}

#[tokio::test]
async fn a_product_published_as_its_vendor_is_suspended_ends_hidden_in_either_order() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let member = system.vendor_token(vendor).await;
    let admin = system.token(Role::Admin, None);
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    // The publication and the suspension race; whichever the projector applies first, the
    // product ends out of the catalog.
    let product = system.create_product(&member, 1000).await;
    let (publication, suspension) = tokio::join!(
        system.publish(&member, product),
        decide(&system, &admin, vendor, "suspend", "race")
    );
    assert_eq!(suspension.0, StatusCode::OK, "{}", suspension.1);
    let version = suspension.1["version"].as_i64().expect("version");
    profile(&system, &admin, vendor, version).await;
    if publication.0 == StatusCode::OK {
        let (status, doc) = system
            .read(
                &format!(
                    "/v1/catalog/products/{product}?min_version={}",
                    publication.1["version"]
                ),
                &member,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(doc["published"], true);
        assert_eq!(doc["vendor_suspended"], true);
    } else {
        assert_eq!(publication.0, StatusCode::FORBIDDEN, "{}", publication.1);
    }
    let (status, gone) = system
        .read(&format!("/v1/catalog/products/{product}"), &customer)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    assert!(listed(&system, &customer, &format!("vendor_id={vendor}"))
        .await
        .is_empty());
    system.stop().await;
}

/// `commerce …` with `args` and `--token token --json`, parsed.
async fn cli(system: &TestSystem, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--token", token, "--json"]);
    let printed = system.run_commerce(&all).await;
    serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {printed}"))
}

#[tokio::test]
async fn the_cli_admits_three_vendors_who_ship_one_order_and_suspends_and_reinstates_one() {
    let system = TestSystem::start().await;
    let admin = system.token(Role::Admin, None);
    // One applies as a signed-in person and is approved; two are admitted at once.
    let applicant = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let applied = cli(
        &system,
        &applicant,
        &[
            "vendors",
            "apply",
            "--name",
            "Ada's Atelier",
            "--contact-email",
            "ada@example.com",
        ],
    )
    .await;
    let first = applied["vendor_id"].as_str().expect("vendor_id").to_owned();
    let approved = cli(
        &system,
        &admin,
        &[
            "vendors",
            "approve",
            &first,
            "--reason",
            "documents checked",
        ],
    )
    .await;
    assert_eq!(approved["version"], 2, "{approved}");
    let mut vendors = vec![first.clone()];
    for name in ["Bo's Books", "Cy's Cycles"] {
        let admitted = cli(
            &system,
            &admin,
            &[
                "vendors",
                "apply",
                "--name",
                name,
                "--contact-email",
                "shop@example.com",
                "--approve",
                "--reason",
                "known seller",
            ],
        )
        .await;
        vendors.push(
            admitted["vendor_id"]
                .as_str()
                .expect("vendor_id")
                .to_owned(),
        );
    }
    let shown = cli(
        &system,
        &admin,
        &["vendors", "show", &first, "--min-version", "2"],
    )
    .await;
    assert_eq!(shown["status"], "approved");
    assert_eq!(shown["history"][0]["reason"], "documents checked");

    // Each lists a product; a customer buys one of each; each ships its own sub-order.
    let mut products = Vec::new();
    let mut tokens = Vec::new();
    for vendor in &vendors {
        let token = system.token(Role::Vendor, Some(Uuid::parse_str(vendor).expect("id")));
        products.push(system.stocked_product(&token, 800, 3).await);
        tokens.push(token);
    }
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    for product in &products {
        let (status, body) = system.add_to_cart(&customer, cart, *product, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, placed) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{placed}");
    let order = placed["order_id"].as_str().expect("order_id").to_owned();
    system
        .order_reaching(Uuid::parse_str(&order).expect("id"), |doc| {
            doc["status"] == "confirmed"
        })
        .await;
    for (index, token) in tokens.iter().enumerate() {
        let tracking = format!("TRACK {index}");
        let shipped = cli(
            &system,
            token,
            &["orders", "ship", &order, "--tracking", &tracking],
        )
        .await;
        // Read at the shipment's version: the projection may not have it yet.
        let version = shipped["version"].as_i64().expect("version").to_string();
        let mine = cli(
            &system,
            token,
            &[
                "orders",
                "sub-order",
                &order,
                &vendors[index],
                "--min-version",
                &version,
            ],
        )
        .await;
        assert_eq!(mine["status"], "shipped", "{mine}");
        assert_eq!(mine["tracking"], tracking.as_str());
        let expected = if index < 2 {
            "partially_shipped"
        } else {
            "shipped"
        };
        assert_eq!(mine["order_status"], expected, "{mine}");
    }

    // Suspended and reinstated through the CLI, with the catalog following.
    let suspended = cli(
        &system,
        &admin,
        &[
            "vendors",
            "suspend",
            &first,
            "--reason",
            "counterfeit goods reported",
        ],
    )
    .await;
    let version = suspended["version"].as_i64().expect("version").to_string();
    let seen = cli(
        &system,
        &admin,
        &["vendors", "show", &first, "--min-version", &version],
    )
    .await;
    assert_eq!(seen["status"], "suspended");
    let listed = cli(
        &system,
        &admin,
        &["vendors", "list", "--status", "suspended"],
    )
    .await;
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|v| v["vendor_id"] == first.as_str()),
        "{listed}"
    );
    let (status, hidden) = system
        .read(&format!("/v1/catalog/products/{}", products[0]), &customer)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{hidden}");
    let reinstated = cli(
        &system,
        &admin,
        &["vendors", "reinstate", &first, "--reason", "cleared"],
    )
    .await;
    let version = reinstated["version"].as_i64().expect("version").to_string();
    cli(
        &system,
        &admin,
        &["vendors", "show", &first, "--min-version", &version],
    )
    .await;
    let (status, back) = system
        .read(&format!("/v1/catalog/products/{}", products[0]), &customer)
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    system.stop().await;
}
