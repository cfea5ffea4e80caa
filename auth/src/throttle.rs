//! Login throttling: after `max_failures` failed sign-ins within the window for one account, or
//! four times as many from one client address (an office behind one address is many people),
//! the next attempts get 429 with the wait, whether or not their password is right. Failures
//! are kept in Postgres, so every replica counts the same ones.
use std::time::Duration;

use sqlx::PgPool;

use crate::config::Throttle;

/// The keys one attempt counts against.
pub struct AttemptKeys {
    account: String,
    address: Option<String>,
}

impl AttemptKeys {
    pub fn new(email: &str, address: Option<&str>) -> Self {
        Self {
            account: format!("email:{email}"),
            address: address.map(|a| format!("address:{a}")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pool: PgPool,
    config: Throttle,
}

impl LoginThrottle {
    pub fn new(pool: PgPool, config: Throttle) -> Self {
        Self { pool, config }
    }

    /// How long the attempt must wait, if either of its keys is over its limit: until enough
    /// of that key's failures have left the window.
    pub async fn wait(&self, keys: &AttemptKeys) -> sqlx::Result<Option<Duration>> {
        let mut longest: Option<Duration> = None;
        let limits = [
            (Some(&keys.account), self.config.max_failures),
            (keys.address.as_ref(), self.config.max_failures * 4),
        ];
        for (key, limit) in limits {
            let Some(key) = key else { continue };
            // The limit-th newest failure in the window: once it leaves, fewer than the limit remain.
            let wait_ms: Option<f64> = sqlx::query_scalar(
                "SELECT (EXTRACT(EPOCH FROM (at + $2 * interval '1 millisecond' - now())) * 1000)::float8 \
                 FROM auth.login_failures \
                 WHERE key = $1 AND at > now() - $2 * interval '1 millisecond' \
                 ORDER BY at DESC OFFSET $3 - 1 LIMIT 1",
            )
            .bind(key)
            .bind(self.config.window.as_millis() as f64)
            .bind(limit)
            .fetch_optional(&self.pool)
            .await?
            .flatten();
            if let Some(ms) = wait_ms.filter(|ms| *ms > 0.0) {
                let wait = Duration::from_millis(ms.ceil() as u64);
                longest = Some(longest.map_or(wait, |w| w.max(wait)));
            }
        }
        Ok(longest)
    }

    /// Counts a failed attempt against its keys (and forgets their failures out of the window).
    pub async fn failed(&self, keys: &AttemptKeys) -> sqlx::Result<()> {
        let keys: Vec<&str> = [Some(keys.account.as_str()), keys.address.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        sqlx::query(
            "WITH gone AS (DELETE FROM auth.login_failures \
                 WHERE key = ANY($1) AND at <= now() - $2 * interval '1 millisecond') \
             INSERT INTO auth.login_failures (key) SELECT unnest($1::text[])",
        )
        .bind(&keys)
        .bind(self.config.window.as_millis() as f64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A successful sign-in clears its account's failures (not its address's).
    pub async fn succeeded(&self, keys: &AttemptKeys) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM auth.login_failures WHERE key = $1")
            .bind(&keys.account)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
