use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use cqrs_es::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{Currency, DomainError, OrderId, PayoutId, ProductId, ReturnId, VendorId};

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}
fn vendor() -> VendorId {
    VendorId(Uuid::from_u128(1))
}
fn order(n: u128) -> OrderId {
    OrderId(Uuid::from_u128(100 + n))
}
fn product(n: u128) -> ProductId {
    ProductId(Uuid::from_u128(200 + n))
}
fn line(n: u128, quantity: u32, unit_minor: i64, commission_minor: i64) -> CreditedLine {
    CreditedLine {
        product_id: product(n),
        quantity,
        line_total_minor: unit_minor * i64::from(quantity),
        commission_minor,
    }
}
fn credit(n: u128, lines: Vec<CreditedLine>) -> LedgerCommand {
    LedgerCommand::CreditSale {
        vendor_id: vendor(),
        order_id: order(n),
        currency: eur(),
        lines,
    }
}
fn release(n: u128) -> LedgerCommand {
    let shipped_at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    LedgerCommand::ReleaseFunds {
        order_id: order(n),
        shipped_at,
        now: shipped_at + Duration::days(8),
        hold: Duration::days(7),
    }
}

/// Decides and applies `command`; its events.
fn run(ledger: &mut VendorLedger, command: LedgerCommand) -> Result<Vec<LedgerEvent>, DomainError> {
    let events = ledger.decide(command)?;
    for event in &events {
        ledger.apply(event.clone());
    }
    Ok(events)
}

fn balances(ledger: &VendorLedger) -> Balances {
    ledger.balances().get(&eur()).copied().unwrap_or_default()
}

#[test]
fn a_sale_credits_the_share_as_pending_and_the_commission_to_the_marketplace() {
    let mut ledger = VendorLedger::default();
    let events = run(&mut ledger, credit(1, vec![line(1, 2, 1000, 200)])).unwrap();
    assert_eq!(
        events[0].entries(),
        [
            Entry::new(Account::Clearing, &eur(), -2000),
            Entry::new(Account::Pending, &eur(), 1800),
            Entry::new(Account::Commission, &eur(), 200),
        ]
    );
    assert_eq!(balances(&ledger).pending, 1800);
    // Credited once per order.
    assert!(run(&mut ledger, credit(1, vec![line(1, 2, 1000, 200)]))
        .unwrap()
        .is_empty());
}

#[test]
fn funds_are_released_only_after_the_hold_period() {
    let mut ledger = VendorLedger::default();
    run(&mut ledger, credit(1, vec![line(1, 1, 1000, 100)])).unwrap();
    let shipped_at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let early = LedgerCommand::ReleaseFunds {
        order_id: order(1),
        shipped_at,
        now: shipped_at + Duration::days(6),
        hold: Duration::days(7),
    };
    assert!(matches!(
        run(&mut ledger, early),
        Err(DomainError::HoldNotOver { .. })
    ));
    run(&mut ledger, release(1)).unwrap();
    assert_eq!(
        balances(&ledger),
        Balances {
            pending: 0,
            available: 900,
            paid_out: 0
        }
    );
    assert!(run(&mut ledger, release(1)).unwrap().is_empty(), "once");
}

#[test]
fn a_payout_is_fixed_then_completed_once_and_another_waits_for_it() {
    let mut ledger = VendorLedger::default();
    run(&mut ledger, credit(1, vec![line(1, 1, 1000, 100)])).unwrap();
    run(&mut ledger, release(1)).unwrap();
    let (first, second) = (PayoutId(Uuid::from_u128(7)), PayoutId(Uuid::from_u128(8)));
    let start = |payout_id| LedgerCommand::StartPayout {
        payout_id,
        currency: eur(),
    };
    run(&mut ledger, start(first)).unwrap();
    assert!(
        run(&mut ledger, start(first)).unwrap().is_empty(),
        "the same start again"
    );
    assert!(matches!(
        run(&mut ledger, start(second)),
        Err(DomainError::PayoutOpen { .. })
    ));
    run(
        &mut ledger,
        LedgerCommand::CompletePayout { payout_id: first },
    )
    .unwrap();
    assert!(run(
        &mut ledger,
        LedgerCommand::CompletePayout { payout_id: first }
    )
    .unwrap()
    .is_empty());
    assert_eq!(
        balances(&ledger),
        Balances {
            pending: 0,
            available: 0,
            paid_out: 900
        }
    );
    assert!(matches!(
        run(&mut ledger, start(second)),
        Err(DomainError::NothingToPay { .. })
    ));
}

#[test]
fn a_return_after_payout_takes_the_share_back_below_zero_and_the_next_payout_nets_it() {
    let mut ledger = VendorLedger::default();
    run(&mut ledger, credit(1, vec![line(1, 2, 1000, 200)])).unwrap();
    run(&mut ledger, release(1)).unwrap();
    let paid = PayoutId(Uuid::from_u128(7));
    run(
        &mut ledger,
        LedgerCommand::StartPayout {
            payout_id: paid,
            currency: eur(),
        },
    )
    .unwrap();
    run(
        &mut ledger,
        LedgerCommand::CompletePayout { payout_id: paid },
    )
    .unwrap();
    let returned = run(
        &mut ledger,
        LedgerCommand::ReverseReturn {
            return_id: ReturnId(Uuid::from_u128(9)),
            order_id: order(1),
            units: vec![(product(1), 1)],
        },
    )
    .unwrap();
    assert_eq!(
        returned[0].entries(),
        [
            Entry::new(Account::Clearing, &eur(), 1000),
            Entry::new(Account::Available, &eur(), -900),
            Entry::new(Account::Commission, &eur(), -100),
        ]
    );
    assert_eq!(balances(&ledger).available, -900);
    // The next sale's release nets it: 1,800 credited, 900 owed, 900 paid.
    run(&mut ledger, credit(2, vec![line(2, 1, 2000, 200)])).unwrap();
    run(&mut ledger, release(2)).unwrap();
    let next = PayoutId(Uuid::from_u128(10));
    let started = run(
        &mut ledger,
        LedgerCommand::StartPayout {
            payout_id: next,
            currency: eur(),
        },
    )
    .unwrap();
    assert!(matches!(
        started[0],
        LedgerEvent::PayoutStarted {
            amount_minor: 900,
            ..
        }
    ));
}

#[test]
fn the_last_units_returned_take_back_exactly_the_commission_left() {
    // 3 units, 100 commission: a third is 33.33…, rounded to 33, 33, then the last takes 34.
    let mut ledger = VendorLedger::default();
    run(&mut ledger, credit(1, vec![line(1, 3, 1000, 100)])).unwrap();
    let mut taken = Vec::new();
    for n in 0..3 {
        let events = run(
            &mut ledger,
            LedgerCommand::ReverseReturn {
                return_id: ReturnId(Uuid::from_u128(50 + n)),
                order_id: order(1),
                units: vec![(product(1), 1)],
            },
        )
        .unwrap();
        if let LedgerEvent::ReturnReversed { lines, .. } = &events[0] {
            taken.push(lines[0].commission_minor);
        }
    }
    assert_eq!(taken, [33, 34, 33]);
    assert_eq!(taken.iter().sum::<i64>(), 100);
    assert_eq!(balances(&ledger), Balances::default());
    assert!(matches!(
        run(
            &mut ledger,
            LedgerCommand::ReverseReturn {
                return_id: ReturnId(Uuid::from_u128(60)),
                order_id: order(1),
                units: vec![(product(1), 1)],
            },
        ),
        Err(DomainError::ReturnExceedsSale { left: 0, .. })
    ));
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    Credit {
        order: u8,
        lines: Vec<(u32, i64, i64)>,
    },
    Release {
        order: u8,
    },
    Payout {
        id: u8,
    },
    Complete,
    Return {
        id: u8,
        order: u8,
        line: u8,
        units: u32,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..4_u8,
            prop::collection::vec((1..4_u32, 1..5_000_i64, 0..10_000_u32), 1..4)
        )
            .prop_map(|(order, lines)| Step::Credit {
                order,
                // A commission of up to the whole line, in basis points of it.
                lines: lines
                    .into_iter()
                    .map(|(q, unit, bp)| {
                        let total = unit * i64::from(q);
                        (q, unit, total * i64::from(bp) / 10_000)
                    })
                    .collect(),
            }),
        (0..4_u8).prop_map(|order| Step::Release { order }),
        (0..6_u8).prop_map(|id| Step::Payout { id }),
        Just(Step::Complete),
        (0..20_u8, 0..4_u8, 0..4_u8, 1..3_u32).prop_map(|(id, order, line, units)| Step::Return {
            id,
            order,
            line,
            units
        }),
    ]
}

proptest! {
    /// Whatever happens, and whatever is refused: every event balances, and the money captured
    /// less refunds equals the vendor's balances plus its payouts plus the commission.
    #[test]
    fn the_books_balance_after_any_sequence(steps in prop::collection::vec(step(), 1..60)) {
        let mut ledger = VendorLedger::default();
        let mut totals: BTreeMap<Account, i64> = BTreeMap::new();
        for step in steps {
            let command = match step.clone() {
                Step::Credit { order: n, lines } => {
                    let credited: Vec<CreditedLine> = lines
                        .iter()
                        .enumerate()
                        .map(|(i, (q, unit, commission))| line(i as u128, *q, *unit, *commission))
                        .collect();
                    credit(u128::from(n), credited)
                }
                Step::Release { order: n } => release(u128::from(n)),
                Step::Payout { id } => LedgerCommand::StartPayout {
                    payout_id: PayoutId(Uuid::from_u128(1000 + u128::from(id))),
                    currency: eur(),
                },
                Step::Complete => match ledger.open_payout() {
                    Some((payout_id, _, _)) => LedgerCommand::CompletePayout { payout_id },
                    None => continue,
                },
                Step::Return { id, order: n, line: i, units } => LedgerCommand::ReverseReturn {
                    return_id: ReturnId(Uuid::from_u128(2000 + u128::from(id))),
                    order_id: order(u128::from(n)),
                    units: vec![(product(u128::from(i)), units)],
                },
            };
            let Ok(events) = run(&mut ledger, command) else { continue };
            for event in &events {
                let sum: i64 = event.entries().iter().map(|e| e.amount_minor).sum();
                prop_assert_eq!(sum, 0, "{:?} balances", event);
                for entry in event.entries() {
                    *totals.entry(entry.account).or_default() += entry.amount_minor;
                }
            }
            let b = balances(&ledger);
            let get = |a: Account| totals.get(&a).copied().unwrap_or(0);
            prop_assert_eq!(
                -get(Account::Clearing),
                b.pending + b.available + b.paid_out + get(Account::Commission)
            );
            prop_assert_eq!((b.pending, b.available, b.paid_out),
                (get(Account::Pending), get(Account::Available), get(Account::PaidOut)));
            prop_assert!(b.pending >= 0, "pending never below zero: {:?}", b);
            prop_assert!(get(Account::Commission) >= 0, "commission never below zero");
        }
    }
}
