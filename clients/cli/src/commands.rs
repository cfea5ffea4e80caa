//! One function per `commerce` subcommand.
use anyhow::Context;
use commerce_platform::auth::{Claims, JwtKeys, Role};
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig};
use commerce_platform::messaging::{self, AwsClients};
use uuid::Uuid;

/// `commerce migrate`: creates the database if needed and applies every schema migration.
pub async fn migrate(database: &DatabaseConfig) -> anyhow::Result<()> {
    commerce_platform::database::create_database_if_missing(database.url.expose()).await?;
    let pool = commerce_platform::database::connect(database).await?;
    commerce_command_api::event_store::migrate(&pool).await?;
    commerce_projections::orders::migrate(&pool).await?;
    pool.close().await;
    Ok(())
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
pub async fn outbox_parked(database: &DatabaseConfig, json: bool) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let parked = commerce_command_api::relay::claims::list_parked(&pool).await?;
    pool.close().await;
    if json {
        for row in &parked {
            println!("{}", serde_json::to_string(row)?);
        }
        return Ok(());
    }
    if parked.is_empty() {
        println!("no parked outbox rows");
        return Ok(());
    }
    println!(
        "{:>10}  {:<9}  {:<36}  {:>5}  {:<22}  {:>8}  {:<20}  last error",
        "position", "aggregate", "id", "seq", "event", "attempts", "parked at"
    );
    for row in &parked {
        println!(
            "{:>10}  {:<9}  {:<36}  {:>5}  {:<22}  {:>8}  {:<20}  {}",
            row.global_position,
            row.aggregate_type,
            row.aggregate_id,
            row.sequence,
            row.event_type,
            row.attempts,
            row.parked_at.format("%Y-%m-%d %H:%M:%S"),
            row.last_error.as_deref().unwrap_or("")
        );
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use commerce_platform::config::Secret;

    use super::*;

    #[test]
    fn a_token_carries_the_configured_audience_and_issuer_and_passes_the_services_check() {
        let auth = AuthConfig {
            jwt_secret: Secret::new("a-test-secret-of-enough-length"),
            audience: Some("commerce".into()),
            issuer: Some("https://id.example".into()),
        };
        let token = token(&auth, Role::Admin, Some("ops-1".into()), None, 60).unwrap();
        let claims = JwtKeys::from_config(&auth).verify(&token).unwrap();
        assert_eq!(claims.sub, "ops-1");
        let unchecked = AuthConfig::with_secret(auth.jwt_secret.clone());
        let bare = super::token(&unchecked, Role::Admin, None, None, 60).unwrap();
        assert!(
            JwtKeys::from_config(&auth).verify(&bare).is_err(),
            "a token without them is refused where they are configured"
        );
    }
}
