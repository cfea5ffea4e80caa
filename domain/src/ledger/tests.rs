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
fn credit(n: u128, lines: Vec<CreditedLine>) -> SaleCommand {
    SaleCommand::Credit {
        vendor_id: vendor(),
        order_id: order(n),
        currency: eur(),
        lines,
    }
}
fn release() -> SaleCommand {
    let shipped_at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    SaleCommand::Release {
        shipped_at,
        now: shipped_at + Duration::days(8),
        hold: Duration::days(7),
    }
}
fn give_back(id: u128, units: u32) -> SaleCommand {
    SaleCommand::ReverseReturn {
        return_id: ReturnId(Uuid::from_u128(id)),
        units: vec![(product(1), units)],
    }
}

/// Decides and applies `command` on `sale`; its events.
fn on_sale(sale: &mut VendorSale, command: SaleCommand) -> Result<Vec<SaleEvent>, DomainError> {
    let events = sale.decide(command)?;
    for event in &events {
        sale.apply(event.clone());
    }
    Ok(events)
}

fn on_payouts(
    payouts: &mut VendorPayouts,
    command: PayoutsCommand,
) -> Result<Vec<PayoutsEvent>, DomainError> {
    let events = payouts.decide(command)?;
    for event in &events {
        payouts.apply(event.clone());
    }
    Ok(events)
}

fn start(payout: u128, items: Vec<PayoutItem>) -> PayoutsCommand {
    PayoutsCommand::Start {
        vendor_id: vendor(),
        payout_id: PayoutId(Uuid::from_u128(payout)),
        currency: eur(),
        items,
    }
}

fn item(n: u128, amount_minor: i64) -> PayoutItem {
    PayoutItem {
        sale: VendorSale::id(order(n), vendor()),
        amount_minor,
    }
}

fn paid(payout: u128, amount_minor: i64) -> SaleCommand {
    SaleCommand::MarkPaid {
        payout_id: PayoutId(Uuid::from_u128(payout)),
        amount_minor,
    }
}

#[test]
fn a_sale_credits_the_share_as_pending_and_the_commission_to_the_marketplace() {
    let mut sale = VendorSale::default();
    let events = on_sale(&mut sale, credit(1, vec![line(1, 2, 1000, 200)])).unwrap();
    assert_eq!(
        events[0].entries(),
        [
            Entry::new(Account::Clearing, &eur(), -2000),
            Entry::new(Account::Pending, &eur(), 1800),
            Entry::new(Account::Commission, &eur(), 200),
        ]
    );
    assert_eq!(sale.payable_minor(), 0, "pending until released");
    assert!(on_sale(&mut sale, credit(1, vec![line(1, 2, 1000, 200)]))
        .unwrap()
        .is_empty());
}

#[test]
fn funds_are_released_only_after_the_hold_period() {
    let mut sale = VendorSale::default();
    on_sale(&mut sale, credit(1, vec![line(1, 1, 1000, 100)])).unwrap();
    let shipped_at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let early = SaleCommand::Release {
        shipped_at,
        now: shipped_at + Duration::days(6),
        hold: Duration::days(7),
    };
    assert!(matches!(
        on_sale(&mut sale, early),
        Err(DomainError::HoldNotOver { .. })
    ));
    assert!(matches!(
        on_sale(&mut sale, paid(7, 900)),
        Err(DomainError::NotReleased { .. })
    ));
    on_sale(&mut sale, release()).unwrap();
    assert_eq!(sale.payable_minor(), 900);
    assert!(on_sale(&mut sale, release()).unwrap().is_empty(), "once");
}

#[test]
fn a_payout_is_fixed_then_each_sale_marked_once_and_another_waits_for_it() {
    let mut sale = VendorSale::default();
    on_sale(&mut sale, credit(1, vec![line(1, 1, 1000, 100)])).unwrap();
    on_sale(&mut sale, release()).unwrap();
    let mut payouts = VendorPayouts::default();
    on_payouts(&mut payouts, start(7, vec![item(1, 900)])).unwrap();
    assert!(on_payouts(&mut payouts, start(7, vec![item(1, 900)]))
        .unwrap()
        .is_empty());
    assert!(matches!(
        on_payouts(&mut payouts, start(8, vec![item(1, 900)])),
        Err(DomainError::PayoutOpen { .. })
    ));
    let marked = on_sale(&mut sale, paid(7, 900)).unwrap();
    assert_eq!(
        marked[0].entries(),
        [
            Entry::new(Account::Available, &eur(), -900),
            Entry::new(Account::PaidOut, &eur(), 900),
        ]
    );
    assert!(on_sale(&mut sale, paid(7, 900)).unwrap().is_empty(), "once");
    assert_eq!(sale.payable_minor(), 0);
    let payout_id = PayoutId(Uuid::from_u128(7));
    on_payouts(&mut payouts, PayoutsCommand::Complete { payout_id }).unwrap();
    assert!(
        on_payouts(&mut payouts, PayoutsCommand::Complete { payout_id })
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        on_payouts(&mut payouts, start(8, vec![])),
        Err(DomainError::NothingToPay { .. })
    ));
}

#[test]
fn a_return_after_payout_takes_the_share_back_below_zero_and_the_next_payout_nets_it() {
    let mut first = VendorSale::default();
    on_sale(&mut first, credit(1, vec![line(1, 2, 1000, 200)])).unwrap();
    on_sale(&mut first, release()).unwrap();
    on_sale(&mut first, paid(7, 1800)).unwrap();
    let returned = on_sale(&mut first, give_back(9, 1)).unwrap();
    assert_eq!(
        returned[0].entries(),
        [
            Entry::new(Account::Clearing, &eur(), 1000),
            Entry::new(Account::Available, &eur(), -900),
            Entry::new(Account::Commission, &eur(), -100),
        ]
    );
    assert_eq!(first.payable_minor(), -900);
    // The next payout nets it against the next sale: 1,800 owed, 900 taken back, 900 paid.
    let mut second = VendorSale::default();
    on_sale(&mut second, credit(2, vec![line(2, 1, 2000, 200)])).unwrap();
    on_sale(&mut second, release()).unwrap();
    let mut payouts = VendorPayouts::default();
    let started = on_payouts(
        &mut payouts,
        start(
            10,
            vec![
                item(1, first.payable_minor()),
                item(2, second.payable_minor()),
            ],
        ),
    )
    .unwrap();
    assert!(matches!(
        started[0],
        PayoutsEvent::PayoutStarted {
            amount_minor: 900,
            ..
        }
    ));
}

#[test]
fn the_last_units_returned_take_back_exactly_the_commission_left() {
    // 3 units, 1.00 commission: the returns take 0.33, 0.34 (0.67 in all), then what is left.
    let mut sale = VendorSale::default();
    on_sale(&mut sale, credit(1, vec![line(1, 3, 1000, 100)])).unwrap();
    let mut taken = Vec::new();
    for n in 0..3 {
        let events = on_sale(&mut sale, give_back(50 + n, 1)).unwrap();
        if let SaleEvent::ReturnReversed { lines, .. } = &events[0] {
            taken.push(lines[0].commission_minor);
        }
    }
    assert_eq!(taken, [33, 34, 33]);
    assert!(matches!(
        on_sale(&mut sale, give_back(60, 1)),
        Err(DomainError::ReturnExceedsSale { left: 0, .. })
    ));
}

/// One step of a random history of one vendor's sales and payouts.
#[derive(Debug, Clone)]
enum Step {
    Credit {
        sale: usize,
        lines: Vec<(u32, i64, u32)>,
    },
    Release {
        sale: usize,
    },
    Return {
        sale: usize,
        line: u8,
        units: u32,
    },
    /// Start a payout of every sale's payable amount, then mark the first `marked` items: a
    /// run stopped halfway.
    Payout {
        marked: usize,
    },
    /// A run again: mark what the open payout has left, and complete it.
    Resume,
}

const SALES: usize = 4;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..SALES,
            prop::collection::vec((1..4_u32, 1..5_000_i64, 0..=10_000_u32), 1..4)
        )
            .prop_map(|(sale, lines)| Step::Credit { sale, lines }),
        (0..SALES).prop_map(|sale| Step::Release { sale }),
        (0..SALES, 0..4_u8, 1..3_u32).prop_map(|(sale, line, units)| Step::Return {
            sale,
            line,
            units
        }),
        (0..=SALES).prop_map(|marked| Step::Payout { marked }),
        Just(Step::Resume),
    ]
}

/// Marks `items` of payout `payout_id` paid on their sales, counting what each payout marked.
fn mark(
    sales: &mut [VendorSale],
    books: &mut Books,
    payout_id: PayoutId,
    items: &[PayoutItem],
    marked: &mut BTreeMap<PayoutId, i64>,
) -> Result<(), TestCaseError> {
    for item in items {
        let index = (0..SALES)
            .find(|n| VendorSale::id(order(*n as u128), vendor()) == item.sale)
            .expect("an item of a known sale");
        let events = on_sale(
            &mut sales[index],
            SaleCommand::MarkPaid {
                payout_id,
                amount_minor: item.amount_minor,
            },
        )
        .expect("a released sale takes its payout");
        for event in &events {
            books.post(event.entries())?;
            *marked.entry(payout_id).or_default() += item.amount_minor;
        }
    }
    Ok(())
}

/// Every account's total over the events so far.
#[derive(Default)]
struct Books(BTreeMap<Account, i64>);

impl Books {
    fn post(&mut self, entries: &[Entry]) -> Result<(), TestCaseError> {
        prop_assert_eq!(entries.iter().map(|e| e.amount_minor).sum::<i64>(), 0);
        for entry in entries {
            *self.0.entry(entry.account).or_default() += entry.amount_minor;
        }
        Ok(())
    }

    fn get(&self, account: Account) -> i64 {
        self.0.get(&account).copied().unwrap_or(0)
    }
}

proptest! {
    /// Whatever happens, whatever is refused, and wherever a payout run stops: every event
    /// balances; payments captured less refunds equals the vendor's balances plus its payouts
    /// plus the commission; and every completed payout paid exactly what its sales were marked.
    #[test]
    fn the_books_balance_after_any_sequence(steps in prop::collection::vec(step(), 1..80)) {
        let mut sales: Vec<VendorSale> = vec![VendorSale::default(); SALES];
        let mut payouts = VendorPayouts::default();
        let mut books = Books::default();
        let mut marked_by_payout: BTreeMap<PayoutId, i64> = BTreeMap::new();
        let mut next_payout = 1_000_u128;
        let mut next_return = 5_000_u128;
        for step in steps {
            match step {
                Step::Credit { sale, lines } => {
                    let credited = lines
                        .iter()
                        .enumerate()
                        .map(|(i, (q, unit, bp))| {
                            let total = unit * i64::from(*q);
                            line(i as u128, *q, *unit, total * i64::from(*bp) / 10_000)
                        })
                        .collect();
                    if let Ok(events) = on_sale(&mut sales[sale], credit(sale as u128, credited)) {
                        for event in &events { books.post(event.entries())?; }
                    }
                }
                Step::Release { sale } => {
                    if let Ok(events) = on_sale(&mut sales[sale], release()) {
                        for event in &events { books.post(event.entries())?; }
                    }
                }
                Step::Return { sale, line: n, units } => {
                    next_return += 1;
                    let command = SaleCommand::ReverseReturn {
                        return_id: ReturnId(Uuid::from_u128(next_return)),
                        units: vec![(product(u128::from(n)), units)],
                    };
                    if let Ok(events) = on_sale(&mut sales[sale], command) {
                        for event in &events { books.post(event.entries())?; }
                    }
                }
                Step::Payout { marked } => {
                    next_payout += 1;
                    let items: Vec<PayoutItem> = sales
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.payable_minor() != 0)
                        .map(|(n, s)| item(n as u128, s.payable_minor()))
                        .collect();
                    let payout_id = PayoutId(Uuid::from_u128(next_payout));
                    if on_payouts(&mut payouts, start(next_payout, items.clone())).is_ok() {
                        let stop = marked.min(items.len());
                        mark(&mut sales, &mut books, payout_id, &items[..stop], &mut marked_by_payout)?;
                    }
                }
                Step::Resume => {
                    if let Some(open) = payouts.open().cloned() {
                        mark(&mut sales, &mut books, open.payout_id, &open.items, &mut marked_by_payout)?;
                        let completed = on_payouts(&mut payouts, PayoutsCommand::Complete { payout_id: open.payout_id })
                            .expect("an open payout completes");
                        prop_assert_eq!(completed.len(), 1);
                        prop_assert_eq!(
                            marked_by_payout.get(&open.payout_id).copied().unwrap_or(0),
                            open.amount_minor,
                            "a payout pays exactly what its sales were marked"
                        );
                    }
                }
            }
            let (pending, available, paid_out) = (
                books.get(Account::Pending),
                books.get(Account::Available),
                books.get(Account::PaidOut),
            );
            prop_assert_eq!(
                -books.get(Account::Clearing),
                pending + available + paid_out + books.get(Account::Commission)
            );
            prop_assert!(pending >= 0, "pending never below zero");
            prop_assert!(books.get(Account::Commission) >= 0, "commission never below zero");
            prop_assert_eq!(available, sales.iter().map(VendorSale::payable_minor).sum::<i64>());
        }
    }
}
