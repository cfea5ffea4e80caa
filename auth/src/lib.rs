//! Accounts and sign-in: customers register and sign in with an email and a password and get a
//! short-lived access token (a JWT signed with Ed25519) and a single-use refresh token; the other
//! services verify access tokens with the public keys this service publishes at
//! `/.well-known/jwks.json`. Admins grant roles and read the audit log.
//!
//! # Layout
//! - `config`: `COMMERCE_*` settings of this service.
//! - `error`: `AuthApiError` and its one mapping to problem+json.
//! - `passwords`: what passwords are accepted, Argon2id hashing.
//! - `accounts`: creating accounts, finding them by email.
//! - `keys`: signing keys, their rotation and the JWKS.
//! - `tokens`: issuing token pairs, refresh-token rotation and reuse detection.
//! - `throttle`: failed sign-ins counted per account and per client address.
//! - `routes`: the HTTP routes.
#![forbid(unsafe_code)]

pub mod accounts;
mod config;
pub mod error;
pub mod keys;
pub mod passwords;
mod routes;
pub mod throttle;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;
use commerce_platform::auth::JwtKeys;
use commerce_platform::http::{self, Dependencies};
use commerce_platform::openapi::BearerSecurity;
use commerce_platform::Shutdown;
use tokio::net::TcpListener;

pub use config::{Config, Throttle};
use passwords::PasswordHashing;
use throttle::LoginThrottle;
use tokens::Issuer;

/// Request bodies here are a few hundred bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: sqlx::PgPool,
    pub hashing: Arc<PasswordHashing>,
    pub issuer: Issuer,
    pub throttle: LoginThrottle,
    /// Verifies the bearer tokens of the admin routes.
    pub keys: Arc<JwtKeys>,
    /// Whether the client address is the last `X-Forwarded-For` hop.
    pub trust_forwarded_for: bool,
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

/// The OpenAPI document of this service.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "commerce auth API", version = "1"),
    paths(
        routes::register,
        routes::login,
        routes::refresh,
        routes::logout,
        routes::jwks,
        routes::find_account,
        routes::grant_role,
        routes::audit_log,
    ),
    components(schemas(commerce_platform::openapi::ProblemSchema)),
    modifiers(&BearerSecurity),
    tags(
        (name = "auth", description = "Signing up, in and out; the public keys of access tokens"),
        (name = "accounts", description = "Roles and the audit log, for admins")
    )
)]
pub struct ApiDoc;

/// Applies the `auth` and `audit` schemas' migrations.
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    commerce_platform::audit::migrate(pool).await?;
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}

/// Every route of the service, with its layers.
pub fn router(state: AppState, deps: Dependencies) -> Router {
    let trust_forwarded_for = state.trust_forwarded_for;
    let api = Router::new()
        .route("/v1/auth/register", post(routes::register))
        .route("/v1/auth/login", post(routes::login))
        .route("/v1/auth/refresh", post(routes::refresh))
        .route("/v1/auth/logout", post(routes::logout))
        .route("/.well-known/jwks.json", get(routes::jwks))
        .route("/v1/users", get(routes::find_account))
        .route("/v1/users/{user_id}/roles", post(routes::grant_role))
        .route("/v1/audit", get(routes::audit_log))
        .layer(axum::middleware::from_fn_with_state(
            trust_forwarded_for,
            http::resolve_client_address,
        ))
        .with_state(state)
        .merge(commerce_platform::openapi::docs_routes(
            <ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    http::service_router(
        "auth",
        api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        deps,
        MAX_BODY_BYTES,
    )
}

/// The auth service, bound and ready to serve.
pub struct AuthService {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
}

impl AuthService {
    /// Connects, migrates, makes sure a signing key exists, binds (port 0 picks a free port).
    /// Without `COMMERCE_JWKS_URL`, its own admin routes trust its own key set.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        commerce_platform::telemetry::metrics_handle();
        let pool = commerce_platform::database::connect(&config.database).await?;
        migrate(&pool).await?;
        keys::ensure_signing_key(&pool).await?;
        let hashing = Arc::new(PasswordHashing::new(config.hashing)?);
        let (listener, address) = http::bind(config.listen).await?;
        let mut verification = config.verification.clone();
        verification
            .jwks_url
            .get_or_insert_with(|| jwks_url(address));
        let state = AppState {
            pool: pool.clone(),
            hashing,
            issuer: Issuer {
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
                access_ttl: config.access_ttl,
                refresh_ttl: config.refresh_ttl,
            },
            throttle: LoginThrottle::new(pool.clone(), config.throttle),
            keys: Arc::new(JwtKeys::from_config(&verification)),
            trust_forwarded_for: config.trust_forwarded_for,
        };
        let deps = Dependencies {
            postgres: Some(pool),
            redis: None,
            aws: None,
        };
        Ok(Self {
            listener,
            address,
            router: router(state, deps),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown`; in-flight requests finish first.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "auth listening");
        http::serve_with_client_addresses(self.listener, self.router, shutdown).await
    }
}

/// The key set of the auth service at `address`.
pub fn jwks_url(address: SocketAddr) -> String {
    format!("http://{address}/.well-known/jwks.json")
}
