//! `GET /v1/vendors/{id}` (a vendor's profile) and `GET /v1/vendors?status=` (the admins' list),
//! over the vendor profiles the catalog projector keeps in Redis.
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_domain::vendor::VendorStatus;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use commerce_projections::vendors::{VendorDecision, VendorDocument};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::consistency::{requested_min_version, wait_for_readable, Access};
use crate::error::ReadError;
use crate::AppState;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

/// A vendor as a caller may see it: everyone sees the public profile of an admitted vendor; the
/// vendor itself, its applicant and admins also see its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorProfile {
    pub vendor_id: Uuid,
    pub name: String,
    /// `pending`, `approved` or `suspended`.
    #[schema(example = "approved")]
    pub status: &'static str,
    /// The last applied vendor event's sequence: what `min_version` waits for.
    pub version: i64,
    /// Who applied (a user id); for the vendor, its applicant and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicant_id: Option<Uuid>,
    /// For the vendor, its applicant and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// Every admin decision with its reason, oldest first; for the vendor, its applicant and
    /// admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<VendorDecision>>,
}

impl VendorProfile {
    fn of(doc: VendorDocument, claims: &Claims) -> Self {
        let insider = is_insider(claims, &doc);
        Self {
            vendor_id: doc.vendor_id,
            name: doc.name,
            status: doc.status.as_str(),
            version: doc.version,
            applicant_id: insider.then_some(doc.applicant_id),
            applied_at: insider.then_some(doc.applied_at),
            history: insider.then_some(doc.history),
        }
    }
}

/// Admins, the vendor's own members, and the person who applied.
fn is_insider(claims: &Claims, doc: &VendorDocument) -> bool {
    match claims.role {
        Role::Admin => true,
        Role::Vendor if claims.vendor_id == Some(doc.vendor_id) => true,
        _ => claims.user_id() == Some(doc.applicant_id),
    }
}

/// A pending vendor is, to outsiders, one that does not exist (yet).
fn readable(claims: &Claims, doc: &VendorDocument) -> Access {
    if doc.status != VendorStatus::Pending || is_insider(claims, doc) {
        Access::Allowed
    } else {
        Access::NotYet
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// Wait (at most 2 s) until the profile has this version (the answer to a vendor command;
    /// a suspension's or reinstatement's version also means the catalog has hidden or shown the
    /// vendor's products); 409 if it does not arrive.
    #[param(minimum = 1)]
    pub min_version: Option<i64>,
}

/// `GET /v1/vendors/{id}`: a vendor's profile.
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}",
    tag = "vendors",
    params(
        ("vendor_id" = Uuid, Path, description = "Vendor id"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, minimum = 1, nullable = false, description = "Same as min_version (the query parameter wins; both are checked)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile; history and applicant for the vendor, its applicant and admins", body = VendorProfile),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vendor (or still pending, for callers other than the vendor, its applicant and admins); with min_version, after waiting for one that may not be projected yet", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The profile did not reach min_version within 2 s", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn get_vendor(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Json<VendorProfile>, ReadError> {
    let id = commerce_platform::http::path_id(&id, "vendor id").map_err(ReadError::Malformed)?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    wait_for_readable(
        state.min_version_wait,
        min_version,
        |doc: &VendorDocument| doc.version,
        |doc| readable(&claims, doc),
        || load_vendor(&state, id),
    )
    .await?
    .map(|doc| Json(VendorProfile::of(doc, &claims)))
    .ok_or_else(|| ReadError::NotFound(format!("vendor {id} does not exist")))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only vendors in this status: `pending` (the applications to decide), `approved` or
    /// `suspended`.
    #[param(inline)]
    status: Option<StatusFilter>,
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// A vendor status to list by.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Pending,
    Approved,
    Suspended,
}

impl From<StatusFilter> for VendorStatus {
    fn from(filter: StatusFilter) -> Self {
        match filter {
            StatusFilter::Pending => VendorStatus::Pending,
            StatusFilter::Approved => VendorStatus::Approved,
            StatusFilter::Suspended => VendorStatus::Suspended,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorPage {
    items: Vec<VendorProfile>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// `GET /v1/vendors`: vendors in application order, for admins.
#[utoipa::path(
    get,
    path = "/v1/vendors",
    tag = "vendors",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of vendors, oldest application first", body = VendorPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_vendors(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<VendorPage>, ReadError> {
    if claims.role != Role::Admin {
        return Err(ReadError::Forbidden("only admins list vendors".into()));
    }
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let mut redis = state.redis.clone();
    let generation = state.catalog.live_generation(&mut redis).await?;
    let start = params
        .cursor
        .map(|c| format!("({c}"))
        .unwrap_or_else(|| "-".to_owned());
    // One more than the page, to know whether another follows.
    let ids: Vec<String> = redis::cmd("ZRANGEBYLEX")
        .arg(
            state
                .catalog
                .vendors(generation, params.status.map(VendorStatus::from)),
        )
        .arg(&start)
        .arg("+")
        .arg("LIMIT")
        .arg(0)
        .arg(limit + 1)
        .query_async(&mut redis)
        .await?;
    let more = ids.len() > limit;
    let mut pipe = redis::pipe();
    for id in ids.iter().take(limit) {
        pipe.cmd("HGET")
            .arg(state.catalog.vendor_profile(generation, id))
            .arg("doc");
    }
    let docs: Vec<Option<String>> = pipe.query_async(&mut redis).await?;
    let mut items = Vec::with_capacity(docs.len());
    for doc in docs.into_iter().flatten() {
        let doc: VendorDocument = serde_json::from_str(&doc).map_err(internal)?;
        items.push(VendorProfile::of(doc, &claims));
    }
    let next_cursor = more
        .then(|| items.last().map(|v| v.vendor_id.to_string()))
        .flatten();
    Ok(Json(VendorPage { items, next_cursor }))
}

async fn load_vendor(state: &AppState, id: Uuid) -> Result<Option<VendorDocument>, ReadError> {
    let mut redis = state.redis.clone();
    let generation = state.catalog.live_generation(&mut redis).await?;
    let doc: Option<String> = redis::cmd("HGET")
        .arg(state.catalog.vendor_profile(generation, &id.to_string()))
        .arg("doc")
        .query_async(&mut redis)
        .await?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(internal))
        .transpose()
}

fn internal(e: impl std::fmt::Display) -> ReadError {
    ReadError::Internal(e.to_string())
}
