use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{Account, Balances, Entry};
use crate::{Currency, DomainError, OrderId, PayoutId, ProductId, ReturnId, VendorId};

/// One line of a sale as the ledger keeps it: what was sold, for how much, and the commission
/// fixed on it at confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditedLine {
    pub product_id: ProductId,
    pub quantity: u32,
    pub line_total_minor: i64,
    pub commission_minor: i64,
}

/// Units of one line given back by a return, and what they move: the refund to the customer,
/// and the part of the commission they carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub product_id: ProductId,
    pub quantity: u32,
    pub refund_minor: i64,
    pub commission_minor: i64,
}

/// What may be asked of a vendor's ledger. The saga and the payout run ask; nobody else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCommand {
    /// The order's payment was captured: credit the vendor its share of `lines` (its own lines
    /// of the order) as pending. Once per order.
    CreditSale {
        vendor_id: VendorId,
        order_id: OrderId,
        currency: Currency,
        lines: Vec<CreditedLine>,
    },
    /// The vendor's sub-order shipped at `shipped_at`: once `hold` has passed (at `now`), its
    /// pending share becomes available. Once per order.
    ReleaseFunds {
        order_id: OrderId,
        shipped_at: DateTime<Utc>,
        now: DateTime<Utc>,
        hold: Duration,
    },
    /// Fix a payout of everything available in `currency`, under `payout_id`, before the
    /// provider is asked to transfer it. Refused while another payout is open.
    StartPayout {
        payout_id: PayoutId,
        currency: Currency,
    },
    /// The provider transferred the payout: record it as paid out.
    CompletePayout { payout_id: PayoutId },
    /// Some units of the order were returned and refunded: reverse the vendor's share and the
    /// commission they carried. Once per return.
    ReverseReturn {
        return_id: ReturnId,
        order_id: OrderId,
        /// Units per product.
        units: Vec<(ProductId, u32)>,
    },
}

/// What happened in a vendor's ledger; each event's `entries` sum to zero per currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum LedgerEvent {
    SaleCredited {
        vendor_id: VendorId,
        order_id: OrderId,
        currency: Currency,
        lines: Vec<CreditedLine>,
        entries: Vec<Entry>,
    },
    FundsReleased {
        vendor_id: VendorId,
        order_id: OrderId,
        entries: Vec<Entry>,
    },
    PayoutStarted {
        vendor_id: VendorId,
        payout_id: PayoutId,
        currency: Currency,
        amount_minor: i64,
    },
    PayoutCompleted {
        vendor_id: VendorId,
        payout_id: PayoutId,
        entries: Vec<Entry>,
    },
    ReturnReversed {
        vendor_id: VendorId,
        return_id: ReturnId,
        order_id: OrderId,
        lines: Vec<ReturnedLine>,
        entries: Vec<Entry>,
    },
}

impl LedgerEvent {
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            LedgerEvent::SaleCredited { .. } => "SaleCredited",
            LedgerEvent::FundsReleased { .. } => "FundsReleased",
            LedgerEvent::PayoutStarted { .. } => "PayoutStarted",
            LedgerEvent::PayoutCompleted { .. } => "PayoutCompleted",
            LedgerEvent::ReturnReversed { .. } => "ReturnReversed",
        }
    }

    /// The event's entries (none for a payout's start, which fixes its amount only).
    pub fn entries(&self) -> &[Entry] {
        match self {
            LedgerEvent::SaleCredited { entries, .. }
            | LedgerEvent::FundsReleased { entries, .. }
            | LedgerEvent::PayoutCompleted { entries, .. }
            | LedgerEvent::ReturnReversed { entries, .. } => entries,
            LedgerEvent::PayoutStarted { .. } => &[],
        }
    }
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}

/// One order's sale in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sale {
    currency: Currency,
    lines: Vec<CreditedLine>,
    released: bool,
    /// Units returned so far, and the commission reversed with them, per line (by index).
    returned: Vec<(u32, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payout {
    currency: Currency,
    amount_minor: i64,
    completed: bool,
}

/// A vendor's ledger: its sales, balances, payouts and returns.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorLedger {
    vendor_id: Option<VendorId>,
    sales: BTreeMap<OrderId, Sale>,
    balances: BTreeMap<Currency, Balances>,
    payouts: BTreeMap<PayoutId, Payout>,
    returns: BTreeSet<ReturnId>,
}

impl VendorLedger {
    pub const TYPE: &'static str = "VendorLedger";

    /// The vendor's balances in each currency it has sold in.
    pub fn balances(&self) -> &BTreeMap<Currency, Balances> {
        &self.balances
    }

    /// The payout started and not completed, if any.
    pub fn open_payout(&self) -> Option<(PayoutId, &Currency, i64)> {
        self.payouts
            .iter()
            .find(|(_, p)| !p.completed)
            .map(|(id, p)| (*id, &p.currency, p.amount_minor))
    }

    /// Whether the order's share was credited and not released yet.
    pub fn holds(&self, order_id: OrderId) -> bool {
        self.sales.get(&order_id).is_some_and(|s| !s.released)
    }

    fn vendor(&self) -> Result<VendorId, DomainError> {
        self.vendor_id.ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })
    }

    fn sale(&self, order_id: OrderId) -> Result<&Sale, DomainError> {
        self.sales
            .get(&order_id)
            .ok_or_else(|| DomainError::NoSale {
                order_id: order_id.to_string(),
            })
    }

    pub(crate) fn decide(&self, command: LedgerCommand) -> Result<Vec<LedgerEvent>, DomainError> {
        match command {
            LedgerCommand::CreditSale {
                vendor_id,
                order_id,
                currency,
                lines,
            } => {
                if self.sales.contains_key(&order_id) {
                    return Ok(vec![]);
                }
                let gross = sum(lines.iter().map(|l| l.line_total_minor))?;
                let commission = sum(lines.iter().map(|l| l.commission_minor))?;
                if lines.is_empty()
                    || lines.iter().any(|l| {
                        l.quantity == 0
                            || l.line_total_minor <= 0
                            || !(0..=l.line_total_minor).contains(&l.commission_minor)
                    })
                {
                    return Err(DomainError::NoLines {
                        aggregate: Self::TYPE,
                    });
                }
                let entries = vec![
                    Entry::new(Account::Clearing, &currency, -gross),
                    Entry::new(Account::Pending, &currency, gross - commission),
                    Entry::new(Account::Commission, &currency, commission),
                ];
                Ok(vec![LedgerEvent::SaleCredited {
                    vendor_id,
                    order_id,
                    currency,
                    lines,
                    entries,
                }])
            }
            LedgerCommand::ReleaseFunds {
                order_id,
                shipped_at,
                now,
                hold,
            } => {
                let vendor_id = self.vendor()?;
                let sale = self.sale(order_id)?;
                if sale.released {
                    return Ok(vec![]);
                }
                let until = shipped_at + hold;
                if now < until {
                    return Err(DomainError::HoldNotOver {
                        order_id: order_id.to_string(),
                        until: until.to_rfc3339(),
                    });
                }
                let share = sale.pending_share()?;
                Ok(vec![LedgerEvent::FundsReleased {
                    vendor_id,
                    order_id,
                    entries: vec![
                        Entry::new(Account::Pending, &sale.currency, -share),
                        Entry::new(Account::Available, &sale.currency, share),
                    ],
                }])
            }
            LedgerCommand::StartPayout {
                payout_id,
                currency,
            } => {
                let vendor_id = self.vendor()?;
                if let Some(payout) = self.payouts.get(&payout_id) {
                    return match payout.currency == currency {
                        true => Ok(vec![]),
                        false => Err(DomainError::PayoutOpen {
                            payout_id: payout_id.to_string(),
                        }),
                    };
                }
                if let Some((open, _, _)) = self.open_payout() {
                    return Err(DomainError::PayoutOpen {
                        payout_id: open.to_string(),
                    });
                }
                let available = self.balances.get(&currency).map_or(0, |b| b.available);
                if available <= 0 {
                    return Err(DomainError::NothingToPay {
                        currency: currency.to_string(),
                        available_minor: available,
                    });
                }
                Ok(vec![LedgerEvent::PayoutStarted {
                    vendor_id,
                    payout_id,
                    currency,
                    amount_minor: available,
                }])
            }
            LedgerCommand::CompletePayout { payout_id } => {
                let vendor_id = self.vendor()?;
                let payout = self
                    .payouts
                    .get(&payout_id)
                    .ok_or_else(|| DomainError::NoPayout {
                        payout_id: payout_id.to_string(),
                    })?;
                if payout.completed {
                    return Ok(vec![]);
                }
                Ok(vec![LedgerEvent::PayoutCompleted {
                    vendor_id,
                    payout_id,
                    entries: vec![
                        Entry::new(Account::Available, &payout.currency, -payout.amount_minor),
                        Entry::new(Account::PaidOut, &payout.currency, payout.amount_minor),
                    ],
                }])
            }
            LedgerCommand::ReverseReturn {
                return_id,
                order_id,
                units,
            } => {
                let vendor_id = self.vendor()?;
                if self.returns.contains(&return_id) {
                    return Ok(vec![]);
                }
                let sale = self.sale(order_id)?;
                let lines = sale.reversal(&units)?;
                let refund = sum(lines.iter().map(|l| l.refund_minor))?;
                let commission = sum(lines.iter().map(|l| l.commission_minor))?;
                // Before release, the share comes back out of pending; after, out of available,
                // even below zero when it was paid out already.
                let from = match sale.released {
                    false => Account::Pending,
                    true => Account::Available,
                };
                let currency = &sale.currency;
                Ok(vec![LedgerEvent::ReturnReversed {
                    vendor_id,
                    return_id,
                    order_id,
                    lines,
                    entries: vec![
                        Entry::new(Account::Clearing, currency, refund),
                        Entry::new(from, currency, -(refund - commission)),
                        Entry::new(Account::Commission, currency, -commission),
                    ],
                }])
            }
        }
    }

    fn post(&mut self, entries: &[Entry]) {
        for entry in entries {
            self.balances
                .entry(entry.currency.clone())
                .or_default()
                .post(entry);
        }
    }
}

impl Sale {
    /// What of the order's share is still pending: the lines' share less what returns took.
    fn pending_share(&self) -> Result<i64, DomainError> {
        let mut share = 0_i64;
        for (line, (units, commission)) in self.lines.iter().zip(&self.returned) {
            let refunded = refund_of(line, *units);
            share = share
                .checked_add(
                    line.line_total_minor - line.commission_minor - (refunded - commission),
                )
                .ok_or(too_large())?;
        }
        Ok(share)
    }

    /// The lines a return of `units` gives back. A line's refund is its unit price times the
    /// units; its commission is the line's commission in proportion, rounded half to even, and
    /// the return that gives back a line's last units takes back exactly what is left of it, so
    /// nothing is lost to rounding.
    fn reversal(&self, units: &[(ProductId, u32)]) -> Result<Vec<ReturnedLine>, DomainError> {
        if units.is_empty() || units.iter().any(|(_, n)| *n == 0) {
            return Err(DomainError::NoLines {
                aggregate: VendorLedger::TYPE,
            });
        }
        units
            .iter()
            .map(|(product_id, quantity)| {
                let index = self
                    .lines
                    .iter()
                    .position(|l| l.product_id == *product_id)
                    .ok_or_else(|| DomainError::NotInOrder {
                        product_id: product_id.to_string(),
                    })?;
                let line = &self.lines[index];
                let (returned, reversed) = self.returned[index];
                let left = line.quantity.saturating_sub(returned);
                if *quantity > left {
                    return Err(DomainError::ReturnExceedsSale {
                        product_id: product_id.to_string(),
                        left,
                        requested: *quantity,
                    });
                }
                let after = returned + quantity;
                let refund_minor = refund_of(line, after) - refund_of(line, returned);
                let commission_minor = if after == line.quantity {
                    line.commission_minor - reversed
                } else {
                    proportional(line.commission_minor, after, line.quantity) - reversed
                };
                Ok(ReturnedLine {
                    product_id: *product_id,
                    quantity: *quantity,
                    refund_minor,
                    commission_minor,
                })
            })
            .collect()
    }
}

/// What `units` of `line` cost: its total in proportion (exact for whole units of one price).
fn refund_of(line: &CreditedLine, units: u32) -> i64 {
    proportional(line.line_total_minor, units, line.quantity)
}

/// `amount * part / whole`, rounded half to even.
fn proportional(amount_minor: i64, part: u32, whole: u32) -> i64 {
    if whole == 0 {
        return 0;
    }
    // As basis points of the whole would lose precision; in exact integers instead.
    let product = i128::from(amount_minor) * i128::from(part);
    let whole = i128::from(whole);
    let (quotient, remainder) = (product / whole, product % whole);
    let rounded = match (remainder * 2).cmp(&whole) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal if quotient % 2 == 1 => quotient + 1,
        _ => quotient,
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

fn sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, DomainError> {
    amounts
        .into_iter()
        .try_fold(0_i64, |total, amount| total.checked_add(amount))
        .ok_or(too_large())
}

fn too_large() -> DomainError {
    DomainError::AmountTooLarge {
        max_minor: crate::Money::MAX_AMOUNT_MINOR,
    }
}

impl Aggregate for VendorLedger {
    const TYPE: &'static str = Self::TYPE;
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LedgerCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: LedgerEvent) {
        self.post(event.entries());
        match event {
            LedgerEvent::SaleCredited {
                vendor_id,
                order_id,
                currency,
                lines,
                ..
            } => {
                self.vendor_id = Some(vendor_id);
                let returned = vec![(0, 0); lines.len()];
                self.sales.insert(
                    order_id,
                    Sale {
                        currency,
                        lines,
                        released: false,
                        returned,
                    },
                );
            }
            LedgerEvent::FundsReleased { order_id, .. } => {
                if let Some(sale) = self.sales.get_mut(&order_id) {
                    sale.released = true;
                }
            }
            LedgerEvent::PayoutStarted {
                payout_id,
                currency,
                amount_minor,
                ..
            } => {
                self.payouts.insert(
                    payout_id,
                    Payout {
                        currency,
                        amount_minor,
                        completed: false,
                    },
                );
            }
            LedgerEvent::PayoutCompleted { payout_id, .. } => {
                if let Some(payout) = self.payouts.get_mut(&payout_id) {
                    payout.completed = true;
                }
            }
            LedgerEvent::ReturnReversed {
                return_id,
                order_id,
                lines,
                ..
            } => {
                self.returns.insert(return_id);
                if let Some(sale) = self.sales.get_mut(&order_id) {
                    for returned in lines {
                        if let Some(index) = sale
                            .lines
                            .iter()
                            .position(|l| l.product_id == returned.product_id)
                        {
                            let (units, commission) = &mut sale.returned[index];
                            *units += returned.quantity;
                            *commission += returned.commission_minor;
                        }
                    }
                }
            }
        }
    }
}
