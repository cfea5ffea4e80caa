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

/// Where an order goes: sent with [`CommerceClient::checkout`](crate::CommerceClient::checkout),
/// shown on the order to its customer, the vendors of its lines and admins. The server checks each
/// part (bounds in the OpenAPI document) and names the part it refuses (422).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// Who receives the parcel. Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub name: String,
    /// On orders placed before addresses had parts, the address's whole free text.
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub city: String,
    /// State, province or county, where the country uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case (`DE`, `GB`, `US`). Empty on orders placed before addresses
    /// had parts.
    #[serde(default)]
    pub country: String,
}

/// The answer to every accepted command that creates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Accepted {
    /// What changed: `Cart`, `Order`, `Product` or `Inventory` (a product's stock).
    #[serde(default)]
    pub aggregate_type: Option<String>,
    /// The aggregate the command changed, as the event store names it.
    pub aggregate_id: String,
    /// The aggregate's version after the command: pass it as `read_with` to read your write.
    pub version: i64,
    /// The read parameter that waits for `version`: `min_version`, or `min_stock_version` on the
    /// catalog's product after a stock receipt.
    #[serde(default)]
    pub read_with: Option<String>,
}
