//! Who may read which cart, order and product on the read API, and what everyone else learns:
//! nothing, not even whether the document exists, and never after making the server wait.
use std::time::{Duration, Instant};

use commerce_platform::auth::Role;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::TestSystem;

/// Well under the 2 s a `min_version` read may wait: the answer came without waiting.
const AT_ONCE: Duration = Duration::from_millis(1000);

/// A published product of `vendor`'s.
/// A GET on the read API, timed.
async fn timed_read(system: &TestSystem, path: &str, token: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (status, body) = system.read(path, token).await;
    (status, body, started.elapsed())
}

#[tokio::test]
async fn a_stranger_gets_the_answer_for_a_missing_cart_at_once_and_the_owner_waits_for_its_own() {
    let system = TestSystem::start().await;
    let owner = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&owner).await;
    // Asked at once, before the projection may have it: the owner's read waits and succeeds.
    let (status, read) = system
        .read(&format!("/v1/carts/{cart}?min_version=1"), &owner)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");

    let stranger = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, theirs, elapsed) = timed_read(
        &system,
        &format!("/v1/carts/{cart}?min_version=99"),
        &stranger,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{theirs}");
    assert!(elapsed < AT_ONCE, "refused without waiting: {elapsed:?}");
    let (status, without_version) = system.read(&format!("/v1/carts/{cart}"), &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{without_version}");

    // The same answer as for a cart that does not exist, with or without min_version.
    let missing = Uuid::new_v4();
    let (status, nothing) = system
        .read(&format!("/v1/carts/{missing}?min_version=1"), &stranger)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{nothing}");
    for field in ["type", "title", "status"] {
        assert_eq!(theirs[field], nothing[field], "{field}");
        assert_eq!(without_version[field], nothing[field], "{field}");
    }
    let anonymised = |problem: &Value, id: Uuid| {
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .replace(&id.to_string(), "{id}")
    };
    assert_eq!(anonymised(&theirs, cart), anonymised(&nothing, missing));

    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let (status, _) = system.read(&format!("/v1/carts/{cart}"), &vendor).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "vendors read no carts");
    system.stop().await;
}

#[tokio::test]
async fn a_customer_whose_subject_is_in_upper_case_reads_its_own_cart() {
    let system = TestSystem::start().await;
    let customer = Uuid::new_v4();
    let shouted =
        system.token_with_subject(Role::Customer, &customer.to_string().to_uppercase(), None);
    let cart = system.open_cart(&shouted).await;
    let (status, read) = system
        .read(&format!("/v1/carts/{cart}?min_version=1"), &shouted)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["customer_id"], customer.to_string());
    system.stop().await;
}

#[tokio::test]
async fn an_order_is_refused_at_once_to_anyone_but_its_customer_its_vendors_and_admins() {
    let system = TestSystem::start().await;
    let vendor_id = Uuid::new_v4();
    let vendor = system.vendor_token(vendor_id).await;
    let product = system.published_product(&vendor, 1000).await;
    let customer_id = Uuid::new_v4();
    let customer = system.token_for(Role::Customer, customer_id, None);
    let cart = system.open_cart(&customer).await;
    let (status, body) = system.add_to_cart(&customer, cart, product, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, placed) = system.checkout(&customer, cart).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{placed}");
    let order = placed["order_id"].as_str().expect("order_id").to_owned();

    let shouted = system.token_with_subject(
        Role::Customer,
        &customer_id.to_string().to_uppercase(),
        None,
    );
    for (who, token) in [
        ("its customer", &customer),
        ("its customer in upper case", &shouted),
        ("the vendor of its line", &vendor),
        ("an admin", &system.token(Role::Admin, None)),
    ] {
        let (status, read) = system
            .read(&format!("/v1/orders/{order}?min_version=1"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{who}: {read}");
    }
    for (who, token) in [
        (
            "another customer",
            system.token_for(Role::Customer, Uuid::new_v4(), None),
        ),
        ("another vendor", system.vendor_token(Uuid::new_v4()).await),
    ] {
        let (status, problem, elapsed) = timed_read(
            &system,
            &format!("/v1/orders/{order}?min_version=99"),
            &token,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {problem}");
        assert!(elapsed < AT_ONCE, "{who} is refused without waiting");
    }
    let analyst = system.token(Role::Analyst, None);
    let (status, _) = system.read(&format!("/v1/orders/{order}"), &analyst).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a role that reads no orders");
    system.stop().await;
}

/// Unlike a cart's owner, a product's readers change with its version (publishing), so a version
/// ahead is waited for; but what may not be seen is never described, not even by a 409.
#[tokio::test]
async fn an_unpublished_product_is_404_never_409_for_those_who_may_not_see_it() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.create_product(&vendor, 1000).await;
    let (status, read) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=1"),
            &vendor,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "its vendor sees it: {read}");
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (status, problem, elapsed) = timed_read(
        &system,
        &format!("/v1/catalog/products/{product}?min_version=1"),
        &customer,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert!(elapsed < AT_ONCE, "at its version, refused without waiting");
    let (status, problem) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=9"),
            &customer,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not 409 with its version: {problem}"
    );
    system.stop().await;
}
