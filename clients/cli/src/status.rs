//! `commerce status`: the whole pipeline at a glance, for ops: the outbox (backlog, parked rows,
//! the oldest waiting), the relay's leader, each consumer's queue (waiting, in flight,
//! dead-lettered) and lag, the sagas by state, and the Redis models' generations. A part whose
//! dependency cannot be reached says so; the rest is still shown.
use std::collections::BTreeMap;
use std::time::Duration;

use commerce_platform::config::{DatabaseConfig, MessagingConfig, RedisConfig};
use commerce_platform::dead_letters;
use commerce_platform::messaging::{self, AwsClients};
use commerce_projections::rebuild::{Model, ModelStatus, Rebuild};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::output::{fields, Output, Table};

#[derive(Debug, Default, Serialize)]
pub struct Status {
    pub outbox: Option<OutboxStatus>,
    pub relay: Option<RelayStatus>,
    pub queues: Vec<QueueStatus>,
    pub sagas: Option<BTreeMap<String, i64>>,
    pub models: Vec<ModelStatus>,
    /// What could not be read, part by part.
    pub unavailable: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
pub struct OutboxStatus {
    /// Rows waiting for the relay.
    pub backlog: i64,
    /// Rows SNS kept refusing, set aside (`commerce outbox parked`).
    pub parked: i64,
    /// How long the oldest waiting row has waited.
    pub oldest_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct RelayStatus {
    /// The relay process holding the lease, if any ever did.
    pub leader: Option<Uuid>,
    /// Seconds its lease is still valid (negative: expired, no leader now).
    pub lease_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct QueueStatus {
    pub queue: &'static str,
    pub waiting: u64,
    pub in_flight: u64,
    pub dead_lettered: u64,
    /// `projection_lag_seconds` of its projector, from the metrics endpoint, when reachable.
    pub lag_seconds: Option<f64>,
}

/// Reads every part; `metrics_url` is where a projector's Prometheus metrics are served.
pub async fn collect(
    database: &DatabaseConfig,
    messaging: &MessagingConfig,
    redis: &RedisConfig,
    metrics_url: &str,
) -> Status {
    let mut status = Status::default();
    match commerce_platform::database::connect(database).await {
        Ok(pool) => {
            database_parts(&pool, &mut status).await;
            pool.close().await;
        }
        Err(e) => {
            status.unavailable.insert("postgres", format!("{e:#}"));
        }
    }
    let lags = projection_lags(metrics_url).await;
    let aws = AwsClients::connect(messaging).await;
    for spec in messaging::QUEUES {
        let read = async {
            let pair = dead_letters::queue_pair(&aws.sqs, messaging, spec.name).await?;
            let queue = dead_letters::depth(&aws.sqs, &pair.url).await?;
            let dlq = dead_letters::depth(&aws.sqs, &pair.dlq_url).await?;
            anyhow::Ok(QueueStatus {
                queue: spec.name,
                waiting: queue.visible,
                in_flight: queue.in_flight,
                dead_lettered: dlq.visible + dlq.in_flight,
                lag_seconds: lags.get(spec.name).copied(),
            })
        };
        match tokio::time::timeout(Duration::from_secs(5), read).await {
            Ok(Ok(queue)) => status.queues.push(queue),
            Ok(Err(e)) => {
                status.unavailable.insert("sqs", format!("{e:#}"));
                break;
            }
            Err(_) => {
                status
                    .unavailable
                    .insert("sqs", "no answer within 5 s".into());
                break;
            }
        }
    }
    match models(database, redis).await {
        Ok(models) => status.models = models,
        Err(e) => {
            status.unavailable.insert("models", format!("{e:#}"));
        }
    }
    status
}

async fn database_parts(pool: &PgPool, status: &mut Status) {
    let outbox = sqlx::query_as::<_, (i64, i64, Option<f64>)>(
        "SELECT (SELECT count(*) FROM es.outbox WHERE published_at IS NULL AND parked_at IS NULL), \
                (SELECT count(*) FROM es.outbox WHERE parked_at IS NOT NULL AND published_at IS NULL), \
                (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM es.outbox \
                  WHERE published_at IS NULL AND parked_at IS NULL)",
    )
    .fetch_one(pool)
    .await;
    match outbox {
        Ok((backlog, parked, oldest_seconds)) => {
            status.outbox = Some(OutboxStatus {
                backlog,
                parked,
                oldest_seconds,
            })
        }
        Err(e) => {
            status.unavailable.insert("outbox", e.to_string());
        }
    }
    let relay = sqlx::query_as::<_, (Uuid, f64)>(
        "SELECT holder, extract(epoch FROM valid_until - now())::float8 FROM es.relay_lease",
    )
    .fetch_optional(pool)
    .await;
    match relay {
        Ok(lease) => {
            status.relay = Some(RelayStatus {
                leader: lease.map(|(holder, _)| holder),
                lease_seconds: lease.map(|(_, seconds)| seconds),
            })
        }
        Err(e) => {
            status.unavailable.insert("relay", e.to_string());
        }
    }
    let sagas = sqlx::query_as::<_, (String, i64)>(
        "SELECT state, count(*) FROM saga.order_sagas GROUP BY state",
    )
    .fetch_all(pool)
    .await;
    match sagas {
        Ok(rows) => status.sagas = Some(rows.into_iter().collect()),
        Err(e) => {
            status.unavailable.insert("sagas", e.to_string());
        }
    }
}

async fn models(
    database: &DatabaseConfig,
    redis: &RedisConfig,
) -> anyhow::Result<Vec<ModelStatus>> {
    let connection = commerce_platform::redis_connection::connect(redis).await?;
    let pool = commerce_platform::database::connect_reader(database).await?;
    let read_models = commerce_platform::database::connect(database).await?;
    let mut models = Vec::new();
    for model in Model::ALL {
        let rebuild = Rebuild {
            model,
            redis: connection.clone(),
            events: pool.clone(),
            read_models: read_models.clone(),
            key_prefix: redis.key_prefix.clone(),
            page: crate::projections::DEFAULT_PAGE,
            grace: Duration::ZERO,
        };
        models.push(rebuild.status().await?);
    }
    pool.close().await;
    read_models.close().await;
    Ok(models)
}

/// `projection_lag_seconds{projection="…"}` from a Prometheus text page; empty when it cannot
/// be fetched (the projectors run elsewhere, or not at all).
async fn projection_lags(url: &str) -> BTreeMap<String, f64> {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return BTreeMap::new();
    };
    let Ok(response) = client.get(url).send().await else {
        return BTreeMap::new();
    };
    let text = response.text().await.unwrap_or_default();
    parse_lags(&text)
}

fn parse_lags(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix("projection_lag_seconds{"))
        .filter_map(|rest| {
            let (labels, value) = rest.split_once('}')?;
            let name = labels
                .split(',')
                .find_map(|label| label.trim().strip_prefix("projection=\""))?
                .trim_end_matches('"');
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// `commerce status`.
pub async fn show(status: &Status, output: Output) -> anyhow::Result<()> {
    output.print(status, |status| {
        let mut out = Vec::new();
        let seconds = |s: Option<f64>| s.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "-".into());
        if let Some(outbox) = &status.outbox {
            out.push(fields(&[(
                "outbox",
                format!(
                    "{} waiting (oldest {}), {} parked",
                    outbox.backlog,
                    seconds(outbox.oldest_seconds),
                    outbox.parked
                ),
            )]));
        }
        if let Some(relay) = &status.relay {
            let leader = match (relay.leader, relay.lease_seconds) {
                (Some(leader), Some(valid)) if valid >= 0.0 => {
                    format!("{leader}, lease valid {valid:.1} s")
                }
                (Some(leader), Some(valid)) => {
                    format!("none (last {leader}, lease expired {:.1} s ago)", -valid)
                }
                _ => "none yet".into(),
            };
            out.push(fields(&[("relay", leader)]));
        }
        if let Some(sagas) = &status.sagas {
            let counts: Vec<String> = sagas.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let counts = if counts.is_empty() {
                "none".into()
            } else {
                counts.join(", ")
            };
            out.push(fields(&[("sagas", counts)]));
        }
        if !status.models.is_empty() {
            let models: Vec<String> = status
                .models
                .iter()
                .map(|m| match &m.rebuilding {
                    Some(r) => format!(
                        "{} g{} (rebuilding g{}: {}, {} events)",
                        m.model, m.generation, r.generation, r.phase, r.events
                    ),
                    None => format!("{} g{}", m.model, m.generation),
                })
                .collect();
            out.push(fields(&[("models", models.join(", "))]));
        }
        if !status.queues.is_empty() {
            let mut table = Table::new(&[
                ("QUEUE", false),
                ("WAITING", true),
                ("IN FLIGHT", true),
                ("DEAD-LETTERED", true),
                ("LAG", true),
            ]);
            for queue in &status.queues {
                table.row(vec![
                    queue.queue.to_owned(),
                    queue.waiting.to_string(),
                    queue.in_flight.to_string(),
                    queue.dead_lettered.to_string(),
                    queue
                        .lag_seconds
                        .map(|s| format!("{s:.2} s"))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            out.push(String::new());
            out.push(table.render());
        }
        for (part, error) in &status.unavailable {
            out.push(format!("{part}: unavailable ({error})"));
        }
        out.join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_are_read_from_prometheus_text() {
        let text = "# TYPE projection_lag_seconds gauge\n\
                    projection_lag_seconds{projection=\"catalog\"} 0.25\n\
                    projection_lag_seconds{projection=\"orders\",zone=\"a\"} 1\n\
                    outbox_backlog 3\n";
        let lags = parse_lags(text);
        assert_eq!(lags.get("catalog"), Some(&0.25));
        assert_eq!(lags.get("orders"), Some(&1.0));
        assert_eq!(lags.len(), 2);
    }
}
