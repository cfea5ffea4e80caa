//! Token pairs: a short-lived access token (a JWT signed with the current key) and a long-lived,
//! single-use refresh token (opaque, stored as its SHA-256). Refreshing uses the refresh token
//! up and issues the next of its family; presenting a used one again means it was copied, and
//! revokes the whole family (RFC 6819 section 5.2.2.3, OAuth 2.0 Security BCP section 4.14).
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use commerce_platform::auth::Role;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::AuthApiError;
use crate::keys;

/// What a sign-in or a refresh answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// Send as `Authorization: Bearer …` to the command and read APIs.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Use once, at `POST /v1/auth/refresh`, for the next pair. Keep it secret.
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

/// The user a pair is issued to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holder {
    pub user_id: Uuid,
    pub role: String,
    pub vendor_id: Option<Uuid>,
}

/// The claims of an issued access token.
#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    sub: String,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<Uuid>,
    iat: i64,
    exp: i64,
    aud: &'a str,
    iss: &'a str,
    jti: Uuid,
}

/// How tokens are issued.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

fn hashed(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Issuer {
    /// A new pair for `holder`, its refresh token the next of `family` (a new family on a
    /// sign-in), written in `transaction`.
    pub async fn issue(
        &self,
        pool: &PgPool,
        transaction: &mut Transaction<'_, Postgres>,
        holder: &Holder,
        family: Uuid,
    ) -> Result<TokenPair, AuthApiError> {
        let role: Role = holder
            .role
            .parse()
            .map_err(|e: String| AuthApiError::Internal(e))?;
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: holder.user_id.to_string(),
            role: role.as_str(),
            vendor_id: holder.vendor_id,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            aud: &self.audience,
            iss: &self.issuer,
            jti: Uuid::new_v4(),
        };
        let signer = keys::current_signer(pool).await?;
        let access_token = signer.sign(&claims)?;
        let refresh_token = new_refresh_token();
        sqlx::query(
            "INSERT INTO auth.refresh_tokens (token_hash, family_id, user_id, expires_at) \
             VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
        )
        .bind(hashed(&refresh_token))
        .bind(family)
        .bind(holder.user_id)
        .bind(self.refresh_ttl.as_secs() as f64)
        .execute(&mut **transaction)
        .await?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: self.refresh_ttl.as_secs(),
        })
    }
}

/// A presented refresh token, as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct Presented {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expired: bool,
    pub used: bool,
    pub revoked: bool,
}

/// The stored state of `token`, locked for the rest of `transaction`.
pub async fn presented(
    transaction: &mut Transaction<'_, Postgres>,
    token: &str,
) -> Result<Option<Presented>, AuthApiError> {
    Ok(sqlx::query_as(
        "SELECT family_id, user_id, expires_at <= now() AS expired, \
                used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked \
         FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hashed(token))
    .fetch_optional(&mut **transaction)
    .await?)
}

/// Marks `token` used.
pub async fn use_up(
    transaction: &mut Transaction<'_, Postgres>,
    token: &str,
) -> Result<(), AuthApiError> {
    sqlx::query("UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(hashed(token))
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Revokes every token of `family`; how many were still live.
pub async fn revoke_family(
    transaction: &mut Transaction<'_, Postgres>,
    family: Uuid,
) -> Result<u64, AuthApiError> {
    Ok(sqlx::query(
        "UPDATE auth.refresh_tokens SET revoked_at = now() \
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(&mut **transaction)
    .await?
    .rows_affected())
}
