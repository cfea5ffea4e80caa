//! JSON shapes every aggregate shares.
use serde::{Deserialize, Serialize};

/// An amount of money as the API carries it: integer minor units, so no rounding ever happens on
/// the way, and an ISO 4217 currency code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (cents for EUR): `1999` is 19.99.
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`; the server refuses codes it does not know (422).
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self {
            amount_minor,
            currency: currency.into(),
        }
    }
}

/// The answer to every accepted command that creates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Accepted {
    /// The aggregate the command changed, as the event store names it.
    pub aggregate_id: String,
    /// The aggregate's version after the command: pass it as `min_version` to read your write.
    pub version: i64,
}
