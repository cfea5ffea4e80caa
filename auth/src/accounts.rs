//! Accounts: creating one (sign-up, or an admin from the CLI) and finding one by email.
use std::sync::Arc;

use commerce_platform::audit::AuditEntry;
use commerce_platform::auth::Role;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AuthApiError;
use crate::passwords::{self, PasswordHashing};

/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// `raw` as a stored email (trimmed, lower-cased), or why it is not one.
pub fn normalized_email(raw: &str) -> Result<String, AuthApiError> {
    let email = raw.trim().to_lowercase();
    let chars = email.chars().count();
    if !(3..=MAX_EMAIL_CHARS).contains(&chars) {
        return Err(AuthApiError::Invalid(format!(
            "email: must be 3 to {MAX_EMAIL_CHARS} characters long, got {chars}"
        )));
    }
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !well_formed {
        return Err(AuthApiError::Invalid(
            "email: must be an address like name@example.com".into(),
        ));
    }
    Ok(email)
}

/// A new account with `role`; refused when the email is taken or the password too weak.
/// Hashing runs off the async threads: it is meant to be slow.
pub async fn create(
    pool: &PgPool,
    hashing: &Arc<PasswordHashing>,
    email: &str,
    password: String,
    name: Option<&str>,
    role: Role,
    audit: AuditEntry,
) -> Result<(Uuid, String), AuthApiError> {
    let email = normalized_email(email)?;
    if let Some(why) = passwords::refusal(&password) {
        return Err(match why.contains("at least") || why.contains("at most") {
            true => AuthApiError::Invalid(why),
            false => AuthApiError::RuleBroken(why),
        });
    }
    let hashing = hashing.clone();
    let hash = tokio::task::spawn_blocking(move || hashing.hash(&password))
        .await
        .map_err(|e| AuthApiError::Internal(e.to_string()))??;
    let user_id = Uuid::now_v7();
    let mut transaction = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO auth.users (user_id, email, password_hash, role, name) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(user_id)
    .bind(&email)
    .bind(&hash)
    .bind(role.as_str())
    .bind(name)
    .execute(&mut *transaction)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AuthApiError::Conflict(
            "an account with this email exists: sign in instead".into(),
        ));
    }
    audit
        .actor(user_id.to_string())
        .target(user_id.to_string())
        .detail(serde_json::json!({ "role": role.as_str() }))
        .record(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(%user_id, role = role.as_str(), "account created");
    Ok((user_id, email))
}

/// An account as the sign-in reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct Stored {
    pub user_id: Uuid,
    pub password_hash: String,
    pub role: String,
    pub vendor_id: Option<Uuid>,
}

pub async fn by_email(pool: &PgPool, email: &str) -> sqlx::Result<Option<Stored>> {
    sqlx::query_as(
        "SELECT user_id, password_hash, role, vendor_id FROM auth.users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await
}
