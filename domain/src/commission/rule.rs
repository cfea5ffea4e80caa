use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::order::PricedLine;
use crate::{Category, DomainError, Money, ProductId, ValidationError, VendorId};

/// How much the marketplace takes of one order line: a percentage of the line's total (in basis
/// points, rounded half to even to the minor unit), plus a flat fee per line, held between an
/// optional floor and cap, and never more than the line itself. Amounts are minor units of the
/// line's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRule {
    /// 0 to 10,000 (100 %).
    #[serde(default)]
    pub percent_bp: u32,
    #[serde(default)]
    pub flat_minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_minor: Option<i64>,
}

impl CommissionRule {
    pub const MAX_PERCENT_BP: u32 = 10_000;

    /// A rule from its parts, each checked; `field` names it in a refusal (`default`,
    /// `vendors.<id>`, `categories.<name>`). A part out of its bounds is `Invalid`; parts that
    /// do not fit together (no percentage and no fee, a floor above the cap) are
    /// `InconsistentCommissionRule`.
    pub fn new(
        field: &str,
        percent_bp: Option<u32>,
        flat_minor: Option<i64>,
        floor_minor: Option<i64>,
        cap_minor: Option<i64>,
    ) -> Result<Self, DomainError> {
        let percent = percent_bp.unwrap_or(0);
        if percent > Self::MAX_PERCENT_BP {
            return Err(ValidationError::new(
                format!("{field}.percent_bp"),
                format!("must be 0 to {}, got {percent}", Self::MAX_PERCENT_BP),
            )
            .into());
        }
        for (part, value) in [
            ("flat", flat_minor),
            ("floor", floor_minor),
            ("cap", cap_minor),
        ] {
            if let Some(value) = value {
                if !(0..=Money::MAX_AMOUNT_MINOR).contains(&value) {
                    return Err(ValidationError::new(
                        format!("{field}.{part}"),
                        format!(
                            "must be 0 to {} minor units, got {value}",
                            Money::MAX_AMOUNT_MINOR
                        ),
                    )
                    .into());
                }
            }
        }
        if percent_bp.is_none() && flat_minor.is_none() {
            return Err(DomainError::InconsistentCommissionRule {
                field: field.to_owned(),
                reason: "needs percent_bp, flat or both".to_owned(),
            });
        }
        if let (Some(floor), Some(cap)) = (floor_minor, cap_minor) {
            if floor > cap {
                return Err(DomainError::InconsistentCommissionRule {
                    field: format!("{field}.floor"),
                    reason: format!("must not exceed the cap ({cap}), got {floor}"),
                });
            }
        }
        Ok(Self {
            percent_bp: percent,
            flat_minor: flat_minor.unwrap_or(0),
            floor_minor,
            cap_minor,
        })
    }

    /// The commission on a line of `line_total_minor`, in the same minor units.
    pub fn commission_on(&self, line_total_minor: i64) -> i64 {
        let percent = percent_half_even(line_total_minor, self.percent_bp);
        let mut commission = percent.saturating_add(self.flat_minor);
        if let Some(floor) = self.floor_minor {
            commission = commission.max(floor);
        }
        if let Some(cap) = self.cap_minor {
            commission = commission.min(cap);
        }
        commission.clamp(0, line_total_minor.max(0))
    }
}

/// `amount * bp / 10,000`, rounded half to even: a half minor unit goes to the even neighbour,
/// so rounding favours neither the marketplace nor the seller over many lines.
pub fn percent_half_even(amount_minor: i64, bp: u32) -> i64 {
    let product = i128::from(amount_minor) * i128::from(bp);
    let (quotient, remainder) = (product / 10_000, product % 10_000);
    let rounded = match (remainder * 2).cmp(&10_000) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal if quotient % 2 == 1 => quotient + 1,
        _ => quotient,
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The marketplace's commission rules: a default, overridden per category, overridden per vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRules {
    pub default: CommissionRule,
    #[serde(default)]
    pub vendors: BTreeMap<VendorId, CommissionRule>,
    #[serde(default)]
    pub categories: BTreeMap<Category, CommissionRule>,
}

impl CommissionRules {
    /// What applies to a line of `vendor_id` in `category`: the vendor's override, else the
    /// category's, else the default.
    pub fn rule_for(&self, vendor_id: VendorId, category: Option<&Category>) -> &CommissionRule {
        self.vendors
            .get(&vendor_id)
            .or_else(|| category.and_then(|c| self.categories.get(c)))
            .unwrap_or(&self.default)
    }
}

impl Default for CommissionRules {
    /// No rules set yet: the marketplace takes nothing.
    fn default() -> Self {
        Self {
            default: CommissionRule {
                percent_bp: 0,
                flat_minor: 0,
                floor_minor: None,
                cap_minor: None,
            },
            vendors: BTreeMap::new(),
            categories: BTreeMap::new(),
        }
    }
}

/// The commission fixed on one order line when its order is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCommission {
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    /// Minor units of the line's currency; 0 when no rule takes anything.
    pub commission_minor: i64,
}

/// The commission of each of `lines` under `rules`, a line's category looked up in
/// `categories` (a product without one gets the vendor's or the default rule).
pub fn commissions_of(
    rules: &CommissionRules,
    lines: &[PricedLine],
    categories: &BTreeMap<ProductId, Category>,
) -> Vec<LineCommission> {
    lines
        .iter()
        .map(|line| LineCommission {
            product_id: line.product_id,
            vendor_id: line.vendor_id,
            commission_minor: rules
                .rule_for(line.vendor_id, categories.get(&line.product_id))
                .commission_on(line.line_total.amount_minor),
        })
        .collect()
}
