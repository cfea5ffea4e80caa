//! Bearer JWT authentication: claims, roles, minting (for `commerce token`) and verification.
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Secret;
use crate::problem::Problem;

/// What a caller is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Vendor,
    Admin,
    Analyst,
    Ops,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown role {s:?}: customer, vendor, admin, analyst or ops"))
    }
}

/// The verified content of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    /// Present exactly when `role` is `vendor`: the vendor this user acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn new(sub: impl Into<String>, role: Role, vendor_id: Option<Uuid>, ttl_secs: i64) -> Self {
        let now = Utc::now().timestamp();
        Self {
            sub: sub.into(),
            role,
            vendor_id,
            iat: now,
            exp: now + ttl_secs,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the bearer token is invalid: {0}")]
    Invalid(String),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = Problem::unauthorized(self.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

/// HS256 keys derived from `COMMERCE_JWT_SECRET`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(HS256)")
    }
}

impl JwtKeys {
    pub fn from_secret(secret: &Secret) -> Self {
        let bytes = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    pub fn mint(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        match (claims.role, claims.vendor_id) {
            (Role::Vendor, None) => Err(AuthError::Invalid(
                "a vendor token must carry vendor_id".into(),
            )),
            _ => Ok(claims),
        }
    }
}

/// An authenticated caller, extracted from `Authorization: Bearer <jwt>`.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<JwtKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = Arc::<JwtKeys>::from_ref(state);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let claims = keys.verify(token)?;
        tracing::Span::current().record("user", claims.sub.as_str());
        Ok(Self(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(&Secret::new("a-test-secret-of-enough-length"))
    }

    #[test]
    fn a_minted_token_verifies_to_the_same_claims() {
        let claims = Claims::new("u1", Role::Vendor, Some(Uuid::nil()), 60);
        let token = keys().mint(&claims).unwrap();
        assert_eq!(keys().verify(&token).unwrap(), claims);
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let expired = keys()
            .mint(&Claims::new("u1", Role::Admin, None, -60))
            .unwrap();
        assert!(keys().verify(&expired).is_err());
        let foreign = JwtKeys::from_secret(&Secret::new("another-secret-of-enough-length"))
            .mint(&Claims::new("u1", Role::Admin, None, 60))
            .unwrap();
        assert!(keys().verify(&foreign).is_err());
        assert!(keys().verify("not.a.jwt").is_err());
    }

    #[test]
    fn a_vendor_token_without_vendor_id_is_refused() {
        let token = keys()
            .mint(&Claims::new("u1", Role::Vendor, None, 60))
            .unwrap();
        assert!(keys().verify(&token).is_err());
    }
}
