use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{DomainError, Money, ProductId, Quantity, VendorId};

/// One product of an order as the customer asked for it: what, whose, how many, at what price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    /// Kept on the line so a vendor sees, and ships, only the orders that hold its products.
    pub vendor_id: VendorId,
    pub quantity: Quantity,
    /// The product's price when the line was last changed.
    pub unit_price: Money,
}

impl OrderLine {
    /// What the line costs: `unit_price` times `quantity`.
    pub fn line_total(&self) -> Result<Money, DomainError> {
        self.unit_price.times(self.quantity)
    }

    fn priced(&self) -> Result<PricedLine, DomainError> {
        Ok(PricedLine {
            product_id: self.product_id,
            vendor_id: self.vendor_id,
            quantity: self.quantity,
            unit_price: self.unit_price.clone(),
            line_total: self.line_total()?,
        })
    }
}

/// An order line with its total worked out, as events carry it so readers never recompute money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub line_total: Money,
}

/// The total of `lines`, `None` when there are none; refused if currencies mix or it is too large.
pub(crate) fn total_of(lines: &[OrderLine]) -> Result<Option<Money>, DomainError> {
    let line_totals = lines
        .iter()
        .map(OrderLine::line_total)
        .collect::<Result<Vec<_>, _>>()?;
    Money::try_sum(&line_totals)
}

/// Prices `lines` for `aggregate` and totals them. Refuses no lines, a product on two lines (stock
/// is reserved once per order and product), mixed currencies and totals out of range.
pub(crate) fn price_lines(
    aggregate: &'static str,
    lines: &[OrderLine],
) -> Result<(Vec<PricedLine>, Money), DomainError> {
    let mut seen = BTreeSet::new();
    if let Some(repeated) = lines.iter().find(|line| !seen.insert(line.product_id)) {
        return Err(DomainError::DuplicateLine {
            product_id: repeated.product_id.to_string(),
        });
    }
    let priced = lines
        .iter()
        .map(OrderLine::priced)
        .collect::<Result<Vec<_>, _>>()?;
    let total = Money::try_sum(priced.iter().map(|line| &line.line_total))?
        .ok_or(DomainError::NoLines { aggregate })?;
    Ok((priced, total))
}
