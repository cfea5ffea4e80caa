//! The storefront web client (`clients/web`, Next.js) over the test stack, in a real browser:
//! its catalog and product pages are rendered on the server from the read API, found by search,
//! comfortable at 375 px, and pass an accessibility scan. Screenshots land in
//! `target/test-artifacts/`. Needs `clients/web` built (`infra/local/test` does it).
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use commerce_platform::auth::Role;
use uuid::Uuid;

use crate::support::TestSystem;

fn web() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// Debian's chromium, or `COMMERCE_CHROMIUM`.
pub fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("COMMERCE_CHROMIUM") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromium"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!("chromium is missing: run infra/local/test, which installs Debian's chromium")
        })
}

/// The web client's server (`next start`) on a free port, talking to `system`; stopped on drop.
pub struct WebServer {
    pub url: String,
    child: tokio::process::Child,
}

impl WebServer {
    pub async fn start(system: &TestSystem, storefront_token: &str) -> Self {
        assert!(
            web().join(".next/BUILD_ID").is_file(),
            "clients/web is not built: run infra/local/test (or `npm ci && npm run build` in \
             clients/web)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(web().join("node_modules/.bin/next"))
            .args(["start", "-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(web())
            .env("COMMERCE_COMMAND_API_URL", &system.command_url)
            .env("COMMERCE_READ_API_URL", &system.read_url)
            .env("COMMERCE_AUTH_API_URL", &system.auth_url)
            .env("COMMERCE_STOREFRONT_TOKEN", storefront_token)
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the web client (next start)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let answer = system.http.get(&url).send().await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the web client did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self { url, child }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs `script` (in `clients/web/tests`) with node and `env`; its standard output.
pub async fn browser_script(script: &str, env: &[(&str, String)]) -> String {
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("the artifacts folder");
    let mut command = std::process::Command::new("node");
    command
        .arg(web().join("tests").join(script))
        .current_dir(web())
        .env("CHROMIUM", chromium())
        .env("ARTIFACTS", &artifacts);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run node");
    assert!(
        output.status.success(),
        "{script}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn a_shopper_finds_a_product_by_search_on_a_laptop_and_a_phone() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let word = format!("Teapot{}", &Uuid::new_v4().simple().to_string()[..8]);
    let title = format!("Cast iron {word}");
    let product = stocked(&system, &vendor, &title, 3450).await;
    let storefront = system.token(Role::Customer, None);
    let server = WebServer::start(&system, &storefront).await;
    // The server renders the catalog: the product is in the HTML, before any script runs.
    let html = system
        .http
        .get(format!("{}/?q={word}", server.url))
        .send()
        .await
        .expect("the catalog page")
        .text()
        .await
        .expect("HTML");
    assert!(html.contains(&title), "server-rendered: {html}");
    assert!(
        html.contains(&format!("/products/{product}")),
        "a link to follow"
    );

    browser_script(
        "catalog.mjs",
        &[
            ("WEB_URL", server.url.clone()),
            ("PRODUCT_TITLE", title.clone()),
            ("PRODUCT_PRICE", "34.50 EUR".to_owned()),
        ],
    )
    .await;
    server.stop().await;
    system.stop().await;
}

/// A product of `vendor`'s, published, stocked and in the catalog.
async fn stocked(system: &TestSystem, vendor: &str, title: &str, price_minor: i64) -> Uuid {
    let (status, body) = system
        .command(
            reqwest::Method::POST,
            "/v1/products",
            Some(vendor),
            Some(serde_json::json!({
                "sku": format!("SKU-{}", &Uuid::new_v4().simple().to_string()[..8]),
                "title": title, "category": "kitchen",
                "description": "Keeps tea hot for an hour.",
                "price": { "amount_minor": price_minor, "currency": "EUR" }
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let product = Uuid::parse_str(body["product_id"].as_str().expect("product_id")).expect("uuid");
    let (status, body) = system
        .command(
            reqwest::Method::POST,
            &format!("/v1/inventory/{product}/receipts"),
            Some(vendor),
            Some(serde_json::json!({ "quantity": 7 })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let (status, body) = system.publish(vendor, product).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let reader = system.token(Role::Customer, None);
    let (status, body) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2&min_stock_version=1"),
            &reader,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    product
}

#[tokio::test]
async fn a_shopper_signs_up_checks_out_and_watches_the_order_on_a_laptop_and_a_phone() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let mug = stocked(&system, &vendor, "Enamel mug", 1200).await;
    let kettle = stocked(&system, &vendor, "Copper kettle", 5400).await;
    let products = serde_json::json!([
        { "id": mug, "title": "Enamel mug" },
        { "id": kettle, "title": "Copper kettle" },
    ]);
    let server = WebServer::start(&system, &system.token(Role::Customer, None)).await;
    for profile in ["laptop", "phone"] {
        let email = format!("{profile}-{}@example.com", Uuid::new_v4().simple());
        browser_script(
            "shopper.mjs",
            &[
                ("WEB_URL", server.url.clone()),
                ("PRODUCTS", products.to_string()),
                ("EMAIL", email),
                ("PROFILE", profile.to_owned()),
            ],
        )
        .await;
    }
    server.stop().await;
    system.stop().await;
}

#[tokio::test]
async fn a_vendor_lists_stocks_and_publishes_a_product_a_shopper_buys_it_and_the_vendor_ships_it() {
    let system = TestSystem::start().await;
    // A vendor member: an account, given the vendor role by an admin.
    let email = format!("shop-{}@example.com", Uuid::new_v4().simple());
    let password = "a vendor's long password";
    let account: serde_json::Value = system
        .http
        .post(format!("{}/v1/auth/register", system.auth_url))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("JSON");
    let user = account["user_id"].as_str().expect("user_id").to_owned();
    let vendor_id = Uuid::new_v4();
    system.approved_vendor(vendor_id).await;
    let granted = system
        .http
        .post(format!("{}/v1/users/{user}/roles", system.auth_url))
        .bearer_auth(system.token(Role::Admin, None))
        .json(&serde_json::json!({ "role": "vendor", "vendor_id": vendor_id }))
        .send()
        .await
        .expect("grant");
    assert_eq!(granted.status(), reqwest::StatusCode::OK);

    let server = WebServer::start(&system, &system.token(Role::Customer, None)).await;
    browser_script(
        "vendor.mjs",
        &[
            ("WEB_URL", server.url.clone()),
            ("EMAIL", email),
            ("PASSWORD", password.to_owned()),
            (
                "SHOPPER_EMAIL",
                format!("buyer-{}@example.com", Uuid::new_v4().simple()),
            ),
            ("WORD", Uuid::new_v4().simple().to_string()[..10].to_owned()),
        ],
    )
    .await;
    server.stop().await;
    system.stop().await;
}
