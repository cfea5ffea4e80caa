//! The read API's error type and its one mapping to problem+json.
use axum::response::{IntoResponse, Response};
use commerce_platform::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Malformed(String),
    /// A parameter outside the bounds the document states for it (422 `invalid-value`).
    #[error("{0}")]
    Invalid(String),
    /// Parameters each within their bounds that together break a rule the document cannot state,
    /// such as a range that ends before it starts (422 `rule-violation`).
    #[error("{0}")]
    RuleViolation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The read model has not reached the version the client asked for within the wait bound.
    #[error("{0}")]
    VersionNotReached(String),
    #[error("read model store unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<redis::RedisError> for ReadError {
    fn from(error: redis::RedisError) -> Self {
        if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
            ReadError::Unavailable(error.to_string())
        } else {
            ReadError::Internal(error.to_string())
        }
    }
}

impl From<sqlx::Error> for ReadError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                ReadError::Unavailable(error.to_string())
            }
            other => ReadError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        let problem = match &self {
            ReadError::Malformed(d) => Problem::bad_request(d),
            ReadError::Invalid(d) => Problem::invalid_value(d),
            ReadError::RuleViolation(d) => Problem::unprocessable(d),
            ReadError::NotFound(d) => Problem::not_found(d),
            ReadError::Forbidden(d) => Problem::forbidden(d),
            ReadError::VersionNotReached(d) => Problem::new(
                axum::http::StatusCode::CONFLICT,
                "version-not-reached",
                "The read model has not caught up yet",
                d,
            ),
            ReadError::Unavailable(cause) => {
                tracing::error!(%cause, "read model store unavailable");
                Problem::unavailable("the read model store is unavailable")
            }
            ReadError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Problem::internal()
            }
        };
        problem.into_response()
    }
}
