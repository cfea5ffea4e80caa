//! The README's one error rule, checked on every operation of both OpenAPI documents:
//! - no token: 401 that says so;
//! - malformed JSON or a wrong type: 400, in words a client developer reads (no language's type
//!   names);
//! - a value outside its documented bounds: 422 `/problems/invalid-value` naming the field, the
//!   bound and the value received;
//! - an unknown id: 404 naming the id;
//! - a body-less command: an empty body is accepted.
//!
//! The table must cover every secured operation the documents list, so a new operation fails
//! this test until its row says how it keeps the rule.
use std::collections::BTreeSet;

use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{checkout_body, product_body, TestSystem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Command,
    Read,
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Vendor,
    Customer,
    Analyst,
    Admin,
}

/// A value pushed out of its bounds: in the body (a JSON pointer) or the query (a name).
#[derive(Debug, Clone)]
enum OutOfBounds {
    Body {
        pointer: &'static str,
        value: Value,
        /// The same field with a value of the wrong JSON type.
        wrong_type: Value,
    },
    Query {
        name: &'static str,
        value: &'static str,
        wrong_type: &'static str,
    },
}

/// One operation and how to break it.
#[derive(Debug, Clone)]
struct Row {
    api: Api,
    method: Method,
    /// As the document lists it; its first placeholder is the aggregate the operation acts on,
    /// a second one (`{product_id}` of a cart line) is the world's product.
    path: &'static str,
    who: Who,
    /// A body the operation accepts from `who`; `None` for body-less operations.
    body: Option<Value>,
    /// The value outside its bounds, and the words its 422 must hold (field, bound, value).
    out_of_bounds: Option<(OutOfBounds, &'static [&'static str])>,
    /// Whether `{id}` may be unknown (404 naming it).
    has_id: bool,
    /// Whether an unknown `{id}` is 404 (false where every id has an answer, e.g. a vendor
    /// without sales has an empty dashboard); a malformed one is 400 either way.
    unknown_is_404: bool,
}

fn row(api: Api, method: Method, path: &'static str, who: Who) -> Row {
    Row {
        api,
        method,
        path,
        who,
        body: None,
        out_of_bounds: None,
        has_id: path.contains('{'),
        unknown_is_404: path.contains('{'),
    }
}

impl Row {
    /// Every well-formed id has an answer.
    fn any_id_answers(mut self) -> Self {
        self.unknown_is_404 = false;
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn field(
        mut self,
        pointer: &'static str,
        value: Value,
        wrong_type: Value,
        words: &'static [&'static str],
    ) -> Self {
        let bounds = OutOfBounds::Body {
            pointer,
            value,
            wrong_type,
        };
        self.out_of_bounds = Some((bounds, words));
        self
    }

    fn query(
        mut self,
        name: &'static str,
        value: &'static str,
        wrong_type: &'static str,
        words: &'static [&'static str],
    ) -> Self {
        let bounds = OutOfBounds::Query {
            name,
            value,
            wrong_type,
        };
        self.out_of_bounds = Some((bounds, words));
        self
    }
}

/// Every secured operation, with a body it accepts and a value outside its bounds.
fn table() -> Vec<Row> {
    use Api::{Command, Read};
    use Who::{Admin, Analyst, Customer, Vendor};
    let long = |n: usize| Value::String("x".repeat(n));
    vec![
        row(Command, Method::POST, "/v1/products", Vendor)
            .body(product_body(1999))
            .field(
                "/title",
                long(201),
                json!(5),
                &["title", "1 to 200", "got 201"],
            ),
        row(Command, Method::PUT, "/v1/products/{id}/price", Vendor)
            .body(json!({"price": {"amount_minor": 2500, "currency": "EUR"}}))
            .field(
                "/price/amount_minor",
                json!(0),
                json!("ten"),
                &["price.amount_minor", "1 to 100000000000", "got 0"],
            ),
        row(Command, Method::POST, "/v1/products/{id}/publish", Vendor),
        row(Command, Method::POST, "/v1/products/{id}/unpublish", Vendor),
        row(
            Command,
            Method::POST,
            "/v1/inventory/{product_id}/receipts",
            Vendor,
        )
        .body(json!({"quantity": 5}))
        .field(
            "/quantity",
            json!(1_000_001),
            json!("five"),
            &["quantity", "1 to 1000000", "got 1000001"],
        ),
        row(Command, Method::POST, "/v1/carts", Customer),
        row(Command, Method::POST, "/v1/carts/{id}/items", Customer)
            .body(json!({"product_id": Uuid::nil(), "quantity": 1}))
            .field(
                "/quantity",
                json!(100),
                json!([1]),
                &["quantity", "1 to 99", "got 100"],
            ),
        row(
            Command,
            Method::PUT,
            "/v1/carts/{id}/items/{product_id}",
            Customer,
        )
        .body(json!({"quantity": 1}))
        .field(
            "/quantity",
            json!(-1),
            json!(true),
            &["quantity", "0 to 99", "got -1"],
        ),
        row(
            Command,
            Method::DELETE,
            "/v1/carts/{id}/items/{product_id}",
            Customer,
        ),
        row(Command, Method::POST, "/v1/carts/{id}/checkout", Customer)
            .body(checkout_body())
            .field(
                "/shipping_address/postal_code",
                long(21),
                json!(10117),
                &["shipping_address.postal_code", "1 to 20", "got 21"],
            ),
        row(Command, Method::POST, "/v1/orders/{id}/cancel", Customer)
            .body(json!({"reason": "customer_request"}))
            .field(
                "/reason",
                json!("changed_mind"),
                json!(1),
                &["reason", "customer_request", "got \"changed_mind\""],
            ),
        row(Command, Method::POST, "/v1/orders/{id}/ship", Vendor)
            .body(json!({"tracking": "1Z 999"}))
            .field(
                "/tracking",
                long(65),
                json!(1),
                &["tracking", "1 to 64", "got 65"],
            ),
        row(Read, Method::GET, "/v1/catalog/products", Customer).query(
            "limit",
            "0",
            "ten",
            &["limit", "1 to 100", "got 0"],
        ),
        row(Read, Method::GET, "/v1/catalog/products/{id}", Customer).query(
            "min_version",
            "0",
            "two",
            &["min_version", "at least 1", "got 0"],
        ),
        row(Read, Method::GET, "/v1/carts/{id}", Customer).query(
            "min_version",
            "-3",
            "two",
            &["min_version", "at least 1", "got -3"],
        ),
        row(Read, Method::GET, "/v1/orders/{id}", Customer).query(
            "min_version",
            "0",
            "2.5",
            &["min_version", "at least 1", "got 0"],
        ),
        row(Read, Method::GET, "/v1/orders/{id}/events", Customer),
        row(
            Read,
            Method::GET,
            "/v1/orders/{id}/sub-orders/{vendor_id}",
            Customer,
        )
        .query(
            "min_version",
            "0",
            "two",
            &["min_version", "at least 1", "got 0"],
        ),
        row(Read, Method::GET, "/v1/notifications", Customer).query(
            "limit",
            "0",
            "few",
            &["limit", "1 to 100", "got 0"],
        ),
        row(Read, Method::GET, "/v1/orders", Customer).query(
            "limit",
            "101",
            "many",
            &["limit", "1 to 100", "got 101"],
        ),
        row(Read, Method::GET, "/v1/events", Analyst).query(
            "limit",
            "1001",
            "all",
            &["limit", "1 to 1000", "got 1001"],
        ),
        // Their bounds relate two parameters, which the document cannot state: a range that ends
        // before it starts is a rule violation (see the analytics tests), not a value out of bounds.
        row(Read, Method::GET, "/v1/analytics/sales", Analyst),
        row(Read, Method::GET, "/v1/analytics/funnel", Analyst),
        row(
            Read,
            Method::GET,
            "/v1/vendors/{vendor_id}/dashboard",
            Analyst,
        )
        .any_id_answers()
        .query(
            "low_stock",
            "1000001",
            "many",
            &["low_stock", "0 to 1000000", "got 1000001"],
        ),
        row(Command, Method::POST, "/v1/vendors", Customer)
            .body(json!({"name": "Row's shop", "contact_email": "row@example.com"}))
            .field(
                "/name",
                long(121),
                json!(1),
                &["name", "1 to 120", "got 121"],
            ),
        row(Command, Method::PUT, "/v1/commission-rules", Admin)
            .body(json!({"default": {"percent_bp": 1000}}))
            .field(
                "/default/percent_bp",
                json!(10_001),
                json!("ten"),
                &["default.percent_bp", "0 to 10000", "got 10001"],
            ),
        decision("approve"),
        decision("suspend"),
        decision("reinstate"),
        row(Read, Method::GET, "/v1/vendors", Admin).query(
            "limit",
            "0",
            "few",
            &["limit", "1 to 100", "got 0"],
        ),
        row(Read, Method::GET, "/v1/vendors/{vendor_id}", Customer).query(
            "min_version",
            "0",
            "two",
            &["min_version", "at least 1", "got 0"],
        ),
        // A webhook is a setting, not an aggregate: an admin may set any vendor's, registered or
        // not.
        row(
            Command,
            Method::PUT,
            "/v1/vendors/{vendor_id}/webhook",
            Admin,
        )
        .any_id_answers()
        .body(json!({"url": "https://hooks.example.com/commerce"}))
        .field(
            "/url",
            long(2049),
            json!(1),
            &["url", "1 to 2048", "got 2049"],
        ),
        row(
            Command,
            Method::DELETE,
            "/v1/vendors/{vendor_id}/webhook",
            Admin,
        )
        .any_id_answers(),
        row(
            Read,
            Method::GET,
            "/v1/vendors/{vendor_id}/webhook/deliveries",
            Admin,
        )
        .any_id_answers()
        .query("limit", "0", "few", &["limit", "1 to 100", "got 0"]),
        row(Command, Method::POST, "/v1/orders/{id}/returns", Customer)
            .body(json!({"lines": [{"product_id": Uuid::nil(), "quantity": 1}]}))
            .field(
                "/lines/0/quantity",
                json!(100),
                json!("one"),
                &["quantity", "1 to 99", "got 100"],
            ),
        row(
            Command,
            Method::POST,
            "/v1/orders/{id}/returns/{return_id}/accept",
            Vendor,
        )
        .body(json!({"restock": true})),
        row(
            Command,
            Method::POST,
            "/v1/orders/{id}/returns/{return_id}/reject",
            Vendor,
        )
        .body(json!({"reason": "worn"}))
        .field(
            "/reason",
            Value::String("x".repeat(501)),
            json!(1),
            &["reason", "1 to 500", "got 501"],
        ),
        row(Command, Method::GET, "/v1/commission-rules", Admin),
        row(Command, Method::POST, "/v1/payouts/runs", Admin),
        // An admin reads any vendor's ledger, registered or not (empty before its first sale).
        row(Read, Method::GET, "/v1/vendors/{vendor_id}/balance", Admin).any_id_answers(),
        row(
            Read,
            Method::GET,
            "/v1/vendors/{vendor_id}/statement",
            Admin,
        )
        .any_id_answers()
        .query("limit", "0", "few", &["limit", "1 to 100", "got 0"]),
        row(Read, Method::GET, "/v1/vendors/{vendor_id}/payouts", Admin)
            .any_id_answers()
            .query("limit", "101", "many", &["limit", "1 to 100", "got 101"]),
        row(Read, Method::GET, "/v1/commission-income", Admin),
    ]
}

/// An admin's decision on a vendor, with its reason.
fn decision(action: &'static str) -> Row {
    let path = match action {
        "approve" => "/v1/vendors/{vendor_id}/approve",
        "suspend" => "/v1/vendors/{vendor_id}/suspend",
        _ => "/v1/vendors/{vendor_id}/reinstate",
    };
    row(Api::Command, Method::POST, path, Who::Admin)
        .body(json!({"reason": "checked"}))
        .field(
            "/reason",
            Value::String("x".repeat(501)),
            json!(1),
            &["reason", "1 to 500", "got 501"],
        )
}

/// What the operations act on: one of each aggregate, owned by the tokens below.
struct World {
    vendor: String,
    customer: String,
    analyst: String,
    admin: String,
    /// The vendor whose token `vendor` is.
    vendor_id: Uuid,
    product: Uuid,
    cart: Uuid,
    order: Uuid,
}

impl World {
    async fn build(system: &TestSystem) -> Self {
        let vendor_id = Uuid::new_v4();
        let vendor = system.vendor_token(vendor_id).await;
        let admin = system.token(Role::Admin, None);
        let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
        let analyst = system.token(Role::Analyst, None);
        let product = system.published_product(&vendor, 1999).await;
        let ordered = system.open_cart(&customer).await;
        let (status, body) = system.add_to_cart(&customer, ordered, product, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = system.checkout(&customer, ordered).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
        let cart = system.open_cart(&customer).await;
        Self {
            vendor,
            customer,
            analyst,
            admin,
            vendor_id,
            product,
            cart,
            order,
        }
    }

    fn token(&self, who: Who) -> &str {
        match who {
            Who::Vendor => &self.vendor,
            Who::Customer => &self.customer,
            Who::Analyst => &self.analyst,
            Who::Admin => &self.admin,
        }
    }

    /// The id `{id}` stands for in `path`.
    fn id_for(&self, path: &str) -> Uuid {
        if path.contains("/carts/") {
            self.cart
        } else if path.contains("/orders/") {
            self.order
        } else if path.contains("/vendors/") {
            self.vendor_id
        } else {
            self.product
        }
    }

    fn url(&self, system: &TestSystem, row: &Row, id: Uuid) -> String {
        let base = match row.api {
            Api::Command => &system.command_url,
            Api::Read => &system.read_url,
        };
        let (head, tail) = row.path.split_once('{').unwrap_or((row.path, ""));
        let path = match tail.split_once('}') {
            Some((_, rest)) => format!("{head}{id}{rest}"),
            None => head.to_owned(),
        };
        let path = path
            .replace("{product_id}", &self.product.to_string())
            .replace("{vendor_id}", &self.vendor_id.to_string())
            .replace("{return_id}", &Uuid::nil().to_string());
        format!("{base}{path}")
    }
}

/// The secured operations a service's document lists, as `METHOD /path`.
async fn documented_operations(system: &TestSystem, base: &str) -> BTreeSet<String> {
    let document: Value = system
        .http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

/// Language type names that must not reach a client (serde's and Rust's own words).
const JARGON: &[&str] = &[
    " u8",
    " u16",
    " u32",
    " u64",
    " i32",
    " i64",
    " i128",
    " usize",
    " f64",
    "struct ",
    "Option<",
    "Vec<",
    "target type",
];

fn assert_problem(
    what: &str,
    (status, content_type, problem): &(StatusCode, String, Value),
    expected: StatusCode,
) -> String {
    assert_eq!(*status, expected, "{what}: {problem}");
    assert_eq!(content_type, "application/problem+json", "{what}");
    let detail = problem["detail"].as_str().unwrap_or_default().to_owned();
    for jargon in JARGON {
        assert!(
            !detail.contains(jargon),
            "{what}: no `{jargon}` in {detail:?}"
        );
    }
    detail
}

#[tokio::test]
async fn every_operation_keeps_the_one_error_rule() {
    let system = TestSystem::start().await;
    let world = World::build(&system).await;
    let rows = table();

    let mut documented = documented_operations(&system, &system.command_url).await;
    documented.extend(documented_operations(&system, &system.read_url).await);
    let covered: BTreeSet<String> = rows
        .iter()
        .map(|row| format!("{} {}", row.method, row.path))
        .collect();
    assert_eq!(
        covered, documented,
        "the table and the documents list the same operations"
    );

    for row in &rows {
        let name = format!("{} {}", row.method, row.path);
        let token = world.token(row.who);
        let own_url = world.url(&system, row, world.id_for(row.path));
        // The table's bodies name no product; a cart line names the world's.
        let valid = row.body.clone().map(|mut body| {
            if let Some(product) = body.pointer_mut("/product_id") {
                *product = json!(world.product);
            }
            body
        });
        let body = valid.as_ref().map(Value::to_string);

        // No token.
        let answer = send(&system, &row.method, own_url.clone(), None, body.clone()).await;
        let detail = assert_problem(&name, &answer, StatusCode::UNAUTHORIZED);
        assert!(detail.contains("no bearer token"), "{name}: {detail}");

        // Malformed JSON, and a body that is not an object.
        if row.body.is_some() {
            for broken in ["{\"quantity\": ", "[1]"] {
                let answer = send(
                    &system,
                    &row.method,
                    own_url.clone(),
                    Some(token),
                    Some(broken.into()),
                )
                .await;
                assert_problem(&name, &answer, StatusCode::BAD_REQUEST);
            }
        }

        // Out of bounds: 422 naming field, bound and value; the wrong type: 400 naming the field.
        if let Some((bounds, words)) = &row.out_of_bounds {
            let (bad, wrong, field) = match bounds {
                OutOfBounds::Body {
                    pointer,
                    value,
                    wrong_type,
                } => {
                    let base = valid.clone().expect("a body to break");
                    (
                        (own_url.clone(), Some(with(&base, pointer, value.clone()))),
                        (
                            own_url.clone(),
                            Some(with(&base, pointer, wrong_type.clone())),
                        ),
                        pointer.rsplit('/').next().unwrap_or_default().to_owned(),
                    )
                }
                OutOfBounds::Query {
                    name,
                    value,
                    wrong_type,
                } => (
                    (format!("{own_url}?{name}={value}"), None),
                    (format!("{own_url}?{name}={wrong_type}"), None),
                    (*name).to_owned(),
                ),
            };
            let answer = send(&system, &row.method, bad.0, Some(token), bad.1).await;
            let detail = assert_problem(&name, &answer, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                answer.2["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("/problems/invalid-value")),
                "{name}: {}",
                answer.2
            );
            for word in *words {
                assert!(detail.contains(word), "{name}: `{word}` in {detail:?}");
            }
            let answer = send(&system, &row.method, wrong.0, Some(token), wrong.1).await;
            let detail = assert_problem(&name, &answer, StatusCode::BAD_REQUEST);
            assert!(detail.contains(&field), "{name}: `{field}` in {detail:?}");
        }

        // An unknown id is named; a malformed one is 400.
        if row.has_id {
            let unknown = Uuid::new_v4();
            let url = world.url(&system, row, unknown);
            let answer = send(&system, &row.method, url, Some(token), body.clone()).await;
            if row.unknown_is_404 {
                let detail = assert_problem(&name, &answer, StatusCode::NOT_FOUND);
                assert!(detail.contains(&unknown.to_string()), "{name}: {detail}");
            } else {
                assert!(answer.0.is_success(), "{name}: {} {}", answer.0, answer.2);
            }
            let url = own_url.replace(&world.id_for(row.path).to_string(), "not-an-id");
            let answer = send(&system, &row.method, url, Some(token), body.clone()).await;
            let detail = assert_problem(&name, &answer, StatusCode::BAD_REQUEST);
            assert!(detail.contains("not-an-id"), "{name}: {detail}");
        }

        // A body-less command takes an empty body, with or without a content type.
        if row.api == Api::Command && row.body.is_none() && !row.has_id {
            let answer = send(
                &system,
                &row.method,
                own_url.clone(),
                Some(token),
                Some(String::new()),
            )
            .await;
            assert!(answer.0.is_success(), "{name}: {}", answer.2);
        }
    }
    system.stop().await;
}

async fn send(
    system: &TestSystem,
    method: &Method,
    url: String,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, String, Value) {
    system.send_raw(method.clone(), url, token, body).await
}

/// `body` with the field at `pointer` replaced.
fn with(body: &Value, pointer: &str, value: Value) -> String {
    let mut body = body.clone();
    if let Some(field) = body.pointer_mut(pointer) {
        *field = value;
    }
    body.to_string()
}
