//! Bearer JWT authentication: claims, roles, minting (for `commerce token`) and verification.
//!
//! [`bearer_token`] is the one parser of the `Authorization` header and [`JwtKeys::authenticate`]
//! the one way from a request to its caller: the extractor and the idempotency layer both use
//! them, so they can never disagree about who is calling.
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{AuthConfig, Secret};
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

impl Role {
    /// The role's name in tokens and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Vendor => "vendor",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Ops => "ops",
        }
    }
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

    /// The subject as a user id. Ids are compared as UUIDs, never as text, so the upper-case
    /// spelling of a customer's id is still that customer. `None` when `sub` is not a UUID.
    pub fn user_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.sub).ok()
    }
}

/// The claims as minted: with the configured audience and issuer, which [`Claims`] leaves out
/// because verification checks them and no handler reads them.
#[derive(Serialize)]
struct MintedClaims<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the bearer token is invalid: {0}")]
    Invalid(String),
    /// The token names a key of the identity provider's key set, which cannot be read now.
    #[error("the token's signing keys cannot be read: {0}")]
    KeysUnavailable(String),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if let AuthError::KeysUnavailable(cause) = &self {
            tracing::warn!(%cause, "the key set is unreachable");
            return Problem::unavailable("the token's signing keys cannot be read now")
                .into_response();
        }
        let mut response = Problem::unauthorized(self.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched without regard to
/// case (RFC 7235 section 2.1: `bearer`, `Bearer` and `BEARER` are the same scheme).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Invalid("the Authorization header is not visible ASCII".into()))?
        .trim();
    let (scheme, token) = value.split_once([' ', '\t']).ok_or(AuthError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// How bearer tokens are checked: HS256 tokens with the shared `COMMERCE_JWT_SECRET` (what
/// `commerce token` mints; absent when only an identity provider is trusted), and asymmetric
/// ones (EdDSA, RS256, ES256) with the public keys of the identity provider's JWKS
/// (`COMMERCE_JWKS_URL`: the auth service's, or an external provider's). Either way with the
/// audience and issuer tokens must carry when those are configured.
pub struct JwtKeys {
    shared: Option<SharedKey>,
    key_set: Option<crate::jwks::KeySet>,
    audience: Option<String>,
    issuer: Option<String>,
}

/// The HS256 key of `COMMERCE_JWT_SECRET`.
struct SharedKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Whether the secret is the local stack's development secret: a bad signature then most
    /// likely means the token was minted with another secret than the services'.
    development_secret: bool,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JwtKeys(shared secret: {}, key set: {:?})",
            self.shared.is_some(),
            self.key_set.as_ref().map(crate::jwks::KeySet::url)
        )
    }
}

impl JwtKeys {
    /// Keys that check signature, expiry and subject only.
    pub fn from_secret(secret: &Secret) -> Self {
        Self::from_config(&AuthConfig::with_secret(secret.clone()))
    }

    /// Keys for a service: when an audience or issuer is configured, tokens must carry it
    /// (`aud`, `iss`), and tokens minted with these keys do.
    pub fn from_config(config: &AuthConfig) -> Self {
        let shared = config.jwt_secret.as_ref().map(|secret| SharedKey {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            development_secret: secret.expose() == crate::config::LOCAL_DEVELOPMENT_JWT_SECRET,
        });
        Self {
            shared,
            key_set: config.jwks_url.as_deref().map(crate::jwks::KeySet::new),
            audience: config.audience.clone(),
            issuer: config.issuer.clone(),
        }
    }

    /// The checks of a token signed with `algorithm`: expiry, subject, and the configured
    /// audience and issuer.
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        let mut required = vec!["exp", "sub"];
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Nothing to compare with: a token's `aud`, if any, is not ours to judge.
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        validation.leeway = 5;
        validation
    }

    /// A token for `claims` signed with the shared secret (HS256), with the configured audience
    /// and issuer: what `commerce token` prints.
    pub fn mint(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let Some(shared) = &self.shared else {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
        };
        let minted = MintedClaims {
            claims,
            aud: self.audience.as_deref(),
            iss: self.issuer.as_deref(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &minted, &shared.encoding)
    }

    /// The caller of a request: its bearer token, verified.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Claims, AuthError> {
        self.verify_current(bearer_token(headers)?).await
    }

    /// [`Self::verify`], reading the key set first when it is stale or lacks the token's key
    /// (a key just added by a rotation).
    pub async fn verify_current(&self, token: &str) -> Result<Claims, AuthError> {
        let Some(key_set) = &self.key_set else {
            return self.verify(token);
        };
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        if let Some(kid) = kid {
            if key_set.is_stale() || !key_set.knows(&kid) {
                key_set.refresh(Some(&kid)).await?;
            }
        }
        self.verify(token)
    }

    /// The token's claims if it verifies with the keys known now.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(self.header_check_failed(token, &e)))?;
        let algorithm = header.alg;
        let claims = match algorithm {
            Algorithm::HS256 => {
                let shared = self.shared.as_ref().ok_or_else(|| {
                    AuthError::Invalid(
                        "wrong algorithm: this service accepts only tokens signed by its \
                         identity provider's keys, not HS256"
                            .into(),
                    )
                })?;
                jsonwebtoken::decode::<Claims>(
                    token,
                    &shared.decoding,
                    &self.validation(Algorithm::HS256),
                )
                .map_err(|e| AuthError::Invalid(self.which_check_failed(&e)))?
                .claims
            }
            Algorithm::EdDSA | Algorithm::RS256 | Algorithm::ES256 | Algorithm::PS256 => {
                let key_set = self.key_set.as_ref().ok_or_else(|| {
                    AuthError::Invalid(format!(
                        "wrong algorithm: this service has no identity provider's keys to \
                         check {algorithm:?} tokens with; tokens here are signed with HS256"
                    ))
                })?;
                let kid = header.kid.ok_or_else(|| {
                    AuthError::Invalid("unknown key: the token names no key (`kid`)".into())
                })?;
                let key = key_set.key(&kid, algorithm).ok_or_else(|| {
                    AuthError::Invalid(format!(
                        "unknown key: {kid:?} is not a {algorithm:?} key of the identity \
                         provider's key set"
                    ))
                })?;
                jsonwebtoken::decode::<Claims>(token, &key, &self.validation(algorithm))
                    .map_err(|e| AuthError::Invalid(self.which_check_failed(&e)))?
                    .claims
            }
            other => {
                return Err(AuthError::Invalid(format!(
                    "wrong algorithm: {other:?} tokens are not accepted"
                )))
            }
        };
        match (claims.role, claims.vendor_id) {
            (Role::Vendor, None) => Err(AuthError::Invalid(
                "a vendor token must carry vendor_id".into(),
            )),
            _ => Ok(claims),
        }
    }

    /// Why a token's header does not parse: an unsigned token (`alg: none`) is said as such.
    fn header_check_failed(&self, token: &str, error: &jsonwebtoken::errors::Error) -> String {
        use base64::Engine;
        let alg = token
            .split('.')
            .next()
            .and_then(|h| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(h)
                    .ok()
            })
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
            .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
        match alg {
            Some(alg) if alg.eq_ignore_ascii_case("none") => {
                "wrong algorithm: unsigned tokens (`alg: none`) are never accepted".to_owned()
            }
            Some(alg) => format!("wrong algorithm: {alg} tokens are not accepted"),
            None => self.which_check_failed(error),
        }
    }
}

impl JwtKeys {
    fn development_secret(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.development_secret)
    }

    /// Which check a token failed, in words that say what to do about it.
    fn which_check_failed(&self, error: &jsonwebtoken::errors::Error) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature if self.development_secret() => "bad signature: the token \
                was not signed with this service's secret; on a local stack the secret may \
                differ between `commerce token` and the services (set the same \
                COMMERCE_JWT_SECRET for both, or leave it unset on both with \
                COMMERCE_LOCAL_MODE=true)"
                .to_owned(),
            ErrorKind::InvalidSignature => {
                "bad signature: the token was not signed with this service's secret or its \
                 identity provider's key"
                    .to_owned()
            }
            ErrorKind::ExpiredSignature => {
                "expired: the token's `exp` has passed; get a new token".to_owned()
            }
            ErrorKind::ImmatureSignature => "not yet valid: the token's `nbf` is ahead".to_owned(),
            ErrorKind::InvalidAudience => format!(
                "wrong audience: this service accepts tokens for {}",
                self.audience.as_deref().unwrap_or("no particular audience")
            ),
            ErrorKind::InvalidIssuer => format!(
                "wrong issuer: this service accepts tokens from {}",
                self.issuer.as_deref().unwrap_or("any issuer")
            ),
            ErrorKind::MissingRequiredClaim(claim) => {
                format!("missing claim: the token has no `{claim}`")
            }
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                "wrong algorithm: the token's algorithm does not match its key".to_owned()
            }
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => {
                "malformed: not a JWT (three base64url parts separated by dots)".to_owned()
            }
            _ => format!("invalid: {error}"),
        }
    }
}

/// An authenticated caller, extracted from `Authorization: Bearer <jwt>`.
///
/// A layer that authenticated the request already (the idempotency layer, which scopes its keys
/// by the caller) leaves its `Authenticated` in the request's extensions; the extractor takes that
/// one, so the handler runs as exactly the caller the layer saw, even if the token expires between.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<JwtKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(known)) => known.clone(),
            None => {
                Arc::<JwtKeys>::from_ref(state)
                    .authenticate(&parts.headers)
                    .await?
            }
        };
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

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc  "] {
            assert_eq!(bearer_token(&headers(value)).unwrap(), "abc", "{value:?}");
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_not_bearer_tokens() {
        for value in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer   ",
            "Bearerabc",
            "abc",
        ] {
            assert!(bearer_token(&headers(value)).is_err(), "{value:?}");
        }
        assert!(matches!(
            bearer_token(&HeaderMap::new()),
            Err(AuthError::Missing)
        ));
    }

    #[tokio::test]
    async fn a_lower_case_scheme_authenticates_the_same_caller() {
        let claims = Claims::new("u1", Role::Admin, None, 60);
        let token = keys().mint(&claims).unwrap();
        let caller = keys()
            .authenticate(&headers(&format!("bearer {token}")))
            .await
            .unwrap();
        assert_eq!(caller, claims);
    }

    fn keys_for(audience: Option<&str>, issuer: Option<&str>) -> JwtKeys {
        JwtKeys::from_config(&AuthConfig {
            jwt_secret: Some(Secret::new("a-test-secret-of-enough-length")),
            audience: audience.map(str::to_owned),
            issuer: issuer.map(str::to_owned),
            jwks_url: None,
        })
    }

    #[test]
    fn a_configured_audience_and_issuer_are_required_and_checked() {
        let strict = keys_for(Some("commerce"), Some("https://id.example"));
        let claims = Claims::new("u1", Role::Admin, None, 60);
        let minted = strict.mint(&claims).unwrap();
        assert_eq!(
            strict.verify(&minted).unwrap(),
            claims,
            "minted tokens carry both"
        );
        let bare = keys().mint(&claims).unwrap();
        assert!(strict.verify(&bare).is_err(), "no aud, no iss");
        let other_audience = keys_for(Some("billing"), Some("https://id.example"))
            .mint(&claims)
            .unwrap();
        assert!(strict.verify(&other_audience).is_err(), "wrong aud");
        let other_issuer = keys_for(Some("commerce"), Some("https://evil.example"))
            .mint(&claims)
            .unwrap();
        assert!(strict.verify(&other_issuer).is_err(), "wrong iss");
    }

    #[test]
    fn without_a_configured_audience_a_token_with_one_is_accepted() {
        let claims = Claims::new("u1", Role::Admin, None, 60);
        let with_audience = keys_for(Some("commerce"), None).mint(&claims).unwrap();
        assert_eq!(keys().verify(&with_audience).unwrap(), claims);
    }

    #[test]
    fn a_roles_name_is_its_name_on_the_wire() {
        for role in [
            Role::Customer,
            Role::Vendor,
            Role::Admin,
            Role::Analyst,
            Role::Ops,
        ] {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
    }

    #[test]
    fn subjects_compare_as_uuids() {
        let id = Uuid::new_v4();
        let upper = Claims::new(id.to_string().to_uppercase(), Role::Customer, None, 60);
        assert_eq!(upper.user_id(), Some(id));
        assert_eq!(Claims::new("alice", Role::Admin, None, 60).user_id(), None);
    }

    #[test]
    fn a_vendor_token_without_vendor_id_is_refused() {
        let token = keys()
            .mint(&Claims::new("u1", Role::Vendor, None, 60))
            .unwrap();
        assert!(keys().verify(&token).is_err());
    }
}

#[cfg(test)]
mod check_messages {
    use super::*;
    use crate::config::{AuthConfig, Secret, LOCAL_DEVELOPMENT_JWT_SECRET};

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::from_config(&AuthConfig::with_secret(Secret::new(secret)))
    }

    fn customer() -> Claims {
        Claims::new(Uuid::new_v4().to_string(), Role::Customer, None, 600)
    }

    #[test]
    fn a_bad_signature_on_a_local_stack_says_the_secret_may_differ() {
        let foreign = keys("a-secret-that-is-not-the-services")
            .mint(&customer())
            .unwrap();
        let local = keys(LOCAL_DEVELOPMENT_JWT_SECRET)
            .verify(&foreign)
            .unwrap_err();
        assert!(
            local.to_string().contains("bad signature")
                && local.to_string().contains("COMMERCE_JWT_SECRET"),
            "{local}"
        );
        let deployed = keys("the-deployment-secret-of-length")
            .verify(&foreign)
            .unwrap_err();
        assert!(
            deployed.to_string().contains("bad signature")
                && !deployed.to_string().contains("COMMERCE_JWT_SECRET"),
            "a deployment does not talk about local stacks: {deployed}"
        );
    }

    #[test]
    fn an_expired_or_malformed_token_says_so() {
        let keys = keys("the-deployment-secret-of-length");
        let expired = keys
            .mint(&Claims::new(
                Uuid::new_v4().to_string(),
                Role::Customer,
                None,
                -600,
            ))
            .unwrap();
        assert!(keys
            .verify(&expired)
            .unwrap_err()
            .to_string()
            .contains("expired"));
        assert!(keys
            .verify("abc")
            .unwrap_err()
            .to_string()
            .contains("malformed"));
    }
}
