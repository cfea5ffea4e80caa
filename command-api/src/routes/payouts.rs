//! `POST /v1/payouts/runs`: an admin runs the payout run now (`commerce payouts run` calls it):
//! sales past their hold are released, and every vendor is paid what is available, once.
use axum::extract::State;
use axum::Json;
use commerce_platform::audit::AuditEntry;
use commerce_platform::auth::{Authenticated, Role};
use commerce_platform::http::{ClientAddress, CorrelationId};
use commerce_platform::openapi::CommonFailures;

use super::Problem;
use crate::error::ApiError;
use crate::payouts::RunReport;
use crate::AppState;

/// Runs the payout run now (admins): releases every sale whose sub-order shipped more than the
/// hold period ago, finishes any payout an earlier run left open, and pays each vendor its
/// available balance per currency through the payment provider. A vendor that could not be paid
/// is listed under `failures` and paid by the next run; nobody is paid twice.
#[utoipa::path(
    post,
    path = "/v1/payouts/runs",
    tag = "payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run is over: what it released and paid", body = RunReport),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn run_payouts(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ClientAddress(address): ClientAddress,
) -> Result<Json<RunReport>, ApiError> {
    if claims.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "role {} may not run payouts",
            claims.role.as_str()
        )));
    }
    let run = state.payout_run.clone();
    let user = claims.sub.clone();
    let run_id = correlation.0;
    // A task of its own: each step commits as it goes (never in the request's transaction, since
    // money leaves between them), and a client that hangs up does not stop it halfway.
    let report = tokio::spawn(async move { run.run(run_id, chrono::Utc::now(), &user).await })
        .await
        .map_err(|e| ApiError::Internal(format!("the payout run stopped: {e}")))??;
    let paid: i64 = report.payouts.iter().map(|p| p.amount_minor).sum();
    let entry = AuditEntry::new("payout_run")
        .actor(claims.sub.clone())
        .target(format!("payout run {run_id}"))
        .from_address(address)
        .correlation(correlation.0)
        .detail(serde_json::json!({
            "released": report.released,
            "payouts": report.payouts,
            "paid_minor": paid,
            "failures": report.failures,
        }));
    if let Err(error) = entry.record(&state.held_transactions).await {
        tracing::error!(%error, "the payout run could not be audited");
    }
    Ok(Json(report))
}
