//! HTTP routes of the command API, one module per aggregate; `schemas` builds the documented
//! schemas of request values from the domain types that parse them.
pub mod carts;
pub mod commissions;
#[cfg(test)]
mod document_agreement;
pub mod inventory;
pub mod orders;
pub mod payouts;
pub mod products;
pub mod returns;
mod schemas;
pub mod vendors;
pub mod webhooks;

pub(crate) use commerce_platform::openapi::ProblemSchema as Problem;

use std::collections::HashMap;

use commerce_domain::{Actor, VendorId};
use commerce_platform::auth::{Claims, Role};
use commerce_platform::envelope::metadata_keys;
use commerce_platform::http::CorrelationId;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::event_store::CommandExecutor;

/// The answer to every accepted command: a consistency token that names what it covers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// What changed: `Cart`, `Order`, `Product`, `Inventory` (a product's stock), `Vendor` or
    /// `CommissionSchedule`.
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    /// The aggregate's version after the command: pass it as the `read_with` parameter of the
    /// read that shows it to read your write.
    pub version: i64,
    /// The read parameter that waits for `version`: `min_version` (the cart, the order, the
    /// catalog's product), or `min_stock_version` on the catalog's product for a stock change.
    pub read_with: &'static str,
}

impl From<crate::event_store::Committed> for Accepted {
    fn from(committed: crate::event_store::Committed) -> Self {
        let read_with = match committed.aggregate_type {
            commerce_domain::inventory::Inventory::TYPE => "min_stock_version",
            _ => "min_version",
        };
        Self {
            aggregate_type: committed.aggregate_type,
            aggregate_id: committed.aggregate_id,
            version: committed.version,
            read_with,
        }
    }
}

/// The actor a product command runs as: vendors for themselves, admins for anyone.
pub(crate) fn catalog_actor(claims: &Claims) -> Result<Actor, ApiError> {
    match (claims.role, claims.vendor_id) {
        (Role::Admin, _) => Ok(Actor::Admin),
        (Role::Vendor, Some(vendor_id)) => Ok(Actor::Vendor {
            vendor_id: VendorId(vendor_id),
        }),
        (role, _) => Err(ApiError::Forbidden(format!(
            "role {} may not manage products",
            role.as_str()
        ))),
    }
}

/// Runs `command` on aggregate `id` with the caller's tracing metadata: what most handlers do.
pub(crate) async fn run<A>(
    executor: &CommandExecutor<A>,
    id: impl std::fmt::Display,
    command: A::Command,
    claims: &Claims,
    correlation: CorrelationId,
) -> Result<axum::Json<Accepted>, ApiError>
where
    A: cqrs_es::Aggregate<Error = commerce_domain::DomainError, Services = ()> + Clone,
    A::Command: Clone,
{
    let committed = executor
        .execute(
            &id.to_string(),
            command,
            event_metadata(claims, correlation),
            &(),
        )
        .await
        .map_err(|e| ApiError::from(e).naming(A::TYPE, &id))?;
    Ok(axum::Json(committed.into()))
}

/// Runs `command` and records `entry` in the audit log in the same transaction (see
/// [`crate::event_store::audited`]), then wakes the relay.
pub(crate) async fn audited<T>(
    state: &crate::AppState,
    entry: commerce_platform::audit::AuditEntry,
    command: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let answer = crate::event_store::audited(&state.held_transactions, &entry, command).await??;
    // The events are visible now: the relay need not wait for its next poll.
    state.relay_waker.notify_one();
    Ok(answer)
}

/// Tracing ids stored with every event of a command.
pub(crate) fn event_metadata(
    claims: &Claims,
    correlation: CorrelationId,
) -> HashMap<String, String> {
    HashMap::from([
        (
            metadata_keys::CORRELATION_ID.to_owned(),
            correlation.0.to_string(),
        ),
        (
            metadata_keys::CAUSATION_ID.to_owned(),
            Uuid::now_v7().to_string(),
        ),
        ("user".to_owned(), claims.sub.clone()),
    ])
}

/// Parses an id from the path; a malformed id is a malformed request.
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    commerce_platform::http::path_id(raw, what).map_err(ApiError::Malformed)
}
