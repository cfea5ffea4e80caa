//! The client handle and the single path every request takes: the bearer token and command
//! headers on the way out, status and body decoding on the way back.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::endpoint::endpoint;
use crate::error::{decode_answer, ClientError};

/// The server replays the first answer for a repeated key (see API.md, "Idempotency-Key").
const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The header the services adopt as the correlation id of the request's events and logs.
const CORRELATION_HEADER: &str = "x-correlation-id";

/// Per-command settings, passed last to every command method.
///
/// Retrying with the same `CommandOptions` (same key) is what makes a retry after a timeout safe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    /// Sent as `Idempotency-Key`: the same key with the same body returns the first answer again
    /// and changes nothing; the same key with another body is refused (422). 1 to 255 visible
    /// ASCII characters.
    pub idempotency_key: Option<String>,
    /// Sent as `x-correlation-id`, tying the command's events and logs to the caller's own trace;
    /// the server makes one up when absent.
    pub correlation_id: Option<Uuid>,
}

impl CommandOptions {
    /// Options carrying only an idempotency key.
    pub fn idempotent(key: impl Into<String>) -> Self {
        Self {
            idempotency_key: Some(key.into()),
            correlation_id: None,
        }
    }

    pub fn with_correlation_id(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }
}

/// A client for both services. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct CommerceClient {
    /// Shared by every clone (including those from [`Self::with_token`]) so connections are reused.
    http: reqwest::Client,
    /// Where commands go (the command API, `:8080` by default).
    command_api: Arc<str>,
    /// Where reads go (the read API, `:8081` by default).
    read_api: Arc<str>,
    /// Where accounts and sign-in live (the auth service, `:8084` by default); set with
    /// [`Self::with_auth_api`] before the account methods.
    auth_api: Arc<str>,
    /// Sent as `Authorization: Bearer`; left out of `Debug` so it never lands in a log.
    token: Option<Arc<str>>,
}

impl fmt::Debug for CommerceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommerceClient")
            .field("command_api", &self.command_api)
            .field("read_api", &self.read_api)
            .field("auth_api", &self.auth_api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl CommerceClient {
    /// A client without a token, for the two base URLs (e.g. `http://localhost:8080`); a trailing
    /// `/` and a path prefix are fine. A malformed base URL is reported by the first call, as
    /// [`ClientError::Transport`].
    pub fn new(command_api_base: impl Into<String>, read_api_base: impl Into<String>) -> Self {
        Self::with_http_client(reqwest::Client::new(), command_api_base, read_api_base)
    }

    /// Like [`Self::new`] with a `reqwest::Client` configured by the caller, e.g. with timeouts:
    /// the default one never times out, and a read with `min_version` can take up to 2 s.
    pub fn with_http_client(
        http: reqwest::Client,
        command_api_base: impl Into<String>,
        read_api_base: impl Into<String>,
    ) -> Self {
        Self {
            http,
            command_api: command_api_base.into().into(),
            read_api: read_api_base.into().into(),
            auth_api: "".into(),
            token: None,
        }
    }

    /// A clone whose account methods (sign-up, sign-in, refresh, roles, audit) go to the auth
    /// service at `auth_api_base`.
    pub fn with_auth_api(&self, auth_api_base: impl Into<String>) -> Self {
        Self {
            auth_api: auth_api_base.into().into(),
            ..self.clone()
        }
    }

    /// A clone that authenticates as the holder of `token` (a JWT), sharing this client's pool.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into().into()),
            ..self.clone()
        }
    }

    pub fn command_api_base(&self) -> &str {
        &self.command_api
    }

    pub fn read_api_base(&self) -> &str {
        &self.read_api
    }

    /// Sends a command with a JSON body.
    pub(crate) async fn command<B, T>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        options: &CommandOptions,
    ) -> Result<T, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.send(self.command_request(method, path, options).json(body))
            .await
    }

    /// Sends a command whose route takes no body (publish, remove an item).
    pub(crate) async fn command_without_body<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        options: &CommandOptions,
    ) -> Result<T, ClientError> {
        self.send(self.command_request(method, path, options)).await
    }

    /// Sends a request with a JSON body to the auth service.
    pub(crate) async fn auth_call<B, T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let request = self.authorized(self.http.request(method, endpoint(&self.auth_api, path)));
        match body {
            Some(body) => self.send(request.json(body)).await,
            None => self.send(request).await,
        }
    }

    /// Sends a GET to a URL built from [`Self::read_api_base`], or from
    /// [`Self::command_api_base`] for what the command API answers itself (commission rules).
    pub(crate) async fn read<T: DeserializeOwned>(&self, url: String) -> Result<T, ClientError> {
        self.send(self.authorized(self.http.get(url))).await
    }

    /// A command request with its headers but no body yet; separate from sending so the headers
    /// are testable without a server.
    fn command_request(
        &self,
        method: Method,
        path: &str,
        options: &CommandOptions,
    ) -> RequestBuilder {
        let mut request =
            self.authorized(self.http.request(method, endpoint(&self.command_api, path)));
        if let Some(key) = &options.idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(correlation_id) = options.correlation_id {
            request = request.header(CORRELATION_HEADER, correlation_id.to_string());
        }
        request
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header(ACCEPT, "application/json, application/problem+json");
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.bytes().await?;
        decode_answer(status, retry_after, &body)
    }
}

/// The seconds form of `Retry-After`, the one the services send; the HTTP-date form is ignored.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> CommerceClient {
        CommerceClient::new("http://commands.test/", "http://reads.test")
    }

    fn header(request: &reqwest::Request, name: &str) -> Option<String> {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn command_options_become_headers() {
        let correlation_id = Uuid::from_u128(7);
        let options = CommandOptions::idempotent("key-1").with_correlation_id(correlation_id);
        let request = client()
            .with_token("jwt")
            .command_request(Method::POST, "/v1/carts", &options)
            .build()
            .expect("a valid request");
        assert_eq!(request.url().as_str(), "http://commands.test/v1/carts");
        assert_eq!(
            header(&request, "idempotency-key").as_deref(),
            Some("key-1")
        );
        assert_eq!(
            header(&request, "x-correlation-id"),
            Some(correlation_id.to_string())
        );
        assert_eq!(
            header(&request, "authorization").as_deref(),
            Some("Bearer jwt")
        );
    }

    #[test]
    fn default_options_and_no_token_send_no_extra_headers() {
        let request = client()
            .command_request(Method::POST, "/v1/carts", &CommandOptions::default())
            .build()
            .expect("a valid request");
        assert_eq!(header(&request, "idempotency-key"), None);
        assert_eq!(header(&request, "x-correlation-id"), None);
        assert_eq!(header(&request, "authorization"), None);
    }

    #[test]
    fn with_token_leaves_the_original_anonymous() {
        let anonymous = client();
        let authenticated = anonymous.with_token("jwt");
        assert!(anonymous.token.is_none());
        assert_eq!(authenticated.token.as_deref(), Some("jwt"));
        assert_eq!(authenticated.read_api_base(), "http://reads.test");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let shown = format!("{:?}", client().with_token("secret-jwt"));
        assert!(!shown.contains("secret-jwt"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_dates() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
