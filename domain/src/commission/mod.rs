//! The marketplace's commission: rules (a default, overrides per category and per vendor, each a
//! percentage and/or a flat fee per line, with an optional floor and cap) kept as one aggregate,
//! and the arithmetic that fixes each order line's commission when the order is confirmed.
mod aggregate;
mod rule;
#[cfg(test)]
mod tests;

pub use aggregate::{CommissionCommand, CommissionEvent, CommissionSchedule};
pub use rule::{
    commissions_of, percent_half_even, CommissionRule, CommissionRules, LineCommission,
};
