//! One function per `commerce` subcommand.
use anyhow::Context;
use commerce_platform::auth::{Claims, JwtKeys, Role};
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig};
use commerce_platform::dead_letters;
use commerce_platform::messaging::{self, AwsClients};
use commerce_sagas::model::{OrderSaga, SagaState, SagaTimings};
use commerce_sagas::store::{SagaStore, SagaView};
use uuid::Uuid;

use crate::output::{fields, Output, Table};

/// `commerce migrate`: creates the database if needed and applies every schema migration.
pub async fn migrate(database: &DatabaseConfig) -> anyhow::Result<()> {
    commerce_platform::database::create_database_if_missing(database.url.expose()).await?;
    let pool = commerce_platform::database::connect(database).await?;
    commerce_command_api::event_store::migrate(&pool).await?;
    commerce_projections::orders::migrate(&pool).await?;
    commerce_sagas::store::migrate(&pool).await?;
    pool.close().await;
    Ok(())
}

/// A service with an HTTP API.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Service {
    CommandApi,
    ReadApi,
    Auth,
}

/// `commerce openapi <service>`: the document the service serves, generated from its code.
pub fn openapi(service: Service) -> anyhow::Result<String> {
    use utoipa::OpenApi;
    let document = match service {
        Service::CommandApi => commerce_command_api::ApiDoc::openapi(),
        Service::ReadApi => commerce_read_api::ApiDoc::openapi(),
        Service::Auth => commerce_auth::ApiDoc::openapi(),
    };
    Ok(document.to_pretty_json()?)
}

/// `commerce infra provision`: the topic, queues, DLQs and subscriptions; prints what exists.
pub async fn provision(messaging: &MessagingConfig) -> anyhow::Result<()> {
    let aws = AwsClients::connect(messaging).await;
    let topology = messaging::provision(&aws, messaging)
        .await
        .context("provisioning SNS/SQS")?;
    println!("topic  {}", topology.topic_arn);
    let mut names: Vec<_> = topology.queues.keys().collect();
    names.sort();
    for name in names {
        let queue = &topology.queues[name];
        println!("queue  {name:<10} {}  (dlq {})", queue.url, queue.dlq_url);
    }
    Ok(())
}

/// `commerce token`: mints a bearer token signed with `COMMERCE_JWT_SECRET`, for local use. It
/// carries `COMMERCE_JWT_AUDIENCE` and `COMMERCE_JWT_ISSUER` when they are set, as the services
/// then require.
pub fn token(
    auth: &AuthConfig,
    role: Role,
    sub: Option<String>,
    vendor_id: Option<Uuid>,
    ttl_secs: i64,
) -> anyhow::Result<String> {
    if role == Role::Vendor && vendor_id.is_none() {
        anyhow::bail!("a vendor token needs --vendor-id");
    }
    if role != Role::Vendor && vendor_id.is_some() {
        anyhow::bail!("--vendor-id is only for --role vendor");
    }
    let sub = sub.unwrap_or_else(|| Uuid::now_v7().to_string());
    let claims = Claims::new(sub, role, vendor_id, ttl_secs);
    Ok(JwtKeys::from_config(auth).mint(&claims)?)
}

/// `commerce outbox parked`: the parked outbox rows, as a table or JSON lines.
pub async fn outbox_parked(database: &DatabaseConfig, output: Output) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let parked = commerce_command_api::relay::claims::list_parked(&pool).await?;
    pool.close().await;
    output.print_rows(&parked, |parked| {
        if parked.is_empty() {
            return "No parked outbox rows.".into();
        }
        let mut table = Table::new(&[
            ("POSITION", true),
            ("AGGREGATE", false),
            ("ID", false),
            ("SEQ", true),
            ("EVENT", false),
            ("ATTEMPTS", true),
            ("PARKED AT", false),
            ("LAST ERROR", false),
        ]);
        for row in parked {
            table.row(vec![
                row.global_position.to_string(),
                row.aggregate_type.clone(),
                row.aggregate_id.clone(),
                row.sequence.to_string(),
                row.event_type.clone(),
                row.attempts.to_string(),
                row.parked_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                row.last_error.clone().unwrap_or_default(),
            ]);
        }
        table.render()
    })
}

/// `commerce outbox retry`: puts parked rows (all, or those at `positions`) back for the relay.
pub async fn outbox_retry(
    database: &DatabaseConfig,
    positions: Option<&[i64]>,
) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let retried = commerce_command_api::relay::claims::retry_parked(&pool, positions).await?;
    pool.close().await;
    println!("{retried} parked row(s) put back; the relay publishes them in order");
    Ok(())
}

/// `commerce dlq list`: each queue's depth and its DLQ's.
pub async fn dlq_list(messaging: &MessagingConfig, output: Output) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct Row {
        queue: &'static str,
        waiting: u64,
        in_flight: u64,
        dead_lettered: u64,
    }
    let aws = AwsClients::connect(messaging).await;
    let mut rows = Vec::new();
    for spec in messaging::QUEUES {
        let pair = dead_letters::queue_pair(&aws.sqs, messaging, spec.name).await?;
        let queue = dead_letters::depth(&aws.sqs, &pair.url).await?;
        let dlq = dead_letters::depth(&aws.sqs, &pair.dlq_url).await?;
        rows.push(Row {
            queue: spec.name,
            waiting: queue.visible,
            in_flight: queue.in_flight,
            dead_lettered: dlq.visible + dlq.in_flight,
        });
    }
    output.print_rows(&rows, |rows| {
        let mut table = Table::new(&[
            ("QUEUE", false),
            ("WAITING", true),
            ("IN FLIGHT", true),
            ("DEAD-LETTERED", true),
        ]);
        for row in rows {
            table.row(vec![
                row.queue.to_owned(),
                row.waiting.to_string(),
                row.in_flight.to_string(),
                row.dead_lettered.to_string(),
            ]);
        }
        table.render()
    })
}

/// `commerce dlq show`: messages of one DLQ, left in it.
pub async fn dlq_show(
    messaging: &MessagingConfig,
    queue: &str,
    limit: usize,
    output: Output,
) -> anyhow::Result<()> {
    let aws = AwsClients::connect(messaging).await;
    let pair = dead_letters::queue_pair(&aws.sqs, messaging, queue).await?;
    let letters = dead_letters::peek(&aws.sqs, &pair.dlq_url, limit).await?;
    output.print_rows(&letters, |letters| {
        if letters.is_empty() {
            return format!("No dead-lettered messages for {queue}.");
        }
        let mut table = Table::new(&[
            ("MESSAGE", false),
            ("AGGREGATE", false),
            ("EVENT", false),
            ("RECEIVES", true),
            ("SENT", false),
            ("BODY", false),
        ]);
        for letter in letters {
            let attribute = |name: &str| letter.attributes.get(name).cloned().unwrap_or_default();
            table.row(vec![
                letter.message_id.clone(),
                format!(
                    "{} {}",
                    attribute("aggregate_type"),
                    letter.group_id.as_deref().unwrap_or("")
                ),
                attribute("event_type"),
                letter.receive_count.to_string(),
                letter
                    .sent_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                crate::output::shorten(&letter.body, 60),
            ]);
        }
        table.render()
    })
}

/// `commerce dlq redrive`.
pub async fn dlq_redrive(
    messaging: &MessagingConfig,
    queue: &str,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let aws = AwsClients::connect(messaging).await;
    let pair = dead_letters::queue_pair(&aws.sqs, messaging, queue).await?;
    let moved = dead_letters::redrive(&aws.sqs, &pair, limit).await?;
    crate::output::emit(&format!(
        "{moved} message(s) sent back to {queue}; its consumer applies each event once"
    ))
}

/// The saga store of the configured database.
async fn saga_store(database: &DatabaseConfig) -> anyhow::Result<SagaStore> {
    let pool = commerce_platform::database::connect(database).await?;
    Ok(SagaStore::new(pool))
}

/// `commerce sagas list`: sagas by state, as a table or JSON lines.
pub async fn sagas_list(
    database: &DatabaseConfig,
    state: Option<&str>,
    overdue: bool,
    limit: i64,
    output: Output,
) -> anyhow::Result<()> {
    let state = state
        .map(|name| {
            SagaState::parse(name).ok_or_else(|| {
                let names: Vec<_> = SagaState::ALL.iter().map(|s| s.as_str()).collect();
                anyhow::anyhow!("unknown state {name:?}; one of {}", names.join(", "))
            })
        })
        .transpose()?;
    anyhow::ensure!(limit > 0, "--limit must be positive");
    let store = saga_store(database).await?;
    let now = chrono::Utc::now();
    let sagas: Vec<_> = store
        .list(state, limit)
        .await?
        .into_iter()
        .filter(|s| !overdue || (!s.state.is_final() && s.deadline.is_some_and(|d| d < now)))
        .collect();
    store.pool().close().await;
    let views: Vec<SagaView> = sagas.iter().map(SagaView::from).collect();
    output.print_rows(&views, |views| {
        if views.is_empty() {
            return "No sagas.".into();
        }
        let mut table = Table::new(&[
            ("ORDER", false),
            ("STATE", false),
            ("REASON", false),
            ("ATTEMPTS", true),
            ("DEADLINE", false),
            ("LAST ERROR", false),
        ]);
        for view in views {
            let saga = view.saga;
            table.row(vec![
                saga.order_id.to_string(),
                saga.state.as_str().to_owned(),
                saga.cancel_reason.clone().unwrap_or_default(),
                saga.attempts.to_string(),
                open_deadline(saga),
                saga.last_error.clone().unwrap_or_default(),
            ]);
        }
        table.render()
    })
}

/// The deadline of a saga still running, as a person reads it; nothing for a finished one.
fn open_deadline(saga: &OrderSaga) -> String {
    saga.deadline
        .filter(|_| !saga.state.is_final())
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `commerce sagas show`: one saga in full.
pub async fn sagas_show(
    database: &DatabaseConfig,
    order_id: Uuid,
    output: Output,
) -> anyhow::Result<()> {
    let store = saga_store(database).await?;
    let saga = store.get(order_id).await?;
    store.pool().close().await;
    let saga = saga.ok_or_else(|| {
        anyhow::anyhow!("no saga for order {order_id}; is the order placed and the saga running?")
    })?;
    output.print(&SagaView::from(&saga), |view| {
        let saga = view.saga;
        let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
        fields(&[
            ("order", saga.order_id.to_string()),
            ("state", saga.state.as_str().to_owned()),
            (
                "cancel reason",
                saga.cancel_reason.clone().unwrap_or_default(),
            ),
            (
                "cancel asked",
                saga.cancel_requested.clone().unwrap_or_default(),
            ),
            ("steps done", saga.steps_done.join(", ")),
            ("attempts", saga.attempts.to_string()),
            ("last error", saga.last_error.clone().unwrap_or_default()),
            ("deadline", open_deadline(saga)),
            ("next attempt", time(saga.next_attempt_at)),
            ("placed", time(saga.placed_at)),
            ("finished", saga.finished_at.map(time).unwrap_or_default()),
            ("payment", view.payment_id.to_string()),
            ("customer", saga.customer_id.to_string()),
        ])
    })
}

/// `commerce sagas retry`.
pub async fn sagas_retry(database: &DatabaseConfig, order_id: Uuid) -> anyhow::Result<()> {
    let store = saga_store(database).await?;
    let retried = store
        .retry(order_id, chrono::Utc::now(), &SagaTimings::default())
        .await?;
    store.pool().close().await;
    anyhow::ensure!(
        retried,
        "no saga for order {order_id} that can be retried (it does not exist or it finished)"
    );
    println!("saga of order {order_id} is due now; the saga service takes it up");
    Ok(())
}

/// `commerce sagas abandon`.
pub async fn sagas_abandon(
    database: &DatabaseConfig,
    order_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
    let store = saga_store(database).await?;
    let abandoned = store.abandon(order_id, reason).await?;
    store.pool().close().await;
    anyhow::ensure!(
        abandoned,
        "no unfinished saga for order {order_id} (it does not exist or it finished)"
    );
    println!("saga of order {order_id} abandoned; the order is left as it stands");
    Ok(())
}

#[cfg(test)]
mod tests {
    use commerce_platform::config::Secret;

    use super::*;

    /// Every `$ref` of `value` that does not resolve in `document`.
    fn dangling(document: &serde_json::Value, value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(|r| r.as_str()) {
                    let pointer = reference.trim_start_matches('#');
                    if document.pointer(pointer).is_none() {
                        found.push(reference.to_owned());
                    }
                }
                map.values().for_each(|v| dangling(document, v, found));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| dangling(document, v, found))
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_of_every_document_resolves() {
        // Client generators refuse a document with a dangling reference (one did).
        for service in [Service::CommandApi, Service::ReadApi, Service::Auth] {
            let text = openapi(service).unwrap();
            let document: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut found = Vec::new();
            dangling(&document, &document, &mut found);
            assert!(found.is_empty(), "{service:?}: {found:?}");
        }
    }

    #[test]
    fn a_token_carries_the_configured_audience_and_issuer_and_passes_the_services_check() {
        let auth = AuthConfig {
            jwt_secret: Some(Secret::new("a-test-secret-of-enough-length")),
            audience: Some("commerce".into()),
            issuer: Some("https://id.example".into()),
            jwks_url: None,
        };
        let token = token(&auth, Role::Admin, Some("ops-1".into()), None, 60).unwrap();
        let claims = JwtKeys::from_config(&auth).verify(&token).unwrap();
        assert_eq!(claims.sub, "ops-1");
        let unchecked = AuthConfig::with_secret(auth.jwt_secret.clone().expect("a secret"));
        let bare = super::token(&unchecked, Role::Admin, None, None, 60).unwrap();
        assert!(
            JwtKeys::from_config(&auth).verify(&bare).is_err(),
            "a token without them is refused where they are configured"
        );
    }
}
