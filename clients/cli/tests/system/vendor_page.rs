//! `/vendor/dashboard` in a real browser: a vendor signs in with the page's form and sees its
//! figures as charts and tables, equal to the ones computed from the events; the session cookie
//! is out of scripts' reach. A screenshot is kept in `target/test-artifacts/`.
use std::path::PathBuf;
use std::time::Duration;

use chrono::{Days, Utc};
use commerce_platform::auth::Role;
use reqwest::{header, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::analytics::{order, product, vendor_dashboard};
use crate::support::TestSystem;

/// Debian's chromium, or `COMMERCE_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("COMMERCE_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("chromium is missing: run infra/local/test, which installs Debian's chromium")
    })
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn a_vendor_signs_in_and_sees_its_figures_as_charts_in_a_browser() {
    let system = TestSystem::start().await;
    let vendor_id = Uuid::new_v4();
    let vendor = system.vendor_token(vendor_id).await;
    let mug = product(&system, &vendor, "kitchen", 1800).await;
    let kettle = product(&system, &vendor, "kitchen", 4200).await;
    order(&system, &[(mug, 2), (kettle, 1)], "tok_ok").await;
    order(&system, &[(mug, 1)], "tok_ok").await;
    order(&system, &[(kettle, 1)], "tok_decline").await;

    let today = Utc::now().date_naive();
    let range = format!(
        "from={}&to={}",
        today.checked_sub_days(Days::new(1)).expect("yesterday"),
        today.checked_add_days(Days::new(1)).expect("tomorrow")
    );
    // The JSON first, until the projector has every event: the page shows the same.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let expected = loop {
        let expected = vendor_dashboard(&system, vendor_id).await;
        let (status, served) = system
            .read(
                &format!("/v1/vendors/{vendor_id}/dashboard?{range}&low_stock=1000"),
                &vendor,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{served}");
        if served["by_day"] == expected["by_day"] && served["units"] == expected["units"] {
            break expected;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{served} != {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Without a session: the sign-in form; a wrong token: 401 and the form again; a good one:
    // an HttpOnly, SameSite=Strict cookie scoped to the page.
    let browserless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = format!("{}/vendor/dashboard?{range}", system.read_url);
    let answer = browserless.get(&page).send().await.expect("page");
    assert_eq!(answer.status(), StatusCode::OK);
    let csp = answer.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let form = answer.text().await.expect("html");
    assert!(form.contains("name=\"token\""), "{form}");
    assert!(!form.contains("Sign out"), "nobody to sign out yet");
    let answer = browserless
        .post(format!("{}/vendor/session", system.read_url))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = browserless
        .post(format!("{}/vendor/session", system.read_url))
        .form(&[("token", vendor.as_str())])
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let cookie = answer.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/vendor"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // A customer's session is refused the page.
    let customer = system.token_for(Role::Customer, Uuid::new_v4(), None);
    let answer = browserless
        .get(&page)
        .header(header::COOKIE, format!("commerce_session={customer}"))
        .send()
        .await
        .expect("page");
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);

    // The browser.
    let artifacts = repository().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts directory");
    let screenshot = artifacts.join("vendor-dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let node_modules = repository().join("infra/local/node_modules");
    assert!(
        node_modules.join("puppeteer-core/package.json").is_file(),
        "puppeteer-core is missing: run infra/local/test, which installs it (npm ci)"
    );
    let mut browser = std::process::Command::new("node");
    browser
        .arg(repository().join("clients/cli/tests/browser/vendor_dashboard.cjs"))
        .env("DASHBOARD_URL", &page)
        .env("TOKEN", &vendor)
        .env("CHROMIUM", chromium())
        .env("NODE_MODULES", &node_modules)
        .env("SCREENSHOT", &screenshot);
    let output = tokio::task::spawn_blocking(move || browser.output())
        .await
        .expect("join")
        .expect("run node");
    assert!(
        output.status.success(),
        "the browser run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("what the browser saw");

    assert_eq!(seen["vendor"], vendor_id.to_string());
    assert_eq!(
        seen["cookies_scripts_see"], "",
        "the session cookie is HttpOnly"
    );
    // 2 mugs and a kettle, then a mug: 3 × 18.00 + 42.00; the declined kettle counts nothing.
    assert_eq!(seen["revenue"], "96.00 EUR");
    assert_eq!(seen["orders"], "2");
    assert_eq!(seen["units"], "4");
    let by_day = expected["by_day"].as_array().expect("by_day");
    for (chart, value) in [
        ("revenue", &["revenue", "amount_minor"][..]),
        ("orders", &["orders"][..]),
        ("units", &["units"][..]),
    ] {
        let bars = seen["charts"][chart].as_array().expect("bars");
        assert_eq!(bars.len(), by_day.len(), "{chart}: a bar a day");
        for (bar, day) in bars.iter().zip(by_day) {
            let expected_value = value.iter().fold(day, |v, key| &v[*key]);
            assert_eq!(bar["day"], day["day"], "{chart}");
            assert_eq!(&bar["value"], expected_value, "{chart} on {}", day["day"]);
            let drawn = bar["height"].as_f64().expect("height") > 0.0;
            assert_eq!(
                drawn,
                expected_value != 0,
                "{chart}: a bar is drawn when not zero"
            );
        }
    }
    let listed: Vec<&str> = seen["top_products"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["product_id"].as_str().expect("id"))
        .collect();
    let ranked: Vec<&str> = expected["top_products"]
        .as_array()
        .expect("top")
        .iter()
        .map(|p| p["product_id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, ranked);
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "a screenshot is kept at {}",
        screenshot.display()
    );
    system.stop().await;
}
