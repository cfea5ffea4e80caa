//! The vendors' ledger as read (schema `read`, written by the ledger projector): a vendor's
//! balances, statement and payouts, and the marketplace's commission income.
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ReadError;
use crate::paging::{page_size, split_page};
use crate::AppState;

/// The vendor itself and admins; anyone else is told no.
fn may_read(claims: &Claims, vendor_id: Uuid) -> Result<(), ReadError> {
    match claims.role {
        Role::Admin => Ok(()),
        Role::Vendor if claims.vendor_id == Some(vendor_id) => Ok(()),
        _ => Err(ReadError::Forbidden(
            "only the vendor itself and admins read its ledger".into(),
        )),
    }
}

fn vendor_in_path(raw: &str) -> Result<Uuid, ReadError> {
    commerce_platform::http::path_id(raw, "vendor id").map_err(ReadError::Malformed)
}

/// A vendor's balances in one currency, in minor units.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct CurrencyBalance {
    #[schema(example = "EUR")]
    pub currency: String,
    /// Its share of sales not released yet (not shipped, or within the hold period).
    pub pending_minor: i64,
    /// What the next payout pays; negative when returns after a payout took back more.
    pub available_minor: i64,
    /// Everything paid out so far.
    pub paid_out_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorBalance {
    pub vendor_id: Uuid,
    /// One per currency it has sold in; empty before its first paid sale.
    pub balances: Vec<CurrencyBalance>,
}

/// `GET /v1/vendors/{vendor_id}/balance`: a vendor's balances (the vendor, admins).
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}/balance",
    tag = "ledger",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Pending, available and paid out, per currency", body = VendorBalance),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the vendor nor an admin", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn balance(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
) -> Result<Json<VendorBalance>, ReadError> {
    let vendor_id = vendor_in_path(&id)?;
    may_read(&claims, vendor_id)?;
    let balances: Vec<CurrencyBalance> = sqlx::query_as(
        "SELECT currency, sum(pending_minor)::bigint AS pending_minor, \
           sum(available_minor)::bigint AS available_minor, \
           sum(paid_out_minor)::bigint AS paid_out_minor \
         FROM read.ledger_postings WHERE vendor_id = $1 GROUP BY currency ORDER BY currency",
    )
    .bind(vendor_id)
    .fetch_all(&state.postgres)
    .await?;
    Ok(Json(VendorBalance {
        vendor_id,
        balances,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// One ledger event of a vendor: why, for which order (and return or payout), the lines it
/// concerns, and what it moved on each account.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatementEntry {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    /// `sale_credited` (a payment captured), `funds_released` (shipped, hold over),
    /// `return_reversed` (a return or a cancellation refunded) or `share_paid_out` (a payout).
    #[schema(example = "sale_credited")]
    pub reason: String,
    pub order_id: Uuid,
    pub return_id: Option<Uuid>,
    pub payout_id: Option<Uuid>,
    pub currency: String,
    pub pending_minor: i64,
    pub available_minor: i64,
    pub paid_out_minor: i64,
    /// The marketplace's commission moved by the event (taken on a sale, given back on a return).
    pub commission_minor: i64,
    /// What customers paid (positive) or got back (negative) with the event.
    pub customer_minor: i64,
    /// The lines credited or returned: product, quantity, line total or refund, commission.
    #[schema(value_type = Vec<Object>)]
    pub lines: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementPage {
    pub items: Vec<StatementEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// `GET /v1/vendors/{vendor_id}/statement`: every ledger entry of a vendor, newest first.
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}/statement",
    tag = "ledger",
    params(("vendor_id" = Uuid, Path, description = "Vendor id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the statement, newest first", body = StatementPage),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the vendor nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn statement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<StatementPage>, ReadError> {
    let vendor_id = vendor_in_path(&id)?;
    may_read(&claims, vendor_id)?;
    let limit = page_size(params.limit)?;
    let rows: Vec<StatementEntry> = sqlx::query_as(
        "SELECT event_id, at, reason, order_id, return_id, payout_id, currency, pending_minor, \
           available_minor, paid_out_minor, commission_minor, -clearing_minor AS customer_minor, \
           lines \
         FROM read.ledger_postings \
         WHERE vendor_id = $1 AND ($2::uuid IS NULL OR event_id < $2) \
         ORDER BY event_id DESC LIMIT $3",
    )
    .bind(vendor_id)
    .bind(params.cursor)
    .bind(limit + 1)
    .fetch_all(&state.postgres)
    .await?;
    let (items, next_cursor) = split_page(rows, limit, |e| e.event_id);
    Ok(Json(StatementPage { items, next_cursor }))
}

/// A payout to a vendor.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Payout {
    pub payout_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    /// The sales it pays.
    pub sales: i32,
    pub started_at: DateTime<Utc>,
    /// Absent while the payout is open (the next run finishes it).
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutPage {
    pub items: Vec<Payout>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// `GET /v1/vendors/{vendor_id}/payouts`: a vendor's payouts, newest first.
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}/payouts",
    tag = "ledger",
    params(("vendor_id" = Uuid, Path, description = "Vendor id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of payouts, newest first", body = PayoutPage),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the vendor nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn payouts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PayoutPage>, ReadError> {
    let vendor_id = vendor_in_path(&id)?;
    may_read(&claims, vendor_id)?;
    let limit = page_size(params.limit)?;
    // Payout ids are not ordered in time: the cursor is a payout id, resolved to its start.
    let rows: Vec<Payout> = sqlx::query_as(
        "SELECT payout_id, currency, amount_minor, sales, started_at, completed_at \
         FROM read.ledger_payouts p \
         WHERE vendor_id = $1 AND ($2::uuid IS NULL OR (started_at, payout_id) < ( \
             SELECT started_at, payout_id FROM read.ledger_payouts WHERE payout_id = $2)) \
         ORDER BY started_at DESC, payout_id DESC LIMIT $3",
    )
    .bind(vendor_id)
    .bind(params.cursor)
    .bind(limit + 1)
    .fetch_all(&state.postgres)
    .await?;
    let (items, next_cursor) = split_page(rows, limit, |p| p.payout_id);
    Ok(Json(PayoutPage { items, next_cursor }))
}

/// The marketplace's takings in one currency, in minor units.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct CurrencyIncome {
    #[schema(example = "EUR")]
    pub currency: String,
    /// Commission taken, net of what returns gave back.
    pub commission_minor: i64,
    /// What customers paid for vendors' sales, net of refunds.
    pub customer_payments_minor: i64,
    /// Owed to vendors (pending and available) and paid out to them.
    pub vendors_pending_minor: i64,
    pub vendors_available_minor: i64,
    pub vendors_paid_out_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionIncome {
    pub currencies: Vec<CurrencyIncome>,
}

/// `GET /v1/commission-income`: the marketplace's commission income, and where the rest of the
/// customers' money stands, per currency (admins).
#[utoipa::path(
    get,
    path = "/v1/commission-income",
    tag = "ledger",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Per currency: commission, customer payments, vendors' balances", body = CommissionIncome),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn commission_income(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<CommissionIncome>, ReadError> {
    if claims.role != Role::Admin {
        return Err(ReadError::Forbidden(
            "only admins read the commission income".into(),
        ));
    }
    let currencies: Vec<CurrencyIncome> = sqlx::query_as(
        "SELECT currency, sum(commission_minor)::bigint AS commission_minor, \
           (-sum(clearing_minor))::bigint AS customer_payments_minor, \
           sum(pending_minor)::bigint AS vendors_pending_minor, \
           sum(available_minor)::bigint AS vendors_available_minor, \
           sum(paid_out_minor)::bigint AS vendors_paid_out_minor \
         FROM read.ledger_postings GROUP BY currency ORDER BY currency",
    )
    .fetch_all(&state.postgres)
    .await?;
    Ok(Json(CommissionIncome { currencies }))
}
