//! `GET /v1/orders/{id}` and `GET /v1/orders` over the Postgres orders model, and
//! `GET /v1/orders/{id}/events`, an order's status changes as Server-Sent Events.
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use commerce_projections::orders::{OrderDocument, SubOrderDocument};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::catalog::GetParams;
use crate::consistency::{requested_min_version, wait_for_readable_woken, Access, DocumentChanges};
use crate::error::ReadError;
use crate::AppState;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersParams {
    /// Only orders holding this vendor's lines. A vendor may name only itself (403 otherwise); an
    /// admin sees those orders whole, the vendor sees its own sub-orders of them.
    vendor_id: Option<Uuid>,
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    items: Vec<OrderDocument>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Who may see which orders.
enum Visibility {
    Customer(Uuid),
    Vendor(Uuid),
    All,
}

fn visibility(claims: &Claims) -> Result<Visibility, ReadError> {
    match (claims.role, claims.vendor_id) {
        (Role::Admin, _) => Ok(Visibility::All),
        (Role::Vendor, Some(vendor)) => Ok(Visibility::Vendor(vendor)),
        (Role::Customer, _) => claims
            .user_id()
            .map(Visibility::Customer)
            .ok_or_else(|| ReadError::Forbidden("a customer token's sub must be a UUID".into())),
        _ => Err(ReadError::Forbidden("this role may not read orders".into())),
    }
}

impl Visibility {
    /// An order's customer and lines are fixed when it is placed: a stranger is refused at every
    /// version.
    fn access(&self, order: &OrderDocument) -> Access {
        let allowed = match self {
            Visibility::All => true,
            Visibility::Customer(customer) => order.customer_id == *customer,
            Visibility::Vendor(vendor) => order.lines.iter().any(|l| l.vendor_id == *vendor),
        };
        if allowed {
            Access::Allowed
        } else {
            Access::Refused
        }
    }
}

/// One order: for its customer, the vendors of its lines, and admins.
///
/// Anyone else gets 404, the answer for an order that does not exist, at once and without waiting
/// for `min_version`. Roles that read no orders (analyst, ops) get 403 whatever the id.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, minimum = 1, nullable = false, description = "Same as min_version (the query parameter wins; both are checked)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order document", body = OrderDocument),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "This role may not read orders", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or neither the caller's nor one with the caller's lines (the same answer for both; with min_version, after waiting for an order that may not be projected yet)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An order the caller may read did not reach min_version within 2 s", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Json<OrderDocument>, ReadError> {
    let id = commerce_platform::http::path_id(&id, "order id").map_err(ReadError::Malformed)?;
    let who = visibility(&claims)?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    let order = readable_order(&state, id, &who, min_version).await?;
    Ok(Json(as_seen_by(&who, order)?))
}

/// Order `id` once `who` may read it at `min_version` (waited for, woken by its changes), or 404.
async fn readable_order(
    state: &AppState,
    id: Uuid,
    who: &Visibility,
    min_version: Option<i64>,
) -> Result<OrderDocument, ReadError> {
    // Subscribed before the first load: a change in between still wakes the wait.
    let changes = min_version.and_then(|_| state.order_changes.subscribe(id));
    wait_for_readable_woken(
        state.min_version_wait,
        min_version,
        |o: &OrderDocument| o.version,
        |o| who.access(o),
        || load_order(state, id),
        changes,
    )
    .await?
    .ok_or_else(|| ReadError::NotFound(format!("no order {id} that you may read")))
}

/// A page of orders: a customer's own, those with a vendor's lines, or all for admins.
#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    params(ListOrdersParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders, oldest first", body = OrderPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "This role may not read orders, or a vendor named another vendor", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_orders(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<ListOrdersParams>,
) -> Result<Json<OrderPage>, ReadError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let (customer, vendor) = match (visibility(&claims)?, params.vendor_id) {
        (Visibility::Customer(c), named) => (Some(c), named),
        (Visibility::Vendor(v), Some(named)) if named != v => {
            return Err(ReadError::Forbidden(
                "vendor_id: a vendor lists only its own orders".into(),
            ))
        }
        (Visibility::Vendor(v), _) => (None, Some(v)),
        (Visibility::All, named) => (None, named),
    };
    let rows = sqlx::query(
        "SELECT doc FROM read.orders \
         WHERE jsonb_typeof(doc) = 'object' \
           AND ($1::uuid IS NULL OR customer_id = $1) \
           AND ($2::uuid IS NULL OR vendor_ids @> ARRAY[$2::uuid]) \
           AND ($3::uuid IS NULL OR order_id > $3) \
         ORDER BY order_id LIMIT $4",
    )
    .bind(customer)
    .bind(vendor)
    .bind(params.cursor)
    .bind(limit + 1)
    .fetch_all(&state.postgres)
    .await?;
    let who = visibility(&claims)?;
    let mut items = rows
        .iter()
        .map(|row| {
            let doc: serde_json::Value = row.try_get("doc")?;
            let order =
                serde_json::from_value(doc).map_err(|e| ReadError::Internal(e.to_string()))?;
            as_seen_by(&who, order)
        })
        .collect::<Result<Vec<OrderDocument>, ReadError>>()?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|o| o.order_id.to_string()))
        .flatten();
    Ok(Json(OrderPage { items, next_cursor }))
}

/// A vendor sees only its own lines and sub-order of an order, and their total: other vendors'
/// sales are not its business.
fn as_seen_by(who: &Visibility, order: OrderDocument) -> Result<OrderDocument, ReadError> {
    let mut order = order.with_sub_orders();
    if let Visibility::Vendor(vendor) = who {
        order.lines.retain(|l| l.vendor_id == *vendor);
        order.sub_orders.retain(|s| s.vendor_id == *vendor);
        order.returns.retain(|r| r.vendor_id == *vendor);
        let minor = order
            .lines
            .iter()
            .try_fold(0i64, |sum, l| sum.checked_add(l.line_total.amount_minor))
            .ok_or_else(|| ReadError::Internal("order total overflows".into()))?;
        order.total.amount_minor = minor;
    }
    Ok(order)
}

/// One vendor's sub-order, with the order it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubOrderView {
    pub order_id: Uuid,
    /// The whole order's status (`partially_shipped` while some sub-orders are not shipped).
    pub order_status: String,
    /// The order's version: what `min_version` waits for.
    pub version: i64,
    #[serde(flatten)]
    pub sub_order: SubOrderDocument,
}

/// One vendor's sub-order of an order: for the order's customer and admins, and for that vendor
/// (another vendor of the order gets 403; anyone else 404, as for the order).
#[utoipa::path(
    get,
    path = "/v1/orders/{id}/sub-orders/{vendor_id}",
    tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("vendor_id" = Uuid, Path, description = "The vendor whose sub-order"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, minimum = 1, nullable = false, description = "Same as min_version (the query parameter wins; both are checked)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sub-order", body = SubOrderView),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "This role may not read orders, or another vendor's sub-order", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order (or not one the caller may read), or no lines of that vendor in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order did not reach min_version within 2 s", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id, vendor_id = %vendor_id))]
pub async fn get_sub_order(
    State(state): State<AppState>,
    Path((id, vendor_id)): Path<(String, String)>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Json<SubOrderView>, ReadError> {
    let id = commerce_platform::http::path_id(&id, "order id").map_err(ReadError::Malformed)?;
    let vendor_id =
        commerce_platform::http::path_id(&vendor_id, "vendor id").map_err(ReadError::Malformed)?;
    let who = visibility(&claims)?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    let order = readable_order(&state, id, &who, min_version).await?;
    if matches!(who, Visibility::Vendor(own) if own != vendor_id) {
        return Err(ReadError::Forbidden(format!(
            "a vendor reads only its own sub-order of order {id}"
        )));
    }
    let order = order.with_sub_orders();
    let sub_order = order
        .sub_orders
        .into_iter()
        .find(|s| s.vendor_id == vendor_id)
        .ok_or_else(|| {
            ReadError::NotFound(format!("order {id} has no lines of vendor {vendor_id}"))
        })?;
    Ok(Json(SubOrderView {
        order_id: order.order_id,
        order_status: order.status,
        version: order.version,
        sub_order,
    }))
}

/// How long one event stream stays open before the server ends it; a client reconnects with
/// `Last-Event-ID` and misses nothing.
const STREAM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often a stream re-reads the order without a notification (the notification feed may be
/// down, or a notification lost).
const STREAM_RECHECK: Duration = Duration::from_secs(5);

/// One status change as an event stream sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusEvent {
    order_id: Uuid,
    /// `pending`, `confirmed`, `partially_shipped`, `cancelled` or `shipped`.
    status: String,
    at: chrono::DateTime<chrono::Utc>,
    /// Why it was cancelled, on `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_reason: Option<String>,
}

/// What an open stream has sent and still has to.
struct OrderStream {
    state: AppState,
    order_id: Uuid,
    changes: Option<DocumentChanges>,
    /// Status changes sent so far (the next event's id is this plus one).
    sent: usize,
    queued: std::collections::VecDeque<Event>,
    /// The order reached a status after which nothing changes.
    finished: bool,
    closes_at: tokio::time::Instant,
}

impl OrderStream {
    /// Queues every status change of `order` not sent yet; finished after a final one.
    fn queue_changes(&mut self, order: &OrderDocument) {
        for (index, change) in order.status_history.iter().enumerate().skip(self.sent) {
            let event = StatusEvent {
                order_id: order.order_id,
                status: change.status.clone(),
                at: change.at,
                cancel_reason: (change.status == "cancelled")
                    .then(|| order.cancel_reason.clone())
                    .flatten(),
            };
            match Event::default()
                .event("status")
                .id((index + 1).to_string())
                .json_data(&event)
            {
                Ok(event) => self.queued.push_back(event),
                Err(error) => tracing::error!(%error, "a status event did not serialise"),
            }
            self.sent = index + 1;
            if matches!(change.status.as_str(), "cancelled" | "shipped") {
                self.finished = true;
            }
        }
    }

    /// The next event: queued, or after the order changes; `None` once finished or too old.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((Ok(event), self));
            }
            if self.finished || tokio::time::Instant::now() >= self.closes_at {
                return None;
            }
            let wait = async {
                match &mut self.changes {
                    Some(changes) => changes.next(None).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let _ = tokio::time::timeout(STREAM_RECHECK, wait).await;
            match load_order(&self.state, self.order_id).await {
                Ok(Some(order)) => self.queue_changes(&order),
                Ok(None) => {}
                // The read model store is away: keep the stream, try again at the next recheck.
                Err(error) => {
                    tracing::warn!(%error, order_id = %self.order_id, "order stream could not read the order")
                }
            }
        }
    }
}

/// The order's status changes as Server-Sent Events (`text/event-stream`), for those who may
/// read the order: every change so far at once, then each as it happens. Each event is
/// `event: status`, `id: n` (the n-th status of the order), `data: {order_id, status, at,
/// cancel_reason}`. The stream ends after `cancelled` or `shipped`, or after 30 minutes; a client
/// that reconnects with `Last-Event-ID: n` gets the changes after the n-th. A comment is sent every
/// 15 s to keep idle connections open.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}/events",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event stream (`text/event-stream`); each event's data is a StatusEvent", body = StatusEvent, content_type = "text/event-stream"),
        (status = 400, description = "Malformed order id or Last-Event-ID", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "This role may not read orders", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one the caller may read (an order just placed is waited for up to 2 s)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn order_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ReadError> {
    let id = commerce_platform::http::path_id(&id, "order id").map_err(ReadError::Malformed)?;
    let who = visibility(&claims)?;
    let already_seen = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or_else(|| {
                ReadError::Malformed(
                    "Last-Event-ID must be the id of an event of this stream (a whole number)"
                        .into(),
                )
            })?,
    };
    // Subscribed before the first read, so a change in between still wakes the stream.
    let changes = state.order_changes.subscribe(id);
    // An order just placed may not be projected yet: waited for like a read at version 1.
    let order = wait_for_readable_woken(
        state.min_version_wait,
        Some(1),
        |o: &OrderDocument| o.version,
        |o| who.access(o),
        || load_order(&state, id),
        state.order_changes.subscribe(id),
    )
    .await
    .map_err(|error| match error {
        ReadError::VersionNotReached(_) => {
            ReadError::NotFound(format!("no order {id} that you may read"))
        }
        other => other,
    })?
    .ok_or_else(|| ReadError::NotFound(format!("no order {id} that you may read")))?;
    let mut stream = OrderStream {
        state: state.clone(),
        order_id: id,
        changes,
        sent: already_seen,
        queued: Default::default(),
        finished: false,
        closes_at: tokio::time::Instant::now() + STREAM_LIFETIME,
    };
    stream.queue_changes(&order);
    let events = futures::stream::unfold(stream, OrderStream::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn load_order(state: &AppState, id: Uuid) -> Result<Option<OrderDocument>, ReadError> {
    let doc: Option<serde_json::Value> = sqlx::query_scalar(
        // A row without a document is an order whose first event was skipped: absent.
        "SELECT doc FROM read.orders WHERE order_id = $1 AND jsonb_typeof(doc) = 'object'",
    )
    .bind(id)
    .fetch_optional(&state.postgres)
    .await?;
    doc.map(|d| serde_json::from_value(d).map_err(|e| ReadError::Internal(e.to_string())))
        .transpose()
}
