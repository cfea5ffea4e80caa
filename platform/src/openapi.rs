//! OpenAPI plumbing shared by both services: the problem+json schema, bearer security, shared
//! schemas, and the `/openapi.json` and `/docs` routes.
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

/// Name of the bearer security scheme every authenticated operation refers to.
pub const BEARER: &str = "bearer";

/// Adds the bearer JWT security scheme to a document.
pub struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT with `sub`, `role` (customer, vendor, admin, analyst, ops), \
                         `vendor_id` for vendors, and `exp`; also `aud` and `iss` when the \
                         service is configured with an audience and issuer. The scheme name is \
                         case-insensitive.",
                    ))
                    .build(),
            ),
        );
    }
}

/// RFC 7807 problem details, the body of every error (`application/problem+json`).
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemSchema {
    /// A stable identifier of the kind of problem, e.g. `/problems/rule-violation`.
    #[schema(rename = "type")]
    type_uri: String,
    title: String,
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong with this request.
    detail: String,
}

/// A price: integer minor units and an ISO 4217 currency.
#[derive(ToSchema)]
#[schema(as = Money)]
#[allow(dead_code)]
pub struct MoneySchema {
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    amount_minor: i64,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
}

/// A shipping address as documents show it. Orders placed before addresses had parts show only
/// `line1`, which holds the address's whole free text; every other order has every required part.
#[derive(ToSchema)]
#[schema(as = ShippingAddress)]
#[allow(dead_code)]
pub struct ShippingAddressSchema {
    /// Who receives the parcel.
    name: Option<String>,
    line1: String,
    line2: Option<String>,
    city: Option<String>,
    /// State, province or county, where the country uses one.
    region: Option<String>,
    postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(pattern = "^[A-Z]{2}$", example = "DE")]
    country: Option<String>,
}

/// `/openapi.json` (the document) and `/docs` (Swagger UI rendering it). The UI's page and every
/// asset it loads are served from the binary, so the reference works offline and behind a
/// firewall.
pub fn docs_routes(spec: OpenApi) -> Router {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", spec))
}

/// The failures every authenticated operation can answer, documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommonFailures {
    /// No or invalid bearer token (with `WWW-Authenticate: Bearer`)
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(ProblemSchema),
    /// The body is larger than the service's limit (refused from `Content-Length` before it is sent
    /// when the client asks with `Expect: 100-continue`)
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(ProblemSchema),
    /// Internal error
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(ProblemSchema),
    /// A dependency is unavailable; retry after `Retry-After` seconds
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(ProblemSchema),
}

/// The failures of an operation that takes a JSON body, documented once (413, which any request
/// can get, is in [`CommonFailures`]).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BodyFailures {
    /// Body is not application/json
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(ProblemSchema),
}
