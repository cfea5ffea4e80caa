use std::collections::BTreeMap;

use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::order::{OrderLine, PricedLine};
use crate::{
    AddressParts, CartId, Currency, CustomerId, DomainError, Money, OrderId, PaymentToken,
    ProductId, Quantity, ShippingAddress, VendorId,
};

type CartTest = TestFramework<Cart>;

fn cart_id() -> CartId {
    CartId(Uuid::from_u128(1))
}
fn customer() -> CustomerId {
    CustomerId(Uuid::from_u128(2))
}
fn stranger() -> CustomerId {
    CustomerId(Uuid::from_u128(3))
}
fn product(n: u128) -> ProductId {
    ProductId(Uuid::from_u128(100 + n))
}
fn vendor() -> VendorId {
    VendorId(Uuid::from_u128(10))
}
fn order_id() -> OrderId {
    OrderId(Uuid::from_u128(50))
}
fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
}
fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("USD").unwrap()).unwrap()
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
fn created() -> CartEvent {
    CartEvent::CartCreated {
        cart_id: cart_id(),
        customer_id: customer(),
    }
}
fn added(n: u128, quantity: u32, unit_price: Money) -> CartEvent {
    CartEvent::ItemAddedToCart {
        cart_id: cart_id(),
        product_id: product(n),
        vendor_id: vendor(),
        quantity: qty(quantity),
        unit_price,
    }
}
fn add(n: u128, quantity: u32, unit_price: Money) -> CartCommand {
    CartCommand::AddItem {
        customer_id: customer(),
        product_id: product(n),
        vendor_id: vendor(),
        unit_price,
        published: true,
        quantity: qty(quantity),
    }
}
fn change(n: u128, quantity: u32) -> CartCommand {
    CartCommand::ChangeQuantity {
        customer_id: customer(),
        product_id: product(n),
        quantity,
    }
}
fn remove(n: u128) -> CartCommand {
    CartCommand::RemoveItem {
        customer_id: customer(),
        product_id: product(n),
    }
}
fn removed(n: u128) -> CartEvent {
    CartEvent::ItemRemovedFromCart {
        cart_id: cart_id(),
        product_id: product(n),
    }
}
fn checkout() -> CartCommand {
    CartCommand::Checkout {
        customer_id: customer(),
        order_id: order_id(),
        shipping_address: address(),
        payment_token: token(),
        current_prices: BTreeMap::new(),
    }
}
fn priced(n: u128, quantity: u32, unit: i64) -> PricedLine {
    PricedLine {
        product_id: product(n),
        vendor_id: vendor(),
        quantity: qty(quantity),
        unit_price: eur(unit),
        line_total: eur(unit * i64::from(quantity)),
    }
}
fn checked_out() -> CartEvent {
    CartEvent::CartCheckedOut {
        cart_id: cart_id(),
        customer_id: customer(),
        order_id: order_id(),
        lines: vec![priced(1, 2, 1000)],
        total: eur(2000),
        shipping_address: address(),
        payment_token: token(),
    }
}

#[test]
fn a_customer_creates_an_empty_cart() {
    CartTest::with(())
        .given_no_previous_events()
        .when(CartCommand::CreateCart {
            cart_id: cart_id(),
            customer_id: customer(),
        })
        .then_expect_events(vec![created()]);
}

#[test]
fn creating_an_existing_cart_conflicts() {
    CartTest::with(())
        .given(vec![created()])
        .when(CartCommand::CreateCart {
            cart_id: cart_id(),
            customer_id: customer(),
        })
        .then_expect_error(DomainError::AlreadyExists {
            aggregate: "Cart",
            id: cart_id().to_string(),
        });
}

#[test]
fn commands_on_an_unknown_cart_are_not_found() {
    for command in [add(1, 1, eur(1000)), change(1, 2), remove(1), checkout()] {
        CartTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::NotFound { aggregate: "Cart" });
    }
}

#[test]
fn a_published_product_is_added_at_its_current_price() {
    CartTest::with(())
        .given(vec![created()])
        .when(add(1, 2, eur(1000)))
        .then_expect_events(vec![added(1, 2, eur(1000))]);
}

#[test]
fn an_unpublished_product_cannot_be_added() {
    CartTest::with(())
        .given(vec![created()])
        .when(CartCommand::AddItem {
            customer_id: customer(),
            product_id: product(1),
            vendor_id: vendor(),
            unit_price: eur(1000),
            published: false,
            quantity: qty(1),
        })
        .then_expect_error(DomainError::ProductNotAvailable {
            product_id: product(1).to_string(),
        });
}

#[test]
fn adding_a_product_again_sums_the_line_and_takes_the_new_price() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(add(1, 3, eur(900)))
        .then_expect_events(vec![added(1, 5, eur(900))]);
}

#[test]
fn a_line_holds_at_most_99_units_also_when_added_up() {
    CartTest::with(())
        .given(vec![created()])
        .when(add(1, 100, eur(1000)))
        .then_expect_error(DomainError::LineQuantityLimit {
            max: 99,
            requested: 100,
        });
    CartTest::with(())
        .given(vec![created(), added(1, 90, eur(1000))])
        .when(add(1, 10, eur(1000)))
        .then_expect_error(DomainError::LineQuantityLimit {
            max: 99,
            requested: 100,
        });
}

#[test]
fn a_cart_holds_at_most_100_lines_but_a_full_cart_still_takes_more_of_a_product_it_holds() {
    let full: Vec<CartEvent> = std::iter::once(created())
        .chain((1..=100).map(|n| added(n, 1, eur(100))))
        .collect();
    CartTest::with(())
        .given(full.clone())
        .when(add(101, 1, eur(100)))
        .then_expect_error(DomainError::CartLineLimit { max: 100 });
    CartTest::with(())
        .given(full)
        .when(add(100, 1, eur(100)))
        .then_expect_events(vec![added(100, 2, eur(100))]);
}

#[test]
fn a_product_priced_in_another_currency_cannot_join_the_cart() {
    CartTest::with(())
        .given(vec![created(), added(1, 1, eur(1000))])
        .when(add(2, 1, usd(1000)))
        .then_expect_error(DomainError::CurrencyMismatch {
            expected: "EUR".into(),
            given: "USD".into(),
        });
}

#[test]
fn a_cart_total_beyond_the_money_limit_is_refused() {
    CartTest::with(())
        .given(vec![created(), added(1, 1, eur(Money::MAX_AMOUNT_MINOR))])
        .when(add(2, 1, eur(1)))
        .then_expect_error(DomainError::AmountTooLarge {
            max_minor: Money::MAX_AMOUNT_MINOR,
        });
    CartTest::with(())
        .given(vec![created(), added(1, 1, eur(Money::MAX_AMOUNT_MINOR))])
        .when(change(1, 2))
        .then_expect_error(DomainError::AmountTooLarge {
            max_minor: Money::MAX_AMOUNT_MINOR,
        });
}

#[test]
fn changing_a_quantity_sets_the_line_to_it() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(change(1, 7))
        .then_expect_events(vec![CartEvent::CartItemQuantityChanged {
            cart_id: cart_id(),
            product_id: product(1),
            quantity: qty(7),
        }]);
}

#[test]
fn changing_to_the_same_quantity_records_nothing() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(change(1, 2))
        .then_expect_events(vec![]);
}

#[test]
fn changing_a_quantity_above_the_line_maximum_is_refused() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(change(1, 100))
        .then_expect_error(DomainError::LineQuantityLimit {
            max: 99,
            requested: 100,
        });
}

#[test]
fn changing_the_quantity_of_a_product_not_in_the_cart_is_not_found() {
    CartTest::with(())
        .given(vec![created()])
        .when(change(1, 2))
        .then_expect_error(DomainError::NotInCart {
            product_id: product(1).to_string(),
        });
}

#[test]
fn changing_a_quantity_to_zero_removes_the_line() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(change(1, 0))
        .then_expect_events(vec![removed(1)]);
}

#[test]
fn removing_a_line_records_its_removal() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(remove(1))
        .then_expect_events(vec![removed(1)]);
}

#[test]
fn removing_a_product_not_in_the_cart_records_nothing() {
    for command in [remove(1), change(1, 0)] {
        CartTest::with(())
            .given(vec![created()])
            .when(command)
            .then_expect_events(vec![]);
    }
}

#[test]
fn checkout_hands_the_priced_lines_and_total_to_the_order() {
    CartTest::with(())
        .given(vec![
            created(),
            added(1, 2, eur(1000)),
            added(2, 3, eur(250)),
        ])
        .when(checkout())
        .then_expect_events(vec![CartEvent::CartCheckedOut {
            cart_id: cart_id(),
            customer_id: customer(),
            order_id: order_id(),
            lines: vec![priced(1, 2, 1000), priced(2, 3, 250)],
            total: eur(2750),
            shipping_address: address(),
            payment_token: token(),
        }]);
}

#[test]
fn an_empty_cart_cannot_check_out() {
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000)), removed(1)])
        .when(checkout())
        .then_expect_error(DomainError::NoLines { aggregate: "Cart" });
}

#[test]
fn a_checked_out_cart_accepts_nothing_more() {
    for command in [add(2, 1, eur(1000)), change(1, 3), remove(1), checkout()] {
        CartTest::with(())
            .given(vec![created(), added(1, 2, eur(1000)), checked_out()])
            .when(command)
            .then_expect_error(DomainError::CartCheckedOut {
                id: cart_id().to_string(),
            });
    }
}

#[test]
fn only_the_carts_customer_may_act_on_it() {
    let as_stranger = [
        CartCommand::AddItem {
            customer_id: stranger(),
            product_id: product(1),
            vendor_id: vendor(),
            unit_price: eur(1000),
            published: true,
            quantity: qty(1),
        },
        CartCommand::ChangeQuantity {
            customer_id: stranger(),
            product_id: product(1),
            quantity: 3,
        },
        CartCommand::RemoveItem {
            customer_id: stranger(),
            product_id: product(1),
        },
        CartCommand::Checkout {
            customer_id: stranger(),
            order_id: order_id(),
            shipping_address: address(),
            payment_token: token(),
            current_prices: BTreeMap::new(),
        },
    ];
    for command in as_stranger {
        CartTest::with(())
            .given(vec![created(), added(1, 2, eur(1000))])
            .when(command)
            .then_expect_error(DomainError::NotOwner {
                aggregate: "Cart",
                id: cart_id().to_string(),
            });
    }
}

#[test]
fn events_round_trip_through_json_with_their_type_tag() {
    let event = checked_out();
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "CartCheckedOut");
    assert_eq!(json["data"]["total"]["amount_minor"], 2000);
    assert_eq!(json["data"]["lines"][0]["line_total"]["amount_minor"], 2000);
    assert_eq!(serde_json::from_value::<CartEvent>(json).unwrap(), event);
}

#[test]
fn the_total_is_the_sum_of_the_lines() {
    let mut cart = Cart::default();
    assert_eq!(cart.total(), Ok(None));
    for event in [created(), added(1, 2, eur(1000)), added(2, 3, eur(250))] {
        cart.apply(event);
    }
    assert_eq!(cart.total(), Ok(Some(eur(2750))));
    assert_eq!(
        cart.lines()[1],
        OrderLine {
            product_id: product(2),
            vendor_id: vendor(),
            quantity: qty(3),
            unit_price: eur(250),
        }
    );
}

fn any_command() -> impl Strategy<Value = CartCommand> {
    let product_no = 0u128..4;
    let price = prop_oneof![
        4 => (1i64..5_000).prop_map(eur),
        1 => (1i64..5_000).prop_map(usd),
        1 => Just(eur(Money::MAX_AMOUNT_MINOR / 50)),
    ];
    prop_oneof![
        4 => (product_no.clone(), 1u32..60, price, prop::bool::weighted(0.8), prop::bool::weighted(0.8)).prop_map(
            |(n, quantity, unit_price, published, by_owner)| CartCommand::AddItem {
                customer_id: if by_owner { customer() } else { stranger() },
                product_id: product(n),
                vendor_id: vendor(),
                unit_price,
                published,
                quantity: qty(quantity),
            }
        ),
        3 => (product_no.clone(), 0u32..120).prop_map(|(n, quantity)| change(n, quantity)),
        1 => product_no.prop_map(remove),
        1 => Just(checkout()),
    ]
}

proptest! {
    #[test]
    fn the_total_always_equals_the_sum_of_the_lines(
        commands in proptest::collection::vec(any_command(), 0..40)
    ) {
        let mut cart = Cart::default();
        cart.apply(created());
        for command in commands {
            if let Ok(Some(event)) = cart.decide(command) {
                cart.apply(event);
            }
            let lines = cart.lines();
            let expected: i128 = lines
                .iter()
                .map(|l| i128::from(l.unit_price.amount_minor) * i128::from(l.quantity.get()))
                .sum();
            let total = cart.total();
            prop_assert!(total.is_ok(), "{total:?}");
            let total_minor = total.unwrap().map_or(0, |t| i128::from(t.amount_minor));
            prop_assert_eq!(total_minor, expected);
            prop_assert!(lines.iter().all(|l| l.quantity.get() <= Cart::MAX_LINE_QUANTITY));
            for (i, line) in lines.iter().enumerate() {
                prop_assert!(lines[..i].iter().all(|l| l.product_id != line.product_id));
            }
        }
    }
}

#[test]
fn checkout_takes_each_products_current_price() {
    let CartCommand::Checkout {
        customer_id,
        order_id,
        shipping_address,
        payment_token,
        ..
    } = checkout()
    else {
        unreachable!()
    };
    let command = CartCommand::Checkout {
        customer_id,
        order_id,
        shipping_address,
        payment_token,
        current_prices: BTreeMap::from([(product(1), Some(eur(1200)))]),
    };
    let result = CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(command)
        .inspect_result()
        .expect("checked out");
    let Some(CartEvent::CartCheckedOut { lines, total, .. }) = result.first() else {
        panic!("expected CartCheckedOut, got {result:?}");
    };
    assert_eq!(lines[0].unit_price, eur(1200));
    assert_eq!(*total, eur(2400));
}

#[test]
fn checkout_is_refused_when_a_product_is_no_longer_available() {
    let CartCommand::Checkout {
        customer_id,
        order_id,
        shipping_address,
        payment_token,
        ..
    } = checkout()
    else {
        unreachable!()
    };
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000))])
        .when(CartCommand::Checkout {
            customer_id,
            order_id,
            shipping_address,
            payment_token,
            current_prices: BTreeMap::from([(product(1), None)]),
        })
        .then_expect_error(DomainError::ProductNotAvailable {
            product_id: product(1).to_string(),
        });
}

#[test]
fn a_cart_checked_out_with_a_free_text_address_is_upcast_and_still_checked_out() {
    use cqrs_es::persist::SerializedEvent;
    let mut payload = serde_json::to_value(checked_out()).unwrap();
    payload["data"]["shipping_address"] = serde_json::json!("1 Main St, Springfield");
    let stored = SerializedEvent::new(
        cart_id().to_string(),
        2,
        "Cart".into(),
        "CartCheckedOut".into(),
        "1.0".into(),
        payload,
        serde_json::json!({}),
    );
    let upcaster = cart_upcasters()
        .into_iter()
        .find(|u| u.can_upcast(&stored.event_type, &stored.event_version))
        .expect("CartCheckedOut 1.0 has an upcaster");
    let upcast = upcaster.upcast(stored);
    assert_eq!(upcast.event_version, "2.0.0");
    let event: CartEvent = serde_json::from_value(upcast.payload).unwrap();
    let CartEvent::CartCheckedOut {
        shipping_address, ..
    } = &event
    else {
        panic!("expected CartCheckedOut, got {event:?}");
    };
    assert_eq!(shipping_address.line1(), "1 Main St, Springfield");
    CartTest::with(())
        .given(vec![created(), added(1, 2, eur(1000)), event])
        .when(add(1, 1, eur(1000)))
        .then_expect_error(DomainError::CartCheckedOut {
            id: cart_id().to_string(),
        });
}

#[test]
fn only_cart_checked_out_moved_to_version_2_0() {
    use cqrs_es::DomainEvent;
    assert_eq!(
        checked_out().event_version(),
        CartEvent::CHECKED_OUT_VERSION
    );
    assert_eq!(created().event_version(), CartEvent::VERSION);
}
