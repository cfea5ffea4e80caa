//! `commerce gdpr forget`: a customer's right to erasure, by crypto-shredding.
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
