//! Read-your-writes: a client passes the version its command returned and the read waits, briefly,
//! until the read model has it.
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use commerce_platform::Shutdown;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::error::ReadError;

/// Longest a read waits for `min_version` before answering 409: the bound the API promises, and
/// the default of `COMMERCE_MIN_VERSION_WAIT_MS`.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The requested minimum version: `?min_version=` wins over the `X-Min-Version` header. Both are
/// checked whether or not they are used: versions start at 1, so 0 or less is a value outside
/// the documented bounds (422), and a header that is not an integer is malformed (400).
pub fn requested_min_version(
    query: Option<i64>,
    headers: &HeaderMap,
) -> Result<Option<i64>, ReadError> {
    let header = match headers.get("x-min-version") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| ReadError::Malformed("X-Min-Version must be an integer".into()))?,
        ),
    };
    for (name, version) in [("min_version", query), ("X-Min-Version", header)] {
        if version.is_some_and(|v| v < 1) {
            let got = version.unwrap_or_default();
            return Err(ReadError::Invalid(format!(
                "{name} must be at least 1, got {got}"
            )));
        }
    }
    Ok(query.or(header))
}

/// Whether the caller may read a document as loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// Never, at any version: the document belongs to someone else (carts and orders never
    /// change owner).
    Refused,
    /// Not as it is, but perhaps at a later version (a product that is not published yet).
    NotYet,
}

/// Loads with `load` until it yields a document the caller may read at `min_version` or newer,
/// polling with a short, growing interval for at most `max_wait` (the configured wait, at most
/// [`MAX_WAIT`]). `version_of` reads the version
/// of what was loaded; `access` says whether the caller may see it.
///
/// Ownership is checked before any wait, so a caller who may not read a document learns nothing
/// about it and never makes the server wait on it:
/// - a [`Access::Refused`] document is answered `Ok(None)` at once, exactly as a missing one;
/// - a missing document is waited for, since the caller may be the owner of a document not yet
///   projected; if it never appears, `Ok(None)` after the wait (not 409: a stranger asking with
///   `min_version` must get the same answer for "missing" and "not yours");
/// - an [`Access::NotYet`] document is `Ok(None)` at once when it is at `min_version`, and is
///   otherwise treated as missing (waited for, then `Ok(None)`, never a 409 that tells its
///   version);
/// - a readable document below `min_version` is waited for, then 409 `version-not-reached`.
///
/// The one difference left is time: a stranger's question about an existing document is answered
/// at once, about a missing one after the wait. Ids are random UUIDs, so that tells nothing about
/// documents whose id the caller does not already know.
pub async fn wait_for_readable<T, F, Fut>(
    max_wait: Duration,
    min_version: Option<i64>,
    version_of: impl Fn(&T) -> i64,
    access: impl Fn(&T) -> Access,
    load: F,
) -> Result<Option<T>, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ReadError>>,
{
    wait_for_readable_woken(max_wait, min_version, version_of, access, load, None).await
}

/// [`wait_for_readable`], woken by `changes` (when given) as soon as the document changes, and
/// otherwise loading it again only every [`POLL_WHEN_NOTIFIED`]: one load per change instead of
/// one every few milliseconds.
pub async fn wait_for_readable_woken<T, F, Fut>(
    max_wait: Duration,
    min_version: Option<i64>,
    version_of: impl Fn(&T) -> i64,
    access: impl Fn(&T) -> Access,
    mut load: F,
    mut changes: Option<DocumentChanges>,
) -> Result<Option<T>, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ReadError>>,
{
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut interval = Duration::from_millis(2);
    loop {
        // The version of a readable document below min_version; None while there is none.
        let readable_below = match load().await? {
            Some(doc) => {
                let reached = min_version.is_none_or(|min| version_of(&doc) >= min);
                match (access(&doc), reached) {
                    (Access::Refused, _) | (Access::NotYet, true) => return Ok(None),
                    (Access::Allowed, true) => return Ok(Some(doc)),
                    (Access::Allowed, false) => Some(version_of(&doc)),
                    (Access::NotYet, false) => None,
                }
            }
            None if min_version.is_none() => return Ok(None),
            None => None,
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let Some(have) = readable_below else {
                return Ok(None);
            };
            return Err(ReadError::VersionNotReached(format!(
                "version {} was requested; the read model has {have} after waiting {} ms",
                min_version.unwrap_or_default(),
                max_wait.as_millis()
            )));
        }
        match changes.as_mut() {
            Some(changes) => {
                let pause = POLL_WHEN_NOTIFIED.min(deadline - now);
                tokio::select! {
                    _ = changes.next(min_version) => {},
                    _ = tokio::time::sleep(pause) => {},
                }
            }
            None => {
                tokio::time::sleep(interval.min(deadline - now)).await;
                interval = (interval * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// How often a read woken by notifications loads anyway (a notification lost to a reconnect).
pub const POLL_WHEN_NOTIFIED: Duration = Duration::from_millis(250);

/// Changes of one document, from a [`ChangeFeed`]: subscribed before the first load, so no change
/// between that load and the wait is missed.
pub struct DocumentChanges {
    id: Uuid,
    feed: broadcast::Receiver<DocumentChange>,
}

impl DocumentChanges {
    /// Returns when the document may have reached `min_version`: a notification names it at that
    /// version or later (or without a version), or some were missed. A change to an older
    /// version wakes nobody: loading it would only find it still too old.
    pub(crate) async fn next(&mut self, min_version: Option<i64>) {
        loop {
            match self.feed.recv().await {
                Ok(change) if change.id == self.id => {
                    let reached = match (change.version, min_version) {
                        (Some(version), Some(min)) => version >= min,
                        _ => true,
                    };
                    if reached {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

/// One notification: the document written and, when the writer says, the version it now has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DocumentChange {
    id: Uuid,
    version: Option<i64>,
}

impl DocumentChange {
    /// `<id>` or `<id>:<version>`.
    fn parse(payload: &str) -> Option<Self> {
        let (id, version) = match payload.split_once(':') {
            Some((id, version)) => (id, Some(version.parse().ok()?)),
            None => (payload, None),
        };
        Some(Self {
            id: Uuid::parse_str(id).ok()?,
            version,
        })
    }
}

/// Documents written by a projector, from Postgres `LISTEN` on its channel (the writer sends
/// `NOTIFY` with `<id>:<version>` in the statement that writes). While the listening connection is down, nobody
/// subscribes, and reads poll as without it.
#[derive(Clone)]
pub struct ChangeFeed {
    sender: broadcast::Sender<DocumentChange>,
    listening: Arc<AtomicBool>,
}

impl ChangeFeed {
    /// Listens on `channel` until `stop`, reconnecting after a failure.
    pub fn start(pool: PgPool, channel: &'static str, stop: Shutdown) -> Self {
        let (sender, _) = broadcast::channel(4096);
        let feed = Self {
            sender,
            listening: Arc::new(AtomicBool::new(false)),
        };
        tokio::spawn(feed.clone().listen(pool, channel, stop));
        feed
    }

    /// The changes of document `id`, if the feed is live.
    pub fn subscribe(&self, id: Uuid) -> Option<DocumentChanges> {
        self.listening
            .load(Ordering::Acquire)
            .then(|| DocumentChanges {
                id,
                feed: self.sender.subscribe(),
            })
    }

    async fn listen(self, pool: PgPool, channel: &'static str, stop: Shutdown) {
        while !stop.is_cancelled() {
            let listener = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(channel).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = tokio::select! {
                l = listener => l,
                _ = stop.cancelled() => return,
            };
            match &mut listener {
                Ok(listener) => {
                    self.listening.store(true, Ordering::Release);
                    tracing::debug!(channel, "listening for document changes");
                    loop {
                        let notification = tokio::select! {
                            n = listener.try_recv() => n,
                            _ = stop.cancelled() => return,
                        };
                        match notification {
                            Ok(Some(n)) => {
                                if let Some(change) = DocumentChange::parse(n.payload()) {
                                    // No receiver is not an error: nobody is waiting.
                                    let _ = self.sender.send(change);
                                }
                            }
                            // The connection dropped: notifications may have been lost.
                            Ok(None) | Err(_) => break,
                        }
                    }
                    self.listening.store(false, Ordering::Release);
                    tracing::warn!(channel, "lost the connection listening for document changes; reads poll until it is back");
                }
                Err(error) => {
                    tracing::warn!(channel, %error, "cannot listen for document changes; reads poll");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                _ = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    /// A document `(owner, version)` read as `owner` 1.
    fn mine(doc: &(u8, i64)) -> Access {
        if doc.0 == 1 {
            Access::Allowed
        } else {
            Access::Refused
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_until_the_version_arrives() {
        let version = AtomicI64::new(0);
        let result = wait_for_readable(
            MAX_WAIT,
            Some(3),
            |d: &(u8, i64)| d.1,
            mine,
            || {
                let v = version.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok(Some((1, v))) }
            },
        )
        .await
        .unwrap();
        assert_eq!(result, Some((1, 3)));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_with_409_after_the_bound() {
        let result = wait_for_readable(
            MAX_WAIT,
            Some(5),
            |d: &(u8, i64)| d.1,
            mine,
            || async { Ok(Some((1, 1))) },
        )
        .await;
        assert!(matches!(result, Err(ReadError::VersionNotReached(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn someone_elses_document_is_refused_at_once_without_waiting() {
        let loads = AtomicI64::new(0);
        let started = tokio::time::Instant::now();
        let result = wait_for_readable(
            MAX_WAIT,
            Some(9),
            |d: &(u8, i64)| d.1,
            mine,
            || {
                loads.fetch_add(1, Ordering::SeqCst);
                async { Ok(Some((2, 1))) }
            },
        )
        .await
        .unwrap();
        assert_eq!(result, None, "answered as if it did not exist");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "loaded once");
        assert_eq!(started.elapsed(), Duration::ZERO, "no wait");
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_document_is_waited_for_then_answered_as_missing() {
        let started = tokio::time::Instant::now();
        let result = wait_for_readable(
            MAX_WAIT,
            Some(1),
            |d: &(u8, i64)| d.1,
            mine,
            || async { Ok(None) },
        )
        .await
        .unwrap();
        assert_eq!(result, None, "missing, not 409");
        assert!(started.elapsed() >= MAX_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_document_that_appears_during_the_wait_is_checked_for_ownership() {
        for (owner, expected) in [(1, Some((1, 1))), (2, None)] {
            let loads = AtomicI64::new(0);
            let result = wait_for_readable(
                MAX_WAIT,
                Some(1),
                |d: &(u8, i64)| d.1,
                mine,
                || {
                    let appeared = loads.fetch_add(1, Ordering::SeqCst) >= 2;
                    async move { Ok(appeared.then_some((owner, 1))) }
                },
            )
            .await
            .unwrap();
            assert_eq!(result, expected, "owner {owner}");
            assert_eq!(loads.load(Ordering::SeqCst), 3, "no wait once it appeared");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_document_readable_only_at_a_later_version_is_waited_for_and_never_versioned() {
        // (published, version): readable once published.
        let published = |d: &(bool, i64)| if d.0 { Access::Allowed } else { Access::NotYet };
        let loads = AtomicI64::new(0);
        let result = wait_for_readable(
            MAX_WAIT,
            Some(2),
            |d: &(bool, i64)| d.1,
            published,
            || {
                let v = loads.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok(Some((v >= 2, v.min(2)))) }
            },
        )
        .await
        .unwrap();
        assert_eq!(result, Some((true, 2)), "waited until it was published");

        let never = wait_for_readable(
            MAX_WAIT,
            Some(5),
            |d: &(bool, i64)| d.1,
            published,
            || async { Ok(Some((false, 1))) },
        )
        .await
        .unwrap();
        assert_eq!(
            never, None,
            "404 after the wait, not a 409 naming its version"
        );

        let started = tokio::time::Instant::now();
        let at_version = wait_for_readable(
            MAX_WAIT,
            Some(1),
            |d: &(bool, i64)| d.1,
            published,
            || async { Ok(Some((false, 1))) },
        )
        .await
        .unwrap();
        assert_eq!(at_version, None);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no wait at the version asked for"
        );
    }

    #[test]
    fn the_header_is_read_when_the_query_is_absent() {
        let mut headers = HeaderMap::new();
        headers.insert("x-min-version", "7".parse().unwrap());
        assert_eq!(requested_min_version(None, &headers).unwrap(), Some(7));
        assert_eq!(requested_min_version(Some(2), &headers).unwrap(), Some(2));
        headers.insert("x-min-version", "x".parse().unwrap());
        assert!(requested_min_version(None, &headers).is_err());
        assert!(
            requested_min_version(Some(2), &headers).is_err(),
            "checked also when the query wins"
        );
    }

    #[test]
    fn versions_below_one_are_malformed_wherever_they_are_given() {
        let none = HeaderMap::new();
        assert_eq!(requested_min_version(Some(1), &none).unwrap(), Some(1));
        for version in [0, -1, -100_000_000, i64::MIN] {
            assert!(
                requested_min_version(Some(version), &none).is_err(),
                "{version}"
            );
            let mut headers = HeaderMap::new();
            headers.insert("x-min-version", version.to_string().parse().unwrap());
            assert!(requested_min_version(None, &headers).is_err(), "{version}");
            assert!(
                requested_min_version(Some(3), &headers).is_err(),
                "{version}"
            );
        }
    }

    #[test]
    fn a_notification_names_a_document_and_perhaps_its_version() {
        let id = Uuid::new_v4();
        assert_eq!(
            DocumentChange::parse(&format!("{id}:7")),
            Some(DocumentChange {
                id,
                version: Some(7)
            })
        );
        assert_eq!(
            DocumentChange::parse(&id.to_string()),
            Some(DocumentChange { id, version: None })
        );
        assert_eq!(DocumentChange::parse(&format!("{id}:x")), None);
        assert_eq!(DocumentChange::parse("not-an-id:1"), None);
    }

    /// Against the local Postgres (`COMMERCE_TEST_DATABASE_URL`, default the `postgres` database).
    #[tokio::test]
    async fn a_change_feed_wakes_the_reader_of_the_document_named_and_no_other() {
        let url = std::env::var("COMMERCE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let pool = PgPool::connect(&url).await.unwrap();
        let channel = "test_changes_feed";
        let stop = Shutdown::new();
        let feed = ChangeFeed::start(pool.clone(), channel, stop.clone());
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut changes = loop {
            if let Some(changes) = feed.subscribe(mine) {
                break changes;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Another document at the version waited for, this one below it, then this one at it.
        for payload in [
            format!("{other}:3"),
            format!("{mine}:2"),
            format!("{mine}:3"),
        ] {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(&pool)
                .await
                .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), changes.next(Some(3)))
            .await
            .expect("woken by the notification naming the document at the version");
        assert!(
            changes.feed.try_recv().is_err(),
            "the other document's notification, and this one's older version, were passed over"
        );
        stop.cancel();
    }
}
