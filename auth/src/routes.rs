//! The auth service's HTTP routes: sign-up, sign-in, refresh, sign-out, the public keys, role
//! grants and the audit log.
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_platform::audit::{self, AuditEntry, AuditFilter, RecordedEntry};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::http::{ClientAddress, CorrelationId};
use commerce_platform::openapi::{BodyFailures, CommonFailures, ProblemSchema as Problem};
use commerce_platform::problem::{ApiJson, ApiQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::{self, normalized_email};
use crate::error::AuthApiError;
use crate::keys::{self, KeySetDocument};
use crate::throttle::AttemptKeys;
use crate::tokens::{self, Holder, TokenPair};
use crate::AppState;

/// An email and a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(min_length = 3, max_length = 254, example = "ada@example.com")]
    email: String,
    /// At least 8 characters and not one of the most commonly used passwords.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// A new account: an email, a password and, if given, the holder's name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[schema(min_length = 3, max_length = 254, example = "ada@example.com")]
    email: String,
    /// At least 8 characters and not one of the most commonly used passwords.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    /// How the storefront greets the holder.
    #[schema(min_length = 1, max_length = 100, example = "Ada Lovelace")]
    #[serde(default)]
    name: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// An account as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Account {
    user_id: Uuid,
    email: String,
    /// `customer`, `vendor`, `admin`, `analyst` or `ops`.
    role: String,
    /// The vendor a vendor member acts for.
    vendor_id: Option<Uuid>,
}

/// Creates a customer account.
#[utoipa::path(
    post, path = "/v1/auth/register", tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, description = "The account; sign in to get tokens", body = Account),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email has an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An email, password or name outside its bounds (`/problems/invalid-value`), or a commonly used password (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<Registration>,
) -> Result<(StatusCode, Json<Account>), AuthApiError> {
    let name = body.name.as_deref().map(str::trim).map(str::to_owned);
    if let Some(name) = &name {
        let chars = name.chars().count();
        if !(1..=100).contains(&chars) {
            return Err(AuthApiError::Invalid(format!(
                "name: must be 1 to 100 characters long, got {chars}"
            )));
        }
    }
    let audit = AuditEntry::new("user_registered")
        .from_address(address)
        .correlation(correlation.0);
    let (user_id, email) = accounts::create(
        &state.pool,
        &state.hashing,
        &body.email,
        body.password,
        name.as_deref(),
        Role::Customer,
        audit,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Account {
            user_id,
            email,
            role: Role::Customer.as_str().to_owned(),
            vendor_id: None,
        }),
    ))
}

/// Signs in: a new token pair.
#[utoipa::path(
    post, path = "/v1/auth/login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password (the same answer for both, in the same time)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An email outside its bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this account or address; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenPair>, AuthApiError> {
    let email = normalized_email(&body.email)?;
    let attempt = AttemptKeys::new(&email, address.as_deref());
    let entry = |action: &'static str| {
        AuditEntry::new(action)
            .from_address(address.clone())
            .correlation(correlation.0)
    };
    if let Some(wait) = state.throttle.wait(&attempt).await? {
        entry("login_throttled")
            .actor(email.clone())
            .record(&state.pool)
            .await?;
        tracing::warn!(wait_ms = wait.as_millis() as u64, "sign-in throttled");
        return Err(AuthApiError::Throttled(wait));
    }
    let stored = accounts::by_email(&state.pool, &email).await?;
    let hashing = state.hashing.clone();
    let password = body.password;
    let hash = stored.as_ref().map(|s| s.password_hash.clone());
    // An unknown email is checked against a decoy: the same work, the same answer.
    let matches = tokio::task::spawn_blocking(move || hashing.verify(&password, hash.as_deref()))
        .await
        .map_err(|e| AuthApiError::Internal(e.to_string()))?;
    let Some(user) = stored.filter(|_| matches) else {
        state.throttle.failed(&attempt).await?;
        entry("login_failed")
            .actor(email)
            .record(&state.pool)
            .await?;
        tracing::info!("sign-in failed");
        return Err(AuthApiError::Unauthorized("wrong email or password".into()));
    };
    state.throttle.succeeded(&attempt).await?;
    let holder = Holder {
        user_id: user.user_id,
        role: user.role,
        vendor_id: user.vendor_id,
    };
    let mut transaction = state.pool.begin().await?;
    let pair = state
        .issuer
        .issue(&state.pool, &mut transaction, &holder, Uuid::new_v4())
        .await?;
    entry("login_succeeded")
        .actor(holder.user_id.to_string())
        .target(holder.user_id.to_string())
        .record(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(user_id = %holder.user_id, "signed in");
    Ok(Json(pair))
}

/// A refresh token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(min_length = 1, max_length = 256)]
    refresh_token: String,
}

/// Exchanges a refresh token (once) for a new pair.
#[utoipa::path(
    post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair; the one presented is used up", body = TokenPair),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired or revoked; or used before, which revokes every token of its sign-in", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, AuthApiError> {
    let mut transaction = state.pool.begin().await?;
    let Some(presented) = tokens::presented(&mut transaction, &body.refresh_token).await? else {
        return Err(AuthApiError::Unauthorized(
            "unknown refresh token: sign in again".into(),
        ));
    };
    if presented.revoked {
        return Err(AuthApiError::Unauthorized(
            "this refresh token is revoked: sign in again".into(),
        ));
    }
    if presented.used {
        let revoked = tokens::revoke_family(&mut transaction, presented.family_id).await?;
        AuditEntry::new("refresh_token_reused")
            .actor(presented.user_id.to_string())
            .target(presented.user_id.to_string())
            .from_address(address)
            .correlation(correlation.0)
            .detail(serde_json::json!({ "family_id": presented.family_id, "revoked": revoked }))
            .record(&mut *transaction)
            .await?;
        transaction.commit().await?;
        tracing::warn!(user_id = %presented.user_id, family_id = %presented.family_id, "a used refresh token was presented again; its family is revoked");
        return Err(AuthApiError::Unauthorized(
            "this refresh token was used before, so a copy of it may be in other hands: every \
             token of its sign-in is revoked; sign in again"
                .into(),
        ));
    }
    if presented.expired {
        return Err(AuthApiError::Unauthorized(
            "this refresh token has expired: sign in again".into(),
        ));
    }
    tokens::use_up(&mut transaction, &body.refresh_token).await?;
    // The account as it is now: a role granted since the sign-in applies from this pair on.
    let holder: Holder =
        sqlx::query_as("SELECT user_id, role, vendor_id FROM auth.users WHERE user_id = $1")
            .bind(presented.user_id)
            .fetch_one(&mut *transaction)
            .await?;
    let pair = state
        .issuer
        .issue(&state.pool, &mut transaction, &holder, presented.family_id)
        .await?;
    transaction.commit().await?;
    Ok(Json(pair))
}

/// Signs out: the refresh token and every other of its sign-in are revoked.
#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 204, description = "Signed out (also for a token that was unknown or revoked already)"),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, AuthApiError> {
    let mut transaction = state.pool.begin().await?;
    if let Some(presented) = tokens::presented(&mut transaction, &body.refresh_token).await? {
        let revoked = tokens::revoke_family(&mut transaction, presented.family_id).await?;
        AuditEntry::new("logout")
            .actor(presented.user_id.to_string())
            .target(presented.user_id.to_string())
            .from_address(address)
            .correlation(correlation.0)
            .detail(serde_json::json!({ "revoked": revoked }))
            .record(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys access tokens are signed with (RFC 7517), for the services that verify them.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "auth",
    responses(
        (status = 200, description = "The key set", body = KeySetDocument),
        CommonFailures
    )
)]
pub async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, AuthApiError> {
    let document = keys::published(&state.pool, state.issuer.access_ttl).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(document),
    ))
}

/// Only admins manage accounts and read the audit log.
fn admin(claims: &Claims) -> Result<(), AuthApiError> {
    match claims.role {
        Role::Admin => Ok(()),
        other => Err(AuthApiError::Forbidden(format!(
            "only admins may do this, not role {}",
            other.as_str()
        ))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// The account's email.
    #[param(min_length = 3, max_length = 254)]
    email: String,
}

/// Finds an account by email (admins).
#[utoipa::path(
    get, path = "/v1/users", tag = "accounts",
    params(AccountQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 400, description = "Malformed or missing parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No account has this email", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An email outside its bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn find_account(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(query): ApiQuery<AccountQuery>,
) -> Result<Json<Account>, AuthApiError> {
    admin(&claims)?;
    let email = normalized_email(&query.email)?;
    sqlx::query_as("SELECT user_id, email, role, vendor_id FROM auth.users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| AuthApiError::NotFound(format!("no account has the email {email}")))
}

/// A role to give an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// `customer`, `vendor`, `admin`, `analyst` or `ops`.
    #[schema(value_type = String, example = "analyst")]
    role: Role,
    /// The vendor a `vendor` member acts for; only with that role.
    #[serde(default)]
    vendor_id: Option<Uuid>,
}

/// Gives an account its role (admins); it applies from the account's next token.
#[utoipa::path(
    post, path = "/v1/users/{user_id}/roles", tag = "accounts",
    params(("user_id" = Uuid, Path, description = "The account")),
    request_body = RoleGrant,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account with its role", body = Account),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A vendor role without `vendor_id`, or `vendor_id` with another role (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn grant_role(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Authenticated(claims): Authenticated,
    ClientAddress(address): ClientAddress,
    correlation: CorrelationId,
    ApiJson(grant): ApiJson<RoleGrant>,
) -> Result<Json<Account>, AuthApiError> {
    let user_id =
        commerce_platform::http::path_id(&user_id, "user id").map_err(AuthApiError::Malformed)?;
    admin(&claims)?;
    match (grant.role, grant.vendor_id) {
        (Role::Vendor, None) => {
            return Err(AuthApiError::RuleBroken(
                "vendor_id: a vendor member needs the vendor it acts for".into(),
            ))
        }
        (role, Some(_)) if role != Role::Vendor => {
            return Err(AuthApiError::RuleBroken(
                "vendor_id: only a vendor member acts for a vendor".into(),
            ))
        }
        _ => {}
    }
    let mut transaction = state.pool.begin().await?;
    let account: Account = sqlx::query_as(
        "UPDATE auth.users SET role = $2, vendor_id = $3 WHERE user_id = $1 \
         RETURNING user_id, email, role, vendor_id",
    )
    .bind(user_id)
    .bind(grant.role.as_str())
    .bind(grant.vendor_id)
    .fetch_optional(&mut *transaction)
    .await?
    .ok_or_else(|| AuthApiError::NotFound(format!("user {user_id} does not exist")))?;
    AuditEntry::new("role_granted")
        .actor(claims.sub.clone())
        .target(user_id.to_string())
        .from_address(address)
        .correlation(correlation.0)
        .detail(serde_json::json!({ "role": grant.role.as_str(), "vendor_id": grant.vendor_id }))
        .record(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(role = grant.role.as_str(), "role granted");
    Ok(Json(account))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only what this user did (a user id, or the email of a failed sign-in).
    actor: Option<String>,
    /// Only this action (`login_failed`, `role_granted`, `price_changed`, …).
    action: Option<String>,
    /// From this time on (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<RecordedEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    next_cursor: Option<Uuid>,
}

/// The audit log, newest first (admins).
#[utoipa::path(
    get, path = "/v1/audit", tag = "accounts",
    params(AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of entries, newest first", body = AuditPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn audit_log(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, AuthApiError> {
    admin(&claims)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AuthApiError::Invalid(format!(
            "limit must be 1 to 500, got {limit}"
        )));
    }
    let mut items = audit::list(
        &state.pool,
        &AuditFilter {
            actor: params.actor,
            action: params.action,
            from: params.from,
            to: params.to,
            before: params.cursor,
            limit: limit + 1,
        },
    )
    .await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.entry_id)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}
