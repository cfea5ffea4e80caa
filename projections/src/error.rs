//! `ProjectionError`: why a projector could not apply an event, sorted by what the consumer should
//! do about it. The sorting is the point: an outage must never spend a message's SQS receives (five
//! of them and SQS dead-letters a perfectly good event), while an event this code cannot read must
//! not wait for a dependency that is not the problem.
use std::fmt;

/// Why an event was not applied.
#[derive(Debug)]
pub enum ProjectionError {
    /// A dependency of the projector (Redis, Postgres) did not answer: connection refused or
    /// dropped, a timeout, an exhausted pool. The event is fine; hold it and try again once the
    /// dependency is back, without spending a receive.
    Unavailable(anyhow::Error),
    /// This code cannot project the event: its payload does not read as a known event of its
    /// type, or it cannot follow the document as stored. Retrying cannot help unless a newer
    /// version of the projector takes it (a rolling deploy), so it is retried through SQS receives
    /// and, on the last one, skipped (see the consumer's skip policy).
    Unprocessable(anyhow::Error),
    /// Anything else (a stored document that does not read, a Redis script error): retried
    /// through SQS receives, then left to the DLQ for someone to look at.
    Failed(anyhow::Error),
}

impl ProjectionError {
    pub fn unprocessable(error: impl Into<anyhow::Error>) -> Self {
        Self::Unprocessable(error.into())
    }

    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "unavailable",
            Self::Unprocessable(_) => "unprocessable",
            Self::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "dependency unavailable: {e:#}"),
            Self::Unprocessable(e) => write!(f, "event cannot be projected: {e:#}"),
            Self::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for ProjectionError {}

impl From<redis::RedisError> for ProjectionError {
    fn from(error: redis::RedisError) -> Self {
        use redis::ErrorKind;
        let transient = error.is_io_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_cluster_error()
            || matches!(
                error.kind(),
                ErrorKind::BusyLoadingError | ErrorKind::MasterDown | ErrorKind::ReadOnly
            );
        if transient {
            Self::Unavailable(anyhow::Error::new(error).context("Redis"))
        } else {
            Self::Failed(anyhow::Error::new(error).context("Redis"))
        }
    }
}

impl From<sqlx::Error> for ProjectionError {
    fn from(error: sqlx::Error) -> Self {
        if postgres_unavailable(&error) {
            Self::Unavailable(anyhow::Error::new(error).context("Postgres"))
        } else {
            Self::Failed(anyhow::Error::new(error).context("Postgres"))
        }
    }
}

impl From<serde_json::Error> for ProjectionError {
    /// Serialising a document we built ourselves, or reading one we stored: not the event's fault.
    fn from(error: serde_json::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// Whether a Postgres error says the server (or the way to it) is down rather than the statement
/// wrong: I/O, pool exhaustion, and the SQLSTATE classes for connection loss (08), shutdown
/// (57P01-57P03), too many connections (53300), and transient conflicts worth a plain retry
/// (40001 serialisation failure, 40P01 deadlock).
pub fn postgres_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_and_other_errors_are_not() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(
            ProjectionError::from(refused),
            ProjectionError::Unavailable(_)
        ));
        let script = redis::RedisError::from((redis::ErrorKind::ResponseError, "ERR bad script"));
        assert!(matches!(
            ProjectionError::from(script),
            ProjectionError::Failed(_)
        ));
        assert!(matches!(
            ProjectionError::from(sqlx::Error::PoolTimedOut),
            ProjectionError::Unavailable(_)
        ));
        assert!(matches!(
            ProjectionError::from(sqlx::Error::RowNotFound),
            ProjectionError::Failed(_)
        ));
    }
}
