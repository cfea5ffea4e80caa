use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::{Actor, ContactEmail, CustomerId, DomainError, Reason, UserId, VendorId, VendorName};

type VendorTest = TestFramework<Vendor>;

fn vendor_id() -> VendorId {
    VendorId(Uuid::from_u128(1))
}
fn applicant() -> UserId {
    UserId(Uuid::from_u128(2))
}
fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}
fn someone() -> Actor {
    Actor::Customer {
        customer_id: CustomerId(applicant().0),
    }
}
fn apply(approved: Option<Reason>, actor: Actor) -> VendorCommand {
    VendorCommand::Apply {
        vendor_id: vendor_id(),
        name: VendorName::parse("Ada's Teas").unwrap(),
        contact_email: ContactEmail::parse("ada@example.com").unwrap(),
        applicant: applicant(),
        approved,
        actor,
    }
}
fn applied() -> VendorEvent {
    VendorEvent::VendorApplied {
        vendor_id: vendor_id(),
        name: VendorName::parse("Ada's Teas").unwrap(),
        contact_email: ContactEmail::parse("ada@example.com").unwrap(),
        applicant_id: applicant(),
    }
}
fn approved(why: &str) -> VendorEvent {
    VendorEvent::VendorApproved {
        vendor_id: vendor_id(),
        reason: reason(why),
    }
}
fn suspended(why: &str) -> VendorEvent {
    VendorEvent::VendorSuspended {
        vendor_id: vendor_id(),
        reason: reason(why),
    }
}

#[test]
fn a_seller_applies_and_waits_for_approval() {
    VendorTest::with(())
        .given_no_previous_events()
        .when(apply(None, someone()))
        .then_expect_events(vec![applied()]);
}

#[test]
fn only_an_admin_admits_a_vendor_at_once_when_it_applies() {
    VendorTest::with(())
        .given_no_previous_events()
        .when(apply(Some(reason("known partner")), Actor::Admin))
        .then_expect_events(vec![applied(), approved("known partner")]);
    VendorTest::with(())
        .given_no_previous_events()
        .when(apply(Some(reason("trust me")), someone()))
        .then_expect_error(DomainError::NotPermitted {
            action: "admit a vendor",
        });
}

#[test]
fn a_vendor_applies_once() {
    VendorTest::with(())
        .given(vec![applied()])
        .when(apply(None, someone()))
        .then_expect_error(DomainError::AlreadyExists {
            aggregate: "Vendor",
            id: vendor_id().to_string(),
        });
}

#[test]
fn an_admin_approves_suspends_and_reinstates_with_reasons() {
    VendorTest::with(())
        .given(vec![applied()])
        .when(VendorCommand::Approve {
            reason: reason("documents checked"),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![approved("documents checked")]);
    VendorTest::with(())
        .given(vec![applied(), approved("documents checked")])
        .when(VendorCommand::Suspend {
            reason: reason("counterfeit reports"),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![suspended("counterfeit reports")]);
    VendorTest::with(())
        .given(vec![
            applied(),
            approved("documents checked"),
            suspended("counterfeit reports"),
        ])
        .when(VendorCommand::Reinstate {
            reason: reason("cleared"),
            actor: Actor::Admin,
        })
        .then_expect_events(vec![VendorEvent::VendorReinstated {
            vendor_id: vendor_id(),
            reason: reason("cleared"),
        }]);
}

#[test]
fn no_one_but_an_admin_decides_admission() {
    let vendor_itself = Actor::Vendor {
        vendor_id: vendor_id(),
    };
    for actor in [someone(), vendor_itself, Actor::System] {
        VendorTest::with(())
            .given(vec![applied()])
            .when(VendorCommand::Approve {
                reason: reason("self-approval"),
                actor,
            })
            .then_expect_error(DomainError::NotPermitted {
                action: "approve a vendor",
            });
    }
}

#[test]
fn each_decision_starts_from_its_one_status() {
    // Suspending a pending vendor, reinstating an approved one, approving twice: each refused.
    VendorTest::with(())
        .given(vec![applied()])
        .when(VendorCommand::Suspend {
            reason: reason("r"),
            actor: Actor::Admin,
        })
        .then_expect_error(DomainError::IllegalTransition {
            aggregate: "Vendor",
            from: "pending",
            to: "suspended",
        });
    VendorTest::with(())
        .given(vec![applied(), approved("ok")])
        .when(VendorCommand::Reinstate {
            reason: reason("r"),
            actor: Actor::Admin,
        })
        .then_expect_error(DomainError::IllegalTransition {
            aggregate: "Vendor",
            from: "approved",
            to: "approved",
        });
    VendorTest::with(())
        .given(vec![applied(), approved("ok")])
        .when(VendorCommand::Approve {
            reason: reason("again"),
            actor: Actor::Admin,
        })
        .then_expect_error(DomainError::IllegalTransition {
            aggregate: "Vendor",
            from: "approved",
            to: "approved",
        });
    VendorTest::with(())
        .given_no_previous_events()
        .when(VendorCommand::Approve {
            reason: reason("ok"),
            actor: Actor::Admin,
        })
        .then_expect_error(DomainError::NotFound {
            aggregate: "Vendor",
        });
}

#[test]
fn only_an_approved_vendor_sells() {
    use cqrs_es::Aggregate;
    let mut vendor = Vendor::default();
    assert!(!vendor.may_sell());
    vendor.apply(applied());
    assert_eq!(vendor.status(), Some(VendorStatus::Pending));
    assert!(!vendor.may_sell());
    vendor.apply(approved("ok"));
    assert!(vendor.may_sell());
    vendor.apply(suspended("paused"));
    assert_eq!(vendor.status(), Some(VendorStatus::Suspended));
    assert!(!vendor.may_sell());
    vendor.apply(VendorEvent::VendorReinstated {
        vendor_id: vendor_id(),
        reason: reason("back"),
    });
    assert!(vendor.may_sell());
}

#[test]
fn names_emails_and_reasons_are_checked_at_the_edge() {
    assert!(VendorName::parse("  ").is_err());
    assert!(VendorName::parse(&"x".repeat(121)).is_err());
    assert!(Reason::parse("").is_err());
    assert!(Reason::parse("line\nbreak").is_err());
    for bad in [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
        "a@b@c.com",
    ] {
        assert!(ContactEmail::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        ContactEmail::parse("ada+shop@mail.example.com")
            .unwrap()
            .as_str(),
        "ada+shop@mail.example.com"
    );
}

#[test]
fn events_keep_their_stored_shape() {
    let stored = serde_json::to_value(applied()).unwrap();
    assert_eq!(stored["type"], "VendorApplied");
    assert_eq!(stored["data"]["contact_email"], "ada@example.com");
    assert_eq!(stored["data"]["applicant_id"], applicant().to_string());
    let back: VendorEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(back, applied());
}
