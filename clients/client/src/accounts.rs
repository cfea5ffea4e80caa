//! Accounts and sign-in (the auth service): register, sign in, refresh, sign out; for admins,
//! finding an account, granting a role and reading the audit log.
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::QueryString;
use crate::{ClientError, CommerceClient};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    /// `customer`, `vendor`, `admin`, `analyst` or `ops`.
    pub role: String,
    #[serde(default)]
    pub vendor_id: Option<Uuid>,
}

/// What a sign-in or a refresh answers.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Pass to [`CommerceClient::with_token`].
    pub access_token: String,
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Use once, with [`CommerceClient::refresh`], for the next pair.
    pub refresh_token: String,
    pub refresh_expires_in: u64,
}

/// Tokens are never printed by `Debug`.
impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

/// One audited operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub entry_id: Uuid,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub actor: Option<String>,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    /// Where the request came from.
    #[serde(rename = "ip")]
    pub client_address: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<Uuid>,
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    #[serde(default)]
    pub items: Vec<AuditEntry>,
    #[serde(default)]
    pub next_cursor: Option<Uuid>,
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<Uuid>,
    pub limit: Option<u32>,
}

#[derive(Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Registration<'a> {
    email: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct RefreshBody<'a> {
    refresh_token: &'a str,
}

#[derive(Serialize)]
struct RoleGrant<'a> {
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<Uuid>,
}

impl CommerceClient {
    /// `POST /v1/auth/register`: a customer account (at least 8 characters of password, not a
    /// commonly used one).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<Account, ClientError> {
        self.auth_call(
            Method::POST,
            "/v1/auth/register",
            Some(&Registration {
                email,
                password,
                name,
            }),
        )
        .await
    }

    /// `POST /v1/auth/login`: a new token pair. 429 after too many failures.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ClientError> {
        self.auth_call(
            Method::POST,
            "/v1/auth/login",
            Some(&Credentials { email, password }),
        )
        .await
    }

    /// `POST /v1/auth/refresh`: the next pair; `refresh_token` is used up.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ClientError> {
        self.auth_call(
            Method::POST,
            "/v1/auth/refresh",
            Some(&RefreshBody { refresh_token }),
        )
        .await
    }

    /// `POST /v1/auth/logout`: revokes `refresh_token` and every other of its sign-in.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), ClientError> {
        self.auth_call(
            Method::POST,
            "/v1/auth/logout",
            Some(&RefreshBody { refresh_token }),
        )
        .await
    }

    /// `GET /v1/users?email=` (admins).
    pub async fn find_account(&self, email: &str) -> Result<Account, ClientError> {
        let path = QueryString::default()
            .param("email", Some(email))
            .append_to("/v1/users".to_owned());
        self.auth_call::<(), _>(Method::GET, &path, None).await
    }

    /// `POST /v1/users/{user_id}/roles` (admins): `vendor_id` only with the `vendor` role.
    pub async fn grant_role(
        &self,
        user_id: Uuid,
        role: &str,
        vendor_id: Option<Uuid>,
    ) -> Result<Account, ClientError> {
        self.auth_call(
            Method::POST,
            &format!("/v1/users/{user_id}/roles"),
            Some(&RoleGrant { role, vendor_id }),
        )
        .await
    }

    /// `GET /v1/audit` (admins), newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, ClientError> {
        let path = QueryString::default()
            .param("actor", query.actor.as_deref())
            .param("action", query.action.as_deref())
            .param("from", query.from.map(|t| t.to_rfc3339()))
            .param("to", query.to.map(|t| t.to_rfc3339()))
            .param("cursor", query.cursor)
            .param("limit", query.limit)
            .append_to("/v1/audit".to_owned());
        self.auth_call::<(), _>(Method::GET, &path, None).await
    }
}
