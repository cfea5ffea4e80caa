//! `PUT /v1/commission-rules`: an admin sets the marketplace's commission rules. Each order line's
//! commission is fixed under the rules in force when its order is confirmed.
use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use commerce_domain::commission::{
    CommissionCommand, CommissionRule, CommissionRules, CommissionSchedule,
};
use commerce_domain::{Actor, Category, DomainError, VendorId};
use commerce_platform::audit::AuditEntry;
use commerce_platform::auth::{Authenticated, Role};
use commerce_platform::http::{ClientAddress, CorrelationId};
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{audited, run, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

/// One rule: a percentage of the line's total and/or a flat fee per line, held between an
/// optional floor and cap. Amounts are minor units of the line's currency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// Basis points of the line total (1,000 = 10 %), rounded half to even to the minor unit.
    #[schema(minimum = 0, maximum = 10_000)]
    #[serde(
        default,
        deserialize_with = "commerce_platform::whole_number::optional"
    )]
    pub percent_bp: Option<u32>,
    /// A fee per line, in minor units.
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    #[serde(
        default,
        deserialize_with = "commerce_platform::whole_number::optional"
    )]
    pub flat: Option<i64>,
    /// The least taken of a line, in minor units (never more than the line).
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    #[serde(
        default,
        deserialize_with = "commerce_platform::whole_number::optional"
    )]
    pub floor: Option<i64>,
    /// The most taken of a line, in minor units.
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    #[serde(
        default,
        deserialize_with = "commerce_platform::whole_number::optional"
    )]
    pub cap: Option<i64>,
}

impl RuleBody {
    /// A value out of its bounds is 422 `invalid-value`; parts that do not fit together (a floor
    /// above the cap, neither a percentage nor a fee) are 422 `rule-violation`.
    fn parse(&self, field: String) -> Result<CommissionRule, ApiError> {
        CommissionRule::new(&field, self.percent_bp, self.flat, self.floor, self.cap).map_err(
            |refused| match refused {
                DomainError::Invalid(invalid) => ApiError::Invalid(invalid),
                other => ApiError::Rejected(other),
            },
        )
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommissionRulesBody {
    /// What applies when neither the vendor nor the category has a rule.
    pub default: RuleBody,
    /// Per vendor id: beats the category's rule and the default.
    #[serde(default)]
    pub vendors: HashMap<Uuid, RuleBody>,
    /// Per category: beats the default.
    #[serde(default)]
    pub categories: HashMap<String, RuleBody>,
}

impl CommissionRulesBody {
    fn parse(&self) -> Result<CommissionRules, ApiError> {
        let vendors = self
            .vendors
            .iter()
            .map(|(id, rule)| Ok((VendorId(*id), rule.parse(format!("vendors.{id}"))?)))
            .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
        let categories = self
            .categories
            .iter()
            .map(|(name, rule)| {
                // A key that is not a category could never match a product's: said as a rule,
                // since the document cannot bound a map's keys.
                let category = Category::parse(name).map_err(|e| {
                    ApiError::RuleBroken(format!("categories.{name}: {}", e.reason))
                })?;
                Ok((category, rule.parse(format!("categories.{name}"))?))
            })
            .collect::<Result<BTreeMap<_, _>, ApiError>>()?;
        Ok(CommissionRules {
            default: self.default.parse("default".to_owned())?,
            vendors,
            categories,
        })
    }
}

/// One rule as `GET /v1/commission-rules` answers it: the shape `PUT` takes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleDocument {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_bp: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<i64>,
}

impl From<&CommissionRule> for RuleDocument {
    fn from(rule: &CommissionRule) -> Self {
        Self {
            percent_bp: (rule.percent_bp > 0 || rule.flat_minor == 0).then_some(rule.percent_bp),
            flat: (rule.flat_minor > 0).then_some(rule.flat_minor),
            floor: rule.floor_minor,
            cap: rule.cap_minor,
        }
    }
}

/// The rules in force, in the shape `PUT` takes, and the schedule's version (0: never set, the
/// default takes nothing).
#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionRulesDocument {
    pub default: RuleDocument,
    pub vendors: BTreeMap<Uuid, RuleDocument>,
    pub categories: BTreeMap<String, RuleDocument>,
    pub version: i64,
}

/// The marketplace's commission rules in force (admins), from the schedule itself, so an admin
/// reads what it just set.
#[utoipa::path(
    get,
    path = "/v1/commission-rules",
    tag = "commissions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules in force", body = CommissionRulesDocument),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn get_rules(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<Json<CommissionRulesDocument>, ApiError> {
    if claims.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "role {} may not read commission rules",
            claims.role.as_str()
        )));
    }
    let (schedule, version) = state.commissions.load(CommissionSchedule::ID).await?;
    let rules = schedule.rules();
    Ok(Json(CommissionRulesDocument {
        default: (&rules.default).into(),
        vendors: rules
            .vendors
            .iter()
            .map(|(vendor, rule)| (vendor.0, rule.into()))
            .collect(),
        categories: rules
            .categories
            .iter()
            .map(|(category, rule)| (category.to_string(), rule.into()))
            .collect(),
        version,
    }))
}

/// Replaces the marketplace's commission rules (admins). Orders confirmed from now on have their
/// lines' commission fixed under them; orders confirmed before keep theirs.
#[utoipa::path(
    put,
    path = "/v1/commission-rules",
    tag = "commissions",
    request_body = CommissionRulesBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted (unchanged version if the rules were already these)", body = Accepted),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule's value outside its documented bounds (`/problems/invalid-value`); a floor above its cap, a rule with neither percent_bp nor flat, or a category key that is not a slug (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn set_rules(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<CommissionRulesBody>,
) -> Result<Json<Accepted>, ApiError> {
    let actor = match claims.role {
        Role::Admin => Actor::Admin,
        role => {
            return Err(ApiError::Forbidden(format!(
                "role {} may not set commission rules",
                role.as_str()
            )))
        }
    };
    let rules = body.parse()?;
    // Money rules are audited, with what they became.
    let entry = AuditEntry::new("commission_rules_set")
        .actor(claims.sub.clone())
        .target("commission rules")
        .from_address(address)
        .correlation(correlation.0)
        .detail(serde_json::to_value(&rules).unwrap_or_default());
    let change = run(
        &state.commissions,
        CommissionSchedule::ID,
        CommissionCommand::SetRules { rules, actor },
        &claims,
        correlation,
    );
    audited(&state, entry, change).await
}
