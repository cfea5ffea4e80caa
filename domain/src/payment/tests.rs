use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::{Currency, DomainError, Money, OrderId, PaymentId, PaymentToken, RefundId};

type PaymentTest = TestFramework<Payment>;

fn payment_id() -> PaymentId {
    PaymentId(Uuid::from_u128(1))
}
fn order_id() -> OrderId {
    OrderId(Uuid::from_u128(2))
}
fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
}
fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::parse("USD").unwrap()).unwrap()
}
fn token() -> PaymentToken {
    PaymentToken::parse("tok_ok").unwrap()
}
fn authorize() -> PaymentCommand {
    PaymentCommand::Authorize {
        payment_id: payment_id(),
        order_id: order_id(),
        amount: eur(2500),
        token: token(),
    }
}
fn authorized() -> PaymentEvent {
    PaymentEvent::PaymentAuthorized {
        payment_id: payment_id(),
        order_id: order_id(),
        amount: eur(2500),
        token: token(),
    }
}
fn captured() -> PaymentEvent {
    PaymentEvent::PaymentCaptured {
        payment_id: payment_id(),
        order_id: order_id(),
        amount: eur(2500),
    }
}
fn voided() -> PaymentEvent {
    PaymentEvent::PaymentVoided {
        payment_id: payment_id(),
        order_id: order_id(),
        amount: eur(2500),
    }
}
/// Each test refund of a distinct amount has its own id.
fn refund_id(amount: i64) -> RefundId {
    RefundId(Uuid::from_u128(100 + amount as u128))
}
fn refunded(amount: i64, refunded_total: i64) -> PaymentEvent {
    PaymentEvent::PaymentRefunded {
        payment_id: payment_id(),
        order_id: order_id(),
        refund_id: refund_id(amount),
        amount: eur(amount),
        refunded_total: eur(refunded_total),
        fully_refunded: refunded_total == 2500,
    }
}
fn capture(amount: Money) -> PaymentCommand {
    PaymentCommand::Capture { amount }
}
fn refund(amount: Money) -> PaymentCommand {
    PaymentCommand::Refund {
        refund_id: refund_id(amount.amount_minor),
        amount,
    }
}
fn illegal(from: &'static str, to: &'static str) -> DomainError {
    DomainError::IllegalTransition {
        aggregate: "Payment",
        from,
        to,
    }
}

#[test]
fn an_authorization_is_recorded_for_its_order() {
    PaymentTest::with(())
        .given_no_previous_events()
        .when(authorize())
        .then_expect_events(vec![authorized()]);
}

#[test]
fn a_repeated_authorization_of_the_same_order_and_amount_changes_nothing() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(authorize())
        .then_expect_events(vec![]);
}

#[test]
fn a_refund_already_recorded_is_not_paid_again() {
    PaymentTest::with(())
        .given(vec![authorized(), captured(), refunded(1000, 1000)])
        .when(refund(eur(1000)))
        .then_expect_events(vec![]);
}

#[test]
fn authorizing_an_existing_payment_for_another_amount_conflicts() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(PaymentCommand::Authorize {
            payment_id: payment_id(),
            order_id: order_id(),
            amount: eur(2400),
            token: token(),
        })
        .then_expect_error(DomainError::AlreadyExists {
            aggregate: "Payment",
            id: payment_id().to_string(),
        });
}

#[test]
fn commands_on_an_unknown_payment_are_not_found() {
    for command in [capture(eur(2500)), PaymentCommand::Void, refund(eur(1))] {
        PaymentTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::NotFound {
                aggregate: "Payment",
            });
    }
}

#[test]
fn capturing_the_authorized_amount_takes_the_money() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(capture(eur(2500)))
        .then_expect_events(vec![captured()]);
}

#[test]
fn capturing_another_amount_is_refused() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(capture(eur(2000)))
        .then_expect_error(DomainError::AmountMismatch {
            expected_minor: 2500,
            given_minor: 2000,
        });
}

#[test]
fn capturing_in_another_currency_is_refused() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(capture(usd(2500)))
        .then_expect_error(DomainError::CurrencyMismatch {
            expected: "EUR".into(),
            given: "USD".into(),
        });
}

#[test]
fn a_retried_capture_of_the_same_amount_records_nothing() {
    PaymentTest::with(())
        .given(vec![authorized(), captured()])
        .when(capture(eur(2500)))
        .then_expect_events(vec![]);
}

#[test]
fn a_voided_payment_cannot_be_captured() {
    PaymentTest::with(())
        .given(vec![authorized(), voided()])
        .when(capture(eur(2500)))
        .then_expect_error(illegal("voided", "captured"));
}

#[test]
fn an_authorization_is_voided_without_taking_money() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(PaymentCommand::Void)
        .then_expect_events(vec![voided()]);
}

#[test]
fn voiding_twice_records_nothing() {
    PaymentTest::with(())
        .given(vec![authorized(), voided()])
        .when(PaymentCommand::Void)
        .then_expect_events(vec![]);
}

#[test]
fn a_captured_payment_cannot_be_voided() {
    PaymentTest::with(())
        .given(vec![authorized(), captured()])
        .when(PaymentCommand::Void)
        .then_expect_error(illegal("captured", "voided"));
    PaymentTest::with(())
        .given(vec![authorized(), captured(), refunded(500, 500)])
        .when(PaymentCommand::Void)
        .then_expect_error(illegal("partially_refunded", "voided"));
}

#[test]
fn part_of_a_capture_is_refunded() {
    PaymentTest::with(())
        .given(vec![authorized(), captured()])
        .when(refund(eur(1000)))
        .then_expect_events(vec![refunded(1000, 1000)]);
}

#[test]
fn refunds_add_up_until_the_capture_is_fully_refunded() {
    PaymentTest::with(())
        .given(vec![authorized(), captured(), refunded(1000, 1000)])
        .when(refund(eur(1500)))
        .then_expect_events(vec![refunded(1500, 2500)]);
}

#[test]
fn refunds_beyond_what_was_captured_are_refused() {
    PaymentTest::with(())
        .given(vec![authorized(), captured()])
        .when(refund(eur(2501)))
        .then_expect_error(DomainError::RefundExceedsCapture {
            refundable_minor: 2500,
            requested_minor: 2501,
        });
    PaymentTest::with(())
        .given(vec![authorized(), captured(), refunded(2000, 2000)])
        .when(refund(eur(501)))
        .then_expect_error(DomainError::RefundExceedsCapture {
            refundable_minor: 500,
            requested_minor: 501,
        });
}

#[test]
fn a_refund_in_another_currency_is_refused() {
    PaymentTest::with(())
        .given(vec![authorized(), captured()])
        .when(refund(usd(100)))
        .then_expect_error(DomainError::CurrencyMismatch {
            expected: "EUR".into(),
            given: "USD".into(),
        });
}

#[test]
fn only_captured_money_can_be_refunded() {
    PaymentTest::with(())
        .given(vec![authorized()])
        .when(refund(eur(100)))
        .then_expect_error(illegal("authorized", "refunded"));
    PaymentTest::with(())
        .given(vec![authorized(), voided()])
        .when(refund(eur(100)))
        .then_expect_error(illegal("voided", "refunded"));
}

#[test]
fn a_fully_refunded_payment_is_final() {
    PaymentTest::with(())
        .given(vec![authorized(), captured(), refunded(2500, 2500)])
        .when(refund(eur(1)))
        .then_expect_error(illegal("refunded", "refunded"));
}

#[test]
fn the_status_follows_the_payment_through_its_life() {
    use cqrs_es::Aggregate;
    let mut payment = Payment::default();
    assert_eq!(payment.status(), None);
    let steps = [
        (authorized(), PaymentStatus::Authorized),
        (captured(), PaymentStatus::Captured),
        (refunded(1000, 1000), PaymentStatus::PartiallyRefunded),
        (refunded(1500, 2500), PaymentStatus::Refunded),
    ];
    for (event, status) in steps {
        payment.apply(event);
        assert_eq!(payment.status(), Some(status));
    }
}

#[test]
fn events_round_trip_through_json_with_their_type_tag() {
    let event = refunded(1000, 1000);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "PaymentRefunded");
    assert_eq!(json["data"]["refunded_total"]["amount_minor"], 1000);
    assert_eq!(json["data"]["fully_refunded"], false);
    assert_eq!(serde_json::from_value::<PaymentEvent>(json).unwrap(), event);
}
