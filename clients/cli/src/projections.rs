//! `commerce projections list|rebuild`: the read models' generations, and rebuilding one
//! from `es.events` while the live one serves (see `commerce_projections::rebuild`).
use std::time::Duration;

use commerce_platform::config::{DatabaseConfig, RedisConfig};
use commerce_projections::rebuild::{Model, ModelStatus, Progress, Rebuild};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{Output, Table};

/// Events per page of a rebuild's scan.
pub const DEFAULT_PAGE: i64 = 5_000;

async fn rebuild_of(
    model: Model,
    database: &DatabaseConfig,
    redis: &RedisConfig,
    page: i64,
) -> anyhow::Result<Rebuild> {
    Ok(Rebuild {
        model,
        redis: commerce_platform::redis_connection::connect(redis).await?,
        events: commerce_platform::database::connect_reader(database).await?,
        read_models: commerce_platform::database::connect(database).await?,
        key_prefix: redis.key_prefix.clone(),
        page,
        grace: Duration::from_millis(500),
    })
}

/// `commerce projections list`.
pub async fn list(
    database: &DatabaseConfig,
    redis: &RedisConfig,
    output: Output,
) -> anyhow::Result<()> {
    let mut statuses: Vec<ModelStatus> = Vec::new();
    for model in Model::ALL {
        let rebuild = rebuild_of(model, database, redis, DEFAULT_PAGE).await?;
        statuses.push(rebuild.status().await?);
        rebuild.events.close().await;
        rebuild.read_models.close().await;
    }
    output.print_rows(&statuses, |statuses| {
        let mut table = Table::new(&[
            ("MODEL", false),
            ("GENERATION", true),
            ("REBUILDING", false),
        ]);
        for status in statuses {
            let rebuilding = status
                .rebuilding
                .as_ref()
                .map(|r| {
                    format!(
                        "generation {}, {} ({} events written)",
                        r.generation, r.phase, r.events
                    )
                })
                .unwrap_or_else(|| "no".into());
            table.row(vec![
                status.model.to_owned(),
                status.generation.to_string(),
                rebuilding,
            ]);
        }
        table.render()
    })
}

/// `commerce projections rebuild`: runs or resumes the rebuild, with a progress bar on stderr.
pub async fn rebuild(
    model: Model,
    database: &DatabaseConfig,
    redis: &RedisConfig,
    page: i64,
) -> anyhow::Result<()> {
    let rebuild = rebuild_of(model, database, redis, page).await?;
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} {bar:40} {pos}/{len} events, {per_sec}, ETA {eta}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let result = rebuild
        .run(|progress: Progress| {
            bar.set_prefix(progress.phase);
            bar.set_length(progress.total.max(progress.events));
            bar.set_position(progress.events);
        })
        .await;
    bar.finish_and_clear();
    rebuild.events.close().await;
    rebuild.read_models.close().await;
    let generation = result?;
    crate::output::emit(&format!(
        "{} rebuilt into generation {generation} and swapped in ({:.1} s)",
        model.name(),
        started.elapsed().as_secs_f64()
    ))
}
