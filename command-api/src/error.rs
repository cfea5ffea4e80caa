//! The command API's error type and its one mapping to problem+json.
use axum::response::{IntoResponse, Response};
use commerce_domain::{DomainError, RejectionKind, ValidationError};
use commerce_platform::problem::Problem;

use crate::event_store::ExecuteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not well-formed (beyond what the JSON extractor catches).
    #[error("{0}")]
    Malformed(String),
    /// The caller's role may not issue this command at all.
    #[error("{0}")]
    Forbidden(String),
    /// A value of the request is outside the bounds the API document states for it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A rule the document cannot state (it depends on the caller's role) says no.
    #[error("{0}")]
    RuleBroken(String),
    /// The addressed aggregate refused the command.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// An aggregate the command addresses does not exist; the text names it and its id.
    #[error("{0}")]
    Missing(String),
    /// The command would record an event too large to publish.
    #[error("{0}")]
    TooLarge(String),
    /// Concurrent writers kept winning; the client may retry.
    #[error("{0}")]
    Contended(String),
    /// The event store is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// A fault the client cannot fix.
    #[error("{0}")]
    Internal(String),
}

impl From<ExecuteError<DomainError>> for ApiError {
    fn from(error: ExecuteError<DomainError>) -> Self {
        match error {
            ExecuteError::Rejected(e) => ApiError::Rejected(e),
            e @ ExecuteError::Contended { .. } => ApiError::Contended(e.to_string()),
            e @ ExecuteError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
            ExecuteError::Unavailable(e) => ApiError::Unavailable(e.to_string()),
            ExecuteError::Failed(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Direct reads and writes outside the event store (webhook settings).
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => ApiError::Unavailable(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// A refusal because the `aggregate` addressed does not exist, said with the `id` asked for:
    /// the aggregate itself cannot say it (an aggregate without events knows no id).
    pub fn naming(self, aggregate: &str, id: &dyn std::fmt::Display) -> Self {
        match self {
            ApiError::Rejected(DomainError::NotFound { aggregate: missing })
                if missing == aggregate =>
            {
                ApiError::Missing(format!("{missing} {id} does not exist"))
            }
            other => other,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match &self {
            ApiError::Malformed(detail) => Problem::bad_request(detail),
            ApiError::Forbidden(detail) => Problem::forbidden(detail),
            ApiError::Invalid(e) => Problem::invalid_value(e.to_string()),
            ApiError::RuleBroken(detail) => Problem::unprocessable(detail),
            ApiError::Rejected(e) => match e.kind() {
                RejectionKind::NotFound => Problem::not_found(e.to_string()),
                RejectionKind::Forbidden => Problem::forbidden(e.to_string()),
                RejectionKind::Conflict => Problem::conflict(e.to_string()),
                RejectionKind::Unprocessable => Problem::unprocessable(e.to_string()),
            },
            ApiError::Missing(detail) => Problem::not_found(detail),
            ApiError::TooLarge(detail) => Problem::unprocessable(detail),
            ApiError::Contended(detail) => {
                Problem::conflict(format!("{detail}; retry the request"))
            }
            ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "event store unavailable");
                Problem::unavailable("the event store is unavailable")
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Problem::internal()
            }
        };
        problem.into_response()
    }
}
