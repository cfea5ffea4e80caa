use serde::{Deserialize, Serialize};

/// Where a vendor is in its admission: `Pending` until an admin approves it; an approved vendor
/// may be suspended and reinstated any number of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorStatus {
    Pending,
    Approved,
    Suspended,
}

impl VendorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VendorStatus::Pending => "pending",
            VendorStatus::Approved => "approved",
            VendorStatus::Suspended => "suspended",
        }
    }
}
