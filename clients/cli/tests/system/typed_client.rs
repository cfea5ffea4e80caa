//! The whole storefront flow through the typed client, every read through `min_version`.
use commerce_client::{
    CommandOptions, CommerceClient, Money, NewProduct, OrderStatus, ProductQuery, ShippingAddress,
};
use commerce_platform::auth::Role;
use uuid::Uuid;

use crate::support::TestSystem;

#[tokio::test]
async fn a_storefront_client_browses_fills_a_cart_checks_out_and_reads_its_order() {
    let system = TestSystem::start().await;
    let api = CommerceClient::new(&system.command_url, &system.read_url);
    let none = CommandOptions::default();

    // A vendor lists two products and receives stock.
    let vendor = api.with_token(system.vendor_token(Uuid::new_v4()).await);
    let mut products = Vec::new();
    for (sku, price) in [("TEE-1", 1999), ("MUG-1", 899)] {
        let created = vendor
            .create_product(
                &NewProduct {
                    sku: sku.into(),
                    title: format!("{sku} organic"),
                    description: String::new(),
                    category: "shop".into(),
                    price: Money::new(price, "EUR"),
                    vendor_id: None,
                },
                &none,
            )
            .await
            .expect("create product");
        let published = vendor
            .publish_product(created.product_id, &none)
            .await
            .expect("publish");
        vendor
            .receive_stock(created.product_id, 50, &none)
            .await
            .expect("stock");
        let doc = vendor
            .get_product(created.product_id, Some(published.version))
            .await
            .expect("read product");
        assert!(doc.published);
        products.push(created.product_id);
    }
    let (tee, mug) = (products[0], products[1]);

    // A customer browses the category and fills a cart.
    let customer_id = Uuid::new_v4();
    let customer = api.with_token(system.token_for(Role::Customer, customer_id, None));
    let page = customer
        .list_products(&ProductQuery {
            category: Some("shop".into()),
            ..ProductQuery::default()
        })
        .await
        .expect("browse");
    assert_eq!(page.items.len(), 2);

    let cart = customer.create_cart(&none).await.expect("cart").cart_id;
    customer
        .add_cart_item(cart, tee, 2, &none)
        .await
        .expect("add tee");
    customer
        .add_cart_item(cart, mug, 1, &none)
        .await
        .expect("add mug");
    customer
        .change_cart_item(cart, tee, 3, &none)
        .await
        .expect("change");
    let removed = customer
        .remove_cart_item(cart, mug, &none)
        .await
        .expect("remove");
    let read = customer
        .get_cart(cart, Some(removed.version))
        .await
        .expect("read cart");
    assert_eq!(read.items.len(), 1);
    assert_eq!(read.items[0].quantity, 3);
    assert_eq!(read.total.as_ref().map(|t| t.amount_minor), Some(3 * 1999));

    let address = ShippingAddress {
        name: "Ada Lovelace".into(),
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        region: Some("IL".into()),
        postal_code: "62701".into(),
        country: "US".into(),
    };
    let placed = customer
        .checkout(cart, &address, "tok_ok", &none)
        .await
        .expect("checkout");
    let order = customer
        .get_order(placed.order_id, Some(placed.version))
        .await
        .expect("read order");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.customer_id, Some(customer_id));
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.total.map(|t| t.amount_minor), Some(3 * 1999));
    assert_eq!(
        order.shipping_address,
        Some(address),
        "shown to its customer"
    );

    // Errors come back typed.
    let error = customer
        .add_cart_item(cart, tee, 1, &none)
        .await
        .expect_err("the cart is checked out");
    assert!(error.is_status(409), "{error}");
    system.stop().await;
}
