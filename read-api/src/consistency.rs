//! Read-your-writes: a client passes the version its command returned and the read waits, briefly,
//! until the read model has it.
use std::future::Future;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::error::ReadError;

/// Longest a read waits for `min_version` before answering 409.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The requested minimum version: `?min_version=` wins over the `X-Min-Version` header.
pub fn requested_min_version(
    query: Option<i64>,
    headers: &HeaderMap,
) -> Result<Option<i64>, ReadError> {
    if query.is_some() {
        return Ok(query);
    }
    match headers.get("x-min-version") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| ReadError::Malformed("X-Min-Version must be an integer".into())),
    }
}

/// Loads with `load` until it yields something at `min_version` or newer, polling with a short,
/// growing interval, for at most [`MAX_WAIT`]. `version_of` reads the version of what was loaded.
pub async fn wait_for_version<T, F, Fut>(
    min_version: Option<i64>,
    version_of: impl Fn(&T) -> i64,
    mut load: F,
) -> Result<Option<T>, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ReadError>>,
{
    let Some(min_version) = min_version else {
        return load().await;
    };
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    let mut interval = Duration::from_millis(2);
    loop {
        let loaded = load().await?;
        let have = loaded.as_ref().map(&version_of).unwrap_or(0);
        if have >= min_version {
            return Ok(loaded);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ReadError::VersionNotReached(format!(
                "version {min_version} was requested; the read model has {have} after waiting {} ms",
                MAX_WAIT.as_millis()
            )));
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_until_the_version_arrives() {
        let version = AtomicI64::new(0);
        let result = wait_for_version(
            Some(3),
            |v: &i64| *v,
            || {
                let v = version.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok(Some(v)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(result, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_with_409_after_the_bound() {
        let result = wait_for_version(Some(5), |v: &i64| *v, || async { Ok(Some(1)) }).await;
        assert!(matches!(result, Err(ReadError::VersionNotReached(_))));
    }

    #[test]
    fn the_header_is_read_when_the_query_is_absent() {
        let mut headers = HeaderMap::new();
        headers.insert("x-min-version", "7".parse().unwrap());
        assert_eq!(requested_min_version(None, &headers).unwrap(), Some(7));
        assert_eq!(requested_min_version(Some(2), &headers).unwrap(), Some(2));
        headers.insert("x-min-version", "x".parse().unwrap());
        assert!(requested_min_version(None, &headers).is_err());
    }
}
