//! The auth service's error type and its one mapping to problem+json.
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use commerce_platform::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum AuthApiError {
    /// A malformed request.
    #[error("{0}")]
    Malformed(String),
    /// A value outside its documented bounds (422 `invalid-value`).
    #[error("{0}")]
    Invalid(String),
    /// A rule the document cannot state, such as a commonly used password (422
    /// `rule-violation`).
    #[error("{0}")]
    RuleBroken(String),
    /// Wrong credentials, or a refresh token that cannot be used. The words never say which of
    /// email and password was wrong.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The email is taken.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins; try again after the wait.
    #[error("too many failed sign-ins; try again in {} s", whole_seconds(.0))]
    Throttled(Duration),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

/// A wait in whole seconds, rounded up: a client that waits that long is not refused again.
fn whole_seconds(wait: &Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

impl From<sqlx::Error> for AuthApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => AuthApiError::Unavailable(error.to_string()),
            other => AuthApiError::Internal(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for AuthApiError {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<sqlx::Error>() {
            Ok(sql) => sql.into(),
            Err(other) => AuthApiError::Internal(format!("{other:#}")),
        }
    }
}

impl IntoResponse for AuthApiError {
    fn into_response(self) -> Response {
        let problem = match &self {
            AuthApiError::Malformed(detail) => Problem::bad_request(detail),
            AuthApiError::Invalid(detail) => Problem::invalid_value(detail),
            AuthApiError::Unauthorized(detail) => Problem::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not signed in",
                detail,
            ),
            AuthApiError::RuleBroken(detail) => Problem::unprocessable(detail),
            AuthApiError::Forbidden(detail) => Problem::forbidden(detail),
            AuthApiError::NotFound(detail) => Problem::not_found(detail),
            AuthApiError::Conflict(detail) => Problem::conflict(detail),
            AuthApiError::Throttled(wait) => Problem::too_many_requests(
                self.to_string(),
                u32::try_from(whole_seconds(wait)).unwrap_or(u32::MAX),
            ),
            AuthApiError::Unavailable(cause) => {
                tracing::error!(%cause, "the account store is unavailable");
                Problem::unavailable("the account store is unavailable")
            }
            AuthApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Problem::internal()
            }
        };
        problem.into_response()
    }
}
