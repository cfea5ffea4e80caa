/// How a transport should treat a rejection. The domain decides the category; the HTTP layer maps
/// each category to one status in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// The addressed aggregate does not exist.
    NotFound,
    /// The actor may not act on this aggregate.
    Forbidden,
    /// The command conflicts with the aggregate's current state (e.g. it already exists).
    Conflict,
    /// A business rule or a value constraint says no.
    Unprocessable,
}

/// A value failed its constraints while being parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// The offending field, named as the public API names it.
    pub field: &'static str,
    /// What is wrong with it, in words a client developer can act on.
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Why an aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{aggregate} does not exist")]
    NotFound { aggregate: &'static str },
    #[error("{aggregate} {id} already exists")]
    AlreadyExists { aggregate: &'static str, id: String },
    #[error("the caller does not own {aggregate} {id}")]
    NotOwner { aggregate: &'static str, id: String },
    #[error("price currency {given} differs from the product's currency {expected}")]
    CurrencyMismatch { expected: String, given: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl DomainError {
    pub fn kind(&self) -> RejectionKind {
        match self {
            DomainError::NotFound { .. } => RejectionKind::NotFound,
            DomainError::AlreadyExists { .. } => RejectionKind::Conflict,
            DomainError::NotOwner { .. } => RejectionKind::Forbidden,
            DomainError::CurrencyMismatch { .. } | DomainError::Invalid(_) => {
                RejectionKind::Unprocessable
            }
        }
    }
}
