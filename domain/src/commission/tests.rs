use std::collections::BTreeMap;

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::{Actor, Category, CustomerId, DomainError, Money, VendorId};

fn rule(
    percent_bp: Option<u32>,
    flat: Option<i64>,
    floor: Option<i64>,
    cap: Option<i64>,
) -> CommissionRule {
    CommissionRule::new("default", percent_bp, flat, floor, cap).unwrap()
}

fn vendor(n: u128) -> VendorId {
    VendorId(Uuid::from_u128(n))
}

fn rules() -> CommissionRules {
    CommissionRules {
        default: rule(Some(1000), None, None, None),
        vendors: BTreeMap::from([(vendor(1), rule(Some(500), None, None, None))]),
        categories: BTreeMap::from([(
            Category::parse("books").unwrap(),
            rule(Some(800), None, None, None),
        )]),
    }
}

#[test]
fn a_vendor_override_beats_its_category_which_beats_the_default() {
    let rules = rules();
    let books = Category::parse("books").unwrap();
    let toys = Category::parse("toys").unwrap();
    assert_eq!(rules.rule_for(vendor(1), Some(&books)).percent_bp, 500);
    assert_eq!(rules.rule_for(vendor(2), Some(&books)).percent_bp, 800);
    assert_eq!(rules.rule_for(vendor(2), Some(&toys)).percent_bp, 1000);
    assert_eq!(rules.rule_for(vendor(2), None).percent_bp, 1000);
}

#[test]
fn a_percentage_rounds_half_to_even_to_the_minor_unit() {
    // 10 % of 1.25 is 0.125: the half goes to the even neighbour 0.12; of 1.35, 0.135 -> 0.14.
    assert_eq!(percent_half_even(125, 1000), 12);
    assert_eq!(percent_half_even(135, 1000), 14);
    // Not a half: ordinary rounding either way.
    assert_eq!(percent_half_even(126, 1000), 13);
    assert_eq!(percent_half_even(124, 1000), 12);
    assert_eq!(percent_half_even(1999, 1250), 250);
    assert_eq!(
        percent_half_even(Money::MAX_AMOUNT_MINOR, 10_000),
        Money::MAX_AMOUNT_MINOR
    );
    assert_eq!(percent_half_even(0, 1000), 0);
}

#[test]
fn a_flat_fee_adds_and_the_floor_and_cap_hold_the_result() {
    assert_eq!(
        rule(Some(1000), Some(30), None, None).commission_on(1000),
        130
    );
    assert_eq!(rule(None, Some(30), None, None).commission_on(1000), 30);
    // 10 % of 1.00 is 0.10, raised to the floor of 0.50.
    assert_eq!(
        rule(Some(1000), None, Some(50), None).commission_on(100),
        50
    );
    // 10 % of 1,000.00 is 100.00, held at the cap of 25.00.
    assert_eq!(
        rule(Some(1000), None, None, Some(2500)).commission_on(100_000),
        2500
    );
    // Never more than the line itself.
    assert_eq!(
        rule(None, Some(500), Some(500), None).commission_on(300),
        300
    );
}

#[test]
fn rules_are_checked_at_the_edge() {
    let refused = |p, f, lo, hi| CommissionRule::new("vendors.x", p, f, lo, hi).unwrap_err();
    let field = |error: DomainError| match error {
        DomainError::Invalid(invalid) => format!("invalid {}", invalid.field),
        DomainError::InconsistentCommissionRule { field, .. } => format!("inconsistent {field}"),
        other => format!("{other:?}"),
    };
    assert_eq!(
        field(refused(None, None, None, None)),
        "inconsistent vendors.x"
    );
    assert_eq!(
        field(refused(Some(10_001), None, None, None)),
        "invalid vendors.x.percent_bp"
    );
    assert_eq!(
        field(refused(Some(10), Some(-1), None, None)),
        "invalid vendors.x.flat"
    );
    assert_eq!(
        field(refused(Some(10), None, Some(100), Some(50))),
        "inconsistent vendors.x.floor"
    );
}

#[test]
fn only_an_admin_sets_the_rules_and_the_same_rules_again_record_nothing() {
    TestFramework::<CommissionSchedule>::with(())
        .given_no_previous_events()
        .when(CommissionCommand::SetRules {
            rules: rules(),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![CommissionEvent::CommissionRulesSet { rules: rules() }]);
    TestFramework::<CommissionSchedule>::with(())
        .given(vec![CommissionEvent::CommissionRulesSet { rules: rules() }])
        .when(CommissionCommand::SetRules {
            rules: rules(),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![]);
    for actor in [
        Actor::Vendor {
            vendor_id: vendor(1),
        },
        Actor::Customer {
            customer_id: CustomerId(Uuid::from_u128(9)),
        },
    ] {
        TestFramework::<CommissionSchedule>::with(())
            .given_no_previous_events()
            .when(CommissionCommand::SetRules {
                rules: rules(),
                actor,
            })
            .then_expect_error(DomainError::NotPermitted {
                action: "set commission rules",
            });
    }
}

#[test]
fn rules_keep_their_stored_shape() {
    let stored =
        serde_json::to_value(CommissionEvent::CommissionRulesSet { rules: rules() }).unwrap();
    assert_eq!(stored["data"]["rules"]["default"]["percent_bp"], 1000);
    assert_eq!(
        stored["data"]["rules"]["categories"]["books"]["percent_bp"],
        800
    );
    let back: CommissionEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(back, CommissionEvent::CommissionRulesSet { rules: rules() });
}
