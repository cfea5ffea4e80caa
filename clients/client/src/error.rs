//! How a refusal or an unreadable answer reaches the caller.
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-2xx status. `status` is the HTTP status, which wins over
    /// any `status` member in the body. Boxed so that `Result<T, ClientError>` stays small.
    #[error("HTTP {status}: {problem}")]
    Problem { status: u16, problem: Box<Problem> },
    /// The request never got an answer: connection refused, timeout, invalid URL or header value.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// A 2xx answer whose body is not the expected JSON; `body` is kept to see what came instead.
    #[error("the HTTP {status} answer is not the expected JSON: {source}")]
    Decode {
        status: u16,
        body: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status, when there was an answer at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Problem { status, .. } | ClientError::Decode { status, .. } => {
                Some(*status)
            }
            ClientError::Transport(e) => e.status().map(|s| s.as_u16()),
        }
    }

    /// Whether the server answered `status`, e.g. `is_status(409)` for a version conflict.
    pub fn is_status(&self, status: u16) -> bool {
        self.status() == Some(status)
    }

    /// The server's explanation of a refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem { problem, .. } => Some(problem.as_ref()),
            _ => None,
        }
    }

    /// How long the server asked to wait before retrying (429, 503).
    pub fn retry_after(&self) -> Option<Duration> {
        self.problem().and_then(|p| p.retry_after)
    }
}

/// An RFC 7807 problem as the server sends it (`application/problem+json`). Every member is
/// optional on the way in so that any JSON object a proxy or a newer server sends still decodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A stable slug per kind of problem (e.g. `/problems/conflict`): match on this, not on text.
    #[serde(rename = "type", default = "about_blank")]
    pub type_uri: String,
    /// Short human summary; the HTTP reason phrase when the body had none.
    #[serde(default)]
    pub title: String,
    /// The status the server wrote in the body, if any.
    #[serde(default)]
    pub status: Option<u16>,
    /// What exactly went wrong with this request.
    #[serde(default)]
    pub detail: String,
    /// Members beyond the standard four, kept so nothing the server says is lost.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// From the `Retry-After` header (seconds form), for 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    /// The body as received when it was not a JSON object (e.g. an HTML page from a proxy).
    #[serde(skip)]
    pub raw_body: Option<String>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Turns an answer into the expected value (2xx) or the error the caller should see.
pub(crate) fn decode_answer<T: DeserializeOwned>(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<T, ClientError> {
    if !(200..300).contains(&status) {
        return Err(decode_error(status, retry_after, body));
    }
    // An answer without a body (204) reads as `null`: what `()` is made from.
    let body = if body.is_empty() { &b"null"[..] } else { body };
    serde_json::from_slice(body).map_err(|source| ClientError::Decode {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
        source,
    })
}

/// A non-2xx answer as a [`ClientError::Problem`]: the body's problem if it is a JSON object,
/// otherwise an `about:blank` problem that keeps the raw text.
pub(crate) fn decode_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ClientError {
    let mut problem = serde_json::from_slice::<Problem>(body).unwrap_or_else(|_| Problem {
        type_uri: about_blank(),
        raw_body: (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned()),
        ..Problem::default()
    });
    if problem.title.is_empty() {
        problem.title = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
    }
    problem.retry_after = retry_after;
    ClientError::Problem {
        status,
        problem: Box::new(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Accepted;

    #[test]
    fn a_problem_json_body_becomes_a_problem_error() {
        let body = br#"{"type":"/problems/conflict","title":"Conflict","status":409,
            "detail":"version 3 did not arrive within 2 s"}"#;
        let err = decode_error(409, None, body);
        assert_eq!(err.status(), Some(409));
        assert!(err.is_status(409));
        assert!(!err.is_status(404));
        let problem = err.problem().expect("a problem");
        assert_eq!(problem.type_uri, "/problems/conflict");
        assert_eq!(problem.title, "Conflict");
        assert_eq!(problem.status, Some(409));
        assert_eq!(problem.detail, "version 3 did not arrive within 2 s");
        assert_eq!(problem.raw_body, None);
        assert_eq!(
            err.to_string(),
            "HTTP 409: Conflict: version 3 did not arrive within 2 s"
        );
    }

    #[test]
    fn extension_members_are_kept_and_missing_members_defaulted() {
        let body = br#"{"detail":"out of stock","errors":["quantity"]}"#;
        let err = decode_error(422, None, body);
        let problem = err.problem().expect("a problem");
        assert_eq!(problem.type_uri, "about:blank");
        assert_eq!(problem.title, "Unprocessable Entity");
        assert_eq!(problem.status, None);
        assert_eq!(
            problem.extensions.get("errors"),
            Some(&serde_json::json!(["quantity"]))
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_kept_raw() {
        let err = decode_error(502, None, b"<html>Bad gateway</html>");
        let problem = err.problem().expect("a problem");
        assert_eq!(problem.title, "Bad Gateway");
        assert_eq!(
            problem.raw_body.as_deref(),
            Some("<html>Bad gateway</html>")
        );
        assert!(err.is_status(502));

        let empty = decode_error(405, None, b"");
        assert_eq!(empty.problem().and_then(|p| p.raw_body.clone()), None);
        assert_eq!(
            empty.problem().map(|p| p.title.as_str()),
            Some("Method Not Allowed")
        );
    }

    #[test]
    fn retry_after_travels_with_the_problem() {
        let err = decode_error(503, Some(Duration::from_secs(1)), b"{}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_2xx_answer_decodes_into_the_expected_type() {
        let accepted: Accepted =
            decode_answer(200, None, br#"{"aggregate_id":"a","version":4}"#).expect("decodes");
        assert_eq!(accepted.version, 4);
    }

    #[test]
    fn a_2xx_answer_of_the_wrong_shape_is_a_decode_error_with_the_body() {
        let err = decode_answer::<Accepted>(200, None, b"not json").expect_err("fails");
        match err {
            ClientError::Decode { status, body, .. } => {
                assert_eq!(status, 200);
                assert_eq!(body, "not json");
            }
            other => panic!("expected Decode, got {other:?}"),
        }
    }

    #[test]
    fn a_non_2xx_answer_is_a_problem_even_when_asked_for_another_type() {
        let err =
            decode_answer::<Accepted>(404, None, br#"{"title":"Not found"}"#).expect_err("fails");
        assert!(err.is_status(404));
    }
}
