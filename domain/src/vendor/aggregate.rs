use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{VendorCommand, VendorEvent, VendorStatus};
use crate::{Actor, DomainError, VendorId};

/// A vendor's state as far as its rules need it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vendor {
    /// `None` until `VendorApplied`; every other command needs it.
    admitted: Option<Admission>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Admission {
    vendor_id: VendorId,
    status: VendorStatus,
}

impl Vendor {
    pub const TYPE: &'static str = "Vendor";

    /// The vendor's status; `None` before it applied.
    pub fn status(&self) -> Option<VendorStatus> {
        self.admitted.as_ref().map(|a| a.status)
    }

    /// Whether the vendor may create and publish products: only once approved, and not while
    /// suspended.
    pub fn may_sell(&self) -> bool {
        self.status() == Some(VendorStatus::Approved)
    }

    /// The event `command` produces, or why it is refused. `handle` records it.
    pub(crate) fn decide(&self, command: VendorCommand) -> Result<Vec<VendorEvent>, DomainError> {
        match command {
            VendorCommand::Apply {
                vendor_id,
                name,
                contact_email,
                applicant,
                approved,
                actor,
            } => {
                if self.admitted.is_some() {
                    return Err(DomainError::AlreadyExists {
                        aggregate: Self::TYPE,
                        id: vendor_id.to_string(),
                    });
                }
                let applied = VendorEvent::VendorApplied {
                    vendor_id,
                    name,
                    contact_email,
                    applicant_id: applicant,
                };
                match approved {
                    None => Ok(vec![applied]),
                    Some(reason) => {
                        only_admins(&actor, "admit a vendor")?;
                        Ok(vec![
                            applied,
                            VendorEvent::VendorApproved { vendor_id, reason },
                        ])
                    }
                }
            }
            VendorCommand::Approve { reason, actor } => {
                only_admins(&actor, "approve a vendor")?;
                let vendor_id = self.moving(VendorStatus::Pending, VendorStatus::Approved)?;
                Ok(vec![VendorEvent::VendorApproved { vendor_id, reason }])
            }
            VendorCommand::Suspend { reason, actor } => {
                only_admins(&actor, "suspend a vendor")?;
                let vendor_id = self.moving(VendorStatus::Approved, VendorStatus::Suspended)?;
                Ok(vec![VendorEvent::VendorSuspended { vendor_id, reason }])
            }
            VendorCommand::Reinstate { reason, actor } => {
                only_admins(&actor, "reinstate a vendor")?;
                let vendor_id = self.moving(VendorStatus::Suspended, VendorStatus::Approved)?;
                Ok(vec![VendorEvent::VendorReinstated { vendor_id, reason }])
            }
        }
    }

    /// The vendor's id, when it is in `from` and so may move to `to`.
    fn moving(&self, from: VendorStatus, to: VendorStatus) -> Result<VendorId, DomainError> {
        let admission = self.admitted.as_ref().ok_or(DomainError::NotFound {
            aggregate: Self::TYPE,
        })?;
        if admission.status != from {
            return Err(DomainError::IllegalTransition {
                aggregate: Self::TYPE,
                from: admission.status.as_str(),
                to: to.as_str(),
            });
        }
        Ok(admission.vendor_id)
    }
}

/// Admission decisions are the marketplace staff's.
fn only_admins(actor: &Actor, action: &'static str) -> Result<(), DomainError> {
    match actor {
        Actor::Admin => Ok(()),
        _ => Err(DomainError::NotPermitted { action }),
    }
}

impl Aggregate for Vendor {
    const TYPE: &'static str = Self::TYPE;
    type Command = VendorCommand;
    type Event = VendorEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: VendorCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: VendorEvent) {
        let (vendor_id, status) = match event {
            VendorEvent::VendorApplied { vendor_id, .. } => (vendor_id, VendorStatus::Pending),
            VendorEvent::VendorApproved { vendor_id, .. }
            | VendorEvent::VendorReinstated { vendor_id, .. } => {
                (vendor_id, VendorStatus::Approved)
            }
            VendorEvent::VendorSuspended { vendor_id, .. } => (vendor_id, VendorStatus::Suspended),
        };
        self.admitted = Some(Admission { vendor_id, status });
    }
}
