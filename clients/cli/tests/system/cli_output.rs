//! Every storefront and vendor command of the CLI against the running services: a summary a
//! person reads with `--output human`, JSON when stdout is a pipe (as here) or with `--json`.
use commerce_platform::auth::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::support::TestSystem;

/// What one `commerce` run printed.
struct Ran {
    stdout: String,
    stderr: String,
    success: bool,
}

impl Ran {
    fn json(&self) -> Value {
        assert!(self.success, "{}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The summary with each run of spaces as one: the contents, whatever the column widths
    /// (the alignment has its own tests).
    fn human(&self) -> String {
        assert!(self.success, "{}", self.stderr);
        self.stdout
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `commerce` against `system` with `token`; stdout is a pipe, so JSON unless asked.
async fn commerce(system: &TestSystem, token: &str, args: &[&str]) -> Ran {
    let mut command = system.commerce();
    command.args(args).env("COMMERCE_TOKEN", token);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce");
    Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[tokio::test]
async fn every_storefront_and_vendor_command_prints_a_summary_for_people_and_json_for_scripts() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let h = "--output=human";

    // Vendor: create (JSON when piped), then each change in both forms.
    let created = commerce(
        &system,
        &vendor,
        &[
            "products",
            "create",
            "--sku",
            "MUG-1",
            "--title",
            "Stoneware mug",
            "--category",
            "kitchen",
            "--price",
            "12.50",
            "--currency",
            "EUR",
        ],
    )
    .await
    .json();
    let product = text(&created, "product_id").to_owned();
    assert_eq!(created["version"], 1);
    let shown = commerce(
        &system,
        &vendor,
        &[
            "products",
            "price",
            &product,
            "--price",
            "14",
            "--currency",
            "EUR",
            h,
        ],
    )
    .await;
    assert!(
        shown.human().starts_with(&format!(
            "Product {product} now costs 14.00 EUR (version 2)."
        )),
        "{}",
        shown.stdout
    );
    assert!(shown
        .human()
        .contains(&format!("commerce products show {product} --min-version 2")));
    let receipt = [
        "stock",
        "receive",
        &product,
        "5",
        "--json",
        "--idempotency-key",
        "receipt-1",
    ];
    let first = commerce(&system, &vendor, &receipt).await.json();
    let receipt = commerce(&system, &vendor, &receipt).await.json();
    assert_eq!(
        receipt, first,
        "the same key answers the first receipt again"
    );
    assert_eq!(receipt["read_with"], "min_stock_version");
    let published = commerce(&system, &vendor, &["products", "publish", &product, h]).await;
    assert!(
        published.human().contains("is published (version 3)"),
        "{}",
        published.stdout
    );

    // Anyone: the product, read back with both tokens, and the catalog.
    let stock_version = receipt["version"].as_i64().expect("version").to_string();
    let document = commerce(
        &system,
        &customer,
        &[
            "products",
            "show",
            &product,
            "--min-version",
            "3",
            "--min-stock-version",
            &stock_version,
            h,
        ],
    )
    .await;
    for words in [
        "title: Stoneware mug",
        "price: 14.00 EUR",
        "in stock: 5",
        "published: yes",
    ] {
        assert!(
            document.human().contains(words),
            "{words}: {}",
            document.stdout
        );
    }
    let listed = commerce(
        &system,
        &customer,
        &["products", "list", "--category", "kitchen", h],
    )
    .await;
    let listed_text = listed.human();
    let header = listed_text.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("PRODUCT") && header.contains("IN STOCK"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.human().contains("Stoneware mug kitchen 14.00 EUR 5"),
        "{}",
        listed.stdout
    );
    let listed = commerce(&system, &customer, &["products", "list"])
        .await
        .json();
    assert_eq!(listed["items"][0]["product_id"], product.as_str());

    // Customer: a cart in both forms, a line changed, removed and added again.
    let cart = commerce(&system, &customer, &["cart", "create"])
        .await
        .json();
    let cart = text(&cart, "cart_id").to_owned();
    let added = commerce(
        &system,
        &customer,
        &["cart", "add", &cart, &product, "--quantity", "3", h],
    )
    .await;
    assert!(
        added
            .human()
            .starts_with(&format!("Added 3 of {product} to cart {cart} (version 2).")),
        "{}",
        added.stdout
    );
    let set = commerce(
        &system,
        &customer,
        &["cart", "set", &cart, &product, "2", "--json"],
    )
    .await
    .json();
    assert_eq!(set["version"], 3);
    let removed = commerce(&system, &customer, &["cart", "remove", &cart, &product, h]).await;
    assert!(removed.human().contains("Removed"), "{}", removed.stdout);
    commerce(
        &system,
        &customer,
        &["cart", "add", &cart, &product, "--quantity", "2"],
    )
    .await
    .json();
    let cart_view = commerce(
        &system,
        &customer,
        &["cart", "show", &cart, "--min-version", "5", h],
    )
    .await;
    assert!(
        cart_view
            .human()
            .contains("Stoneware mug 2 14.00 EUR 28.00 EUR"),
        "{}",
        cart_view.stdout
    );
    assert!(
        cart_view.human().contains("Total: 28.00 EUR"),
        "{}",
        cart_view.stdout
    );

    // Checkout, then the order as it settles, in both forms.
    let address = [
        "--name",
        "Ada Lovelace",
        "--line1",
        "1 Main St",
        "--city",
        "Berlin",
        "--postal-code",
        "10117",
        "--country",
        "DE",
    ];
    let placed = commerce(
        &system,
        &customer,
        &[&["checkout", &cart, h][..], &address[..]].concat(),
    )
    .await;
    let order = placed
        .human()
        .split_whitespace()
        .nth(2)
        .map(|id| id.trim_end_matches(':').to_owned())
        .unwrap_or_default();
    assert!(
        placed
            .human()
            .contains(&format!("commerce orders show {order} --wait")),
        "{}",
        placed.stdout
    );
    let settled = commerce(&system, &customer, &["orders", "show", &order, "--wait"])
        .await
        .json();
    assert_eq!(settled["status"], "confirmed", "{settled}");
    let order_view = commerce(&system, &vendor, &["orders", "show", &order, h]).await;
    for words in [
        "status: confirmed",
        "total: 28.00 EUR",
        "ship to: Ada Lovelace, 1 Main St, 10117, Berlin, DE",
        "Stoneware mug 2",
    ] {
        assert!(
            order_view.human().contains(words),
            "{words}: {}",
            order_view.stdout
        );
    }
    let mine = commerce(&system, &customer, &["orders", "list", h]).await;
    assert!(
        mine.human()
            .contains(&format!("{order} confirmed 2 28.00 EUR")),
        "{}",
        mine.stdout
    );

    // The vendor ships; a second order is cancelled by its customer.
    let shipped = commerce(
        &system,
        &vendor,
        &["orders", "ship", &order, "--tracking", "1Z 999", h],
    )
    .await;
    assert!(
        shipped.human().contains("is shipped, tracking 1Z 999"),
        "{}",
        shipped.stdout
    );
    let second_cart = commerce(&system, &customer, &["cart", "create"])
        .await
        .json();
    let second_cart = text(&second_cart, "cart_id").to_owned();
    commerce(&system, &customer, &["cart", "add", &second_cart, &product])
        .await
        .json();
    let second = commerce(
        &system,
        &customer,
        &[&["checkout", &second_cart][..], &address[..]].concat(),
    )
    .await
    .json();
    let second = text(&second, "order_id").to_owned();
    commerce(&system, &customer, &["orders", "show", &second, "--wait"])
        .await
        .json();
    let cancelled = commerce(&system, &customer, &["orders", "cancel", &second, "--json"])
        .await
        .json();
    let version = cancelled["version"].as_i64().expect("version").to_string();
    let cancelled = commerce(
        &system,
        &customer,
        &["orders", "show", &second, "--min-version", &version, h],
    )
    .await;
    assert!(
        cancelled
            .human()
            .contains("status: cancelled (customer_request)"),
        "{}",
        cancelled.stdout
    );

    // Unpublish; a refusal goes to stderr with the problem's words and a non-zero exit.
    let hidden = commerce(&system, &vendor, &["products", "unpublish", &product, h]).await;
    assert!(
        hidden.human().contains("is unpublished (version 4)"),
        "{}",
        hidden.stdout
    );
    let refused = commerce(
        &system,
        &customer,
        &["orders", "ship", &second, "--tracking", "X1"],
    )
    .await;
    assert!(!refused.success && refused.stdout.is_empty());
    assert!(
        refused.stderr.starts_with("commerce: HTTP 403"),
        "{}",
        refused.stderr
    );
    system.stop().await;
}
