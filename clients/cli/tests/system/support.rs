//! `TestSystem`: the whole system in-process against real Postgres, Redis and the SNS/SQS
//! emulator, isolated per test by its own database, Redis key prefix, topic and queues.
use std::sync::Arc;
use std::time::Duration;

use commerce_cli::system::{self, Component, RunningSystem, SystemConfig};
use commerce_command_api::outbox_retention::OutboxRetention;
use commerce_command_api::relay::RelayConfig;
use commerce_platform::auth::{Claims, JwtKeys, Role};
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig, RedisConfig, Secret};
use commerce_platform::messaging::{self, AwsClients, Topology, CATALOG_QUEUE};
use commerce_platform::webhooks::Targets;
use commerce_platform::Shutdown;
use commerce_projections::consumer::ConsumerConfig;
use commerce_projections::webhooks::WebhookConfig;
use commerce_sagas::clock::{ManualClock, SagaClock};
use commerce_sagas::model::SagaTimings;
use commerce_sagas::payments::{PaymentSimulator, SimulatorHandle};
use commerce_sagas::runner::{FaultInjection, RunnerConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::proxy::TcpProxy;

pub const JWT_SECRET: &str = "test-secret-for-the-system-tests";
/// What the test auth service writes into the tokens it issues.
pub const AUTH_ISSUER: &str = "commerce-auth";
pub const AUTH_AUDIENCE: &str = "commerce";

/// The body limit of both services under test.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// What a test may switch off to stage a failure.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run the outbox relay inside the command API.
    pub relay: bool,
    /// Give the command API (and its relay) an SNS/SQS endpoint where nothing listens.
    pub command_api_without_sns: bool,
    /// Connect the projectors to Redis and Postgres through proxies the test can cut
    /// ([`TestSystem::cut_projection_stores`]); the other services connect directly.
    pub projection_stores_behind_proxies: bool,
    /// Run the order saga (off: orders stay pending, or a test runs the saga itself).
    pub sagas: bool,
    /// The services require the auth service's audience and issuer in every token (the test
    /// tokens carry them too).
    pub token_audience_and_issuer: bool,
    /// The APIs trust this key set (an external identity provider's) instead of the auth
    /// service's, with its issuer and audience.
    pub identity_provider: Option<IdentityProvider>,
    /// Components this system does not run (the test runs them elsewhere, as a deployment
    /// runs each in its own process).
    pub components_elsewhere: &'static [Component],
    /// How long after a shipment a vendor's share may be paid out (none: payable at once).
    pub payout_hold: Duration,
}

/// The Postgres and Redis servers a system keeps its data in.
#[derive(Debug, Clone)]
pub struct Stores {
    /// A Postgres URL of the server's `postgres` database: each test's database is created
    /// beside it, reached with the same settings (`sslmode`, `sslrootcert`).
    pub admin_database_url: String,
    pub redis_url: String,
    /// `COMMERCE_REDIS_CA_CERT`: the CA a `rediss://` server's certificate must chain to.
    pub redis_ca_cert: Option<std::path::PathBuf>,
}

impl Stores {
    /// The local servers every test shares (`COMMERCE_TEST_DATABASE_URL`,
    /// `COMMERCE_TEST_REDIS_URL`).
    pub fn local() -> Self {
        Self {
            admin_database_url: env_or(
                "COMMERCE_TEST_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            redis_url: env_or("COMMERCE_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
            redis_ca_cert: None,
        }
    }
}

/// An external identity provider, as a deployment configures it.
#[derive(Debug, Clone, Copy)]
pub struct IdentityProvider {
    pub jwks_url: &'static str,
    pub issuer: &'static str,
    pub audience: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            relay: true,
            command_api_without_sns: false,
            projection_stores_behind_proxies: false,
            sagas: true,
            token_audience_and_issuer: false,
            identity_provider: None,
            components_elsewhere: &[],
            payout_hold: Duration::ZERO,
        }
    }
}

/// The proxies between the projectors and their stores.
pub struct ProjectionStoreProxies {
    pub redis: TcpProxy,
    pub postgres: TcpProxy,
}

pub struct TestSystem {
    pub command_url: String,
    pub read_url: String,
    /// The auth service (sign-up, sign-in, the key set).
    pub auth_url: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub aws: AwsClients,
    pub topology: Topology,
    pub config: SystemConfig,
    keys: JwtKeys,
    /// Present with [`Options::projection_stores_behind_proxies`].
    pub projection_proxies: Option<ProjectionStoreProxies>,
    /// The payment simulator the saga calls, and its state.
    pub payments: SimulatorHandle,
    /// The saga's clock: real time until a test moves it forward.
    pub saga_clock: Arc<ManualClock>,
    simulator_shutdown: Shutdown,
    database_name: String,
    admin_url: String,
    running: Option<RunningSystem>,
}

impl TestSystem {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        Self::start_on(Stores::local(), options).await
    }

    /// The system keeping its data in `stores` (e.g. TLS-only servers of the test's own).
    pub async fn start_on(stores: Stores, options: Options) -> Self {
        commerce_platform::telemetry::init_test_logging();
        let id = Uuid::new_v4().simple().to_string();
        let simulator_shutdown = Shutdown::new();
        let admin_url = stores.admin_database_url;
        let database_name = format!("test_{id}");
        let database_url = with_database(&admin_url, &database_name);
        commerce_platform::database::create_database_if_missing(&database_url)
            .await
            .expect("create the test database");
        let messaging = MessagingConfig {
            endpoint: Some(env_or(
                "COMMERCE_TEST_AWS_ENDPOINT",
                "http://127.0.0.1:4566",
            )),
            region: "us-east-1".into(),
            topic: format!("t-{id}-events.fifo"),
            queue_prefix: format!("t-{id}-"),
            topic_arn: None,
        };
        let aws = AwsClients::connect(&messaging).await;
        let topology = messaging::provision(&aws, &messaging)
            .await
            .expect("provision the test topic and queues (is the emulator running?)");
        let redis = RedisConfig {
            url: Secret::new(stores.redis_url),
            key_prefix: format!("test:{id}:"),
            ca_cert: stores.redis_ca_cert,
        };
        let mut auth = AuthConfig::with_secret(Secret::new(JWT_SECRET));
        if options.token_audience_and_issuer {
            auth.audience = Some(AUTH_AUDIENCE.to_owned());
            auth.issuer = Some(AUTH_ISSUER.to_owned());
        }
        if let Some(provider) = options.identity_provider {
            auth.jwks_url = Some(provider.jwks_url.to_owned());
            auth.audience = Some(provider.audience.to_owned());
            auth.issuer = Some(provider.issuer.to_owned());
        }
        let database = DatabaseConfig {
            url: Secret::new(database_url),
            max_connections: 10,
        };
        let projection_proxies = if options.projection_stores_behind_proxies {
            Some(ProjectionStoreProxies {
                redis: TcpProxy::start(&host_and_port(redis.url.expose())).await,
                postgres: TcpProxy::start(&host_and_port(database.url.expose())).await,
            })
        } else {
            None
        };
        let (projection_redis, projection_database) = match &projection_proxies {
            Some(proxies) => (
                RedisConfig {
                    url: Secret::new(proxies.redis.url_for(redis.url.expose())),
                    ..redis.clone()
                },
                DatabaseConfig {
                    url: Secret::new(proxies.postgres.url_for(database.url.expose())),
                    ..database.clone()
                },
            ),
            None => (redis.clone(), database.clone()),
        };
        let simulator = PaymentSimulator::bind("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("start the payment simulator");
        let payments = simulator.handle();
        let payment_url = format!("http://{}", simulator.address());
        tokio::spawn(simulator.run_until_stopped(simulator_shutdown.clone()));
        let saga_clock = Arc::new(ManualClock::new());
        let config = SystemConfig {
            command_api: commerce_command_api::Config {
                listen: "127.0.0.1:0".parse().expect("address"),
                database: database.clone(),
                messaging: if options.command_api_without_sns {
                    MessagingConfig {
                        endpoint: Some("http://127.0.0.1:9".into()),
                        ..messaging.clone()
                    }
                } else {
                    messaging.clone()
                },
                auth: auth.clone(),
                relay: RelayConfig {
                    idle_poll: Duration::from_millis(20),
                    ..RelayConfig::default()
                },
                max_body_bytes: MAX_BODY_BYTES,
                outbox_retention: OutboxRetention::default(),
                run_relay: options.relay,
                webhook_targets: Targets::AlsoLocal,
                trust_forwarded_for: false,
                payment_url: payment_url.clone(),
                payment_request_timeout: Duration::from_secs(2),
                payout_hold: options.payout_hold,
            },
            projections: commerce_projections::Config {
                database: projection_database,
                redis: projection_redis,
                messaging: messaging.clone(),
                consumer: ConsumerConfig {
                    retry_base_secs: 0,
                    ..ConsumerConfig::default()
                },
                // Receivers listen on 127.0.0.1; three quick attempts.
                webhooks: WebhookConfig {
                    targets: Targets::AlsoLocal,
                    retry_base: Duration::from_millis(50),
                    retry_max: Duration::from_millis(200),
                    max_attempts: 3,
                    request_timeout: Duration::from_secs(2),
                    poll_interval: Duration::from_millis(50),
                    ..WebhookConfig::default()
                },
            },
            read_api: commerce_read_api::Config {
                listen: "127.0.0.1:0".parse().expect("address"),
                redis,
                database: database.clone(),
                auth: auth.clone(),
                max_body_bytes: MAX_BODY_BYTES,
                min_version_wait: commerce_read_api::MAX_MIN_VERSION_WAIT,
            },
            sagas: commerce_sagas::Config {
                listen: "127.0.0.1:0".parse().expect("address"),
                database: database.clone(),
                messaging: messaging.clone(),
                consumer: ConsumerConfig {
                    retry_base_secs: 0,
                    ..ConsumerConfig::default()
                },
                payment_url,
                // `tok_timeout` never answers: each attempt gives up quickly, and the test moves
                // the saga's clock past the payment deadline instead of waiting 30 s.
                payment_request_timeout: Duration::from_millis(300),
                timings: SagaTimings {
                    retry_first: Duration::from_millis(50),
                    retry_max: Duration::from_millis(500),
                    ..SagaTimings::default()
                },
                runner: RunnerConfig {
                    lease: Duration::from_secs(2),
                    poll_interval: Duration::from_millis(50),
                    ..RunnerConfig::default()
                },
                clock: SagaClock::new(saga_clock.clone()),
                faults: FaultInjection::default(),
            },
            auth: commerce_auth::Config {
                listen: "127.0.0.1:0".parse().expect("address"),
                database: database.clone(),
                verification: auth.clone(),
                issuer: AUTH_ISSUER.to_owned(),
                audience: AUTH_AUDIENCE.to_owned(),
                access_ttl: Duration::from_secs(900),
                refresh_ttl: Duration::from_secs(3600),
                key_activation: Duration::from_secs(300),
                // A short window, so the throttling test can wait it out.
                throttle: commerce_auth::Throttle {
                    max_failures: 5,
                    window: Duration::from_secs(3),
                },
                // Cheaper than production's 19 MiB: the tests check behaviour, not cost.
                hashing: commerce_auth::passwords::HashParams {
                    memory_kib: 4096,
                    iterations: 1,
                    parallelism: 1,
                },
                trust_forwarded_for: false,
            },
            payment_simulator: None,
            run_sagas: options.sagas,
            ops_listen: "127.0.0.1:0".parse().expect("address"),
            credential_check: Duration::from_secs(60),
        };
        // As `commerce up` does: every schema is there before any service or test reads it.
        commerce_cli::commands::migrate(&database)
            .await
            .expect("migrate the test database");
        let components: Vec<Component> = config
            .all_components()
            .into_iter()
            .filter(|component| !options.components_elsewhere.contains(component))
            .collect();
        let running = system::start_with(config.clone(), &components, Shutdown::new())
            .await
            .expect("start the system");
        let pool = commerce_platform::database::connect(&database)
            .await
            .expect("connect to the test database");
        Self {
            command_url: format!("http://{}", running.command_api),
            read_url: format!("http://{}", running.read_api),
            auth_url: format!("http://{}", running.auth),
            http: reqwest::Client::new(),
            pool,
            aws,
            topology,
            keys: JwtKeys::from_config(&auth),
            config,
            projection_proxies,
            payments,
            saga_clock,
            simulator_shutdown,
            database_name,
            admin_url,
            running: Some(running),
        }
    }

    pub fn token(&self, role: Role, vendor_id: Option<Uuid>) -> String {
        self.keys
            .mint(&Claims::new(
                Uuid::new_v4().to_string(),
                role,
                vendor_id,
                600,
            ))
            .expect("mint a token")
    }

    /// A token for a given user id (customers' ids are their `sub`).
    pub fn token_for(&self, role: Role, sub: Uuid, vendor_id: Option<Uuid>) -> String {
        self.token_with_subject(role, &sub.to_string(), vendor_id)
    }

    /// A token whose `sub` is exactly `sub`, however it is spelled.
    pub fn token_with_subject(&self, role: Role, sub: &str, vendor_id: Option<Uuid>) -> String {
        self.keys
            .mint(&Claims::new(sub, role, vendor_id, 600))
            .expect("mint a token")
    }

    /// The `commerce` binary set up for this stack, as its operator's shell would be: the
    /// database, Redis, SNS/SQS, both APIs, the JWT secret and the metrics endpoint.
    pub fn commerce(&self) -> std::process::Command {
        let messaging = &self.config.command_api.messaging;
        let redis = &self.config.read_api.redis;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_commerce"));
        command
            .env(
                "COMMERCE_DATABASE_URL",
                self.config.command_api.database.url.expose(),
            )
            .env("COMMERCE_REDIS_URL", redis.url.expose())
            .env("COMMERCE_REDIS_PREFIX", &redis.key_prefix)
            .env(
                "COMMERCE_AWS_ENDPOINT",
                messaging.endpoint.as_deref().unwrap_or_default(),
            )
            .env("COMMERCE_AWS_REGION", &messaging.region)
            .env("COMMERCE_TOPIC", &messaging.topic)
            .env("COMMERCE_QUEUE_PREFIX", &messaging.queue_prefix)
            .env("COMMERCE_COMMAND_API_URL", &self.command_url)
            .env("COMMERCE_READ_API_URL", &self.read_url)
            .env("COMMERCE_AUTH_API_URL", &self.auth_url)
            .env("COMMERCE_CREDENTIALS", self.credentials_path())
            .env("COMMERCE_JWT_SECRET", JWT_SECRET)
            .env(
                "COMMERCE_METRICS_URL",
                format!("{}/metrics", self.command_url),
            )
            .env("RUST_LOG", "warn")
            .env_remove("COMMERCE_TOKEN");
        let verification = &self.config.command_api.auth;
        for (name, value) in [
            ("COMMERCE_JWT_AUDIENCE", verification.audience.as_deref()),
            ("COMMERCE_JWT_ISSUER", verification.issuer.as_deref()),
            (
                "COMMERCE_REDIS_CA_CERT",
                redis.ca_cert.as_deref().and_then(|path| path.to_str()),
            ),
        ] {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// Where `commerce login` keeps this test's sign-in.
    pub fn credentials_path(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("{}-credentials.json", self.database_name))
    }

    /// A token of a member of `vendor_id`, an approved vendor (admitted here if it is not yet).
    pub async fn vendor_token(&self, vendor_id: Uuid) -> String {
        self.approved_vendor(vendor_id).await;
        self.token(Role::Vendor, Some(vendor_id))
    }

    /// Admits `vendor_id` as an admin registering a vendor under its id; one admitted before
    /// stays as it is.
    pub async fn approved_vendor(&self, vendor_id: Uuid) {
        let admin = self.token(Role::Admin, None);
        let (status, body) = self
            .command(
                reqwest::Method::POST,
                "/v1/vendors",
                Some(&admin),
                Some(serde_json::json!({
                    "name": format!("Vendor {}", &vendor_id.simple().to_string()[..8]),
                    "contact_email": "shop@example.com",
                    "status": "approved",
                    "reason": "admitted for the test",
                    "vendor_id": vendor_id,
                })),
            )
            .await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "admitting vendor {vendor_id}: {status} {body}"
        );
    }

    /// Redis and Postgres go away for the projectors (they stay up for everything else).
    pub fn cut_projection_stores(&self) {
        let proxies = self
            .projection_proxies
            .as_ref()
            .expect("started with proxies");
        proxies.redis.cut();
        proxies.postgres.cut();
    }

    /// Redis and Postgres are back for the projectors.
    pub fn restore_projection_stores(&mut self) {
        let proxies = self
            .projection_proxies
            .as_mut()
            .expect("started with proxies");
        proxies.redis.restore();
        proxies.postgres.restore();
    }

    /// Messages in every dead-letter queue, visible or in flight.
    pub async fn dead_lettered(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName;
        let mut total = 0;
        for queue in self.topology.queues.values() {
            let attributes = self
                .aws
                .sqs
                .get_queue_attributes()
                .queue_url(&queue.dlq_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .expect("DLQ attributes");
            for name in [
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ] {
                total += attributes
                    .attributes()
                    .and_then(|a| a.get(&name))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        total
    }

    /// Reads `path` until the read model has caught up (no 409 from `min_version`), or `within`.
    pub async fn read_eventually(
        &self,
        path: &str,
        token: &str,
        within: Duration,
    ) -> (StatusCode, Value) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, body) = self.read(path, token).await;
            if status != StatusCode::CONFLICT || tokio::time::Instant::now() >= deadline {
                return (status, body);
            }
        }
    }

    pub fn catalog_queue_url(&self) -> &str {
        &self.topology.queues[CATALOG_QUEUE.name].url
    }

    pub fn catalog_dlq_url(&self) -> &str {
        &self.topology.queues[CATALOG_QUEUE.name].dlq_url
    }

    /// POST/PUT a JSON body to the command API.
    pub async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.command_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("command API answers");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Creates a product for `vendor_id` and returns its id.
    pub async fn create_product(&self, token: &str, price_minor: i64) -> Uuid {
        let (status, body) = self
            .command(
                reqwest::Method::POST,
                "/v1/products",
                Some(token),
                Some(product_body(price_minor)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Uuid::parse_str(body["product_id"].as_str().expect("product_id")).expect("uuid")
    }

    pub async fn change_price(
        &self,
        token: &str,
        id: Uuid,
        price_minor: i64,
    ) -> (StatusCode, Value) {
        self.command(
            reqwest::Method::PUT,
            &format!("/v1/products/{id}/price"),
            Some(token),
            Some(json!({ "price": { "amount_minor": price_minor, "currency": "EUR" } })),
        )
        .await
    }

    pub async fn publish(&self, token: &str, id: Uuid) -> (StatusCode, Value) {
        self.command(
            reqwest::Method::POST,
            &format!("/v1/products/{id}/publish"),
            Some(token),
            None,
        )
        .await
    }

    /// A request with a raw body (sent as JSON) to a full URL: the answer's status, content type
    /// and JSON body (null when it is not JSON).
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, String, Value) {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            status,
            content_type,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// A product of `token`'s vendor, published.
    pub async fn published_product(&self, token: &str, price_minor: i64) -> Uuid {
        let product = self.create_product(token, price_minor).await;
        let (status, body) = self.publish(token, product).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        product
    }

    /// A new, empty cart of `customer`'s.
    pub async fn open_cart(&self, customer: &str) -> Uuid {
        let (status, body) = self
            .command(
                reqwest::Method::POST,
                "/v1/carts",
                Some(customer),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Uuid::parse_str(body["cart_id"].as_str().expect("cart_id")).expect("uuid")
    }

    /// `POST /v1/carts/{cart}/items`.
    pub async fn add_to_cart(
        &self,
        customer: &str,
        cart: Uuid,
        product: Uuid,
        quantity: u32,
    ) -> (StatusCode, Value) {
        self.command(
            reqwest::Method::POST,
            &format!("/v1/carts/{cart}/items"),
            Some(customer),
            Some(json!({ "product_id": product, "quantity": quantity })),
        )
        .await
    }

    /// `POST /v1/carts/{cart}/checkout` with [`checkout_body`].
    pub async fn checkout(&self, customer: &str, cart: Uuid) -> (StatusCode, Value) {
        self.command(
            reqwest::Method::POST,
            &format!("/v1/carts/{cart}/checkout"),
            Some(customer),
            Some(checkout_body()),
        )
        .await
    }

    /// `commerce …` with the test stack's settings; its standard output. Run off the test's
    /// runtime, where the services run: one blocked mid-transaction would hold the event
    /// stream's horizon back.
    pub async fn run_commerce(&self, args: &[&str]) -> String {
        let mut command = self.commerce();
        command.args(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("run commerce");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A product of `token`'s vendor in `category` at `price_minor` of `currency`, published,
    /// with `units` in stock.
    pub async fn product_for_sale(
        &self,
        token: &str,
        category: &str,
        (price_minor, currency): (i64, &str),
        units: u32,
    ) -> Uuid {
        let (status, created) = self
            .command(
                reqwest::Method::POST,
                "/v1/products",
                Some(token),
                Some(json!({
                    "sku": format!("SKU-{}", &Uuid::new_v4().simple().to_string()[..8]),
                    "title": "A thing",
                    "category": category,
                    "price": {"amount_minor": price_minor, "currency": currency},
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let product = Uuid::parse_str(created["product_id"].as_str().expect("id")).expect("uuid");
        let (status, body) = self.publish(token, product).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.receive_stock(token, product, units).await;
        product
    }

    /// `units` of `product` received into stock by `token`'s vendor.
    pub async fn receive_stock(&self, token: &str, product: Uuid, units: u32) {
        let (status, body) = self
            .command(
                reqwest::Method::POST,
                &format!("/v1/inventory/{product}/receipts"),
                Some(token),
                Some(json!({ "quantity": units })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A product of `token`'s vendor, published, with `units` in stock.
    pub async fn stocked_product(&self, token: &str, price_minor: i64, units: u32) -> Uuid {
        let product = self.published_product(token, price_minor).await;
        self.receive_stock(token, product, units).await;
        product
    }

    /// A customer's order of one `product`, placed and confirmed by the saga.
    pub async fn confirmed_order(&self, product: Uuid, customer: Uuid) -> Uuid {
        let token = self.token_for(Role::Customer, customer, None);
        let cart = self.open_cart(&token).await;
        let (status, body) = self.add_to_cart(&token, cart, product, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self.checkout(&token, cart).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let order = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).expect("uuid");
        self.order_reaching(order, |doc| doc["status"] == "confirmed")
            .await;
        order
    }

    /// The order's document once `ready` holds for it (within 10 s).
    pub async fn order_reaching(&self, order: Uuid, ready: impl Fn(&Value) -> bool) -> Value {
        let admin = self.token(Role::Admin, None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, doc) = self.read(&format!("/v1/orders/{order}"), &admin).await;
            if status == StatusCode::OK && ready(&doc) {
                return doc;
            }
            assert!(tokio::time::Instant::now() < deadline, "{status} {doc}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The payload of `aggregate`'s latest event.
    pub async fn last_payload(&self, aggregate: Uuid) -> Value {
        sqlx::query_scalar(
            "SELECT payload FROM es.events WHERE aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
        )
        .bind(aggregate.to_string())
        .fetch_one(&self.pool)
        .await
        .expect("an event")
    }

    /// GET from the read API.
    pub async fn read(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.read_url))
            .bearer_auth(token)
            .send()
            .await
            .expect("read API answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Number of events stored for one aggregate, or for all if `None`.
    /// The events of `aggregate_id`, or (`None`) every event but the vendors' admissions a
    /// test's setup makes (see [`Self::vendor_token`]).
    pub async fn event_count(&self, aggregate_id: Option<Uuid>) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM es.events \
             WHERE ($1::text IS NULL AND aggregate_type <> 'Vendor') OR aggregate_id = $1",
        )
        .bind(aggregate_id.map(|a| a.to_string()))
        .fetch_one(&self.pool)
        .await
        .expect("count events")
    }

    /// Removes the outbox rows of vendors' admissions, as if published and swept long ago: for
    /// tests without a working relay that count or order the outbox's rows.
    pub async fn drop_vendor_outbox_rows(&self) {
        sqlx::query(
            "DELETE FROM es.outbox o USING es.events e \
             WHERE e.global_position = o.global_position AND e.aggregate_type = 'Vendor'",
        )
        .execute(&self.pool)
        .await
        .expect("drop the vendors' outbox rows");
    }

    pub async fn unpublished_outbox_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM es.outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .expect("count outbox rows")
    }

    /// Appends one event to the event store directly, with an outbox row (published) or without
    /// (never published, as if its message were lost).
    pub async fn append_directly(
        &self,
        aggregate_type: &str,
        aggregate_id: Uuid,
        sequence: i64,
        event_type: &str,
        payload: Value,
        outbox: bool,
    ) {
        let insert = "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, event_id) VALUES ($1, $2, $3, $4, '1.0', $5, '{}', $6) \
             RETURNING global_position";
        let statement = if outbox {
            format!(
                "WITH e AS ({insert}) INSERT INTO es.outbox (global_position) \
                 SELECT global_position FROM e"
            )
        } else {
            insert.to_owned()
        };
        sqlx::query(&statement)
            .bind(aggregate_type)
            .bind(aggregate_id.to_string())
            .bind(sequence)
            .bind(event_type)
            .bind(payload)
            .bind(Uuid::now_v7())
            .execute(&self.pool)
            .await
            .expect("append an event directly");
    }

    /// Stops the services and removes the test's database, keys, topic and queues.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("services stop cleanly");
        }
        self.simulator_shutdown.cancel();
        self.pool.close().await;
        let prefix = self.config.read_api.redis.key_prefix.clone();
        if let Ok(client) = commerce_platform::redis_connection::client(&self.config.read_api.redis)
        {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                }
            }
        }
        for queue in self.topology.queues.values() {
            let _ = self
                .aws
                .sqs
                .delete_queue()
                .queue_url(&queue.url)
                .send()
                .await;
            let _ = self
                .aws
                .sqs
                .delete_queue()
                .queue_url(&queue.dlq_url)
                .send()
                .await;
        }
        let _ = self
            .aws
            .sns
            .delete_topic()
            .topic_arn(&self.topology.topic_arn)
            .send()
            .await;
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        let name = self.database_name.clone();
        let admin_url = self.admin_url.clone();
        if let Some(running) = self.running.take() {
            running.shutdown.cancel();
        }
        self.simulator_shutdown.cancel();
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

/// `host:port` of a URL such as `redis://host:port` or `postgres://user@host:port/db`.
fn host_and_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// `url` naming `database` instead, its parameters (`?sslmode=…&sslrootcert=/path`) kept.
fn with_database(url: &str, database: &str) -> String {
    let (url, parameters) = url.split_once('?').map_or((url, ""), |(url, p)| (url, p));
    let parameters = if parameters.is_empty() {
        String::new()
    } else {
        format!("?{parameters}")
    };
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}{parameters}"),
        None => format!("{url}/{database}{parameters}"),
    }
}

pub fn product_body(price_minor: i64) -> Value {
    json!({
        "sku": "TEE-001",
        "title": "Organic cotton tee",
        "description": "Soft and fair.",
        "category": "apparel",
        "price": { "amount_minor": price_minor, "currency": "EUR" }
    })
}

/// A shipping address in parts, as checkout takes it.
pub fn shipping_address() -> Value {
    json!({
        "name": "Ada Lovelace", "line1": "Unter den Linden 1", "line2": "3. OG",
        "city": "Berlin", "postal_code": "10117", "country": "DE"
    })
}

/// A checkout request the command API accepts, paid with the simulator's approving token.
pub fn checkout_body() -> Value {
    json!({"shipping_address": shipping_address(), "payment_token": "tok_ok"})
}
