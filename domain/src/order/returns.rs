//! Returns of an order's goods, kept on the order: it is where the units of each line are, so
//! one return never takes back units another already holds.
//!
//! A customer asks to return some units of a vendor's shipped sub-order (`requested`); the vendor
//! accepts (saying whether the units go back to stock) or rejects; an accepted return is refunded
//! by the saga (the provider's refund, the payment, the vendor's ledger and the stock in one
//! append), or fails when the provider will not refund, which frees its units again.
use serde::{Deserialize, Serialize};

use super::PricedLine;
use crate::{DomainError, Money, ProductId, Quantity, ReturnId, VendorId};

/// Where a return is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Requested,
    Accepted,
    Rejected,
    Refunded,
    /// The provider would not refund: nothing was given back, and the units may be asked for
    /// again.
    RefundFailed,
}

impl ReturnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Requested => "requested",
            ReturnStatus::Accepted => "accepted",
            ReturnStatus::Rejected => "rejected",
            ReturnStatus::Refunded => "refunded",
            ReturnStatus::RefundFailed => "refund_failed",
        }
    }

    /// Whether the return holds its units (no other return may take them).
    fn holds_units(self) -> bool {
        matches!(
            self,
            ReturnStatus::Requested | ReturnStatus::Accepted | ReturnStatus::Refunded
        )
    }
}

/// Units of one line a customer returns, and what they are refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// The line's unit price times the units.
    pub refund: Money,
}

/// A return as the order keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReturn {
    pub return_id: ReturnId,
    pub vendor_id: VendorId,
    pub lines: Vec<ReturnLine>,
    pub refund_total: Money,
    pub status: ReturnStatus,
    /// Whether the units go back to stock (the vendor says so on acceptance).
    pub restock: bool,
}

impl OrderReturn {
    pub(super) fn illegal(&self, to: ReturnStatus) -> DomainError {
        DomainError::IllegalTransition {
            aggregate: "Return",
            from: self.status.as_str(),
            to: to.as_str(),
        }
    }
}

/// The lines of a return of `units` (product, quantity) of `vendor_id`'s `lines`, given
/// the returns already made (`returns`), or why it may not be made.
pub(super) fn return_lines(
    vendor_id: VendorId,
    lines: &[PricedLine],
    returns: &[OrderReturn],
    units: &[(ProductId, Quantity)],
) -> Result<(Vec<ReturnLine>, Money), DomainError> {
    if units.is_empty() {
        return Err(DomainError::NoLines {
            aggregate: "Return",
        });
    }
    let mut asked: Vec<ReturnLine> = Vec::with_capacity(units.len());
    for (product_id, quantity) in units {
        if asked.iter().any(|l| l.product_id == *product_id) {
            return Err(DomainError::DuplicateLine {
                product_id: product_id.to_string(),
            });
        }
        let line = lines
            .iter()
            .find(|l| l.product_id == *product_id && l.vendor_id == vendor_id)
            .ok_or_else(|| DomainError::NotInOrder {
                product_id: product_id.to_string(),
            })?;
        let held: u32 = returns
            .iter()
            .filter(|r| r.status.holds_units())
            .flat_map(|r| &r.lines)
            .filter(|l| l.product_id == *product_id)
            .map(|l| l.quantity.get())
            .sum();
        let left = line.quantity.get().saturating_sub(held);
        if quantity.get() > left {
            return Err(DomainError::ReturnExceedsSale {
                product_id: product_id.to_string(),
                left,
                requested: quantity.get(),
            });
        }
        asked.push(ReturnLine {
            product_id: *product_id,
            quantity: *quantity,
            refund: line.unit_price.times(*quantity)?,
        });
    }
    let total = Money::try_sum(asked.iter().map(|l| &l.refund))?.ok_or(DomainError::NoLines {
        aggregate: "Return",
    })?;
    Ok((asked, total))
}
