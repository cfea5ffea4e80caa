//! `GET /v1/analytics/sales` and `GET /v1/analytics/funnel`: figures summed from the analytics
//! facts (`commerce_projections::analytics`) over a range of UTC days, for analysts and admins.
use axum::extract::State;
use axum::Json;
use chrono::{Days, NaiveDate, Utc};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ReadError;
use crate::AppState;

/// The longest range one request may sum, in days (ten years).
const MAX_DAYS: u64 = 3_660;
/// The range when none is given: the last 30 days, today included.
const DEFAULT_DAYS: u64 = 30;

/// What sales are grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Day,
    Vendor,
    Product,
    Category,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SalesParams {
    /// The first UTC day counted (`YYYY-MM-DD`); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// The last UTC day counted, included; default today.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// `day` (default), `vendor`, `product` or `category`.
    group_by: Option<GroupBy>,
    /// Only this vendor's sales.
    vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FunnelParams {
    /// The first UTC day counted (`YYYY-MM-DD`); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// The last UTC day counted, included; default today.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

/// An amount in a currency's minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct Amount {
    pub(crate) amount_minor: i64,
    /// ISO 4217.
    pub(crate) currency: String,
}

impl Amount {
    pub(crate) fn new(amount_minor: i64, currency: &str) -> Self {
        Self {
            amount_minor,
            currency: currency.to_owned(),
        }
    }
}

/// One group's sales in one currency. Revenue counts the lines of orders paid (confirmed) in the
/// range; refunds, the lines of orders cancelled in the range after they were paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesRow {
    /// The day (`YYYY-MM-DD`), the vendor or product id, or the category.
    key: String,
    /// The product's title, when grouped by product.
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    /// Orders paid with a line in this group.
    orders: i64,
    units: i64,
    revenue: Amount,
    /// Paid orders cancelled (refunded) with a line in this group.
    refunded_orders: i64,
    refunded_units: i64,
    refunds: Amount,
    /// Revenue less refunds.
    net_revenue: Amount,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesReport {
    group_by: GroupBy,
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    to: NaiveDate,
    /// By key, then currency.
    rows: Vec<SalesRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelReport {
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    to: NaiveDate,
    carts_created: i64,
    carts_checked_out: i64,
    /// Orders confirmed: stock reserved and payment captured.
    orders_paid: i64,
    /// Orders cancelled, paid before or not.
    orders_cancelled: i64,
    /// `carts_checked_out / carts_created`; absent when no cart was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_rate: Option<f64>,
    /// `orders_paid / carts_checked_out`; absent when no cart was checked out.
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_rate: Option<f64>,
}

/// Analysts and admins read marketplace-wide figures.
fn require_analyst(claims: &Claims) -> Result<(), ReadError> {
    if matches!(claims.role, Role::Analyst | Role::Admin) {
        Ok(())
    } else {
        Err(ReadError::Forbidden(
            "only analysts and admins read marketplace analytics".into(),
        ))
    }
}

/// The range asked for, defaults filled, checked.
pub(crate) fn day_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate), ReadError> {
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(NaiveDate::MIN),
    };
    if from > to {
        return Err(ReadError::RuleViolation(format!(
            "from must be on or before to ({to}), got {from}"
        )));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_DAYS as i64 {
        return Err(ReadError::RuleViolation(format!(
            "from must be at most {MAX_DAYS} days before to ({to}), got {from} ({days} days)"
        )));
    }
    Ok((from, to))
}

/// Sales over a range of days, grouped by day, vendor, product or category, per currency.
#[utoipa::path(
    get,
    path = "/v1/analytics/sales",
    tag = "analytics",
    params(SalesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sales per group and currency", body = SalesReport),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A range that ends before it starts or spans more than 3,660 days (`/problems/rule-violation`, naming `from`, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only analysts and admins", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn sales(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<SalesParams>,
) -> Result<Json<SalesReport>, ReadError> {
    require_analyst(&claims)?;
    let (from, to) = day_range(params.from, params.to)?;
    let group_by = params.group_by.unwrap_or_default();
    let key = match group_by {
        GroupBy::Day => "to_char(s.day, 'YYYY-MM-DD')",
        GroupBy::Vendor => "s.vendor_id::text",
        GroupBy::Product => "s.product_id::text",
        GroupBy::Category => "coalesce(p.category, 'unknown')",
    };
    let rows = sqlx::query(&format!(
        "SELECT {key} AS key, min(p.title) AS title, s.currency, \
           count(DISTINCT s.order_id) FILTER (WHERE s.kind = 'sale') AS orders, \
           coalesce(sum(s.units) FILTER (WHERE s.kind = 'sale'), 0)::bigint AS units, \
           coalesce(sum(s.amount_minor) FILTER (WHERE s.kind = 'sale'), 0)::bigint AS revenue, \
           count(DISTINCT s.order_id) FILTER (WHERE s.kind = 'refund') AS refunded_orders, \
           coalesce(sum(s.units) FILTER (WHERE s.kind = 'refund'), 0)::bigint AS refunded_units, \
           coalesce(sum(s.amount_minor) FILTER (WHERE s.kind = 'refund'), 0)::bigint AS refunds \
         FROM read.sales_lines s LEFT JOIN read.analytics_products p USING (product_id) \
         WHERE s.day BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR s.vendor_id = $3) \
         GROUP BY 1, s.currency ORDER BY 1, s.currency"
    ))
    .bind(from)
    .bind(to)
    .bind(params.vendor_id)
    .fetch_all(&state.postgres)
    .await?;
    let rows = rows
        .iter()
        .map(|row| -> Result<SalesRow, sqlx::Error> {
            let currency: String = row.try_get("currency")?;
            let amount = |column: &str| -> Result<Amount, sqlx::Error> {
                Ok(Amount {
                    amount_minor: row.try_get(column)?,
                    currency: currency.clone(),
                })
            };
            let revenue = amount("revenue")?;
            let refunds = amount("refunds")?;
            Ok(SalesRow {
                key: row.try_get("key")?,
                title: if group_by == GroupBy::Product {
                    row.try_get("title")?
                } else {
                    None
                },
                orders: row.try_get("orders")?,
                units: row.try_get("units")?,
                refunded_orders: row.try_get("refunded_orders")?,
                refunded_units: row.try_get("refunded_units")?,
                net_revenue: Amount {
                    amount_minor: revenue.amount_minor - refunds.amount_minor,
                    currency: currency.clone(),
                },
                revenue,
                refunds,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(SalesReport {
        group_by,
        from,
        to,
        rows,
    }))
}

/// The funnel over a range of days: carts created, checked out, orders paid and cancelled.
#[utoipa::path(
    get,
    path = "/v1/analytics/funnel",
    tag = "analytics",
    params(FunnelParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each step's count over the range", body = FunnelReport),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A range that ends before it starts or spans more than 3,660 days (`/problems/rule-violation`, naming `from`, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only analysts and admins", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn funnel(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<FunnelParams>,
) -> Result<Json<FunnelReport>, ReadError> {
    require_analyst(&claims)?;
    let (from, to) = day_range(params.from, params.to)?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT step, count(*) FROM read.funnel_steps WHERE day BETWEEN $1 AND $2 GROUP BY step",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&state.postgres)
    .await?;
    let count = |step: commerce_projections::analytics::FunnelStep| {
        counts
            .iter()
            .find(|(name, _)| name == step.as_str())
            .map_or(0, |(_, n)| *n)
    };
    use commerce_projections::analytics::FunnelStep;
    let carts_created = count(FunnelStep::CartCreated);
    let carts_checked_out = count(FunnelStep::CartCheckedOut);
    let orders_paid = count(FunnelStep::OrderPaid);
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(Json(FunnelReport {
        from,
        to,
        carts_created,
        carts_checked_out,
        orders_paid,
        orders_cancelled: count(FunnelStep::OrderCancelled),
        checkout_rate: rate(carts_checked_out, carts_created),
        payment_rate: rate(orders_paid, carts_checked_out),
    }))
}
