use serde::{Deserialize, Serialize};

use crate::VendorId;

/// The authenticated party behind a command. Aggregates check ownership against it, so the rule
/// "a vendor acts only on its own products" is tested with the rest of the business rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Actor {
    /// A vendor acting for its own catalogue.
    Vendor { vendor_id: VendorId },
    /// Marketplace staff, allowed to act on any vendor's data.
    Admin,
}

impl Actor {
    /// Whether this actor may act on data owned by `owner`.
    pub fn may_act_for(&self, owner: VendorId) -> bool {
        match self {
            Actor::Admin => true,
            Actor::Vendor { vendor_id } => *vendor_id == owner,
        }
    }
}
