use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{Account, Entry};
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

/// What may be asked of a vendor's sale. The saga and the payout run ask; nobody else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleCommand {
    /// The order's payment was captured: credit the vendor its share of `lines` (its own lines of
    /// the order) as pending. Once.
    Credit {
        vendor_id: VendorId,
        order_id: OrderId,
        currency: Currency,
        lines: Vec<CreditedLine>,
    },
    /// The vendor's sub-order shipped at `shipped_at`: once `hold` has passed (at `now`), the
    /// pending share becomes available. Once.
    Release {
        shipped_at: DateTime<Utc>,
        now: DateTime<Utc>,
        hold: Duration,
    },
    /// Some units were returned and refunded: reverse the vendor's share and the commission they
    /// carried. Once per return.
    ReverseReturn {
        return_id: ReturnId,
        /// Units per product.
        units: Vec<(ProductId, u32)>,
    },
    /// Payout `payout_id` pays `amount_minor` of this sale (what was payable when the payout was
    /// started; negative when a return took back more than was left). Once per payout.
    MarkPaid {
        payout_id: PayoutId,
        amount_minor: i64,
    },
}

/// What happened to a vendor's sale; each event's `entries` sum to zero per currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum SaleEvent {
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
    ReturnReversed {
        vendor_id: VendorId,
        order_id: OrderId,
        return_id: ReturnId,
        lines: Vec<ReturnedLine>,
        entries: Vec<Entry>,
    },
    SharePaidOut {
        vendor_id: VendorId,
        order_id: OrderId,
        payout_id: PayoutId,
        entries: Vec<Entry>,
    },
}

impl SaleEvent {
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            SaleEvent::SaleCredited { .. } => "SaleCredited",
            SaleEvent::FundsReleased { .. } => "FundsReleased",
            SaleEvent::ReturnReversed { .. } => "ReturnReversed",
            SaleEvent::SharePaidOut { .. } => "SharePaidOut",
        }
    }

    pub fn entries(&self) -> &[Entry] {
        match self {
            SaleEvent::SaleCredited { entries, .. }
            | SaleEvent::FundsReleased { entries, .. }
            | SaleEvent::ReturnReversed { entries, .. }
            | SaleEvent::SharePaidOut { entries, .. } => entries,
        }
    }
}

impl DomainEvent for SaleEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Credited {
    vendor_id: VendorId,
    order_id: OrderId,
    currency: Currency,
    lines: Vec<CreditedLine>,
    released: bool,
    /// Units returned so far, and the commission reversed with them, per line (by index).
    returned: Vec<(u32, i64)>,
    /// What a payout would pay now: released share, less what returns took back after release,
    /// less what payouts paid.
    payable_minor: i64,
    returns: BTreeSet<ReturnId>,
    payouts: BTreeSet<PayoutId>,
}

/// One vendor's part of one order in the ledger (stream id [`VendorSale::id`]).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorSale {
    credited: Option<Credited>,
}

impl VendorSale {
    pub const TYPE: &'static str = "VendorSale";

    /// The stream of `vendor_id`'s part of `order_id`.
    pub fn id(order_id: OrderId, vendor_id: VendorId) -> String {
        format!("{order_id}:{vendor_id}")
    }

    /// The sale's currency, once credited.
    pub fn currency(&self) -> Option<&Currency> {
        self.credited.as_ref().map(|c| &c.currency)
    }

    /// What a payout would pay of this sale now (0 before its release).
    pub fn payable_minor(&self) -> i64 {
        self.credited.as_ref().map_or(0, |c| c.payable_minor)
    }

    fn credited(&self) -> Result<&Credited, DomainError> {
        self.credited.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })
    }

    pub(crate) fn decide(&self, command: SaleCommand) -> Result<Vec<SaleEvent>, DomainError> {
        match command {
            SaleCommand::Credit {
                vendor_id,
                order_id,
                currency,
                lines,
            } => {
                if self.credited.is_some() {
                    return Ok(vec![]);
                }
                let malformed = lines.is_empty()
                    || lines.iter().any(|l| {
                        l.quantity == 0
                            || l.line_total_minor <= 0
                            || !(0..=l.line_total_minor).contains(&l.commission_minor)
                    });
                if malformed {
                    return Err(DomainError::NoLines {
                        aggregate: Self::TYPE,
                    });
                }
                let gross = sum(lines.iter().map(|l| l.line_total_minor))?;
                let commission = sum(lines.iter().map(|l| l.commission_minor))?;
                let entries = vec![
                    Entry::new(Account::Clearing, &currency, -gross),
                    Entry::new(Account::Pending, &currency, gross - commission),
                    Entry::new(Account::Commission, &currency, commission),
                ];
                Ok(vec![SaleEvent::SaleCredited {
                    vendor_id,
                    order_id,
                    currency,
                    lines,
                    entries,
                }])
            }
            SaleCommand::Release {
                shipped_at,
                now,
                hold,
            } => {
                let sale = self.credited()?;
                if sale.released {
                    return Ok(vec![]);
                }
                let until = shipped_at + hold;
                if now < until {
                    return Err(DomainError::HoldNotOver {
                        order_id: sale.order_id.to_string(),
                        until: until.to_rfc3339(),
                    });
                }
                let share = sale.pending_share()?;
                Ok(vec![SaleEvent::FundsReleased {
                    vendor_id: sale.vendor_id,
                    order_id: sale.order_id,
                    entries: vec![
                        Entry::new(Account::Pending, &sale.currency, -share),
                        Entry::new(Account::Available, &sale.currency, share),
                    ],
                }])
            }
            SaleCommand::ReverseReturn { return_id, units } => {
                let sale = self.credited()?;
                if sale.returns.contains(&return_id) {
                    return Ok(vec![]);
                }
                let lines = sale.reversal(&units)?;
                let refund = sum(lines.iter().map(|l| l.refund_minor))?;
                let commission = sum(lines.iter().map(|l| l.commission_minor))?;
                // Before release the share comes back out of pending; after, out of available,
                // even below zero when it was paid out already.
                let from = match sale.released {
                    false => Account::Pending,
                    true => Account::Available,
                };
                let currency = &sale.currency;
                Ok(vec![SaleEvent::ReturnReversed {
                    vendor_id: sale.vendor_id,
                    order_id: sale.order_id,
                    return_id,
                    lines,
                    entries: vec![
                        Entry::new(Account::Clearing, currency, refund),
                        Entry::new(from, currency, -(refund - commission)),
                        Entry::new(Account::Commission, currency, -commission),
                    ],
                }])
            }
            SaleCommand::MarkPaid {
                payout_id,
                amount_minor,
            } => {
                let sale = self.credited()?;
                if sale.payouts.contains(&payout_id) {
                    return Ok(vec![]);
                }
                if !sale.released {
                    return Err(DomainError::NotReleased {
                        order_id: sale.order_id.to_string(),
                    });
                }
                Ok(vec![SaleEvent::SharePaidOut {
                    vendor_id: sale.vendor_id,
                    order_id: sale.order_id,
                    payout_id,
                    entries: vec![
                        Entry::new(Account::Available, &sale.currency, -amount_minor),
                        Entry::new(Account::PaidOut, &sale.currency, amount_minor),
                    ],
                }])
            }
        }
    }
}

impl Credited {
    /// What of the share is still pending: the lines' share less what returns took.
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

    /// The lines a return of `units` gives back. A line's refund is its total in proportion to
    /// the units (exact for whole units of one price); its commission is the line's in
    /// proportion, rounded half to even, and the return of a line's last units takes back
    /// exactly what is left of it, so nothing is lost to rounding.
    fn reversal(&self, units: &[(ProductId, u32)]) -> Result<Vec<ReturnedLine>, DomainError> {
        if units.is_empty() || units.iter().any(|(_, n)| *n == 0) {
            return Err(DomainError::NoLines {
                aggregate: VendorSale::TYPE,
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
                let commission_minor = if after == line.quantity {
                    line.commission_minor - reversed
                } else {
                    proportional(line.commission_minor, after, line.quantity) - reversed
                };
                Ok(ReturnedLine {
                    product_id: *product_id,
                    quantity: *quantity,
                    refund_minor: refund_of(line, after) - refund_of(line, returned),
                    commission_minor,
                })
            })
            .collect()
    }
}

/// What `units` of `line` cost: its total in proportion.
fn refund_of(line: &CreditedLine, units: u32) -> i64 {
    proportional(line.line_total_minor, units, line.quantity)
}

/// `amount * part / whole`, rounded half to even, in exact integers.
fn proportional(amount_minor: i64, part: u32, whole: u32) -> i64 {
    if whole == 0 {
        return 0;
    }
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

pub(crate) fn sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, DomainError> {
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

impl Aggregate for VendorSale {
    const TYPE: &'static str = Self::TYPE;
    type Command = SaleCommand;
    type Event = SaleEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SaleCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SaleEvent) {
        // What moved on `available` is what a payout would pay.
        let available: i64 = event
            .entries()
            .iter()
            .filter(|e| e.account == Account::Available)
            .map(|e| e.amount_minor)
            .sum();
        match event {
            SaleEvent::SaleCredited {
                vendor_id,
                order_id,
                currency,
                lines,
                ..
            } => {
                let returned = vec![(0, 0); lines.len()];
                self.credited = Some(Credited {
                    vendor_id,
                    order_id,
                    currency,
                    lines,
                    released: false,
                    returned,
                    payable_minor: 0,
                    returns: BTreeSet::new(),
                    payouts: BTreeSet::new(),
                });
            }
            SaleEvent::FundsReleased { .. } => {
                if let Some(sale) = self.credited.as_mut() {
                    sale.released = true;
                }
            }
            SaleEvent::ReturnReversed {
                return_id, lines, ..
            } => {
                if let Some(sale) = self.credited.as_mut() {
                    sale.returns.insert(return_id);
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
            SaleEvent::SharePaidOut { payout_id, .. } => {
                if let Some(sale) = self.credited.as_mut() {
                    sale.payouts.insert(payout_id);
                }
            }
        }
        if let Some(sale) = self.credited.as_mut() {
            sale.payable_minor = sale.payable_minor.saturating_add(available);
        }
    }
}
