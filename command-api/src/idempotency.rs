//! `Idempotency-Key`: a repeated command gets the first answer again and changes nothing; the same
//! key with another request is refused (422).
//!
//! The key's row is inserted in a transaction that stays open while the command runs. A concurrent
//! repeat blocks on that insert until the first finishes, then replays its stored answer. Answers
//! that a retry could change (409, 429, 5xx) are not kept: the transaction rolls back and the key
//! is free again. Keys are kept for [`RETENTION`].
//!
//! Keys are scoped to the caller: its role, subject and vendor ([`caller_scope`]), so two tenants
//! that share a subject can never receive each other's answers. The caller is derived by the same
//! parser and verification as the handlers' ([`JwtKeys::authenticate`]); a request with a key
//! whose caller cannot be derived is answered 401 and never runs unprotected.
//!
//! The command's events are appended in that same transaction (see
//! [`within_request_transaction`]), so the events, the key and the stored answer commit together or
//! not at all: a crash at any point leaves either everything or nothing, and a retry finds the
//! answer or runs the command afresh.
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use commerce_platform::auth::{Authenticated, Claims, JwtKeys};
use commerce_platform::problem::Problem;
use commerce_platform::Shutdown;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use tokio::sync::Mutex;

use crate::event_store::{within_request_transaction, RequestTransaction};

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Longest a repeat waits for the first request with its key to finish.
const WAIT_FOR_FIRST: &str = "10s";

const HEADER: &str = "idempotency-key";

#[derive(Clone)]
pub struct IdempotencyLayer {
    pub pool: PgPool,
    pub keys: Arc<JwtKeys>,
    pub max_body_bytes: usize,
    /// The command's events commit with the key, after the handler woke the relay: wake it again.
    pub relay_waker: Arc<tokio::sync::Notify>,
}

/// Middleware for command routes.
pub async fn idempotent(
    State(layer): State<IdempotencyLayer>,
    request: Request,
    next: Next,
) -> Response {
    let Some(raw_key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return Problem::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response()
        }
    };
    // Without a caller there is no scope to keep the key in: refuse rather than run unprotected.
    let claims = match layer.keys.authenticate(request.headers()).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal.into_response(),
    };
    let scope = caller_scope(&claims);
    let (mut parts, body) = request.into_parts();
    // The handler runs as the caller the key is scoped to, without verifying the token again.
    parts.extensions.insert(Authenticated(claims));
    let bytes = match to_bytes(body, layer.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return Problem::payload_too_large(layer.max_body_bytes).into_response(),
    };
    let fingerprint = {
        let mut hash = Sha256::new();
        hash.update(parts.method.as_str());
        hash.update([0]);
        hash.update(parts.uri.path());
        hash.update([0]);
        hash.update(&bytes);
        hash.finalize().to_vec()
    };
    match run_once(&layer.pool, &scope, &key, &fingerprint, || {
        next.run(Request::from_parts(parts, Body::from(bytes)))
    })
    .await
    {
        Ok(response) => {
            layer.relay_waker.notify_one();
            response
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "idempotency store failed");
            Problem::unavailable("the idempotency store is unavailable").into_response()
        }
    }
}

/// The caller a key belongs to: `{role}:{sub}:{vendor_id or -}`. A subject that is a UUID is
/// written in its canonical lower-case form (the same user however the token spells it); any other
/// subject is kept as it is, since subjects are case-sensitive. Role and vendor never contain
/// `:`, so two different callers never share a scope, whatever their subjects contain.
///
/// Rows stored before scopes had this form (the bare `sub`) are never matched again: they expire
/// with [`RETENTION`], and a retry that spans the upgrade runs its command afresh.
fn caller_scope(claims: &Claims) -> String {
    let subject = claims
        .user_id()
        .map_or_else(|| claims.sub.clone(), |id| id.to_string());
    let vendor = claims
        .vendor_id
        .map_or_else(|| "-".to_owned(), |id| id.to_string());
    format!("{}:{subject}:{vendor}", claims.role.as_str())
}

async fn run_once<F, Fut>(
    pool: &PgPool,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
    command: F,
) -> anyhow::Result<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{WAIT_FOR_FIRST}'"))
        .execute(&mut *tx)
        .await?;
    let claimed = sqlx::query(
        "INSERT INTO es.idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .execute(&mut *tx)
    .await;
    let claimed = match claimed {
        Ok(done) => done.rows_affected() == 1,
        // 55P03 lock_not_available: the first request with this key is still running.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Ok(Problem::conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
            )
            .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    if !claimed {
        tx.rollback().await?;
        return replay(pool, scope, key, fingerprint).await;
    }

    let shared: RequestTransaction = Arc::new(Mutex::new(Some(tx)));
    let response = within_request_transaction(shared.clone(), command()).await;
    let Some(mut tx) = shared.lock().await.take() else {
        anyhow::bail!("the request's transaction was taken by its handler");
    };
    let status = response.status();
    if status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        // Nothing of the command stays: its answer may differ next time.
        tx.rollback().await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await?;
    let text_header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    sqlx::query(
        "UPDATE es.idempotency_keys SET status = $3, content_type = $4, location = $5, body = $6 \
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .bind(status.as_u16() as i16)
    .bind(text_header(header::CONTENT_TYPE))
    .bind(text_header(header::LOCATION))
    .bind(body.as_ref())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

async fn replay(
    pool: &PgPool,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
) -> anyhow::Result<Response> {
    let row = sqlx::query(
        "SELECT fingerprint, status, content_type, location, body FROM es.idempotency_keys \
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        // Expired between our insert attempt and this read: very unlikely; let the client retry.
        return Ok(Problem::conflict("retry the request").into_response());
    };
    let stored: Vec<u8> = row.try_get("fingerprint")?;
    if stored != fingerprint {
        return Ok(Problem::unprocessable(
            "this Idempotency-Key was used with a different request",
        )
        .into_response());
    }
    let status: i16 = row.try_get("status")?;
    let mut response = Response::new(Body::from(row.try_get::<Vec<u8>, _>("body")?));
    *response.status_mut() = StatusCode::from_u16(status as u16)?;
    let headers = response.headers_mut();
    for (name, column) in [
        (header::CONTENT_TYPE, "content_type"),
        (header::LOCATION, "location"),
    ] {
        if let Some(value) = row.try_get::<Option<String>, _>(column)? {
            headers.insert(name, HeaderValue::from_str(&value)?);
        }
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

/// Forgets keys older than [`RETENTION`], hourly, until `shutdown`.
pub async fn sweep_expired_keys(pool: PgPool, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        let result = sqlx::query(
            "DELETE FROM es.idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(RETENTION.as_secs_f64())
        .execute(&pool)
        .await;
        match result {
            Ok(done) if done.rows_affected() > 0 => {
                tracing::info!(
                    removed = done.rows_affected(),
                    "expired idempotency keys removed"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove expired idempotency keys"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {},
            _ = shutdown.cancelled() => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use commerce_platform::auth::Role;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn one_subject_acting_for_two_vendors_has_two_scopes() {
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let as_first = Claims::new("u1", Role::Vendor, Some(first), 60);
        let as_second = Claims::new("u1", Role::Vendor, Some(second), 60);
        assert_ne!(caller_scope(&as_first), caller_scope(&as_second));
        assert_eq!(caller_scope(&as_first), format!("vendor:u1:{first}"));
    }

    #[test]
    fn one_subject_in_two_roles_has_two_scopes() {
        let admin = Claims::new("u1", Role::Admin, None, 60);
        let customer = Claims::new("u1", Role::Customer, None, 60);
        assert_ne!(caller_scope(&admin), caller_scope(&customer));
    }

    #[test]
    fn a_uuid_subject_has_one_scope_however_it_is_spelled() {
        let id = Uuid::new_v4();
        let lower = Claims::new(id.to_string(), Role::Customer, None, 60);
        let upper = Claims::new(id.to_string().to_uppercase(), Role::Customer, None, 60);
        assert_eq!(caller_scope(&lower), caller_scope(&upper));
        let named = Claims::new("Alice", Role::Admin, None, 60);
        let other = Claims::new("alice", Role::Admin, None, 60);
        assert_ne!(
            caller_scope(&named),
            caller_scope(&other),
            "other subjects are case-sensitive"
        );
    }
}
