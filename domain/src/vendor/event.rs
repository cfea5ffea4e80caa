use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::{ContactEmail, Reason, UserId, VendorId, VendorName};

/// What happened to a vendor. Each decision carries its reason, so the history of a vendor is
/// its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum VendorEvent {
    VendorApplied {
        vendor_id: VendorId,
        name: VendorName,
        /// Personal data of the applicant. Before a service writes this event, it joins
        /// `personal_data::PERSONAL_DATA` (subject `applicant_id`), and `ContactEmail` learns
        /// to read its sealed and erased forms as `ShippingAddress` does.
        contact_email: ContactEmail,
        applicant_id: UserId,
    },
    VendorApproved {
        vendor_id: VendorId,
        reason: Reason,
    },
    VendorSuspended {
        vendor_id: VendorId,
        reason: Reason,
    },
    VendorReinstated {
        vendor_id: VendorId,
        reason: Reason,
    },
}

impl VendorEvent {
    /// The version of every event shape this code writes; upcasters lift older ones to it.
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            VendorEvent::VendorApplied { .. } => "VendorApplied",
            VendorEvent::VendorApproved { .. } => "VendorApproved",
            VendorEvent::VendorSuspended { .. } => "VendorSuspended",
            VendorEvent::VendorReinstated { .. } => "VendorReinstated",
        }
    }
}

impl DomainEvent for VendorEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}
