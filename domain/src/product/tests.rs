use cqrs_es::persist::SerializedEvent;
use cqrs_es::test::TestFramework;
use cqrs_es::EventEnvelope;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::vendor::VendorStatus;
use crate::{
    Actor, Category, Currency, CustomerId, Description, DomainError, Money, ProductId, Sku, Title,
    VendorId,
};

type ProductTest = TestFramework<Product>;

fn product_id() -> ProductId {
    ProductId(Uuid::from_u128(1))
}
fn vendor() -> VendorId {
    VendorId(Uuid::from_u128(10))
}
fn other_vendor() -> VendorId {
    VendorId(Uuid::from_u128(11))
}
fn owner() -> Actor {
    Actor::Vendor {
        vendor_id: vendor(),
    }
}
fn stranger() -> Actor {
    Actor::Vendor {
        vendor_id: other_vendor(),
    }
}
fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
}
fn details() -> ProductDetails {
    ProductDetails {
        sku: Sku::parse("TEE-001").unwrap(),
        title: Title::parse("Organic tee").unwrap(),
        description: Description::parse("Soft.").unwrap(),
        category: Category::parse("apparel").unwrap(),
        price: eur(1999),
    }
}
fn created() -> ProductEvent {
    let d = details();
    ProductEvent::ProductCreated {
        product_id: product_id(),
        vendor_id: vendor(),
        sku: d.sku,
        title: d.title,
        description: d.description,
        category: d.category,
        price: d.price,
    }
}
fn published() -> ProductEvent {
    ProductEvent::ProductPublished {
        product_id: product_id(),
    }
}
fn create(actor: Actor) -> ProductCommand {
    ProductCommand::CreateProduct {
        product_id: product_id(),
        vendor_id: vendor(),
        details: details(),
        vendor_status: Some(VendorStatus::Approved),
        actor,
    }
}

/// Publishing as `actor` while the vendor is approved.
fn publish(actor: Actor) -> ProductCommand {
    ProductCommand::Publish {
        vendor_status: Some(VendorStatus::Approved),
        actor,
    }
}

#[test]
fn a_vendor_creates_its_product_unpublished() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(create(owner()))
        .then_expect_events(vec![created()]);
}

#[test]
fn an_admin_creates_a_product_for_any_vendor() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(create(Actor::Admin))
        .then_expect_events(vec![created()]);
}

#[test]
fn a_vendor_cannot_create_a_product_for_another_vendor() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(create(stranger()))
        .then_expect_error(DomainError::NotOwner {
            aggregate: "Vendor",
            id: vendor().to_string(),
        });
}

#[test]
fn creating_an_existing_product_conflicts() {
    ProductTest::with(())
        .given(vec![created()])
        .when(create(owner()))
        .then_expect_error(DomainError::AlreadyExists {
            aggregate: "Product",
            id: product_id().to_string(),
        });
}

#[test]
fn the_owner_changes_the_price() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangePrice {
            price: eur(2499),
            actor: owner(),
        })
        .then_expect_events(vec![ProductEvent::ProductPriceChanged {
            product_id: product_id(),
            previous_price: eur(1999),
            price: eur(2499),
        }]);
}

#[test]
fn setting_the_same_price_records_nothing() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangePrice {
            price: eur(1999),
            actor: owner(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_price_in_another_currency_is_refused() {
    let usd = Money::new(1999, Currency::parse("USD").unwrap()).unwrap();
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangePrice {
            price: usd,
            actor: owner(),
        })
        .then_expect_error(DomainError::CurrencyMismatch {
            expected: "EUR".into(),
            given: "USD".into(),
        });
}

#[test]
fn another_vendor_cannot_change_the_price() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangePrice {
            price: eur(1),
            actor: stranger(),
        })
        .then_expect_error(DomainError::NotOwner {
            aggregate: "Product",
            id: product_id().to_string(),
        });
}

#[test]
fn commands_on_an_unknown_product_are_not_found() {
    for command in [
        ProductCommand::ChangePrice {
            price: eur(1),
            actor: owner(),
        },
        publish(owner()),
        ProductCommand::Unpublish { actor: owner() },
    ] {
        ProductTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::NotFound {
                aggregate: "Product",
            });
    }
}

#[test]
fn the_owner_publishes_and_unpublishes() {
    ProductTest::with(())
        .given(vec![created()])
        .when(publish(owner()))
        .then_expect_events(vec![published()]);
    ProductTest::with(())
        .given(vec![created(), published()])
        .when(ProductCommand::Unpublish { actor: owner() })
        .then_expect_events(vec![ProductEvent::ProductUnpublished {
            product_id: product_id(),
        }]);
}

#[test]
fn publishing_twice_or_unpublishing_a_hidden_product_records_nothing() {
    ProductTest::with(())
        .given(vec![created(), published()])
        .when(publish(owner()))
        .then_expect_events(vec![]);
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::Unpublish { actor: owner() })
        .then_expect_events(vec![]);
}

#[test]
fn another_vendor_cannot_publish_or_unpublish() {
    for command in [
        publish(stranger()),
        ProductCommand::Unpublish { actor: stranger() },
    ] {
        ProductTest::with(())
            .given(vec![created(), published()])
            .when(command)
            .then_expect_error(DomainError::NotOwner {
                aggregate: "Product",
                id: product_id().to_string(),
            });
    }
}

#[test]
fn only_an_approved_vendor_lists_and_publishes() {
    for (status, named) in [
        (None, "not registered"),
        (Some(VendorStatus::Pending), "pending"),
        (Some(VendorStatus::Suspended), "suspended"),
    ] {
        let refusal = DomainError::VendorMayNotSell {
            vendor_id: vendor().to_string(),
            status: named,
        };
        ProductTest::with(())
            .given_no_previous_events()
            .when(ProductCommand::CreateProduct {
                product_id: product_id(),
                vendor_id: vendor(),
                details: details(),
                vendor_status: status,
                actor: owner(),
            })
            .then_expect_error(refusal.clone());
        ProductTest::with(())
            .given(vec![created()])
            .when(ProductCommand::Publish {
                vendor_status: status,
                actor: owner(),
            })
            .then_expect_error(refusal);
        // What it already sells stays as it is until it hides it; the catalog hides a
        // suspended vendor's products on its own.
        ProductTest::with(())
            .given(vec![created(), published()])
            .when(ProductCommand::Unpublish { actor: owner() })
            .then_expect_events(vec![ProductEvent::ProductUnpublished {
                product_id: product_id(),
            }]);
    }
}

#[test]
fn events_round_trip_through_json_with_their_type_tag() {
    let json = serde_json::to_value(created()).unwrap();
    assert_eq!(json["type"], "ProductCreated");
    assert_eq!(json["data"]["price"]["amount_minor"], 1999);
    let back: ProductEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, created());
}

#[test]
fn customers_and_the_system_cannot_act_on_products() {
    let customer = Actor::Customer {
        customer_id: CustomerId(Uuid::from_u128(20)),
    };
    for actor in [customer, Actor::System] {
        ProductTest::with(())
            .given_no_previous_events()
            .when(create(actor.clone()))
            .then_expect_error(DomainError::NotOwner {
                aggregate: "Vendor",
                id: vendor().to_string(),
            });
        ProductTest::with(())
            .given(vec![created()])
            .when(publish(actor))
            .then_expect_error(DomainError::NotOwner {
                aggregate: "Product",
                id: product_id().to_string(),
            });
    }
}

fn stored_product_created(version: &str, data: serde_json::Value) -> SerializedEvent {
    SerializedEvent::new(
        product_id().to_string(),
        1,
        "Product".into(),
        "ProductCreated".into(),
        version.into(),
        json!({"type": "ProductCreated", "data": data}),
        json!({}),
    )
}

fn upcast(event: SerializedEvent) -> SerializedEvent {
    product_upcasters().iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

#[test]
fn a_product_created_before_categories_reads_as_uncategorized() {
    let mut data = serde_json::to_value(created()).unwrap()["data"].clone();
    data.as_object_mut().unwrap().remove("category");
    let upcast = upcast(stored_product_created("0.9", data));
    assert_eq!(upcast.event_version, "1.0.0");
    let envelope = EventEnvelope::<Product>::try_from(upcast).unwrap();
    let ProductEvent::ProductCreated { category, .. } = envelope.payload else {
        panic!("expected ProductCreated, got {:?}", envelope.payload);
    };
    assert_eq!(category, Category::parse(UNCATEGORIZED).unwrap());
}

#[test]
fn current_product_events_pass_the_upcasters_untouched() {
    let data = serde_json::to_value(created()).unwrap()["data"].clone();
    let stored = stored_product_created(ProductEvent::VERSION, data);
    assert_eq!(upcast(stored.clone()), stored);
    let envelope = EventEnvelope::<Product>::try_from(stored).unwrap();
    assert_eq!(envelope.payload, created());
}
