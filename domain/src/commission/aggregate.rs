use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::CommissionRules;
use crate::{Actor, DomainError};

/// The marketplace's commission rules: one stream (id [`CommissionSchedule::ID`]), each event
/// the whole set of rules from then on. Orders confirmed before a change keep the commission
/// fixed on their lines.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommissionSchedule {
    rules: CommissionRules,
}

/// What may be asked of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommissionCommand {
    /// Replace every rule (admins only).
    SetRules {
        rules: CommissionRules,
        actor: Actor,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CommissionEvent {
    CommissionRulesSet { rules: CommissionRules },
}

impl CommissionSchedule {
    pub const TYPE: &'static str = "CommissionSchedule";
    /// The one stream of the schedule.
    pub const ID: &'static str = "marketplace";

    /// The rules in force (none set: no commission).
    pub fn rules(&self) -> &CommissionRules {
        &self.rules
    }
}

impl CommissionEvent {
    pub const VERSION: &'static str = "1.0";

    pub fn name(&self) -> &'static str {
        match self {
            CommissionEvent::CommissionRulesSet { .. } => "CommissionRulesSet",
        }
    }
}

impl DomainEvent for CommissionEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        Self::VERSION.to_owned()
    }
}

impl Aggregate for CommissionSchedule {
    const TYPE: &'static str = Self::TYPE;
    type Command = CommissionCommand;
    type Event = CommissionEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CommissionCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        let CommissionCommand::SetRules { rules, actor } = command;
        if actor != Actor::Admin {
            return Err(DomainError::NotPermitted {
                action: "set commission rules",
            });
        }
        if rules != self.rules {
            sink.write(CommissionEvent::CommissionRulesSet { rules }, self)
                .await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CommissionEvent) {
        let CommissionEvent::CommissionRulesSet { rules } = event;
        self.rules = rules;
    }
}
