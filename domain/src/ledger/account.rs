use serde::{Deserialize, Serialize};

use crate::Currency;

/// An account a ledger entry moves money on. `Clearing` and `Commission` are the marketplace's
/// (shared by every vendor's ledger); the others are the ledger's vendor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Customer payments captured and not refunded, as a negative balance: money the
    /// marketplace holds for others.
    Clearing,
    /// The marketplace's commission income.
    Commission,
    /// The vendor's share of sales not yet released (its sub-order not shipped, or within the
    /// hold period).
    Pending,
    /// The vendor's share it may be paid; negative when returns after a payout took back more.
    Available,
    /// Everything paid out to the vendor.
    PaidOut,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Clearing => "clearing",
            Account::Commission => "commission",
            Account::Pending => "pending",
            Account::Available => "available",
            Account::PaidOut => "paid_out",
        }
    }
}

/// One leg of a posting: `amount_minor` (signed) on `account`, in `currency`. The entries of one
/// event sum to zero in each currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub account: Account,
    pub currency: Currency,
    pub amount_minor: i64,
}

impl Entry {
    pub fn new(account: Account, currency: &Currency, amount_minor: i64) -> Self {
        Self {
            account,
            currency: currency.clone(),
            amount_minor,
        }
    }
}

/// A vendor's balances in one currency, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    pub pending: i64,
    pub available: i64,
    pub paid_out: i64,
}

impl Balances {
    /// Moves this vendor's balances by `entry` (the marketplace's accounts are not its).
    pub fn post(&mut self, entry: &Entry) {
        let balance = match entry.account {
            Account::Pending => &mut self.pending,
            Account::Available => &mut self.available,
            Account::PaidOut => &mut self.paid_out,
            Account::Clearing | Account::Commission => return,
        };
        *balance = balance.saturating_add(entry.amount_minor);
    }
}
