//! The human summaries of the storefront commands' answers: what happened, the figures a person
//! checks (titles, quantities, totals, statuses) in aligned columns, and the command to run next.
//! Pure functions of the answers, so tests need no server.
use std::collections::HashMap;

use commerce_client::{
    Accepted, CartCreated, CartDocument, CheckoutAccepted, Money, NewProduct, OrderDocument,
    OrderLine, OrderPage, OrderReturn, ProductCreated, ProductDocument, ProductPage,
    ReturnRequested, ShippingAddress, SubOrderView,
};
use serde::Serialize;
use uuid::Uuid;

use crate::output::{fields, shorten, Table};

/// Titles longer than this are cut in tables.
const TITLE_WIDTH: usize = 40;

/// A serialised enum's name as the API spells it (`payment_declined`).
fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// `amount` times `quantity` in the same currency, for a line total.
fn times(amount: &Money, quantity: u32) -> Money {
    Money::new(
        amount.amount_minor.saturating_mul(i64::from(quantity)),
        amount.currency.clone(),
    )
}

/// An accepted command: what happened, the version, and the read that shows it.
pub fn accepted(what: &str, answer: &Accepted) -> String {
    let id = &answer.aggregate_id;
    let version = answer.version;
    let read = match answer.aggregate_type.as_deref() {
        Some("Product") => format!("commerce products show {id} --min-version {version}"),
        Some("Inventory") => format!("commerce products show {id} --min-stock-version {version}"),
        Some("Cart") => format!("commerce cart show {id} --min-version {version}"),
        Some("Order") => format!("commerce orders show {id} --min-version {version}"),
        Some("Vendor") => format!("commerce vendors show {id} --min-version {version}"),
        // Read from the schedule itself: nothing to wait for.
        Some("CommissionSchedule") => "commerce commissions show".to_owned(),
        _ => String::new(),
    };
    let mut out = format!("{what} (version {version}).");
    if !read.is_empty() {
        out.push_str(&format!("\nRead it back: {read}"));
    }
    out
}

pub fn product_created(created: &ProductCreated, product: &NewProduct) -> String {
    let id = created.product_id;
    format!(
        "Created product {id}: {} at {} (unpublished, no stock, version {}).\n\
         Next: commerce stock receive {id} <UNITS>\n      commerce products publish {id}",
        product.title, product.price, created.version
    )
}

pub fn product(product: &ProductDocument) -> String {
    let published = if product.published {
        "yes"
    } else {
        "no (only its vendor and admins see it)"
    };
    fields(&[
        ("product", product.product_id.to_string()),
        ("title", product.title.clone()),
        ("sku", product.sku.clone()),
        ("category", product.category.clone()),
        ("price", product.price.to_string()),
        ("in stock", product.available.to_string()),
        ("published", published.to_owned()),
        ("vendor", product.vendor_id.to_string()),
        (
            "version",
            format!(
                "{} (stock version {})",
                product.version, product.stock_version
            ),
        ),
        ("description", product.description.clone()),
    ])
}

pub fn product_page(page: &ProductPage) -> String {
    if page.items.is_empty() {
        return "No published products match.".into();
    }
    let mut table = Table::new(&[
        ("PRODUCT", false),
        ("TITLE", false),
        ("CATEGORY", false),
        ("PRICE", true),
        ("IN STOCK", true),
    ]);
    for product in &page.items {
        table.row(vec![
            product.product_id.to_string(),
            shorten(&product.title, TITLE_WIDTH),
            product.category.clone(),
            product.price.to_string(),
            product.available.to_string(),
        ]);
    }
    with_next_page(table.render(), page.next_cursor.as_deref())
}

fn with_next_page(mut out: String, cursor: Option<&str>) -> String {
    if let Some(cursor) = cursor {
        out.push_str(&format!("\nMore: add --cursor {cursor}"));
    }
    out
}

pub fn cart_created(created: &CartCreated) -> String {
    let id = created.cart_id;
    format!(
        "Created cart {id} (version {}).\nNext: commerce cart add {id} <PRODUCT> --quantity <UNITS>",
        created.version
    )
}

/// A product's title, or its id where the catalog did not give one.
fn title_of(titles: &HashMap<Uuid, String>, product_id: Uuid) -> String {
    titles
        .get(&product_id)
        .map(|title| shorten(title, TITLE_WIDTH))
        .unwrap_or_else(|| "(not in the catalog)".into())
}

pub fn cart(cart: &CartDocument, titles: &HashMap<Uuid, String>) -> String {
    let status = cart.status.as_deref().unwrap_or("open");
    let mut out = format!("Cart {} ({status}, version {})", cart.cart_id, cart.version);
    if cart.items.is_empty() {
        out.push_str("\nThe cart is empty.");
        return out;
    }
    let mut table = Table::new(&[
        ("PRODUCT", false),
        ("TITLE", false),
        ("QTY", true),
        ("UNIT PRICE", true),
        ("LINE TOTAL", true),
    ]);
    for item in &cart.items {
        table.row(vec![
            item.product_id.to_string(),
            title_of(titles, item.product_id),
            item.quantity.to_string(),
            item.unit_price.to_string(),
            times(&item.unit_price, item.quantity).to_string(),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    if let Some(total) = &cart.total {
        out.push_str(&format!(
            "\nTotal: {total} (prices when added; checkout takes the current ones)"
        ));
    }
    out
}

pub fn checkout(placed: &CheckoutAccepted) -> String {
    let id = placed.order_id;
    format!(
        "Placed order {id}: pending until its stock is reserved and its payment taken.\n\
         Follow it: commerce orders show {id} --wait"
    )
}

fn address_line(address: &ShippingAddress) -> String {
    [
        Some(address.name.as_str()),
        Some(address.line1.as_str()),
        address.line2.as_deref(),
        Some(address.postal_code.as_str()),
        Some(address.city.as_str()),
        address.region.as_deref(),
        Some(address.country.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

pub fn order(order: &OrderDocument, titles: &HashMap<Uuid, String>) -> String {
    let mut status = label(&order.status);
    if let Some(reason) = &order.cancel_reason {
        status.push_str(&format!(" ({})", label(reason)));
    }
    let mut out = format!("Order {}\n", order.order_id);
    out.push_str(&fields(&[
        ("status", status),
        (
            "total",
            order
                .total
                .as_ref()
                .map(Money::to_string)
                .unwrap_or_default(),
        ),
        (
            "ship to",
            order
                .shipping_address
                .as_ref()
                .map(address_line)
                .unwrap_or_default(),
        ),
        (
            "customer",
            order
                .customer_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
        ("version", order.version.to_string()),
    ]));
    let mut lines = Table::new(&[
        ("PRODUCT", false),
        ("TITLE", false),
        ("QTY", true),
        ("UNIT PRICE", true),
        ("LINE TOTAL", true),
        ("VENDOR", false),
    ]);
    for line in &order.lines {
        lines.row(vec![
            line.product_id.to_string(),
            title_of(titles, line.product_id),
            line.quantity.to_string(),
            line.unit_price.to_string(),
            times(&line.unit_price, line.quantity).to_string(),
            line.vendor_id.to_string(),
        ]);
    }
    if !lines.is_empty() {
        out.push_str("\n\n");
        out.push_str(&lines.render());
    }
    let mut history = Table::new(&[("AT", false), ("STATUS", false)]);
    for change in &order.status_history {
        history.row(vec![
            change.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            label(&change.status),
        ]);
    }
    if !history.is_empty() {
        out.push_str("\n\n");
        out.push_str(&history.render());
    }
    // One vendor's order is its only sub-order: the figures above already say it all.
    if order.sub_orders.len() > 1 {
        let mut sub_orders = Table::new(&[
            ("VENDOR", false),
            ("STATUS", false),
            ("SUBTOTAL", true),
            ("TRACKING", false),
        ]);
        for sub_order in &order.sub_orders {
            sub_orders.row(vec![
                sub_order.vendor_id.to_string(),
                label(&sub_order.status),
                sub_order.subtotal.to_string(),
                sub_order.tracking.clone().unwrap_or_default(),
            ]);
        }
        out.push_str("\n\nSub-orders:\n");
        out.push_str(&sub_orders.render());
    }
    if !order.returns.is_empty() {
        out.push_str("\n\nReturns:\n");
        out.push_str(&return_table(&order.returns).render());
    }
    out
}

/// An order's returns: whose, where each stands, its units and refund, and the reason given.
fn return_table(returns: &[OrderReturn]) -> Table {
    let mut table = Table::new(&[
        ("RETURN", false),
        ("VENDOR", false),
        ("STATUS", false),
        ("UNITS", true),
        ("REFUND", true),
        ("REASON", false),
    ]);
    for returned in returns {
        let units: u64 = returned.lines.iter().map(|l| u64::from(l.quantity)).sum();
        let mut status = label(&returned.status);
        if returned.restock {
            status.push_str(" (restock)");
        }
        table.row(vec![
            returned.return_id.to_string(),
            returned.vendor_id.to_string(),
            status,
            units.to_string(),
            returned.refund_total.to_string(),
            returned
                .reason
                .as_deref()
                .map(|reason| shorten(reason, TITLE_WIDTH))
                .unwrap_or_default(),
        ]);
    }
    table
}

/// A return asked for: its id, how to follow it, and what the vendor runs to decide.
pub fn return_requested(order: Uuid, requested: &ReturnRequested) -> String {
    let id = requested.return_id;
    let version = requested.accepted.version;
    format!(
        "Requested return {id} of order {order} (version {version}); its vendor accepts or \
         rejects it.\n\
         Follow it: commerce orders show {order} --min-version {version}\n\
         The vendor: commerce orders accept-return {order} {id} [--restock]\n            \
         commerce orders reject-return {order} {id} --reason <WHY>"
    )
}

/// An order's lines as a table (without the vendor column: one vendor's lines).
fn line_table(lines: &[OrderLine], titles: &HashMap<Uuid, String>) -> Table {
    let mut table = Table::new(&[
        ("PRODUCT", false),
        ("TITLE", false),
        ("QTY", true),
        ("UNIT PRICE", true),
        ("LINE TOTAL", true),
    ]);
    for line in lines {
        table.row(vec![
            line.product_id.to_string(),
            title_of(titles, line.product_id),
            line.quantity.to_string(),
            line.unit_price.to_string(),
            times(&line.unit_price, line.quantity).to_string(),
        ]);
    }
    table
}

/// One vendor's sub-order: its status, subtotal and tracking, the order's, and its lines.
pub fn sub_order(view: &SubOrderView, titles: &HashMap<Uuid, String>) -> String {
    let mut out = format!(
        "Sub-order of order {} for vendor {}\n",
        view.order_id, view.vendor_id
    );
    out.push_str(&fields(&[
        ("status", label(&view.status)),
        ("subtotal", view.subtotal.to_string()),
        ("tracking", view.tracking.clone().unwrap_or_default()),
        ("order", label(&view.order_status)),
        ("version", view.version.to_string()),
    ]));
    let lines = line_table(&view.lines, titles);
    if !lines.is_empty() {
        out.push_str("\n\n");
        out.push_str(&lines.render());
    }
    out
}

pub fn order_page(page: &OrderPage) -> String {
    if page.items.is_empty() {
        return "No orders.".into();
    }
    let mut table = Table::new(&[
        ("ORDER", false),
        ("STATUS", false),
        ("UNITS", true),
        ("TOTAL", true),
        ("PLACED", false),
    ]);
    for order in &page.items {
        let units: u64 = order.lines.iter().map(|l| u64::from(l.quantity)).sum();
        let placed = order
            .status_history
            .first()
            .map(|change| change.at.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        table.row(vec![
            order.order_id.to_string(),
            label(&order.status),
            units.to_string(),
            order
                .total
                .as_ref()
                .map(Money::to_string)
                .unwrap_or_default(),
            placed,
        ]);
    }
    with_next_page(table.render(), page.next_cursor.as_deref())
}

#[cfg(test)]
mod tests {
    use commerce_client::{
        CancelReason, CartItem, OrderStatus, ReturnLine, ReturnStatus, StatusChange, SubOrder,
    };

    use super::*;
    use crate::output::squeeze;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn an_accepted_command_says_how_to_read_it_back() {
        let answer = |aggregate_type: &str| Accepted {
            aggregate_type: Some(aggregate_type.into()),
            aggregate_id: id(7).to_string(),
            version: 4,
            read_with: None,
        };
        let receipt = accepted("Received 5 units", &answer("Inventory"));
        assert!(receipt.starts_with("Received 5 units (version 4)."));
        assert!(receipt.ends_with(&format!(
            "commerce products show {} --min-stock-version 4",
            id(7)
        )));
        assert!(accepted("x", &answer("Order")).contains("commerce orders show"));
        assert!(accepted("x", &answer("Cart")).contains("commerce cart show"));
        assert!(accepted("x", &answer("Vendor"))
            .ends_with(&format!("commerce vendors show {} --min-version 4", id(7))));
    }

    #[test]
    fn a_cart_shows_titles_line_totals_and_its_total() {
        let document = CartDocument {
            cart_id: id(1),
            customer_id: None,
            items: vec![
                CartItem {
                    product_id: id(2),
                    quantity: 2,
                    unit_price: Money::new(1999, "EUR"),
                },
                CartItem {
                    product_id: id(3),
                    quantity: 1,
                    unit_price: Money::new(500, "EUR"),
                },
            ],
            total: Some(Money::new(4498, "EUR")),
            status: Some("open".into()),
            version: 3,
        };
        let titles = HashMap::from([(id(2), "Organic cotton tee".to_owned())]);
        let shown = squeeze(&cart(&document, &titles));
        assert!(
            shown.contains("Organic cotton tee 2 19.99 EUR 39.98 EUR"),
            "{shown}"
        );
        assert!(shown.contains("(not in the catalog)"), "{shown}");
        assert!(shown.contains("Total: 44.98 EUR"), "{shown}");
    }

    #[test]
    fn an_order_shows_its_status_reason_lines_and_history() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .expect("time")
            .to_utc();
        let order_document = OrderDocument {
            order_id: id(1),
            customer_id: Some(id(9)),
            status: OrderStatus::Cancelled,
            lines: vec![OrderLine {
                product_id: id(2),
                vendor_id: id(5),
                quantity: 3,
                unit_price: Money::new(1000, "EUR"),
            }],
            total: Some(Money::new(3000, "EUR")),
            cancel_reason: Some(CancelReason::PaymentDeclined),
            tracking: None,
            sub_orders: vec![SubOrder {
                vendor_id: id(5),
                lines: Vec::new(),
                subtotal: Money::new(3000, "EUR"),
                status: OrderStatus::Cancelled,
                tracking: None,
            }],
            status_history: vec![
                StatusChange {
                    status: OrderStatus::Pending,
                    at,
                },
                StatusChange {
                    status: OrderStatus::Cancelled,
                    at,
                },
            ],
            shipping_address: None,
            returns: Vec::new(),
            version: 2,
        };
        let shown = squeeze(&order(
            &order_document,
            &HashMap::from([(id(2), "Mug".into())]),
        ));
        assert!(
            shown.contains("status: cancelled (payment_declined)"),
            "{shown}"
        );
        assert!(shown.contains("Mug 3 10.00 EUR 30.00 EUR"), "{shown}");
        assert!(shown.contains("2026-11-26 10:00:00 cancelled"), "{shown}");
        assert!(
            !shown.contains("Sub-orders:"),
            "one vendor's order has no sub-order block: {shown}"
        );
        assert!(!shown.contains("Returns:"), "{shown}");
        let listed = squeeze(&order_page(&OrderPage {
            items: vec![order_document],
            next_cursor: Some("abc".into()),
        }));
        assert!(
            listed.contains("cancelled 3 30.00 EUR 2026-11-26 10:00"),
            "{listed}"
        );
        assert!(listed.ends_with("More: add --cursor abc"), "{listed}");
    }

    fn line(product: u128, vendor: u128, minor: i64) -> OrderLine {
        OrderLine {
            product_id: id(product),
            vendor_id: id(vendor),
            quantity: 1,
            unit_price: Money::new(minor, "EUR"),
        }
    }

    #[test]
    fn an_order_of_several_vendors_lists_their_sub_orders_after_the_rest() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .expect("time")
            .to_utc();
        let sub_order =
            |vendor: u128, lines: Vec<OrderLine>, minor, status, tracking: &str| SubOrder {
                vendor_id: id(vendor),
                lines,
                subtotal: Money::new(minor, "EUR"),
                status,
                tracking: (!tracking.is_empty()).then(|| tracking.to_owned()),
            };
        let order_document = OrderDocument {
            order_id: id(1),
            customer_id: Some(id(9)),
            status: OrderStatus::PartiallyShipped,
            lines: vec![line(2, 5, 1999), line(3, 6, 2000)],
            total: Some(Money::new(3999, "EUR")),
            cancel_reason: None,
            tracking: Some("1Z 999 AA1".into()),
            sub_orders: vec![
                sub_order(
                    5,
                    vec![line(2, 5, 1999)],
                    1999,
                    OrderStatus::Shipped,
                    "1Z 999 AA1",
                ),
                sub_order(6, vec![line(3, 6, 2000)], 2000, OrderStatus::Confirmed, ""),
            ],
            status_history: vec![StatusChange {
                status: OrderStatus::PartiallyShipped,
                at,
            }],
            shipping_address: None,
            returns: Vec::new(),
            version: 4,
        };
        let shown = squeeze(&order(&order_document, &HashMap::new()));
        assert!(shown.contains("status: partially_shipped"), "{shown}");
        assert!(shown.contains("total: 39.99 EUR"), "{shown}");
        let (before, block) = shown.split_once("Sub-orders:").expect("a sub-order block");
        assert!(
            before.contains("2026-11-26 10:00:00 partially_shipped"),
            "{shown}"
        );
        assert!(
            block.contains(&format!("{} shipped 19.99 EUR 1Z 999 AA1", id(5))),
            "{shown}"
        );
        assert!(
            block.contains(&format!("{} confirmed 20.00 EUR", id(6))),
            "{shown}"
        );
        let listed = squeeze(&order_page(&OrderPage {
            items: vec![order_document],
            next_cursor: None,
        }));
        assert!(listed.contains("partially_shipped 2 39.99 EUR"), "{listed}");
    }

    #[test]
    fn a_sub_order_shows_its_status_tracking_the_orders_status_and_its_lines() {
        let view = SubOrderView {
            order_id: id(1),
            order_status: OrderStatus::PartiallyShipped,
            version: 5,
            vendor_id: id(5),
            lines: vec![line(2, 5, 1999)],
            subtotal: Money::new(1999, "EUR"),
            status: OrderStatus::Shipped,
            tracking: Some("1Z 999".into()),
        };
        let shown = squeeze(&sub_order(&view, &HashMap::from([(id(2), "Tee".into())])));
        assert!(
            shown.starts_with(&format!(
                "Sub-order of order {} for vendor {}",
                id(1),
                id(5)
            )),
            "{shown}"
        );
        for words in [
            "status: shipped",
            "subtotal: 19.99 EUR",
            "tracking: 1Z 999",
            "order: partially_shipped",
            "version: 5",
            "Tee 1 19.99 EUR 19.99 EUR",
        ] {
            assert!(shown.contains(words), "{words}: {shown}");
        }
    }

    #[test]
    fn an_order_lists_its_returns_with_status_units_refund_and_reason() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T09:00:00Z")
            .expect("time")
            .to_utc();
        let a_return = |n: u128, status, restock, reason: Option<&str>| OrderReturn {
            return_id: id(n),
            vendor_id: id(5),
            status,
            lines: vec![
                ReturnLine {
                    product_id: id(2),
                    quantity: 2,
                    refund: Money::new(3998, "EUR"),
                },
                ReturnLine {
                    product_id: id(3),
                    quantity: 1,
                    refund: Money::new(2000, "EUR"),
                },
            ],
            refund_total: Money::new(5998, "EUR"),
            restock,
            reason: reason.map(str::to_owned),
            requested_at: at,
            updated_at: at,
        };
        let order_document = OrderDocument {
            order_id: id(1),
            customer_id: Some(id(9)),
            status: OrderStatus::Shipped,
            lines: vec![line(2, 5, 1999), line(3, 5, 2000)],
            total: Some(Money::new(3999, "EUR")),
            cancel_reason: None,
            tracking: Some("1Z 999".into()),
            sub_orders: Vec::new(),
            status_history: Vec::new(),
            shipping_address: None,
            returns: vec![
                a_return(10, ReturnStatus::Refunded, true, Some("too small")),
                a_return(11, ReturnStatus::Rejected, false, Some("worn")),
                a_return(12, ReturnStatus::Requested, false, None),
            ],
            version: 9,
        };
        let shown = squeeze(&order(&order_document, &HashMap::new()));
        let (_, block) = shown.split_once("Returns:").expect("a returns block");
        for row in [
            format!(
                "{} {} refunded (restock) 3 59.98 EUR too small",
                id(10),
                id(5)
            ),
            format!("{} {} rejected 3 59.98 EUR worn", id(11), id(5)),
            format!("{} {} requested 3 59.98 EUR", id(12), id(5)),
        ] {
            assert!(block.contains(&row), "{row}: {shown}");
        }
        assert!(
            block.starts_with("\nRETURN VENDOR STATUS UNITS REFUND REASON"),
            "{shown}"
        );
    }

    #[test]
    fn a_requested_return_says_how_to_follow_it_and_how_the_vendor_decides() {
        let requested = ReturnRequested {
            return_id: id(10),
            accepted: Accepted {
                aggregate_type: Some("Order".into()),
                aggregate_id: id(1).to_string(),
                version: 6,
                read_with: Some("min_version".into()),
            },
        };
        let (order, returned) = (id(1), id(10));
        assert_eq!(
            return_requested(order, &requested),
            format!(
                "Requested return {returned} of order {order} (version 6); its vendor accepts \
                 or rejects it.\n\
                 Follow it: commerce orders show {order} --min-version 6\n\
                 The vendor: commerce orders accept-return {order} {returned} [--restock]\n            \
                 commerce orders reject-return {order} {returned} --reason <WHY>"
            )
        );
    }
}
