//! What every HTTP service shares: health, readiness and metrics endpoints, correlation ids,
//! request metrics, the body limit on `Content-Length`, and serving until shutdown.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::join_all;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tracing::Instrument;
use uuid::Uuid;

use crate::messaging::AwsClients;
use crate::problem::Problem;
use crate::telemetry::metrics_handle;
use crate::Shutdown;

/// Header that carries the correlation id in and out of every service.
pub static CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The id that ties a request to the events it causes and to every log line on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationId(pub Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CorrelationId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CorrelationId>()
            .copied()
            .unwrap_or_else(|| CorrelationId(Uuid::now_v7())))
    }
}

/// Where a request came from: the connection's address (served with
/// [`serve_with_client_addresses`]), or the last `X-Forwarded-For` hop behind a load balancer
/// trusted to append it. Set by [`resolve_client_address`]; `None` when neither is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddress>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Middleware that finds a request's [`ClientAddress`]; its state says whether the last
/// `X-Forwarded-For` hop is trusted (`COMMERCE_TRUST_FORWARDED_FOR`).
pub async fn resolve_client_address(
    State(trust_forwarded_for): State<bool>,
    mut request: Request,
    next: Next,
) -> Response {
    let forwarded = trust_forwarded_for
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .flatten();
    let address = forwarded.or_else(|| {
        request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string())
    });
    request.extensions_mut().insert(ClientAddress(address));
    next.run(request).await
}

/// An id from a request's path, `what` naming it (`order id`): a malformed id is refused in
/// words that quote what was sent.
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|_| {
        let shown: String = raw.chars().take(40).collect();
        format!("{what} must be a UUID such as 0191e5c4-3f7a-7c2e-9b1d-4a5e6f708192, got {shown:?}")
    })
}

/// Middleware: adopts the caller's `x-correlation-id` (or makes one), runs the request in a span
/// that carries it, echoes it back, and records `http_request_duration_seconds`.
pub async fn observe_request(service: &'static str, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let correlation_id = request
        .headers()
        .get(&CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        .unwrap_or_else(Uuid::now_v7);
    request
        .extensions_mut()
        .insert(CorrelationId(correlation_id));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "http_request",
        service,
        %method,
        route = %route,
        %correlation_id,
        user = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("status", status.as_u16());
    let elapsed = started.elapsed();
    metrics::histogram!(
        "http_request_duration_seconds",
        "service" => service,
        "method" => method.to_string(),
        "route" => route.clone(),
        "status" => status.as_u16().to_string(),
    )
    .record(elapsed.as_secs_f64());
    if status.is_server_error() {
        span.in_scope(|| {
            tracing::error!(elapsed_ms = elapsed.as_millis() as u64, "request failed")
        });
    } else {
        span.in_scope(|| tracing::info!(elapsed_ms = elapsed.as_millis() as u64, "request served"));
    }
    if let Ok(value) = HeaderValue::from_str(&correlation_id.to_string()) {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER.clone(), value);
    }
    response
}

/// Middleware: answers 413 to a request whose `Content-Length` is over `limit`, before anything
/// polls its body. Hyper sends `100 Continue` only when the body is first polled, so a client that
/// sent `Expect: 100-continue` gets the 413 instead and never starts the upload; without this, the
/// server started reading, refused mid-body and closed, and some clients saw a reset instead of
/// the 413. Bodies without a `Content-Length` (chunked) are still bounded where they are read.
pub async fn refuse_oversized_body(limit: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => {
            tracing::info!(
                content_length = length,
                limit,
                "body refused from its Content-Length"
            );
            Problem::payload_too_large(limit).into_response()
        }
        _ => next.run(request).await,
    }
}

/// The dependencies a service needs to be useful; `/readyz` checks each one.
#[derive(Clone, Default)]
pub struct Dependencies {
    pub postgres: Option<PgPool>,
    pub redis: Option<ConnectionManager>,
    /// SNS or SQS, asked only about the one resource the service uses.
    pub aws: Option<AwsProbe>,
}

/// What a service asks SNS or SQS to learn that they answer: only about the resource it uses
/// (cheap, without side effects), so that its role needs no account-wide permission such as
/// listing every queue or topic.
#[derive(Clone)]
pub enum AwsProbe {
    /// The topic the relay publishes to (`sns:GetTopicAttributes` on it), reported as `sns`.
    Topic {
        clients: AwsClients,
        config: crate::config::MessagingConfig,
    },
    /// The queue a consumer receives from (`sqs:GetQueueUrl` on it), reported as `sqs`.
    Queue { clients: AwsClients, name: String },
}

impl AwsProbe {
    fn name(&self) -> &'static str {
        match self {
            AwsProbe::Topic { .. } => "sns",
            AwsProbe::Queue { .. } => "sqs",
        }
    }

    async fn check(&self) -> Result<(), String> {
        match self {
            AwsProbe::Topic { clients, config } => {
                let arn = crate::messaging::topic_arn(clients, config)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                clients
                    .sns
                    .get_topic_attributes()
                    .topic_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{}", aws_sdk_sns::error::DisplayErrorContext(e)))
            }
            AwsProbe::Queue { clients, name } => crate::messaging::queue_url(clients, name)
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:#}")),
        }
    }
}

impl Dependencies {
    /// Checks every dependency concurrently, each bounded by a short timeout.
    pub async fn check(&self) -> Vec<(&'static str, Result<(), String>)> {
        const LIMIT: Duration = Duration::from_secs(2);
        let mut checks: Vec<(
            &'static str,
            futures::future::BoxFuture<'_, Result<(), String>>,
        )> = Vec::new();
        if let Some(pool) = &self.postgres {
            checks.push((
                "postgres",
                Box::pin(async move {
                    sqlx::query("SELECT 1")
                        .execute(pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }),
            ));
        }
        if let Some(redis) = &self.redis {
            let mut redis = redis.clone();
            checks.push((
                "redis",
                Box::pin(async move {
                    redis::cmd("PING")
                        .query_async::<String>(&mut redis)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }),
            ));
        }
        if let Some(probe) = &self.aws {
            checks.push((probe.name(), Box::pin(probe.check())));
        }
        let (names, futures): (Vec<_>, Vec<_>) = checks.into_iter().unzip();
        let results = join_all(futures.into_iter().map(|f| async move {
            tokio::time::timeout(LIMIT, f)
                .await
                .unwrap_or_else(|_| Err("timed out".to_owned()))
        }))
        .await;
        names.into_iter().zip(results).collect()
    }
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(deps): State<Dependencies>) -> Response {
    let results = deps.check().await;
    let ready = results.iter().all(|(_, r)| r.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => serde_json::json!("ok"),
                Err(e) => serde_json::json!({ "error": e }),
            };
            (name.to_owned(), v)
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (
        status,
        Json(serde_json::json!({ "ready": ready, "dependencies": body })),
    )
        .into_response();
    if !ready {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(1u32));
    }
    response
}

async fn metrics_endpoint() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        metrics_handle().render(),
    )
}

/// `/healthz`, `/readyz` and `/metrics`, unauthenticated, for load balancers and Prometheus.
pub fn operational_routes<S: Clone + Send + Sync + 'static>(deps: Dependencies) -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(deps))
        .route("/metrics", get(metrics_endpoint))
}

/// A service's full router: its API, the operational endpoints, problem+json for unknown routes
/// (404) and methods (405), request observation (correlation id, metrics, logs) and, inside that
/// but outside every other layer, the refusal of bodies declared larger than `max_body_bytes`.
pub fn service_router(
    service: &'static str,
    api: Router,
    deps: Dependencies,
    max_body_bytes: usize,
) -> Router {
    Router::new()
        .merge(api)
        .merge(operational_routes(deps))
        .fallback(move |method: Method, uri: Uri| async move {
            Problem::not_found(with_hint(
                "no such route",
                other_api_hint(service, &method, uri.path()),
            ))
        })
        .method_not_allowed_fallback(move |method: Method, uri: Uri| async move {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                with_hint(
                    "this route does not serve that method",
                    other_api_hint(service, &method, uri.path()),
                ),
            )
        })
        .layer(axum::middleware::from_fn(move |req, next| {
            refuse_oversized_body(max_body_bytes, req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            observe_request(service, req, next)
        }))
}

/// Where a request that missed every route of `service` belongs, when the other API serves it:
/// the command API serves no reads and the read API no commands, and the two differ only by port.
pub fn other_api_hint(service: &str, method: &Method, path: &str) -> Option<&'static str> {
    if !path.starts_with("/v1/") {
        return None;
    }
    let read = *method == Method::GET || *method == Method::HEAD;
    match service {
        "command-api" if read => Some(
            "reads are served by the read API (port 8081 on a local stack; \
             COMMERCE_READ_API_URL for the CLI)",
        ),
        "read-api" if !read => Some(
            "commands are served by the command API (port 8080 on a local stack; \
             COMMERCE_COMMAND_API_URL for the CLI)",
        ),
        _ => None,
    }
}

fn with_hint(detail: &str, hint: Option<&str>) -> String {
    match hint {
        Some(hint) => format!("{detail}: {hint}"),
        None => detail.to_owned(),
    }
}

/// A bound listener and the address it really got (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `router` until `shutdown` fires, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| anyhow::anyhow!("HTTP server failed: {e}"))
}

/// [`serve`], with each connection's peer address in the requests' extensions
/// (`ConnectInfo<SocketAddr>`), for services that throttle by client address.
pub async fn serve_with_client_addresses(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
    .map_err(|e| anyhow::anyhow!("HTTP server failed: {e}"))
}

/// Resolves on ctrl-c or SIGTERM, whichever comes first.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
