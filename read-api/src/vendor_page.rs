//! `/vendor/dashboard`: the vendor dashboard as a page for a browser, rendered on the server with
//! its charts as inline SVG (no script, nothing fetched from elsewhere).
//!
//! Signing in exchanges a token for a cookie: `POST /vendor/session` with the token from the
//! page's form sets `commerce_session` (`HttpOnly`, `SameSite=Strict`, path `/vendor`, expiring
//! with the token), so the token never reaches a script and no other site can send it.
//! `POST /vendor/logout` clears it.
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use commerce_platform::auth::{Claims, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::analytics::{day_range, Amount};
use crate::dashboard::{self, Dashboard, Tenant};
use crate::error::ReadError;
use crate::AppState;

const COOKIE: &str = "commerce_session";

/// No scripts, no frames, nothing from elsewhere; the one inline style sheet only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Deserialize)]
pub struct PageParams {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// For admins and analysts: whose dashboard.
    vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

/// The page: the sign-in form without a valid session, the vendor's dashboard with one.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return html(
            StatusCode::BAD_REQUEST,
            &layout(
                "Vendor dashboard",
                &notice("The dates must be written YYYY-MM-DD."),
                false,
            ),
        );
    };
    let Some(claims) = session(&state, &headers).await else {
        return html(StatusCode::OK, &sign_in_page(None));
    };
    let vendor_id = match (claims.role, claims.vendor_id, params.vendor_id) {
        (Role::Vendor, Some(own), _) => own,
        (Role::Admin | Role::Analyst, _, Some(asked)) => asked,
        (Role::Admin | Role::Analyst, _, None) => {
            return html(
                StatusCode::OK,
                &layout("Vendor dashboard", &vendor_picker(), true),
            );
        }
        _ => {
            return html(
                StatusCode::FORBIDDEN,
                &layout(
                    "Vendor dashboard",
                    &notice("This page is for vendors (and admins and analysts)."),
                    true,
                ),
            )
        }
    };
    let loaded = async {
        let tenant = Tenant::of(&claims, vendor_id)?;
        let (from, to) = day_range(params.from, params.to)?;
        dashboard::load(&state, tenant, from, to, None, dashboard::DEFAULT_LOW_STOCK).await
    }
    .await;
    match loaded {
        Ok(dashboard) => html(StatusCode::OK, &dashboard_page(&dashboard, &claims)),
        Err(error) => {
            // The status the API answers with; its problem is logged there when it is ours.
            let message = match &error {
                ReadError::Unavailable(_) | ReadError::Internal(_) => {
                    "The dashboard cannot be shown just now; try again in a moment.".to_owned()
                }
                other => other.to_string(),
            };
            let status = error.into_response().status();
            html(status, &layout("Vendor dashboard", &notice(&message), true))
        }
    }
}

/// Exchanges a token for the session cookie.
pub async fn sign_in(State(state): State<AppState>, Form(form): Form<SignIn>) -> Response {
    let token = form.token.trim();
    match state.keys.verify_current(token).await {
        Ok(claims) => {
            let max_age = (claims.exp - Utc::now().timestamp()).max(0);
            let cookie = format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/vendor; Max-Age={max_age}"
            );
            redirect(Some(cookie))
        }
        Err(error) => html(
            StatusCode::UNAUTHORIZED,
            &sign_in_page(Some(&format!("That token was not accepted: {error}"))),
        ),
    }
}

/// Clears the session cookie.
pub async fn sign_out() -> Response {
    redirect(Some(format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/vendor; Max-Age=0"
    )))
}

/// The session's claims, if its cookie holds a token that still verifies.
async fn session(state: &AppState, headers: &HeaderMap) -> Option<Claims> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, token)| token.to_owned())?;
    state.keys.verify_current(&token).await.ok()
}

fn redirect(cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_static("/vendor/dashboard"),
    );
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut response = (status, body.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn money(amount: &Amount) -> String {
    commerce_client::Money::new(amount.amount_minor, amount.currency.clone()).to_string()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}\
header{background:#1d2733;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}\
main{padding:16px 24px;max-width:980px}\
.figures{display:flex;gap:16px;flex-wrap:wrap}\
.figure{background:#fff;border-radius:8px;padding:12px 16px;min-width:140px;box-shadow:0 1px 2px #0002}\
.figure b{display:block;font-size:1.4em}\
section{background:#fff;border-radius:8px;padding:12px 16px;margin-top:16px;box-shadow:0 1px 2px #0002}\
svg{width:100%;height:auto}.bar{fill:#3b7dd8}.bar.negative{fill:#d8573b}\
.axis{stroke:#99a;stroke-width:1}text{font-size:11px;fill:#556}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e6ea}\
.notice{background:#fff3cd;padding:12px 16px;border-radius:8px}\
form.inline{display:inline}input[type=text]{width:28em}";

/// A page; `signed_in` adds the sign-out button.
fn layout(title: &str, content: &str, signed_in: bool) -> String {
    let sign_out = if signed_in {
        "<form class=\"inline\" method=\"post\" action=\"/vendor/logout\">\
         <button type=\"submit\">Sign out</button></form>"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><header><strong>{title}</strong>{sign_out}</header><main>{content}</main></body></html>",
        title = escape(title)
    )
}

fn notice(text: &str) -> String {
    format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(text))
}

fn sign_in_page(error: Option<&str>) -> String {
    let error = error.map(notice).unwrap_or_default();
    layout(
        "Vendor dashboard",
        &format!(
            "{error}<section><h2>Sign in</h2>\
             <form method=\"post\" action=\"/vendor/session\">\
             <label>Access token <input type=\"text\" name=\"token\" autocomplete=\"off\" required></label> \
             <button type=\"submit\">Sign in</button></form>\
             <p>A vendor's token (<code>commerce token --role vendor --vendor-id …</code>); it is \
             kept in a cookie only this site's pages send, never shown to scripts.</p></section>"
        ),
        false,
    )
}

fn vendor_picker() -> String {
    "<section><h2>Which vendor?</h2><form method=\"get\" action=\"/vendor/dashboard\">\
     <label>Vendor id <input type=\"text\" name=\"vendor_id\" required></label> \
     <button type=\"submit\">Show</button></form></section>"
        .to_owned()
}

fn dashboard_page(dashboard: &Dashboard, claims: &Claims) -> String {
    let mut content = String::new();
    let vendor_field = if claims.role == Role::Vendor {
        String::new()
    } else {
        format!(
            "<input type=\"hidden\" name=\"vendor_id\" value=\"{}\">",
            dashboard.vendor_id
        )
    };
    let _ = write!(
        content,
        "<form method=\"get\" action=\"/vendor/dashboard\">{vendor_field}\
         <label>From <input type=\"date\" name=\"from\" value=\"{from}\"></label> \
         <label>To <input type=\"date\" name=\"to\" value=\"{to}\"></label> \
         <button type=\"submit\">Show</button></form>\
         <p>Vendor <code id=\"vendor-id\">{vendor}</code>, {from} to {to}, in {currency}.</p>\
         <div class=\"figures\">\
         <div class=\"figure\" id=\"revenue\">Revenue<b>{revenue}</b></div>\
         <div class=\"figure\" id=\"orders\">Orders<b>{orders}</b></div>\
         <div class=\"figure\" id=\"units\">Units<b>{units}</b></div>\
         <div class=\"figure\" id=\"refunds\">Refunds<b>{refunds}</b></div></div>",
        from = dashboard.from,
        to = dashboard.to,
        vendor = dashboard.vendor_id,
        currency = escape(&dashboard.currency),
        revenue = escape(&money(&dashboard.revenue)),
        orders = dashboard.orders,
        units = dashboard.units,
        refunds = escape(&money(&dashboard.refunds)),
    );
    let days: Vec<NaiveDate> = dashboard.by_day.iter().map(|d| d.day).collect();
    let series = [
        (
            "revenue-chart",
            "Revenue by day",
            dashboard
                .by_day
                .iter()
                .map(|d| (d.revenue.amount_minor, money(&d.revenue)))
                .collect::<Vec<_>>(),
        ),
        (
            "orders-chart",
            "Orders by day",
            dashboard
                .by_day
                .iter()
                .map(|d| (d.orders, d.orders.to_string()))
                .collect(),
        ),
        (
            "units-chart",
            "Units by day",
            dashboard
                .by_day
                .iter()
                .map(|d| (d.units, d.units.to_string()))
                .collect(),
        ),
    ];
    for (id, title, values) in &series {
        let _ = write!(
            content,
            "<section><h2>{title}</h2>{}</section>",
            bar_chart(id, title, &days, values)
        );
    }
    content.push_str("<section><h2>Top products</h2><table id=\"top-products\"><thead><tr><th>Product</th><th>Units</th><th>Revenue</th></tr></thead><tbody>");
    for product in &dashboard.top_products {
        let _ = write!(
            content,
            "<tr data-product-id=\"{id}\"><td>{title}</td><td>{units}</td><td>{revenue}</td></tr>",
            id = product.product_id,
            title = escape(product.title.as_deref().unwrap_or("(untitled)")),
            units = product.units,
            revenue = escape(&money(&product.revenue)),
        );
    }
    if dashboard.top_products.is_empty() {
        content.push_str("<tr><td colspan=\"3\">No sales in this range.</td></tr>");
    }
    let _ = write!(
        content,
        "</tbody></table></section><section><h2>Low stock (at most {} available)</h2>\
         <table id=\"stock-alerts\"><thead><tr><th>Product</th><th>Available</th></tr></thead><tbody>",
        dashboard::DEFAULT_LOW_STOCK
    );
    for alert in &dashboard.stock_alerts {
        let _ = write!(
            content,
            "<tr data-product-id=\"{id}\"><td>{title}</td><td>{available}</td></tr>",
            id = alert.product_id,
            title = escape(alert.title.as_deref().unwrap_or("(untitled)")),
            available = alert.available,
        );
    }
    if dashboard.stock_alerts.is_empty() {
        content.push_str("<tr><td colspan=\"2\">Every product is well stocked.</td></tr>");
    }
    content.push_str("</tbody></table></section>");
    layout("Vendor dashboard", &content, true)
}

/// A bar per day, zero on the axis (negative days, net refunds, below it); each bar carries its
/// day and value as data attributes and a tooltip.
fn bar_chart(id: &str, title: &str, days: &[NaiveDate], values: &[(i64, String)]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 200.0;
    const LEFT: f64 = 8.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 24.0;
    let high = values.iter().map(|(v, _)| *v).max().unwrap_or(0).max(1);
    let low = values.iter().map(|(v, _)| *v).min().unwrap_or(0).min(0);
    let span = (high - low) as f64;
    let plot = HEIGHT - TOP - BOTTOM;
    let y = |value: i64| TOP + (high - value) as f64 / span * plot;
    let zero = y(0);
    let slot = (WIDTH - 2.0 * LEFT) / values.len().max(1) as f64;
    let mut svg = format!(
        "<svg id=\"{id}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{title}\">\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{zero:.1}\" x2=\"{x2}\" y2=\"{zero:.1}\"/>",
        title = escape(title),
        x2 = WIDTH - LEFT,
    );
    for (index, ((value, label), day)) in values.iter().zip(days).enumerate() {
        let x = LEFT + index as f64 * slot + slot * 0.1;
        let top = y(*value).min(zero);
        let height = (y(*value) - zero).abs();
        let class = if *value < 0 { "bar negative" } else { "bar" };
        let _ = write!(
            svg,
            "<rect class=\"{class}\" data-day=\"{day}\" data-value=\"{value}\" x=\"{x:.1}\" \
             y=\"{top:.1}\" width=\"{w:.1}\" height=\"{height:.1}\"><title>{day}: {label}</title></rect>",
            w = slot * 0.8,
            label = escape(label),
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{by}\">{first}</text>\
             <text x=\"{lx}\" y=\"{by}\" text-anchor=\"end\">{last}</text>",
            by = HEIGHT - 6.0,
            lx = WIDTH - LEFT,
        );
    }
    svg.push_str("</svg>");
    svg
}
