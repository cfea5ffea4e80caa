//! `commerce gdpr forget`: a customer's right to erasure, by crypto-shredding; `commerce gdpr
//! seal-stored`: sealing what was stored in clear before sealing-on-write.
use commerce_platform::config::DatabaseConfig;
use serde::Serialize;
use uuid::Uuid;

use crate::output::Output;

/// What an erasure did.
#[derive(Debug, Serialize)]
pub struct Erasure {
    pub customer_id: Uuid,
    /// Keys deleted: 1, or 0 when none was left (never sealed anything, or already forgotten).
    pub keys_deleted: u64,
    /// Read-model documents whose copy of the personal data was erased.
    pub documents_erased: u64,
}

/// Deletes the customer's key first (from then on nothing opens their data), then erases the
/// opened copies the read models hold. Killed in between, running it again finishes the job.
pub async fn forget(
    database: &DatabaseConfig,
    customer_id: Uuid,
    output: Output,
) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let keys_deleted = commerce_platform::personal_data::forget(&pool, customer_id).await?;
    let documents_erased = commerce_projections::orders::erase_customer(&pool, customer_id).await?;
    pool.close().await;
    let erasure = Erasure {
        customer_id,
        keys_deleted,
        documents_erased,
    };
    output.print(&erasure, |e| {
        let key = if e.keys_deleted > 0 {
            "key deleted"
        } else {
            "no key was left"
        };
        format!(
            "customer {} forgotten: {key}; {} order document{} erased. Replays and rebuilds now \
             show their names and addresses as erased.",
            e.customer_id,
            e.documents_erased,
            if e.documents_erased == 1 { "" } else { "s" }
        )
    })
}

/// What sealing the stored events did.
#[derive(Debug, Serialize)]
pub struct Sealing {
    pub events_sealed: u64,
    pub seconds: f64,
}

/// Seals every event stored in clear, with a progress line on stderr.
pub async fn seal_stored(
    database: &DatabaseConfig,
    batch: i64,
    output: Output,
) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed}, {per_sec} batches/s)")
    {
        bar.set_style(style);
    }
    let started = std::time::Instant::now();
    let sealed = commerce_platform::personal_data::seal_stored(&pool, batch, |examined, sealed| {
        bar.inc(1);
        bar.set_message(format!(
            "{examined} events with personal data examined, {sealed} sealed"
        ));
    })
    .await;
    bar.finish_and_clear();
    pool.close().await;
    let sealing = Sealing {
        events_sealed: sealed?,
        seconds: started.elapsed().as_secs_f64(),
    };
    output.print(&sealing, |s| {
        format!(
            "{} event{} sealed in {:.1} s; forgetting a customer now erases them too.",
            s.events_sealed,
            if s.events_sealed == 1 { "" } else { "s" },
            s.seconds
        )
    })
}
