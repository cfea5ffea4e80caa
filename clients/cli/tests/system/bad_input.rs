use std::time::Duration;

use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{checkout_body, product_body, TestSystem, MAX_BODY_BYTES};

/// Sends a raw request and checks it got `expected` as problem+json.
async fn expect_problem(
    system: &TestSystem,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
    expected: StatusCode,
) -> Value {
    let (status, content_type, problem) = system
        .send_raw(method, format!("{}{path}", system.command_url), token, body)
        .await;
    assert_eq!(status, expected, "{path}: {problem}");
    assert_eq!(content_type, "application/problem+json", "{path}");
    assert_eq!(problem["status"], expected.as_u16(), "{problem}");
    assert!(
        problem["type"].is_string()
            && problem["title"].is_string()
            && problem["detail"].is_string()
    );
    problem
}

/// name, method, path, token, body, expected status.
type Case<'a> = (
    &'a str,
    Method,
    String,
    Option<&'a str>,
    Option<String>,
    StatusCode,
);

/// `body` with the field at `pointer` set (added if absent).
fn with(mut body: Value, pointer: &str, value: Value) -> String {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    if let Some(Value::Object(object)) = body.pointer_mut(parent) {
        object.insert(key.to_owned(), value);
    }
    body.to_string()
}

#[tokio::test]
async fn bad_product_commands_get_their_problem_status_and_append_nothing() {
    let system = TestSystem::start().await;
    let vendor = Uuid::new_v4();
    let token = system.vendor_token(vendor).await;
    let product = system.create_product(&token, 1000).await;
    let before = system.event_count(None).await;

    let create = "/v1/products";
    let price = format!("/v1/products/{product}/price");
    let publish = format!("/v1/products/{product}/publish");
    let good = product_body(1000);
    let customer = system.token(Role::Customer, None);
    let stranger = system.vendor_token(Uuid::new_v4()).await;
    let mut missing_title = good.clone();
    missing_title.as_object_mut().map(|o| o.remove("title"));

    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            Method::POST,
            create.into(),
            Some(&token),
            Some("{\"sku\": ".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "missing field",
            Method::POST,
            create.into(),
            Some(&token),
            Some(missing_title.to_string()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong type",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/price/amount_minor", json!("ten"))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown field",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/colour", json!("red"))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "negative price",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/price/amount_minor", json!(-5))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "zero price",
            Method::PUT,
            price.clone(),
            Some(&token),
            Some(json!({"price": {"amount_minor": 0, "currency": "EUR"}}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown currency",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/price/currency", json!("XYZ"))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "other currency than the product's",
            Method::PUT,
            price.clone(),
            Some(&token),
            Some(json!({"price": {"amount_minor": 10, "currency": "USD"}}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty title",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/title", json!("  "))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "bad category",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/category", json!("Not A Slug"))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "oversize body",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(
                good.clone(),
                "/description",
                json!("x".repeat(70 * 1024)),
            )),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "no token",
            Method::POST,
            create.into(),
            None,
            Some(good.to_string()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "garbage token",
            Method::POST,
            create.into(),
            Some("not-a-jwt"),
            Some(good.to_string()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "customer creates",
            Method::POST,
            create.into(),
            Some(&customer),
            Some(good.to_string()),
            StatusCode::FORBIDDEN,
        ),
        (
            "customer publishes",
            Method::POST,
            publish.clone(),
            Some(&customer),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "vendor creates for another vendor",
            Method::POST,
            create.into(),
            Some(&token),
            Some(with(good.clone(), "/vendor_id", json!(Uuid::new_v4()))),
            StatusCode::FORBIDDEN,
        ),
        (
            "another vendor's product",
            Method::PUT,
            price.clone(),
            Some(&stranger),
            Some(json!({"price": {"amount_minor": 5, "currency": "EUR"}}).to_string()),
            StatusCode::FORBIDDEN,
        ),
        (
            "another vendor publishes",
            Method::POST,
            publish.clone(),
            Some(&stranger),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "unknown product",
            Method::POST,
            format!("/v1/products/{}/publish", Uuid::new_v4()),
            Some(&token),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "malformed product id",
            Method::POST,
            "/v1/products/not-a-uuid/publish".into(),
            Some(&token),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown route",
            Method::GET,
            "/v1/nothing-here".into(),
            Some(&token),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            Method::DELETE,
            create.into(),
            Some(&token),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (name, method, path, token, body, expected) in cases {
        eprintln!("case: {name}");
        expect_problem(&system, method, &path, token, body, expected).await;
    }
    assert_eq!(
        system.event_count(None).await,
        before,
        "no bad request appended anything"
    );

    // An admin must name the vendor.
    let admin = system.token(Role::Admin, None);
    expect_problem(
        &system,
        Method::POST,
        create,
        Some(&admin),
        Some(good.to_string()),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let (status, _) = system
        .command(
            Method::POST,
            create,
            Some(&admin),
            Some(json!({
            "sku": "ADM-1", "title": "By admin", "category": "apparel",
            "price": {"amount_minor": 10, "currency": "EUR"}, "vendor_id": vendor })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an admin creates for any vendor"
    );
    system.stop().await;
}

/// Sends only the head of a request that announces `content_length` bytes and asks
/// `Expect: 100-continue`, as curl does for large uploads, and returns the server's first line.
async fn first_answer_to_an_announced_upload(
    base_url: &str,
    head: &str,
    content_length: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "{head}\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the head");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the server answers without the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_body_announced_over_the_limit_is_refused_413_before_it_is_sent() {
    let system = TestSystem::start().await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    let three_megabytes = 3 * 1024 * 1024;
    for (service, base, head) in [
        (
            "command API, with an Idempotency-Key (whose layer reads the body)",
            &system.command_url,
            format!(
                "POST /v1/products HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
                 Idempotency-Key: {}",
                Uuid::new_v4()
            ),
        ),
        (
            "command API, without a key",
            &system.command_url,
            format!("POST /v1/products HTTP/1.1\r\nAuthorization: Bearer {token}"),
        ),
        (
            "command API, without a token",
            &system.command_url,
            "POST /v1/products HTTP/1.1".to_owned(),
        ),
        (
            "read API",
            &system.read_url,
            format!("GET /v1/catalog/products HTTP/1.1\r\nAuthorization: Bearer {token}"),
        ),
    ] {
        let status_line = first_answer_to_an_announced_upload(base, &head, three_megabytes).await;
        assert!(
            status_line.starts_with("HTTP/1.1 413"),
            "{service}: {status_line:?}, not 100 Continue"
        );
    }
    // At the limit the upload is invited.
    let status_line = first_answer_to_an_announced_upload(
        &system.command_url,
        &format!("POST /v1/products HTTP/1.1\r\nAuthorization: Bearer {token}"),
        MAX_BODY_BYTES,
    )
    .await;
    assert!(status_line.starts_with("HTTP/1.1 100"), "{status_line:?}");
    assert_eq!(system.event_count(None).await, 0);
    system.stop().await;
}

#[tokio::test]
async fn a_bad_shipping_address_is_refused_at_checkout_naming_the_part_and_places_no_order() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1000).await;
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let cart = system.open_cart(&customer).await;
    let (status, body) = system.add_to_cart(&customer, cart, product, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let checkout = format!("/v1/carts/{cart}/checkout");
    let good = checkout_body();
    let mut missing_city = good.clone();
    missing_city["shipping_address"]
        .as_object_mut()
        .map(|o| o.remove("city"));

    // Malformed JSON, whatever the address says, is 400.
    let malformed = [
        ("missing part", missing_city.to_string()),
        (
            "wrong type",
            with(good.clone(), "/shipping_address/postal_code", json!(10117)),
        ),
        (
            "unknown part",
            with(good.clone(), "/shipping_address/floor", json!("3")),
        ),
        (
            "the old free-text form",
            with(good.clone(), "/shipping_address", json!("1 Main St")),
        ),
    ];
    for (name, body) in malformed {
        eprintln!("case: {name}");
        expect_problem(
            &system,
            Method::POST,
            &checkout,
            Some(&customer),
            Some(body),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    // A well-formed address with a bad part is 422 naming the part.
    let invalid = [
        ("name", json!("   ")),
        ("line1", json!("x".repeat(201))),
        ("line2", json!("a\nb")),
        ("city", json!("")),
        ("region", json!("r".repeat(101))),
        ("postal_code", json!("10117!")),
        ("country", json!("UK")),
        ("country", json!("de")),
    ];
    for (part, value) in invalid {
        eprintln!("case: {part} = {value}");
        let problem = expect_problem(
            &system,
            Method::POST,
            &checkout,
            Some(&customer),
            Some(with(
                good.clone(),
                &format!("/shipping_address/{part}"),
                value,
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("shipping_address.{part}:")),
            "{problem}"
        );
    }
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM es.events WHERE aggregate_type = 'Order'")
            .fetch_one(&system.pool)
            .await
            .expect("count orders");
    assert_eq!(orders, 0, "no order placed");
    let (status, accepted) = system
        .command(Method::POST, &checkout, Some(&customer), Some(good))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "the good address: {accepted}");
    system.stop().await;
}

/// name, method, URL, token, expected status, words the detail must contain.
type ErrorCase<'a> = (
    &'a str,
    Method,
    String,
    Option<&'a str>,
    StatusCode,
    &'a str,
);

/// The error rule's answers that say what to do: which token check failed, which API serves a
/// path asked of the other one, and a body-less command that takes no body.
#[tokio::test]
async fn errors_say_which_check_failed_and_where_a_request_belongs() {
    use commerce_platform::auth::{Claims, JwtKeys};
    use commerce_platform::config::{AuthConfig, Secret};

    let system = TestSystem::start().await;
    let customer = system.token(Role::Customer, None);
    let other_secret = JwtKeys::from_config(&AuthConfig::with_secret(Secret::new(
        "another-secret-of-enough-length",
    )))
    .mint(&Claims::new(
        Uuid::new_v4().to_string(),
        Role::Customer,
        None,
        600,
    ))
    .expect("mint");
    let expired = JwtKeys::from_config(&AuthConfig::with_secret(Secret::new(
        crate::support::JWT_SECRET,
    )))
    .mint(&Claims::new(
        Uuid::new_v4().to_string(),
        Role::Customer,
        None,
        -600,
    ))
    .expect("mint");
    let (command, read) = (&system.command_url, &system.read_url);
    let cases: Vec<ErrorCase> = vec![
        (
            "no token",
            Method::POST,
            format!("{command}/v1/carts"),
            None,
            StatusCode::UNAUTHORIZED,
            "no bearer token",
        ),
        (
            "another secret",
            Method::POST,
            format!("{command}/v1/carts"),
            Some(&other_secret),
            StatusCode::UNAUTHORIZED,
            "bad signature",
        ),
        (
            "expired",
            Method::POST,
            format!("{command}/v1/carts"),
            Some(&expired),
            StatusCode::UNAUTHORIZED,
            "expired",
        ),
        (
            "not a JWT",
            Method::POST,
            format!("{command}/v1/carts"),
            Some("abc"),
            StatusCode::UNAUTHORIZED,
            "malformed",
        ),
        (
            "a read asked of the command API",
            Method::GET,
            format!("{command}/v1/orders"),
            Some(&customer),
            StatusCode::NOT_FOUND,
            "read API",
        ),
        (
            "a read of a command route",
            Method::GET,
            format!("{command}/v1/carts"),
            Some(&customer),
            StatusCode::METHOD_NOT_ALLOWED,
            "read API",
        ),
        (
            "a command asked of the read API",
            Method::POST,
            format!("{read}/v1/orders"),
            Some(&customer),
            StatusCode::METHOD_NOT_ALLOWED,
            "command API",
        ),
        (
            "a command of a path only the command API has",
            Method::POST,
            format!("{read}/v1/carts/{}/checkout", Uuid::new_v4()),
            Some(&customer),
            StatusCode::NOT_FOUND,
            "command API",
        ),
        (
            "an unknown route",
            Method::GET,
            format!("{command}/nothing"),
            None,
            StatusCode::NOT_FOUND,
            "no such route",
        ),
    ];
    for (name, method, url, token, expected, words) in cases {
        let (status, content_type, problem) = system.send_raw(method, url, token, None).await;
        assert_eq!(status, expected, "{name}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{name}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{name}: {detail}");
    }
    // A cart takes no input: no body at all, or `{}`, both open one.
    for body in [None, Some("{}".to_owned()), Some("null".to_owned())] {
        let (status, _, created) = system
            .send_raw(
                Method::POST,
                format!("{command}/v1/carts"),
                Some(&customer),
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body:?}: {created}");
        assert!(created["aggregate_id"].is_string(), "{created}");
    }
    let (status, _, problem) = system
        .send_raw(
            Method::POST,
            format!("{command}/v1/carts"),
            Some(&customer),
            Some("{\"x\":1}".into()),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are still refused: {problem}"
    );

    // A quantity outside its bounds is 422 naming the field, the bounds and the value, whatever
    // the number; a quantity that is not a number is malformed.
    let cart = system.open_cart(&customer).await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 500).await;
    for (quantity, expected, words) in [
        (
            json!(-1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "must be 1 to 99, got -1",
        ),
        (
            json!(0),
            StatusCode::UNPROCESSABLE_ENTITY,
            "must be 1 to 99, got 0",
        ),
        (
            json!(4_294_967_296_u64),
            StatusCode::UNPROCESSABLE_ENTITY,
            "got 4294967296",
        ),
        (json!("two"), StatusCode::BAD_REQUEST, "quantity"),
    ] {
        let body = json!({"product_id": product, "quantity": quantity}).to_string();
        let (status, _, problem) = system
            .send_raw(
                Method::POST,
                format!("{command}/v1/carts/{cart}/items"),
                Some(&customer),
                Some(body),
            )
            .await;
        assert_eq!(status, expected, "{quantity}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{quantity}: {detail}");
        assert!(!detail.contains("u32"), "no type names: {detail}");
    }
    // An unknown id is named in the answer, on writes as on reads.
    let unknown = Uuid::new_v4();
    for (name, url, token, body) in [
        (
            "a product not in the catalog",
            format!("{command}/v1/carts/{cart}/items"),
            &customer,
            json!({"product_id": unknown, "quantity": 1}),
        ),
        (
            "a cart never opened",
            format!("{command}/v1/carts/{unknown}/items"),
            &customer,
            json!({"product_id": product, "quantity": 1}),
        ),
        (
            "an order never placed",
            format!("{command}/v1/orders/{unknown}/cancel"),
            &customer,
            json!({"reason": "customer_request"}),
        ),
        (
            "stock of a product never created",
            format!("{command}/v1/inventory/{unknown}/receipts"),
            &vendor,
            json!({"quantity": 1}),
        ),
    ] {
        let (status, _, problem) = system
            .send_raw(Method::POST, url, Some(token), Some(body.to_string()))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&unknown.to_string())),
            "{name}: {problem}"
        );
    }

    let (status, _, problem) = system
        .send_raw(
            Method::POST,
            format!("{command}/v1/inventory/{product}/receipts"),
            Some(&vendor),
            Some(json!({"quantity": -5}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("must be 1 to 1000000, got -5")),
        "{problem}"
    );
}
