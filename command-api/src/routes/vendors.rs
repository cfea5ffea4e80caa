//! `POST /v1/vendors` (a seller applies) and `POST /v1/vendors/{vendor_id}/approve|suspend|reinstate`
//! (an admin decides, with a reason). Who may decide is the Vendor aggregate's rule; this module
//! only says who is asking.
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use commerce_domain::vendor::{VendorCommand, VendorStatus};
use commerce_domain::{Actor, ContactEmail, CustomerId, Reason, UserId, VendorId, VendorName};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::http::CorrelationId;
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{event_metadata, parse_id, run, schemas, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

/// The status a new vendor starts in.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InitialStatus {
    /// Waits for an admin's approval (the default).
    Pending,
    /// Admitted at once: admins only, with a `reason`.
    Approved,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    #[schema(schema_with = schemas::vendor_name)]
    pub name: String,
    #[schema(schema_with = schemas::contact_email)]
    pub contact_email: String,
    /// `pending` (the default) or, for admins, `approved`.
    pub status: Option<InitialStatus>,
    /// Why an admin admits the vendor at once; required with `"status": "approved"`. `null` is
    /// the same as leaving it out.
    #[schema(schema_with = schemas::optional_reason)]
    pub reason: Option<String>,
    /// Admins only: register a vendor that already sells under this id (its members' tokens
    /// and its products name it) instead of a new id.
    pub vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    #[schema(schema_with = schemas::reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorCreated {
    pub vendor_id: Uuid,
    #[serde(flatten)]
    pub accepted: Accepted,
}

/// Who is asking, as the Vendor aggregate's rules see it: any signed-in person may apply, admins
/// decide. Analysts and operators do neither.
fn vendor_actor(claims: &Claims) -> Result<Actor, ApiError> {
    match (claims.role, claims.vendor_id) {
        (Role::Admin, _) => Ok(Actor::Admin),
        (Role::Vendor, Some(vendor_id)) => Ok(Actor::Vendor {
            vendor_id: VendorId(vendor_id),
        }),
        (Role::Customer, _) => Ok(Actor::Customer {
            customer_id: CustomerId(applicant(claims)?.0),
        }),
        (role, _) => Err(ApiError::Forbidden(format!(
            "role {} may not apply to sell or decide on vendors",
            role.as_str()
        ))),
    }
}

/// The signed-in person applying: their token's subject.
fn applicant(claims: &Claims) -> Result<UserId, ApiError> {
    claims
        .user_id()
        .map(UserId)
        .ok_or_else(|| ApiError::Forbidden("a token's sub must be a user id (a UUID)".into()))
}

/// A seller applies to sell on the marketplace; an admin may admit it at once.
#[utoipa::path(
    post,
    path = "/v1/vendors",
    tag = "vendors",
    request_body = ApplyBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Applied (or admitted); read it with GET /v1/vendors/{vendor_id}?min_version=version", body = VendorCreated),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that may not apply, or a non-admin admitting itself or naming the id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A vendor with this id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value outside its documented bounds (`/problems/invalid-value`), or an admission without a reason (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn apply(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<ApplyBody>,
) -> Result<(StatusCode, HeaderMap, Json<VendorCreated>), ApiError> {
    let actor = vendor_actor(&claims)?;
    let applicant = applicant(&claims)?;
    let name = VendorName::parse(&body.name)?;
    let contact_email = ContactEmail::parse(&body.contact_email)?;
    let reason = body.reason.as_deref().map(Reason::parse).transpose()?;
    let approved = match (body.status.unwrap_or(InitialStatus::Pending), reason) {
        (InitialStatus::Pending, None) => None,
        (InitialStatus::Pending, Some(_)) => {
            return Err(ApiError::RuleBroken(
                "reason: is only given with \"status\": \"approved\"".into(),
            ))
        }
        (InitialStatus::Approved, Some(reason)) => Some(reason),
        (InitialStatus::Approved, None) => {
            return Err(ApiError::RuleBroken(
                "reason: is required when a vendor is admitted at once".into(),
            ))
        }
    };
    let vendor_id = match (body.vendor_id, &actor) {
        (None, _) => VendorId(Uuid::now_v7()),
        (Some(id), Actor::Admin) => VendorId(id),
        (Some(_), _) => {
            return Err(ApiError::Forbidden(
                "vendor_id: only an admin registers a vendor under an id of its choosing".into(),
            ))
        }
    };
    let committed = state
        .vendors
        .execute(
            &vendor_id.to_string(),
            VendorCommand::Apply {
                vendor_id,
                name,
                contact_email,
                applicant,
                approved,
                actor,
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await?;
    tracing::info!(%vendor_id, %applicant, version = committed.version, "vendor applied");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/vendors/{vendor_id}")) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(VendorCreated {
            vendor_id: vendor_id.0,
            accepted: committed.into(),
        }),
    ))
}

/// Admits a pending vendor: from now on it lists and publishes products.
#[utoipa::path(
    post,
    path = "/v1/vendors/{vendor_id}/approve",
    tag = "vendors",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vendor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Accepted>, ApiError> {
    let decide = |reason, actor| VendorCommand::Approve { reason, actor };
    decision(&state, &id, &claims, correlation, &body, decide).await
}

/// Stops an approved vendor selling: the catalog hides its products; its open orders are still
/// shipped.
#[utoipa::path(
    post,
    path = "/v1/vendors/{vendor_id}/suspend",
    tag = "vendors",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted; GET /v1/vendors/{vendor_id}?min_version=version answers once the catalog hides its products", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vendor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn suspend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Accepted>, ApiError> {
    let decide = |reason, actor| VendorCommand::Suspend { reason, actor };
    decision(&state, &id, &claims, correlation, &body, decide).await
}

/// Lets a suspended vendor sell again: its published products return to the catalog.
#[utoipa::path(
    post,
    path = "/v1/vendors/{vendor_id}/reinstate",
    tag = "vendors",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted; GET /v1/vendors/{vendor_id}?min_version=version answers once the catalog shows its products again", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vendor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not suspended, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %id))]
pub async fn reinstate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Accepted>, ApiError> {
    let decide = |reason, actor| VendorCommand::Reinstate { reason, actor };
    decision(&state, &id, &claims, correlation, &body, decide).await
}

/// An admin's decision on vendor `id`, with its reason.
async fn decision(
    state: &AppState,
    id: &str,
    claims: &Claims,
    correlation: CorrelationId,
    body: &DecisionBody,
    decide: impl FnOnce(Reason, Actor) -> VendorCommand,
) -> Result<Json<Accepted>, ApiError> {
    let vendor_id = parse_id(id, "vendor id")?;
    let actor = vendor_actor(claims)?;
    let reason = Reason::parse(&body.reason)?;
    let answer = run(
        &state.vendors,
        vendor_id,
        decide(reason, actor),
        claims,
        correlation,
    )
    .await?;
    tracing::info!(%vendor_id, version = answer.version, "vendor decision recorded");
    Ok(answer)
}

/// The vendor's standing as its own stream says now (`None`: it never applied): what a product
/// command is decided against.
pub(crate) async fn vendor_status(
    state: &AppState,
    vendor_id: VendorId,
) -> Result<Option<VendorStatus>, ApiError> {
    let (vendor, _) = state.vendors.load(&vendor_id.to_string()).await?;
    Ok(vendor.status())
}
