//! `GET /v1/vendors/{vendor_id}/dashboard`: one vendor's revenue, orders and units by day, its
//! top products and its low-stock alerts, from the analytics facts.
//!
//! Tenant isolation: the vendor id every query filters on comes from a [`Tenant`], which only
//! [`Tenant::of`] makes, from the path after checking the token: a vendor's token yields its own
//! vendor id or a 403, so no query can be handed another vendor's id.
use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::analytics::{day_range, Amount};
use crate::error::ReadError;
use crate::AppState;

/// Products at or below this many units available are alerted on, unless asked otherwise.
pub(crate) const DEFAULT_LOW_STOCK: i64 = 5;
/// How many products the dashboard ranks.
const TOP_PRODUCTS: i64 = 5;
/// How many low-stock alerts it lists, lowest stock first.
const MAX_ALERTS: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// The first UTC day counted (`YYYY-MM-DD`); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// The last UTC day counted, included; default today.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// The currency the figures are in (ISO 4217); default the one the vendor sold most lines
    /// in over the range, else EUR.
    #[param(min_length = 3, max_length = 3, pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
    /// Alert on products with at most this many units available, 0 to 1000000 (default 5).
    #[param(minimum = 0, maximum = 1_000_000)]
    low_stock: Option<i64>,
}

/// A vendor's figures over a range. `orders` counts orders paid in the range with a line of the
/// vendor's; `units` and `revenue` count those lines net of refunds made in the range (a paid
/// order cancelled later is refunded on the day it was cancelled).
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub(crate) vendor_id: Uuid,
    #[schema(value_type = String, format = Date)]
    pub(crate) from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub(crate) to: NaiveDate,
    pub(crate) currency: String,
    pub(crate) revenue: Amount,
    pub(crate) refunds: Amount,
    pub(crate) orders: i64,
    pub(crate) units: i64,
    /// Every day of the range, oldest first, zero on days without sales.
    pub(crate) by_day: Vec<DayFigures>,
    /// The vendor's best products over the range by revenue, at most 5.
    pub(crate) top_products: Vec<ProductFigures>,
    /// The vendor's products at or below `low_stock` units available, fewest first, at most 50.
    pub(crate) stock_alerts: Vec<StockAlert>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayFigures {
    #[schema(value_type = String, format = Date)]
    pub(crate) day: NaiveDate,
    pub(crate) revenue: Amount,
    pub(crate) orders: i64,
    pub(crate) units: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductFigures {
    pub(crate) product_id: Uuid,
    pub(crate) title: Option<String>,
    pub(crate) units: i64,
    pub(crate) revenue: Amount,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockAlert {
    pub(crate) product_id: Uuid,
    pub(crate) title: Option<String>,
    pub(crate) available: i64,
}

/// The one vendor whose rows a request may read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tenant(Uuid);

impl Tenant {
    /// The vendor every query of this request filters on.
    pub(crate) fn vendor_id(&self) -> Uuid {
        self.0
    }

    /// A vendor reads its own dashboard only; admins and analysts read any.
    pub(crate) fn of(claims: &Claims, vendor_id: Uuid) -> Result<Self, ReadError> {
        match claims.role {
            Role::Admin | Role::Analyst => Ok(Tenant(vendor_id)),
            Role::Vendor if claims.vendor_id == Some(vendor_id) => Ok(Tenant(vendor_id)),
            Role::Vendor => Err(ReadError::Forbidden(format!(
                "a vendor reads only its own figures and deliveries, not vendor {vendor_id}'s"
            ))),
            _ => Err(ReadError::Forbidden(
                "only the vendor itself, admins and analysts read a vendor's figures and deliveries"
                    .into(),
            )),
        }
    }
}

/// A vendor's dashboard: revenue, orders and units by day, top products, low-stock alerts.
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}/dashboard",
    tag = "analytics",
    params(("vendor_id" = Uuid, Path, description = "The vendor"), DashboardParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The vendor's figures (zero for a vendor without sales)", body = Dashboard),
        (status = 400, description = "Malformed vendor id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A currency or threshold outside its bounds (`/problems/invalid-value`); a range that ends before it starts or spans more than 3,660 days (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another vendor's dashboard, or a role that reads none", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %vendor_id))]
pub async fn vendor_dashboard(
    State(state): State<AppState>,
    Path(vendor_id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<DashboardParams>,
) -> Result<Json<Dashboard>, ReadError> {
    let vendor_id =
        commerce_platform::http::path_id(&vendor_id, "vendor id").map_err(ReadError::Malformed)?;
    let tenant = Tenant::of(&claims, vendor_id)?;
    let low_stock = params.low_stock.unwrap_or(DEFAULT_LOW_STOCK);
    if !(0..=1_000_000).contains(&low_stock) {
        return Err(ReadError::Invalid(format!(
            "low_stock must be 0 to 1000000, got {low_stock}"
        )));
    }
    if let Some(currency) = &params.currency {
        let valid = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
        if !valid {
            return Err(ReadError::Invalid(format!(
                "currency must be 3 capital letters (ISO 4217), got {currency:?}"
            )));
        }
    }
    let (from, to) = day_range(params.from, params.to)?;
    load(&state, tenant, from, to, params.currency, low_stock)
        .await
        .map(Json)
}

/// The dashboard of `tenant` over `from..=to` (checked), in `currency` or the one it sold most in.
pub(crate) async fn load(
    state: &AppState,
    Tenant(vendor_id): Tenant,
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<String>,
    low_stock: i64,
) -> Result<Dashboard, ReadError> {
    let pool = &state.postgres;
    let currency = match currency {
        Some(currency) => currency,
        None => sqlx::query_scalar(
            "SELECT currency FROM read.sales_lines \
             WHERE vendor_id = $1 AND day BETWEEN $2 AND $3 \
             GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1",
        )
        .bind(vendor_id)
        .bind(from)
        .bind(to)
        .fetch_optional(pool)
        .await?
        .unwrap_or_else(|| "EUR".to_owned()),
    };
    let amount = |amount_minor: i64| Amount::new(amount_minor, &currency);
    // Net figures per day: sales less refunds; orders are the paid ones.
    let days = sqlx::query(
        "SELECT d::date AS day, \
           count(DISTINCT s.order_id) FILTER (WHERE s.kind = 'sale') AS orders, \
           coalesce(sum(CASE s.kind WHEN 'sale' THEN s.units ELSE -s.units END), 0)::bigint AS units, \
           coalesce(sum(CASE s.kind WHEN 'sale' THEN s.amount_minor ELSE -s.amount_minor END), 0)::bigint \
             AS revenue, \
           coalesce(sum(s.amount_minor) FILTER (WHERE s.kind = 'refund'), 0)::bigint AS refunds \
         FROM generate_series($2::date, $3::date, interval '1 day') AS d \
         LEFT JOIN read.sales_lines s \
           ON s.day = d::date AND s.vendor_id = $1 AND s.currency = $4 \
         GROUP BY d ORDER BY d",
    )
    .bind(vendor_id)
    .bind(from)
    .bind(to)
    .bind(&currency)
    .fetch_all(pool)
    .await?;
    let totals = sqlx::query(
        "SELECT count(DISTINCT order_id) FILTER (WHERE kind = 'sale') AS orders \
         FROM read.sales_lines \
         WHERE vendor_id = $1 AND day BETWEEN $2 AND $3 AND currency = $4",
    )
    .bind(vendor_id)
    .bind(from)
    .bind(to)
    .bind(&currency)
    .fetch_one(pool)
    .await?;
    let mut by_day = Vec::with_capacity(days.len());
    let (mut units, mut revenue, mut refunds) = (0_i64, 0_i64, 0_i64);
    for row in &days {
        let day_units: i64 = row.try_get("units")?;
        let day_revenue: i64 = row.try_get("revenue")?;
        units += day_units;
        revenue += day_revenue;
        refunds += row.try_get::<i64, _>("refunds")?;
        by_day.push(DayFigures {
            day: row.try_get("day")?,
            revenue: amount(day_revenue),
            orders: row.try_get("orders")?,
            units: day_units,
        });
    }
    let top_products = sqlx::query(
        "SELECT s.product_id, min(p.title) AS title, \
           sum(CASE s.kind WHEN 'sale' THEN s.units ELSE -s.units END)::bigint AS units, \
           sum(CASE s.kind WHEN 'sale' THEN s.amount_minor ELSE -s.amount_minor END)::bigint \
             AS revenue \
         FROM read.sales_lines s LEFT JOIN read.analytics_products p USING (product_id) \
         WHERE s.vendor_id = $1 AND s.day BETWEEN $2 AND $3 AND s.currency = $4 \
         GROUP BY s.product_id ORDER BY revenue DESC, s.product_id LIMIT $5",
    )
    .bind(vendor_id)
    .bind(from)
    .bind(to)
    .bind(&currency)
    .bind(TOP_PRODUCTS)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| -> Result<ProductFigures, sqlx::Error> {
        Ok(ProductFigures {
            product_id: row.try_get("product_id")?,
            title: row.try_get("title")?,
            units: row.try_get("units")?,
            revenue: amount(row.try_get("revenue")?),
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    let stock_alerts = sqlx::query(
        "SELECT k.product_id, p.title, k.available \
         FROM read.stock_levels k LEFT JOIN read.analytics_products p USING (product_id) \
         WHERE k.vendor_id = $1 AND k.available <= $2 \
         ORDER BY k.available, k.product_id LIMIT $3",
    )
    .bind(vendor_id)
    .bind(low_stock)
    .bind(MAX_ALERTS)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| -> Result<StockAlert, sqlx::Error> {
        Ok(StockAlert {
            product_id: row.try_get("product_id")?,
            title: row.try_get("title")?,
            available: row.try_get("available")?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    Ok(Dashboard {
        vendor_id,
        from,
        to,
        revenue: amount(revenue),
        refunds: amount(refunds),
        orders: totals.try_get("orders")?,
        units,
        by_day,
        top_products,
        stock_alerts,
        currency,
    })
}
