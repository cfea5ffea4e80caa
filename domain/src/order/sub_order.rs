use serde::{Deserialize, Serialize};

use super::{OrderStatus, PricedLine};
use crate::{DomainError, Money, TrackingNumber, VendorId};

/// One vendor's part of an order: its lines and their subtotal, shipped on its own. Sub-orders
/// are not stored: they follow from the order's lines (one per vendor, in the order the vendors
/// first appear) and from the shipments recorded since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubOrder {
    pub vendor_id: VendorId,
    pub lines: Vec<PricedLine>,
    pub subtotal: Money,
    /// `Pending`, `Confirmed`, `Shipped` or `Cancelled`, never `PartiallyShipped`.
    pub status: OrderStatus,
    pub tracking: Option<TrackingNumber>,
}

impl SubOrder {
    /// Not shipped and not cancelled: still to be fulfilled.
    pub fn is_open(&self) -> bool {
        matches!(self.status, OrderStatus::Pending | OrderStatus::Confirmed)
    }
}

/// The sub-orders of an order's `lines`, each `Pending`.
pub fn split_by_vendor(lines: &[PricedLine]) -> Result<Vec<SubOrder>, DomainError> {
    let mut vendors: Vec<VendorId> = Vec::new();
    for line in lines {
        if !vendors.contains(&line.vendor_id) {
            vendors.push(line.vendor_id);
        }
    }
    vendors
        .into_iter()
        .map(|vendor_id| {
            let lines: Vec<PricedLine> = lines
                .iter()
                .filter(|line| line.vendor_id == vendor_id)
                .cloned()
                .collect();
            let subtotal = total_of_priced(&lines)?;
            Ok(SubOrder {
                vendor_id,
                lines,
                subtotal,
                status: OrderStatus::Pending,
                tracking: None,
            })
        })
        .collect()
}

/// The total of priced lines (never empty here: a sub-order exists because it has lines).
pub fn total_of_priced(lines: &[PricedLine]) -> Result<Money, DomainError> {
    Money::try_sum(lines.iter().map(|line| &line.line_total))?
        .ok_or(DomainError::NoLines { aggregate: "Order" })
}
