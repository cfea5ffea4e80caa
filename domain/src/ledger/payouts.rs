use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::sale::sum;
use crate::{Currency, DomainError, PayoutId, VendorId};

/// One sale a payout pays, and how much of it (fixed when the payout starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutItem {
    /// The sale's stream ([`super::VendorSale::id`]).
    pub sale: String,
    pub amount_minor: i64,
}

/// What may be asked of a vendor's payouts (the payout run asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutsCommand {
    /// Fix a payout of `items` (each released sale's payable amount now) under `payout_id`,
    /// before any sale is marked or the provider asked. Refused while another payout is open,
    /// and when the items come to nothing or less.
    Start {
        vendor_id: VendorId,
        payout_id: PayoutId,
        currency: Currency,
        items: Vec<PayoutItem>,
    },
    /// Every item is marked paid on its sale and the provider transferred the total.
    Complete { payout_id: PayoutId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PayoutsEvent {
    PayoutStarted {
        vendor_id: VendorId,
        payout_id: PayoutId,
        currency: Currency,
        amount_minor: i64,
        items: Vec<PayoutItem>,
    },
    PayoutCompleted {
        vendor_id: VendorId,
        payout_id: PayoutId,
        currency: Currency,
        amount_minor: i64,
    },
}

impl PayoutsEvent {
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            PayoutsEvent::PayoutStarted { .. } => "PayoutStarted",
            PayoutsEvent::PayoutCompleted { .. } => "PayoutCompleted",
        }
    }
}

impl DomainEvent for PayoutsEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}

/// The payout started and not completed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenPayout {
    pub vendor_id: VendorId,
    pub payout_id: PayoutId,
    pub currency: Currency,
    pub amount_minor: i64,
    pub items: Vec<PayoutItem>,
}

/// A vendor's payouts (stream id: the vendor's id). Only the open one is kept: completed payouts
/// are in the events and the read model.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorPayouts {
    open: Option<OpenPayout>,
    last_completed: Option<PayoutId>,
}

impl VendorPayouts {
    pub const TYPE: &'static str = "VendorPayouts";

    /// The payout to finish before another may start.
    pub fn open(&self) -> Option<&OpenPayout> {
        self.open.as_ref()
    }

    pub(crate) fn decide(&self, command: PayoutsCommand) -> Result<Vec<PayoutsEvent>, DomainError> {
        match command {
            PayoutsCommand::Start {
                vendor_id,
                payout_id,
                currency,
                items,
            } => {
                if let Some(open) = &self.open {
                    return match open.payout_id == payout_id {
                        true => Ok(vec![]),
                        false => Err(DomainError::PayoutOpen {
                            payout_id: open.payout_id.to_string(),
                        }),
                    };
                }
                if self.last_completed == Some(payout_id) {
                    return Ok(vec![]);
                }
                let amount_minor = sum(items.iter().map(|i| i.amount_minor))?;
                if amount_minor <= 0 {
                    return Err(DomainError::NothingToPay {
                        currency: currency.to_string(),
                        available_minor: amount_minor,
                    });
                }
                Ok(vec![PayoutsEvent::PayoutStarted {
                    vendor_id,
                    payout_id,
                    currency,
                    amount_minor,
                    items,
                }])
            }
            PayoutsCommand::Complete { payout_id } => match &self.open {
                Some(open) if open.payout_id == payout_id => {
                    Ok(vec![PayoutsEvent::PayoutCompleted {
                        vendor_id: open.vendor_id,
                        payout_id,
                        currency: open.currency.clone(),
                        amount_minor: open.amount_minor,
                    }])
                }
                _ if self.last_completed == Some(payout_id) => Ok(vec![]),
                _ => Err(DomainError::NoPayout {
                    payout_id: payout_id.to_string(),
                }),
            },
        }
    }
}

impl Aggregate for VendorPayouts {
    const TYPE: &'static str = Self::TYPE;
    type Command = PayoutsCommand;
    type Event = PayoutsEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PayoutsCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PayoutsEvent) {
        match event {
            PayoutsEvent::PayoutStarted {
                vendor_id,
                payout_id,
                currency,
                amount_minor,
                items,
            } => {
                self.open = Some(OpenPayout {
                    vendor_id,
                    payout_id,
                    currency,
                    amount_minor,
                    items,
                });
            }
            PayoutsEvent::PayoutCompleted { payout_id, .. } => {
                self.open = None;
                self.last_completed = Some(payout_id);
            }
        }
    }
}
