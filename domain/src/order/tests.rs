use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::commission::{CommissionRule, CommissionRules, LineCommission};
use crate::{
    Actor, AddressParts, Currency, CustomerId, DomainError, Money, OrderId, PaymentToken,
    ProductId, Quantity, ShippingAddress, TrackingNumber, VendorId,
};

type OrderTest = TestFramework<Order>;

fn order_id() -> OrderId {
    OrderId(Uuid::from_u128(1))
}
fn customer_id() -> CustomerId {
    CustomerId(Uuid::from_u128(2))
}
fn customer() -> Actor {
    Actor::Customer {
        customer_id: customer_id(),
    }
}
fn other_customer() -> Actor {
    Actor::Customer {
        customer_id: CustomerId(Uuid::from_u128(3)),
    }
}
fn vendor_a() -> VendorId {
    VendorId(Uuid::from_u128(10))
}
fn vendor_b() -> VendorId {
    VendorId(Uuid::from_u128(11))
}
fn as_vendor(vendor_id: VendorId) -> Actor {
    Actor::Vendor { vendor_id }
}
fn product(n: u128) -> ProductId {
    ProductId(Uuid::from_u128(100 + n))
}
fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
}
fn qty(n: u32) -> Quantity {
    Quantity::new(n).unwrap()
}
fn address() -> ShippingAddress {
    ShippingAddress::new(AddressParts {
        name: "Ada Lovelace",
        line1: "1 Main St",
        line2: None,
        city: "Springfield",
        region: Some("IL"),
        postal_code: "62701",
        country: "US",
    })
    .unwrap()
}
fn token() -> PaymentToken {
    PaymentToken::parse("tok_ok").unwrap()
}
fn tracking(code: &str) -> TrackingNumber {
    TrackingNumber::parse(code).unwrap()
}
fn line(n: u128, vendor_id: VendorId, quantity: u32, unit_price: Money) -> OrderLine {
    OrderLine {
        product_id: product(n),
        vendor_id,
        quantity: qty(quantity),
        unit_price,
    }
}
fn lines() -> Vec<OrderLine> {
    vec![
        line(1, vendor_a(), 2, eur(1000)),
        line(2, vendor_a(), 1, eur(500)),
    ]
}
fn priced_lines() -> Vec<PricedLine> {
    vec![
        PricedLine {
            product_id: product(1),
            vendor_id: vendor_a(),
            quantity: qty(2),
            unit_price: eur(1000),
            line_total: eur(2000),
        },
        PricedLine {
            product_id: product(2),
            vendor_id: vendor_a(),
            quantity: qty(1),
            unit_price: eur(500),
            line_total: eur(500),
        },
    ]
}
fn place(lines: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::PlaceOrder {
        order_id: order_id(),
        customer_id: customer_id(),
        lines,
        shipping_address: address(),
        payment_token: token(),
    }
}
fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        order_id: order_id(),
        customer_id: customer_id(),
        lines: priced_lines(),
        total: eur(2500),
        shipping_address: address(),
        payment_token: token(),
    }
}
fn confirmed() -> OrderEvent {
    OrderEvent::OrderConfirmed {
        order_id: order_id(),
        customer_id: customer_id(),
        lines: priced_lines(),
        total: eur(2500),
        // No rules set: nothing taken, but fixed all the same.
        commissions: priced_lines()
            .iter()
            .map(|l| LineCommission {
                product_id: l.product_id,
                vendor_id: l.vendor_id,
                commission_minor: 0,
            })
            .collect(),
    }
}
/// Confirming as `actor`, with no commission rules set.
fn confirm(actor: Actor) -> OrderCommand {
    OrderCommand::Confirm {
        actor,
        rules: CommissionRules::default(),
        categories: Default::default(),
    }
}
fn cancelled(reason: CancelReason, previous_status: OrderStatus) -> OrderEvent {
    OrderEvent::OrderCancelled {
        order_id: order_id(),
        customer_id: customer_id(),
        reason,
        previous_status,
        lines: priced_lines(),
        total: eur(2500),
    }
}
fn shipped(code: &str) -> OrderEvent {
    OrderEvent::OrderShipped {
        order_id: order_id(),
        customer_id: customer_id(),
        tracking: tracking(code),
    }
}
fn cancel(reason: CancelReason, actor: Actor) -> OrderCommand {
    OrderCommand::Cancel { reason, actor }
}
fn ship(code: &str, actor: Actor) -> OrderCommand {
    OrderCommand::Ship {
        tracking: tracking(code),
        vendor_id: None,
        actor,
    }
}
fn illegal(from: &'static str, to: &'static str) -> DomainError {
    DomainError::IllegalTransition {
        aggregate: "Order",
        from,
        to,
    }
}
fn not_owner() -> DomainError {
    DomainError::NotOwner {
        aggregate: "Order",
        id: order_id().to_string(),
    }
}

#[test]
fn placing_an_order_prices_its_lines_and_totals_them() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(place(lines()))
        .then_expect_events(vec![placed()]);
}

#[test]
fn placing_an_existing_order_conflicts() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(place(lines()))
        .then_expect_error(DomainError::AlreadyExists {
            aggregate: "Order",
            id: order_id().to_string(),
        });
}

#[test]
fn an_order_without_lines_is_refused() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(place(vec![]))
        .then_expect_error(DomainError::NoLines { aggregate: "Order" });
}

#[test]
fn an_order_naming_a_product_twice_is_refused() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(place(vec![
            line(1, vendor_a(), 1, eur(1000)),
            line(1, vendor_a(), 2, eur(1000)),
        ]))
        .then_expect_error(DomainError::DuplicateLine {
            product_id: product(1).to_string(),
        });
}

#[test]
fn an_order_mixing_currencies_is_refused() {
    let usd = Money::new(1000, Currency::parse("USD").unwrap()).unwrap();
    OrderTest::with(())
        .given_no_previous_events()
        .when(place(vec![
            line(1, vendor_a(), 1, eur(1000)),
            line(2, vendor_b(), 1, usd),
        ]))
        .then_expect_error(DomainError::CurrencyMismatch {
            expected: "EUR".into(),
            given: "USD".into(),
        });
}

#[test]
fn an_order_total_beyond_the_money_limit_is_refused() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(place(vec![line(
            1,
            vendor_a(),
            2,
            eur(Money::MAX_AMOUNT_MINOR),
        )]))
        .then_expect_error(DomainError::AmountTooLarge {
            max_minor: Money::MAX_AMOUNT_MINOR,
        });
}

#[test]
fn commands_on_an_unknown_order_are_not_found() {
    for command in [
        confirm(Actor::System),
        cancel(CancelReason::Admin, Actor::Admin),
        ship("TRK1", Actor::Admin),
    ] {
        OrderTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::NotFound { aggregate: "Order" });
    }
}

#[test]
fn the_saga_or_an_admin_confirms_a_pending_order() {
    for actor in [Actor::System, Actor::Admin] {
        OrderTest::with(())
            .given(vec![placed()])
            .when(confirm(actor))
            .then_expect_events(vec![confirmed()]);
    }
}

#[test]
fn customers_and_vendors_cannot_confirm_orders() {
    for actor in [customer(), as_vendor(vendor_a())] {
        OrderTest::with(())
            .given(vec![placed()])
            .when(confirm(actor))
            .then_expect_error(DomainError::NotPermitted {
                action: "confirm an order",
            });
    }
}

#[test]
fn confirming_a_confirmed_order_again_records_nothing() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(confirm(Actor::System))
        .then_expect_events(vec![]);
}

#[test]
fn shipped_or_cancelled_orders_cannot_be_confirmed() {
    OrderTest::with(())
        .given(vec![placed(), confirmed(), shipped("TRK1")])
        .when(confirm(Actor::Admin))
        .then_expect_error(illegal("shipped", "confirmed"));
    OrderTest::with(())
        .given(vec![
            placed(),
            cancelled(CancelReason::OutOfStock, OrderStatus::Pending),
        ])
        .when(confirm(Actor::System))
        .then_expect_error(illegal("cancelled", "confirmed"));
}

#[test]
fn the_saga_cancels_a_pending_order_with_its_reason() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(cancel(CancelReason::PaymentDeclined, Actor::System))
        .then_expect_events(vec![cancelled(
            CancelReason::PaymentDeclined,
            OrderStatus::Pending,
        )]);
}

#[test]
fn an_admin_cancels_a_confirmed_order() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(cancel(CancelReason::Admin, Actor::Admin))
        .then_expect_events(vec![cancelled(CancelReason::Admin, OrderStatus::Confirmed)]);
}

#[test]
fn a_customer_cancels_its_own_order_before_shipping() {
    for history in [vec![placed()], vec![placed(), confirmed()]] {
        let previous = if history.len() == 1 {
            OrderStatus::Pending
        } else {
            OrderStatus::Confirmed
        };
        OrderTest::with(())
            .given(history)
            .when(cancel(CancelReason::CustomerRequest, customer()))
            .then_expect_events(vec![cancelled(CancelReason::CustomerRequest, previous)]);
    }
}

#[test]
fn a_customer_cannot_cancel_someone_elses_order() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(cancel(CancelReason::CustomerRequest, other_customer()))
        .then_expect_error(not_owner());
}

#[test]
fn a_customer_cancels_only_for_customer_request() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(cancel(CancelReason::PaymentTimeout, customer()))
        .then_expect_error(DomainError::NotPermitted {
            action: "cancel an order for a reason other than customer_request",
        });
}

#[test]
fn a_vendor_cannot_cancel_an_order() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(cancel(CancelReason::OutOfStock, as_vendor(vendor_a())))
        .then_expect_error(DomainError::NotPermitted {
            action: "cancel an order",
        });
}

#[test]
fn a_shipped_order_cannot_be_cancelled_even_by_its_customer() {
    for (reason, actor) in [
        (CancelReason::CustomerRequest, customer()),
        (CancelReason::Admin, Actor::Admin),
    ] {
        OrderTest::with(())
            .given(vec![placed(), confirmed(), shipped("TRK1")])
            .when(cancel(reason, actor))
            .then_expect_error(illegal("shipped", "cancelled"));
    }
}

#[test]
fn cancelling_again_for_the_same_reason_records_nothing() {
    OrderTest::with(())
        .given(vec![
            placed(),
            cancelled(CancelReason::PaymentTimeout, OrderStatus::Pending),
        ])
        .when(cancel(CancelReason::PaymentTimeout, Actor::System))
        .then_expect_events(vec![]);
}

#[test]
fn cancelling_a_cancelled_order_for_another_reason_is_illegal() {
    OrderTest::with(())
        .given(vec![
            placed(),
            cancelled(CancelReason::PaymentTimeout, OrderStatus::Pending),
        ])
        .when(cancel(CancelReason::Admin, Actor::Admin))
        .then_expect_error(illegal("cancelled", "cancelled"));
}

#[test]
fn a_vendor_with_lines_in_the_order_ships_it() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(ship("TRK1", as_vendor(vendor_a())))
        .then_expect_events(vec![shipped("TRK1")]);
}

#[test]
fn an_admin_ships_any_confirmed_order() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(ship("TRK1", Actor::Admin))
        .then_expect_events(vec![shipped("TRK1")]);
}

#[test]
fn a_vendor_without_lines_in_the_order_cannot_ship_it() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(ship("TRK1", as_vendor(vendor_b())))
        .then_expect_error(not_owner());
}

#[test]
fn customers_and_the_saga_cannot_ship() {
    for actor in [customer(), Actor::System] {
        OrderTest::with(())
            .given(vec![placed(), confirmed()])
            .when(ship("TRK1", actor))
            .then_expect_error(DomainError::NotPermitted {
                action: "ship an order",
            });
    }
}

#[test]
fn only_a_confirmed_order_can_ship() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(ship("TRK1", Actor::Admin))
        .then_expect_error(illegal("pending", "shipped"));
    OrderTest::with(())
        .given(vec![
            placed(),
            cancelled(CancelReason::Admin, OrderStatus::Pending),
        ])
        .when(ship("TRK1", Actor::Admin))
        .then_expect_error(illegal("cancelled", "shipped"));
}

#[test]
fn shipping_again_with_the_same_tracking_records_nothing() {
    OrderTest::with(())
        .given(vec![placed(), confirmed(), shipped("TRK1")])
        .when(ship("TRK1", as_vendor(vendor_a())))
        .then_expect_events(vec![]);
}

#[test]
fn shipping_a_shipped_order_with_other_tracking_is_illegal() {
    OrderTest::with(())
        .given(vec![placed(), confirmed(), shipped("TRK1")])
        .when(ship("TRK2", Actor::Admin))
        .then_expect_error(illegal("shipped", "shipped"));
}

#[test]
fn cancel_reasons_and_statuses_serialise_in_snake_case() {
    let json =
        serde_json::to_value(cancelled(CancelReason::OutOfStock, OrderStatus::Confirmed)).unwrap();
    assert_eq!(json["type"], "OrderCancelled");
    assert_eq!(json["data"]["reason"], "out_of_stock");
    assert_eq!(json["data"]["previous_status"], "confirmed");
    for reason in [
        CancelReason::OutOfStock,
        CancelReason::PaymentDeclined,
        CancelReason::PaymentTimeout,
        CancelReason::CustomerRequest,
        CancelReason::Admin,
    ] {
        assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
    }
}

#[test]
fn events_round_trip_through_json_with_their_type_tag() {
    let json = serde_json::to_value(placed()).unwrap();
    assert_eq!(json["type"], "OrderPlaced");
    assert_eq!(json["data"]["total"]["amount_minor"], 2500);
    assert_eq!(
        json["data"]["lines"][1]["vendor_id"],
        vendor_a().to_string()
    );
    assert_eq!(
        serde_json::from_value::<OrderEvent>(json).unwrap(),
        placed()
    );
}

/// An `OrderPlaced` as stored before addresses had parts (1.0): the address is one string.
fn stored_order_placed_1_0() -> cqrs_es::persist::SerializedEvent {
    let mut payload = serde_json::to_value(placed()).unwrap();
    payload["data"]["shipping_address"] = serde_json::json!("1 Main St\nSpringfield");
    cqrs_es::persist::SerializedEvent::new(
        order_id().to_string(),
        1,
        "Order".into(),
        "OrderPlaced".into(),
        "1.0".into(),
        payload,
        serde_json::json!({}),
    )
}

#[test]
fn an_order_placed_with_a_free_text_address_is_upcast_with_the_text_in_line1() {
    let stored = stored_order_placed_1_0();
    let upcaster = order_upcasters()
        .into_iter()
        .find(|u| u.can_upcast(&stored.event_type, &stored.event_version))
        .expect("OrderPlaced 1.0 has an upcaster");
    let upcast = upcaster.upcast(stored);
    assert_eq!(upcast.event_version, "2.0.0");
    assert_eq!(
        upcast.payload["data"]["shipping_address"],
        serde_json::json!({"line1": "1 Main St\nSpringfield"})
    );
    let OrderEvent::OrderPlaced {
        shipping_address, ..
    } = serde_json::from_value(upcast.payload).unwrap()
    else {
        panic!("expected OrderPlaced");
    };
    assert_eq!(shipping_address.line1(), "1 Main St\nSpringfield");
    assert_eq!(shipping_address.country(), None);
}

#[test]
fn order_placed_is_written_as_2_0_and_not_upcast_again() {
    use cqrs_es::DomainEvent;
    assert_eq!(placed().event_version(), "2.0");
    let current = placed();
    assert!(!order_upcasters()
        .iter()
        .any(|u| u.can_upcast(&current.event_type(), &current.event_version())));
}

/// An order of three vendors: one line of vendor a (10.00), one of b (5.00), one of c (2.50).
fn vendor_c() -> VendorId {
    VendorId(Uuid::from_u128(12))
}
fn three_vendor_lines() -> Vec<PricedLine> {
    [
        (1, vendor_a(), 1000),
        (2, vendor_b(), 500),
        (3, vendor_c(), 250),
    ]
    .into_iter()
    .map(|(n, vendor_id, minor)| PricedLine {
        product_id: product(n),
        vendor_id,
        quantity: qty(1),
        unit_price: eur(minor),
        line_total: eur(minor),
    })
    .collect()
}
fn three_vendor_order() -> Vec<OrderEvent> {
    let lines = three_vendor_lines();
    vec![
        OrderEvent::OrderPlaced {
            order_id: order_id(),
            customer_id: customer_id(),
            lines: lines.clone(),
            total: eur(1750),
            shipping_address: address(),
            payment_token: token(),
        },
        OrderEvent::OrderConfirmed {
            order_id: order_id(),
            customer_id: customer_id(),
            lines,
            total: eur(1750),
            commissions: vec![],
        },
    ]
}
fn sub_order_shipped(vendor_id: VendorId, code: &str) -> OrderEvent {
    let lines: Vec<PricedLine> = three_vendor_lines()
        .into_iter()
        .filter(|l| l.vendor_id == vendor_id)
        .collect();
    let subtotal = lines[0].line_total.clone();
    OrderEvent::SubOrderShipped {
        order_id: order_id(),
        customer_id: customer_id(),
        vendor_id,
        tracking: tracking(code),
        lines,
        subtotal,
    }
}

#[test]
fn an_order_splits_into_one_sub_order_per_vendor_with_its_lines_and_subtotal() {
    let mut order = Order::default();
    for event in three_vendor_order() {
        cqrs_es::Aggregate::apply(&mut order, event);
    }
    let sub_orders = order.sub_orders();
    assert_eq!(
        sub_orders.iter().map(|s| s.vendor_id).collect::<Vec<_>>(),
        [vendor_a(), vendor_b(), vendor_c()]
    );
    assert_eq!(sub_orders[1].subtotal, eur(500));
    assert_eq!(sub_orders[1].lines.len(), 1);
    assert!(sub_orders
        .iter()
        .all(|s| s.status == OrderStatus::Confirmed));
}

#[test]
fn each_vendor_ships_its_own_sub_order_and_the_last_ships_the_order() {
    OrderTest::with(())
        .given(three_vendor_order())
        .when(ship("A-1", as_vendor(vendor_b())))
        .then_expect_events(vec![sub_order_shipped(vendor_b(), "A-1")]);
    let mut history = three_vendor_order();
    history.push(sub_order_shipped(vendor_b(), "B-1"));
    OrderTest::with(())
        .given(history.clone())
        .when(ship("A-1", as_vendor(vendor_a())))
        .then_expect_events(vec![sub_order_shipped(vendor_a(), "A-1")]);
    history.push(sub_order_shipped(vendor_a(), "A-1"));
    OrderTest::with(())
        .given(history.clone())
        .when(ship("C-1", as_vendor(vendor_c())))
        .then_expect_events(vec![shipped("C-1")]);
    // A shipped sub-order: the same tracking again is a retry, another is refused.
    OrderTest::with(())
        .given(history.clone())
        .when(ship("B-1", as_vendor(vendor_b())))
        .then_expect_events(vec![]);
    OrderTest::with(())
        .given(history)
        .when(ship("B-2", as_vendor(vendor_b())))
        .then_expect_error(illegal("shipped", "shipped"));
}

#[test]
fn the_status_is_partially_shipped_until_every_sub_order_ships() {
    let mut order = Order::default();
    for event in three_vendor_order() {
        cqrs_es::Aggregate::apply(&mut order, event);
    }
    cqrs_es::Aggregate::apply(&mut order, sub_order_shipped(vendor_a(), "A-1"));
    assert_eq!(order.status(), Some(OrderStatus::PartiallyShipped));
    cqrs_es::Aggregate::apply(&mut order, sub_order_shipped(vendor_b(), "B-1"));
    cqrs_es::Aggregate::apply(&mut order, shipped("C-1"));
    assert_eq!(order.status(), Some(OrderStatus::Shipped));
    let trackings: Vec<_> = order
        .sub_orders()
        .iter()
        .map(|s| s.tracking.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(
        trackings,
        [Some("A-1".into()), Some("B-1".into()), Some("C-1".into())]
    );
}

#[test]
fn a_vendor_ships_only_its_own_sub_order_and_an_admin_names_the_vendor() {
    OrderTest::with(())
        .given(three_vendor_order())
        .when(OrderCommand::Ship {
            tracking: tracking("X-1"),
            vendor_id: Some(vendor_b()),
            actor: as_vendor(vendor_a()),
        })
        .then_expect_error(not_owner());
    OrderTest::with(())
        .given(three_vendor_order())
        .when(ship("X-1", Actor::Admin))
        .then_expect_error(DomainError::VendorNotNamed {
            order_id: order_id().to_string(),
            vendors: 3,
        });
    OrderTest::with(())
        .given(three_vendor_order())
        .when(OrderCommand::Ship {
            tracking: tracking("X-1"),
            vendor_id: Some(VendorId(Uuid::from_u128(99))),
            actor: Actor::Admin,
        })
        .then_expect_error(DomainError::NoSubOrder {
            order_id: order_id().to_string(),
            vendor_id: Uuid::from_u128(99).to_string(),
        });
    OrderTest::with(())
        .given(three_vendor_order())
        .when(OrderCommand::Ship {
            tracking: tracking("X-1"),
            vendor_id: Some(vendor_c()),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![sub_order_shipped(vendor_c(), "X-1")]);
}

#[test]
fn cancelling_a_partially_shipped_order_cancels_only_its_open_sub_orders() {
    let mut history = three_vendor_order();
    history.push(sub_order_shipped(vendor_a(), "A-1"));
    let open: Vec<PricedLine> = three_vendor_lines()
        .into_iter()
        .filter(|l| l.vendor_id != vendor_a())
        .collect();
    OrderTest::with(())
        .given(history.clone())
        .when(cancel(CancelReason::CustomerRequest, customer()))
        .then_expect_events(vec![OrderEvent::OrderCancelled {
            order_id: order_id(),
            customer_id: customer_id(),
            reason: CancelReason::CustomerRequest,
            previous_status: OrderStatus::PartiallyShipped,
            lines: open,
            total: eur(750),
        }]);
    let mut order = Order::default();
    for event in history {
        cqrs_es::Aggregate::apply(&mut order, event);
    }
    cqrs_es::Aggregate::apply(
        &mut order,
        OrderEvent::OrderCancelled {
            order_id: order_id(),
            customer_id: customer_id(),
            reason: CancelReason::CustomerRequest,
            previous_status: OrderStatus::PartiallyShipped,
            lines: vec![],
            total: eur(750),
        },
    );
    let statuses: Vec<_> = order.sub_orders().iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::Shipped,
            OrderStatus::Cancelled,
            OrderStatus::Cancelled
        ]
    );
}

#[test]
fn confirming_fixes_each_lines_commission_under_the_rules_in_force() {
    let category = crate::Category::parse("books").unwrap();
    let rules = CommissionRules {
        default: CommissionRule::new("default", Some(1000), None, None, None).unwrap(),
        vendors: Default::default(),
        categories: [(
            category.clone(),
            CommissionRule::new("categories.books", Some(500), Some(10), None, None).unwrap(),
        )]
        .into(),
    };
    let mut expected = confirmed();
    if let OrderEvent::OrderConfirmed { commissions, .. } = &mut expected {
        // 5 % of 20.00 plus 0.10 for the book; 10 % of 5.00 for the other.
        commissions[0].commission_minor = 110;
        commissions[1].commission_minor = 50;
    }
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::Confirm {
            actor: Actor::System,
            rules,
            categories: [(product(1), category)].into(),
        })
        .then_expect_events(vec![expected]);
}

fn return_id(n: u128) -> crate::ReturnId {
    crate::ReturnId(Uuid::from_u128(500 + n))
}
fn request_return(n: u128, units: &[(u128, u32)], actor: Actor) -> OrderCommand {
    OrderCommand::RequestReturn {
        return_id: return_id(n),
        vendor_id: None,
        units: units.iter().map(|(p, q)| (product(*p), qty(*q))).collect(),
        reason: None,
        actor,
    }
}
fn return_requested(n: u128, units: &[(u128, u32, i64)]) -> OrderEvent {
    let lines: Vec<ReturnLine> = units
        .iter()
        .map(|(p, q, minor)| ReturnLine {
            product_id: product(*p),
            quantity: qty(*q),
            refund: eur(*minor),
        })
        .collect();
    OrderEvent::ReturnRequested {
        order_id: order_id(),
        customer_id: customer_id(),
        return_id: return_id(n),
        vendor_id: vendor_a(),
        refund_total: eur(units.iter().map(|u| u.2).sum()),
        lines,
        reason: None,
    }
}
fn shipped_order() -> Vec<OrderEvent> {
    vec![placed(), confirmed(), shipped("A-1")]
}

#[test]
fn a_customer_returns_units_of_a_shipped_sub_order_at_their_unit_price() {
    OrderTest::with(())
        .given(shipped_order())
        .when(request_return(1, &[(1, 1), (2, 1)], customer()))
        .then_expect_events(vec![return_requested(1, &[(1, 1, 1000), (2, 1, 500)])]);
    // Asked again under the same id: nothing more; other lines under it: refused.
    let mut history = shipped_order();
    history.push(return_requested(1, &[(1, 1, 1000)]));
    OrderTest::with(())
        .given(history.clone())
        .when(request_return(1, &[(1, 1)], customer()))
        .then_expect_events(vec![]);
    OrderTest::with(())
        .given(history)
        .when(request_return(1, &[(1, 2)], customer()))
        .then_expect_error(DomainError::ReturnIdTaken {
            return_id: return_id(1).to_string(),
        });
}

#[test]
fn only_shipped_units_not_held_by_another_return_may_be_returned_by_their_customer() {
    OrderTest::with(())
        .given(vec![placed(), confirmed()])
        .when(request_return(1, &[(1, 1)], customer()))
        .then_expect_error(DomainError::NotShipped {
            order_id: order_id().to_string(),
            vendor_id: vendor_a().to_string(),
        });
    OrderTest::with(())
        .given(shipped_order())
        .when(request_return(1, &[(1, 1)], other_customer()))
        .then_expect_error(not_owner());
    OrderTest::with(())
        .given(shipped_order())
        .when(request_return(1, &[(1, 1)], as_vendor(vendor_a())))
        .then_expect_error(DomainError::NotPermitted {
            action: "request a return",
        });
    let mut history = shipped_order();
    history.push(return_requested(1, &[(1, 1, 1000)]));
    OrderTest::with(())
        .given(history.clone())
        .when(request_return(2, &[(1, 2)], customer()))
        .then_expect_error(DomainError::ReturnExceedsSale {
            product_id: product(1).to_string(),
            left: 1,
            requested: 2,
        });
    // A rejected return frees its units.
    history.push(OrderEvent::ReturnRejected {
        order_id: order_id(),
        customer_id: customer_id(),
        return_id: return_id(1),
        vendor_id: vendor_a(),
        reason: crate::Reason::parse("worn").unwrap(),
    });
    OrderTest::with(())
        .given(history)
        .when(request_return(2, &[(1, 2)], customer()))
        .then_expect_events(vec![return_requested(2, &[(1, 2, 2000)])]);
}

#[test]
fn the_returns_vendor_accepts_it_the_saga_refunds_it_or_gives_up_on_it() {
    let mut history = shipped_order();
    history.push(return_requested(1, &[(2, 1, 500)]));
    let accept = |actor| OrderCommand::AcceptReturn {
        return_id: return_id(1),
        restock: true,
        actor,
    };
    OrderTest::with(())
        .given(history.clone())
        .when(accept(as_vendor(vendor_b())))
        .then_expect_error(not_owner());
    let accepted = OrderEvent::ReturnAccepted {
        order_id: order_id(),
        customer_id: customer_id(),
        return_id: return_id(1),
        vendor_id: vendor_a(),
        lines: vec![ReturnLine {
            product_id: product(2),
            quantity: qty(1),
            refund: eur(500),
        }],
        refund_total: eur(500),
        restock: true,
    };
    OrderTest::with(())
        .given(history.clone())
        .when(accept(as_vendor(vendor_a())))
        .then_expect_events(vec![accepted.clone()]);
    history.push(accepted);
    OrderTest::with(())
        .given(history.clone())
        .when(accept(Actor::Admin))
        .then_expect_events(vec![]);
    OrderTest::with(())
        .given(history.clone())
        .when(OrderCommand::CompleteReturn {
            return_id: return_id(1),
        })
        .then_expect_events(vec![OrderEvent::ReturnRefunded {
            order_id: order_id(),
            customer_id: customer_id(),
            return_id: return_id(1),
            vendor_id: vendor_a(),
            lines: vec![ReturnLine {
                product_id: product(2),
                quantity: qty(1),
                refund: eur(500),
            }],
            refund_total: eur(500),
        }]);
    let failed = OrderEvent::ReturnRefundFailed {
        order_id: order_id(),
        customer_id: customer_id(),
        return_id: return_id(1),
        vendor_id: vendor_a(),
        reason: "declined".into(),
    };
    OrderTest::with(())
        .given(history.clone())
        .when(OrderCommand::FailReturn {
            return_id: return_id(1),
            reason: "declined".into(),
        })
        .then_expect_events(vec![failed.clone()]);
    // A failed return frees its units; it cannot be refunded afterwards.
    history.push(failed);
    OrderTest::with(())
        .given(history.clone())
        .when(OrderCommand::CompleteReturn {
            return_id: return_id(1),
        })
        .then_expect_error(DomainError::IllegalTransition {
            aggregate: "Return",
            from: "refund_failed",
            to: "refunded",
        });
    OrderTest::with(())
        .given(history)
        .when(request_return(2, &[(2, 1)], customer()))
        .then_expect_events(vec![return_requested(2, &[(2, 1, 500)])]);
}
