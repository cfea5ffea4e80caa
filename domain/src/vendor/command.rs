use crate::{Actor, ContactEmail, Reason, UserId, VendorId, VendorName};

/// What may be asked of a vendor. `actor` is who asks: the rules of who may do what live in the
/// aggregate, not in the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorCommand {
    /// A signed-in person applies to sell as `name`. An admin may admit the vendor at once
    /// (`approved`), with the reason recorded as for any approval.
    Apply {
        vendor_id: VendorId,
        name: VendorName,
        contact_email: ContactEmail,
        applicant: UserId,
        approved: Option<Reason>,
        actor: Actor,
    },
    /// Admit a pending vendor (admins only).
    Approve { reason: Reason, actor: Actor },
    /// Stop an approved vendor selling (admins only): its products leave the catalog, its open
    /// orders are still fulfilled.
    Suspend { reason: Reason, actor: Actor },
    /// Let a suspended vendor sell again (admins only).
    Reinstate { reason: Reason, actor: Actor },
}
