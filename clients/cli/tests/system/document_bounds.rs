//! The served OpenAPI documents and the running services agree on every bound a schema-driven
//! fuzzer found them to disagree on: a request the document allows is accepted, one it forbids is
//! refused with 400 or 422 (problem+json, `/problems/invalid-value` for a value out of its
//! documented bounds). `infra/local/fuzz-openapi` looks for more with generated data.
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{checkout_body, product_body, Options, TestSystem};

async fn expect(
    system: &TestSystem,
    case: &str,
    (method, path): (Method, &str),
    token: &str,
    body: Value,
    expected: StatusCode,
    problem_type: Option<&str>,
) -> Value {
    let url = format!("{}{path}", system.command_url);
    let (status, content_type, answer) = system
        .send_raw(method, url, Some(token), Some(body.to_string()))
        .await;
    assert_eq!(status, expected, "{case}: {answer}");
    if let Some(problem_type) = problem_type {
        assert_eq!(content_type, "application/problem+json", "{case}");
        assert_eq!(answer["type"], problem_type, "{case}: {answer}");
    }
    answer
}

async fn served_document(system: &TestSystem, base: &str) -> Value {
    let (status, answer) = {
        let response = system
            .http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("document");
        (
            response.status(),
            response.json::<Value>().await.expect("JSON"),
        )
    };
    assert_eq!(status, StatusCode::OK);
    answer
}

fn property<'a>(document: &'a Value, component: &str, name: &str) -> &'a Value {
    &document["components"]["schemas"][component]["properties"][name]
}

const INVALID: Option<&str> = Some("/problems/invalid-value");
const RULE: Option<&str> = Some("/problems/rule-violation");

#[tokio::test]
async fn commands_accept_what_the_document_allows_and_refuse_what_it_forbids() {
    let system = TestSystem::start_with(Options {
        // The order must stay pending for the customer's cancel below: no saga.
        sagas: false,
        ..Options::default()
    })
    .await;
    let document = served_document(&system, &system.command_url).await;
    let vendor_id = Uuid::new_v4();
    let vendor = system.vendor_token(vendor_id).await;
    let admin = system.token(Role::Admin, None);
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let create = (Method::POST, "/v1/products");

    // `vendor_id: null` is documented as leaving it out: a vendor's own, an admin's rule.
    let nullable = &property(&document, "CreateProductBody", "vendor_id")["type"];
    assert_eq!(nullable, &json!(["string", "null"]));
    let mut body = product_body(1000);
    body["vendor_id"] = Value::Null;
    expect(
        &system,
        "admin, null vendor",
        create.clone(),
        &admin,
        body.clone(),
        StatusCode::UNPROCESSABLE_ENTITY,
        RULE,
    )
    .await;
    expect(
        &system,
        "vendor, null vendor",
        create.clone(),
        &vendor,
        body,
        StatusCode::CREATED,
        None,
    )
    .await;

    // A currency is one of the listed ISO 4217 codes, not any three capitals.
    let currencies = property(&document, "Money", "currency")["enum"].clone();
    assert!(currencies
        .as_array()
        .is_some_and(|c| c.contains(&json!("EUR")) && !c.contains(&json!("AAA"))));
    let mut aaa = product_body(1000);
    aaa["price"]["currency"] = json!("AAA");
    expect(
        &system,
        "currency AAA",
        create.clone(),
        &vendor,
        aaa,
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;

    // A title's length is counted as sent: 200 characters, then one more with a space.
    assert_eq!(
        property(&document, "CreateProductBody", "title")["maxLength"],
        200
    );
    let mut long = product_body(1000);
    long["title"] = json!(format!(" {}", "x".repeat(200)));
    expect(
        &system,
        "title of 201",
        create.clone(),
        &vendor,
        long.clone(),
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;
    long["title"] = json!("x".repeat(200));
    let created = expect(
        &system,
        "title of 200",
        create,
        &vendor,
        long,
        StatusCode::CREATED,
        None,
    )
    .await;
    let product = created["product_id"]
        .as_str()
        .expect("product_id")
        .to_owned();

    // An integer is any number without a fraction, as JSON Schema says.
    let receipts = format!("/v1/inventory/{product}/receipts");
    expect(
        &system,
        "3922.0 units",
        (Method::POST, &receipts),
        &vendor,
        json!({"quantity": 3922.0}),
        StatusCode::OK,
        None,
    )
    .await;
    expect(
        &system,
        "24.5 units",
        (Method::POST, &receipts),
        &vendor,
        json!({"quantity": 24.5}),
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
    let (status, _) = system
        .publish(&vendor, product.parse().expect("uuid"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // A body is an object: serde would read `{}` from `[]` and `{"quantity": 3}` from `[3]`.
    let carts = (Method::POST, "/v1/carts");
    expect(
        &system,
        "[] for {}",
        carts.clone(),
        &customer,
        json!([]),
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
    let cart = expect(
        &system,
        "{}",
        carts,
        &customer,
        json!({}),
        StatusCode::CREATED,
        None,
    )
    .await;
    let cart = cart["cart_id"].as_str().expect("cart_id").to_owned();
    let items = format!("/v1/carts/{cart}/items");
    let line = format!("/v1/carts/{cart}/items/{product}");
    expect(
        &system,
        "24.0 to add",
        (Method::POST, &items),
        &customer,
        json!({"product_id": product, "quantity": 24.0}),
        StatusCode::OK,
        None,
    )
    .await;
    expect(
        &system,
        "[25]",
        (Method::PUT, &line),
        &customer,
        json!([25]),
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
    expect(
        &system,
        "25.0 to set",
        (Method::PUT, &line),
        &customer,
        json!({"quantity": 25.0}),
        StatusCode::OK,
        None,
    )
    .await;
    assert_eq!(
        property(&document, "AddItemBody", "quantity")["maximum"],
        99
    );
    expect(
        &system,
        "100 to add",
        (Method::POST, &items),
        &customer,
        json!({"product_id": product, "quantity": 100}),
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;

    // The payment token's documented bounds are the handler's.
    let checkout = format!("/v1/carts/{cart}/checkout");
    assert_eq!(
        property(&document, "CheckoutBody", "payment_token")["maxLength"],
        128
    );
    let mut long_token = checkout_body();
    long_token["payment_token"] = json!("t".repeat(129));
    expect(
        &system,
        "token of 129",
        (Method::POST, &checkout),
        &customer,
        long_token,
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;
    let placed = expect(
        &system,
        "checkout",
        (Method::POST, &checkout),
        &customer,
        checkout_body(),
        StatusCode::ACCEPTED,
        None,
    )
    .await;
    let order = placed["order_id"].as_str().expect("order_id").to_owned();

    // A cancel reason is one of the documented list; "" is not.
    let cancel = format!("/v1/orders/{order}/cancel");
    let reasons = &property(&document, "CancelBody", "reason")["enum"];
    assert_eq!(
        reasons,
        &json!([
            "out_of_stock",
            "payment_declined",
            "payment_timeout",
            "customer_request",
            "admin"
        ])
    );
    expect(
        &system,
        "empty reason",
        (Method::POST, &cancel),
        &customer,
        json!({"reason": ""}),
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;
    expect(
        &system,
        "customer_request",
        (Method::POST, &cancel),
        &customer,
        json!({"reason": "customer_request"}),
        StatusCode::OK,
        None,
    )
    .await;

    // A tracking number is at most 64 characters: 99 is refused as a value, 64 passes on to the
    // order's state (cancelled: 409).
    let ship = format!("/v1/orders/{order}/ship");
    assert_eq!(property(&document, "ShipBody", "tracking")["maxLength"], 64);
    expect(
        &system,
        "tracking of 99",
        (Method::POST, &ship),
        &vendor,
        json!({"tracking": "9".repeat(99)}),
        StatusCode::UNPROCESSABLE_ENTITY,
        INVALID,
    )
    .await;
    expect(
        &system,
        "tracking of 64",
        (Method::POST, &ship),
        &vendor,
        json!({"tracking": "9".repeat(64)}),
        StatusCode::CONFLICT,
        Some("/problems/conflict"),
    )
    .await;
    system.stop().await;
}

#[tokio::test]
async fn reads_refuse_a_min_version_below_one_as_the_document_says() {
    let system = TestSystem::start().await;
    let document = served_document(&system, &system.read_url).await;
    let parameters = &document["paths"]["/v1/orders/{id}"]["get"]["parameters"];
    for name in ["min_version", "X-Min-Version"] {
        let parameter = parameters
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name))
            .expect("documented");
        assert_eq!(parameter["schema"]["minimum"], 1, "{parameter}");
        assert_eq!(
            parameter["schema"]["type"], "integer",
            "not nullable: {parameter}"
        );
    }
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let (_, cart) = system
        .command(Method::POST, "/v1/carts", Some(&customer), Some(json!({})))
        .await;
    let cart = cart["cart_id"].as_str().expect("cart_id").to_owned();
    let id = Uuid::new_v4();
    let reads = [
        format!("/v1/orders/{id}"),
        format!("/v1/carts/{cart}"),
        format!("/v1/catalog/products/{id}"),
    ];
    for path in &reads {
        // Below 1 is outside the bounds (422); not an integer is malformed (400).
        for (query, header, expected) in [
            (
                "?min_version=-100000000",
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            ("?min_version=0", None, StatusCode::UNPROCESSABLE_ENTITY),
            ("", Some("0"), StatusCode::UNPROCESSABLE_ENTITY),
            ("", Some("-3"), StatusCode::UNPROCESSABLE_ENTITY),
            (
                "?min_version=1",
                Some("0"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            ("?min_version=1", Some("one"), StatusCode::BAD_REQUEST),
        ] {
            let mut request = system
                .http
                .get(format!("{}{path}{query}", system.read_url))
                .bearer_auth(&customer);
            if let Some(header) = header {
                request = request.header("x-min-version", header);
            }
            let response = request.send().await.expect("an answer");
            let status = response.status();
            let content_type = response.headers()["content-type"].clone();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, expected, "{path}{query} {header:?}: {problem}");
            assert_eq!(content_type, "application/problem+json");
        }
    }
    // Version 1 of the customer's own cart is read as ever (once projected).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (status, body) = loop {
        let (status, body) = system
            .read(&format!("/v1/carts/{cart}?min_version=1"), &customer)
            .await;
        if status == StatusCode::OK || tokio::time::Instant::now() >= deadline {
            break (status, body);
        }
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    system.stop().await;
}
