use std::collections::BTreeMap;

use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{Actor, CustomerId, DomainError, OrderId, ProductId, Quantity, VendorId};

type InventoryTest = TestFramework<Inventory>;

fn product_id() -> ProductId {
    ProductId(Uuid::from_u128(1))
}
fn vendor() -> VendorId {
    VendorId(Uuid::from_u128(10))
}
fn other_vendor() -> VendorId {
    VendorId(Uuid::from_u128(11))
}
fn order(n: u128) -> OrderId {
    OrderId(Uuid::from_u128(100 + n))
}
fn owner() -> Actor {
    Actor::Vendor {
        vendor_id: vendor(),
    }
}
fn qty(n: u32) -> Quantity {
    Quantity::new(n).unwrap()
}
fn receive(quantity: u32, actor: Actor) -> InventoryCommand {
    InventoryCommand::ReceiveStock {
        product_id: product_id(),
        vendor_id: vendor(),
        quantity: qty(quantity),
        actor,
    }
}
fn received(quantity: u32, on_hand: u64, available: u64) -> InventoryEvent {
    InventoryEvent::StockReceived {
        product_id: product_id(),
        vendor_id: vendor(),
        quantity: qty(quantity),
        on_hand,
        available,
    }
}
fn reserved(order_no: u128, quantity: u32, on_hand: u64, available: u64) -> InventoryEvent {
    InventoryEvent::StockReserved {
        product_id: product_id(),
        vendor_id: vendor(),
        order_id: order(order_no),
        quantity: qty(quantity),
        on_hand,
        available,
    }
}
fn committed(order_no: u128, quantity: u32, on_hand: u64, available: u64) -> InventoryEvent {
    InventoryEvent::StockCommitted {
        product_id: product_id(),
        vendor_id: vendor(),
        order_id: order(order_no),
        quantity: qty(quantity),
        on_hand,
        available,
    }
}
fn released(order_no: u128, quantity: u32, on_hand: u64, available: u64) -> InventoryEvent {
    InventoryEvent::StockReleased {
        product_id: product_id(),
        vendor_id: vendor(),
        order_id: order(order_no),
        quantity: qty(quantity),
        on_hand,
        available,
    }
}
fn not_owner() -> DomainError {
    DomainError::NotOwner {
        aggregate: "Inventory",
        id: product_id().to_string(),
    }
}

#[test]
fn the_owning_vendor_receives_the_first_stock() {
    InventoryTest::with(())
        .given_no_previous_events()
        .when(receive(10, owner()))
        .then_expect_events(vec![received(10, 10, 10)]);
}

#[test]
fn an_admin_receives_stock_for_any_vendor() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10)])
        .when(receive(5, Actor::Admin))
        .then_expect_events(vec![received(5, 15, 15)]);
}

#[test]
fn receipts_add_to_what_is_on_hand_and_available() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10), reserved(1, 4, 10, 6)])
        .when(receive(5, owner()))
        .then_expect_events(vec![received(5, 15, 11)]);
}

#[test]
fn another_vendor_cannot_receive_stock() {
    let stranger = Actor::Vendor {
        vendor_id: other_vendor(),
    };
    InventoryTest::with(())
        .given_no_previous_events()
        .when(receive(10, stranger.clone()))
        .then_expect_error(not_owner());
    InventoryTest::with(())
        .given(vec![received(10, 10, 10)])
        .when(receive(10, stranger))
        .then_expect_error(not_owner());
}

#[test]
fn a_later_receipt_naming_another_vendor_is_refused_even_for_an_admin() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10)])
        .when(InventoryCommand::ReceiveStock {
            product_id: product_id(),
            vendor_id: other_vendor(),
            quantity: qty(1),
            actor: Actor::Admin,
        })
        .then_expect_error(not_owner());
}

#[test]
fn customers_and_the_system_cannot_receive_stock() {
    let customer = Actor::Customer {
        customer_id: CustomerId(Uuid::from_u128(20)),
    };
    for actor in [customer, Actor::System] {
        InventoryTest::with(())
            .given_no_previous_events()
            .when(receive(10, actor))
            .then_expect_error(not_owner());
    }
}

#[test]
fn stock_on_hand_is_bounded() {
    let receipts = Inventory::MAX_ON_HAND / u64::from(Quantity::MAX);
    let full: Vec<_> = (1..=receipts)
        .map(|n| {
            let on_hand = n * u64::from(Quantity::MAX);
            received(Quantity::MAX, on_hand, on_hand)
        })
        .collect();
    let error = InventoryTest::with(())
        .given(full)
        .when(receive(1, owner()))
        .inspect_result()
        .unwrap_err();
    assert!(matches!(error, DomainError::Invalid(ref e) if e.field == "quantity"));
}

#[test]
fn an_order_reserves_available_units() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10)])
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(4),
        })
        .then_expect_events(vec![reserved(1, 4, 10, 6)]);
}

#[test]
fn reserving_more_than_is_available_is_out_of_stock() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10), reserved(1, 8, 10, 2)])
        .when(InventoryCommand::Reserve {
            order_id: order(2),
            quantity: qty(3),
        })
        .then_expect_error(DomainError::OutOfStock {
            requested: 3,
            available: 2,
        });
}

#[test]
fn reserving_a_product_never_stocked_is_out_of_stock() {
    InventoryTest::with(())
        .given_no_previous_events()
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(1),
        })
        .then_expect_error(DomainError::OutOfStock {
            requested: 1,
            available: 0,
        });
}

#[test]
fn repeating_a_reservation_with_the_same_quantity_records_nothing() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10), reserved(1, 4, 10, 6)])
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(4),
        })
        .then_expect_events(vec![]);
}

#[test]
fn repeating_a_reservation_with_another_quantity_conflicts() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10), reserved(1, 4, 10, 6)])
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(5),
        })
        .then_expect_error(DomainError::ReservationConflict {
            order_id: order(1).to_string(),
            reserved: 4,
            requested: 5,
        });
}

#[test]
fn a_retried_reservation_after_the_sale_does_not_sell_twice() {
    let history = vec![
        received(10, 10, 10),
        reserved(1, 4, 10, 6),
        committed(1, 4, 6, 6),
    ];
    InventoryTest::with(())
        .given(history.clone())
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(4),
        })
        .then_expect_events(vec![]);
    InventoryTest::with(())
        .given(history)
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(2),
        })
        .then_expect_error(DomainError::ReservationConflict {
            order_id: order(1).to_string(),
            reserved: 4,
            requested: 2,
        });
}

#[test]
fn releasing_a_reservation_makes_its_units_available_again() {
    InventoryTest::with(())
        .given(vec![received(10, 10, 10), reserved(1, 4, 10, 6)])
        .when(InventoryCommand::Release { order_id: order(1) })
        .then_expect_events(vec![InventoryEvent::StockReleased {
            product_id: product_id(),
            vendor_id: vendor(),
            order_id: order(1),
            quantity: qty(4),
            on_hand: 10,
            available: 10,
        }]);
}

#[test]
fn committing_a_reservation_sells_its_units() {
    InventoryTest::with(())
        .given(vec![
            received(10, 10, 10),
            reserved(1, 4, 10, 6),
            reserved(2, 1, 10, 5),
        ])
        .when(InventoryCommand::Commit { order_id: order(1) })
        .then_expect_events(vec![committed(1, 4, 6, 5)]);
}

#[test]
fn releasing_or_committing_an_unknown_reservation_records_nothing() {
    for command in [
        InventoryCommand::Release { order_id: order(9) },
        InventoryCommand::Commit { order_id: order(9) },
    ] {
        InventoryTest::with(())
            .given(vec![received(10, 10, 10), reserved(1, 4, 10, 6)])
            .when(command.clone())
            .then_expect_events(vec![]);
        InventoryTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_events(vec![]);
    }
}

#[test]
fn a_sold_reservation_can_be_neither_released_nor_committed_again() {
    for command in [
        InventoryCommand::Release { order_id: order(1) },
        InventoryCommand::Commit { order_id: order(1) },
    ] {
        InventoryTest::with(())
            .given(vec![
                received(10, 10, 10),
                reserved(1, 4, 10, 6),
                committed(1, 4, 6, 6),
            ])
            .when(command)
            .then_expect_events(vec![]);
    }
}

#[test]
fn a_late_reservation_for_an_order_whose_units_were_given_back_holds_nothing() {
    InventoryTest::with(())
        .given(vec![
            received(10, 10, 10),
            reserved(1, 4, 10, 6),
            released(1, 4, 10, 10),
        ])
        .when(InventoryCommand::Reserve {
            order_id: order(1),
            quantity: qty(4),
        })
        .then_expect_events(vec![]);
}

#[test]
fn units_sold_to_a_cancelled_order_come_back_once() {
    let returned = InventoryEvent::StockReturned {
        product_id: product_id(),
        vendor_id: vendor(),
        order_id: order(1),
        quantity: qty(4),
        on_hand: 10,
        available: 9,
        return_id: None,
    };
    let sold = vec![
        received(10, 10, 10),
        reserved(1, 4, 10, 6),
        reserved(2, 1, 10, 5),
        committed(1, 4, 6, 5),
    ];
    InventoryTest::with(())
        .given(sold.clone())
        .when(InventoryCommand::ReturnSold { order_id: order(1) })
        .then_expect_events(vec![returned.clone()]);
    let mut again = sold.clone();
    again.push(returned);
    InventoryTest::with(())
        .given(again)
        .when(InventoryCommand::ReturnSold { order_id: order(1) })
        .then_expect_events(vec![]);
    for (order_no, why) in [(2, "held, not sold"), (9, "unknown")] {
        let mut inventory = Inventory::default();
        for event in sold.clone() {
            inventory.apply(event);
        }
        let decided = inventory
            .decide(InventoryCommand::ReturnSold {
                order_id: order(order_no),
            })
            .unwrap();
        assert_eq!(decided, None, "{why}");
    }
}

#[test]
fn a_snapshot_from_before_released_orders_were_kept_still_loads() {
    let old = serde_json::json!({"stock": {
        "product_id": product_id(), "vendor_id": vendor(), "on_hand": 10,
        "reservations": {}, "committed": {}
    }});
    let inventory: Inventory = serde_json::from_value(old).unwrap();
    assert_eq!(inventory.available(), 10);
}

#[test]
fn events_round_trip_through_json_with_their_type_tag() {
    let event = reserved(1, 4, 10, 6);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "StockReserved");
    assert_eq!(json["data"]["available"], 6);
    assert_eq!(
        serde_json::from_value::<InventoryEvent>(json).unwrap(),
        event
    );
}

#[test]
fn a_snapshot_with_reservations_round_trips_through_json() {
    let mut inventory = Inventory::default();
    for event in [
        received(10, 10, 10),
        reserved(1, 4, 10, 6),
        committed(1, 4, 6, 6),
        reserved(2, 1, 6, 5),
    ] {
        inventory.apply(event);
    }
    let json = serde_json::to_string(&inventory).unwrap();
    assert_eq!(serde_json::from_str::<Inventory>(&json).unwrap(), inventory);
}

fn any_command() -> impl Strategy<Value = InventoryCommand> {
    let order_id = (0u128..5).prop_map(order);
    let quantity = (1u32..30).prop_map(qty);
    prop_oneof![
        quantity.clone().prop_map(|q| receive(q.get(), owner())),
        (order_id.clone(), quantity)
            .prop_map(|(order_id, quantity)| InventoryCommand::Reserve { order_id, quantity }),
        order_id
            .clone()
            .prop_map(|order_id| InventoryCommand::Release { order_id }),
        order_id
            .clone()
            .prop_map(|order_id| InventoryCommand::Commit { order_id }),
        order_id.prop_map(|order_id| InventoryCommand::ReturnSold { order_id }),
    ]
}

fn resulting_counts(event: &InventoryEvent) -> (u64, u64) {
    match event {
        InventoryEvent::StockReceived {
            on_hand, available, ..
        }
        | InventoryEvent::StockReserved {
            on_hand, available, ..
        }
        | InventoryEvent::StockReleased {
            on_hand, available, ..
        }
        | InventoryEvent::StockCommitted {
            on_hand, available, ..
        }
        | InventoryEvent::StockReturned {
            on_hand, available, ..
        } => (*on_hand, *available),
    }
}

proptest! {
    #[test]
    fn no_command_sequence_oversells_or_counts_a_reservation_twice(
        commands in proptest::collection::vec(any_command(), 0..60)
    ) {
        let mut inventory = Inventory::default();
        // Units each order has taken out of stock (held or sold), as the events tell it.
        let mut taken: BTreeMap<OrderId, u32> = BTreeMap::new();
        for command in commands {
            let Ok(Some(event)) = inventory.decide(command) else { continue };
            match &event {
                InventoryEvent::StockReserved { order_id, quantity, .. } => {
                    prop_assert!(!taken.contains_key(order_id), "{order_id} reserved twice");
                    taken.insert(*order_id, quantity.get());
                }
                InventoryEvent::StockReleased { order_id, .. } => {
                    taken.remove(order_id);
                }
                _ => {}
            }
            let counts = resulting_counts(&event);
            inventory.apply(event);
            prop_assert_eq!(counts, (inventory.on_hand(), inventory.available()));
            let reserved: u64 = inventory.reservations().map(|(_, q)| u64::from(q.get())).sum();
            prop_assert!(reserved <= inventory.on_hand());
            prop_assert_eq!(inventory.available(), inventory.on_hand() - reserved);
        }
    }
}

#[test]
fn units_a_customer_returns_come_back_once_per_return_and_never_more_than_were_bought() {
    let return_id = |n: u128| crate::ReturnId(uuid::Uuid::from_u128(900 + n));
    let sold = vec![
        received(10, 10, 10),
        reserved(1, 4, 10, 6),
        committed(1, 4, 6, 6),
    ];
    let back = |n, units, on_hand, available| InventoryEvent::StockReturned {
        product_id: product_id(),
        vendor_id: vendor(),
        order_id: order(1),
        quantity: qty(units),
        on_hand,
        available,
        return_id: Some(return_id(n)),
    };
    let restock = |n, units| InventoryCommand::Restock {
        order_id: order(1),
        return_id: return_id(n),
        quantity: qty(units),
    };
    InventoryTest::with(())
        .given(sold.clone())
        .when(restock(1, 3))
        .then_expect_events(vec![back(1, 3, 9, 9)]);
    let mut history = sold;
    history.push(back(1, 3, 9, 9));
    InventoryTest::with(())
        .given(history.clone())
        .when(restock(1, 3))
        .then_expect_events(vec![]);
    // Only one of the four bought is left to come back.
    InventoryTest::with(())
        .given(history)
        .when(restock(2, 3))
        .then_expect_events(vec![back(2, 1, 10, 10)]);
}
