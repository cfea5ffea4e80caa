//! Accounts and sign-in: register, sign in, use the access token on the APIs, refresh once,
//! reuse detection, sign-out; tokens the auth service never issued are refused; a key rotation
//! keeps earlier tokens working; failed sign-ins are throttled; every sensitive step is audited;
//! no credential reaches a log or an event.
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use commerce_platform::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{Options, TestSystem, AUTH_AUDIENCE, AUTH_ISSUER};

const PASSWORD: &str = "correct horse battery staple";

async fn auth_call(system: &TestSystem, path: &str, body: Value) -> (StatusCode, Value) {
    let response = system
        .http
        .post(format!("{}{path}", system.auth_url))
        .json(&body)
        .send()
        .await
        .expect("the auth service answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register(system: &TestSystem, email: &str, password: &str) -> (StatusCode, Value) {
    auth_call(
        system,
        "/v1/auth/register",
        json!({ "email": email, "password": password }),
    )
    .await
}

async fn login(system: &TestSystem, email: &str, password: &str) -> (StatusCode, Value) {
    auth_call(
        system,
        "/v1/auth/login",
        json!({ "email": email, "password": password }),
    )
    .await
}

async fn refresh(system: &TestSystem, pair: &Value) -> (StatusCode, Value) {
    auth_call(
        system,
        "/v1/auth/refresh",
        json!({ "refresh_token": pair["refresh_token"] }),
    )
    .await
}

/// `POST /v1/carts` with `token`: a protected command.
async fn open_cart_with(system: &TestSystem, token: &str) -> (StatusCode, Value) {
    system
        .command(Method::POST, "/v1/carts", Some(token), Some(json!({})))
        .await
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().expect("access_token")
}

/// The `kid` of a JWT's header.
fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid")
}

/// Claims like the auth service's, `exp` and the rest as given.
fn claims(sub: Uuid, exp_in: i64, audience: &str, issuer: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": sub.to_string(), "role": "customer", "iat": now, "exp": now + exp_in,
        "aud": audience, "iss": issuer,
    })
}

/// A token signed with the auth service's current key, with any claims.
async fn signed_by_the_service(system: &TestSystem, claims: &Value) -> String {
    commerce_auth::keys::current_signer(&system.pool)
        .await
        .expect("the current key")
        .sign(claims)
        .expect("sign")
}

/// The audit entries of `actor`, oldest first.
async fn audited(system: &TestSystem, actor: &str) -> Vec<Value> {
    let admin = system.token(Role::Admin, None);
    let response = system
        .http
        .get(format!("{}/v1/audit", system.auth_url))
        .query(&[("actor", actor)])
        .bearer_auth(&admin)
        .send()
        .await
        .expect("the audit log");
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("JSON");
    let mut items = page["items"].as_array().expect("items").clone();
    items.reverse();
    items
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

#[tokio::test]
async fn a_customer_signs_up_signs_in_uses_its_token_refreshes_once_and_signs_out() {
    let system = TestSystem::start().await;
    let email = format!("ada-{}@example.com", Uuid::new_v4().simple());

    // The password rules, each refusal saying why.
    let (status, problem) = register(&system, &email, "short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("/invalid-value")));
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("at least 8")),
        "{problem}"
    );
    let (status, problem) = register(&system, &email, "Password").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("commonly used")),
        "{problem}"
    );

    let (status, account) = register(&system, &email.to_uppercase(), PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["email"], email.as_str(), "stored lower-cased");
    assert_eq!(account["role"], "customer");
    let user_id = account["user_id"].as_str().expect("user_id").to_owned();
    let (status, problem) = register(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    // Signed in, the access token works on both APIs, as the account.
    let (status, first) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let (status, cart) = open_cart_with(&system, access(&first)).await;
    assert_eq!(status, StatusCode::CREATED, "{cart}");
    let (status, body) = system
        .read(
            &format!(
                "/v1/carts/{}?min_version=1",
                cart["cart_id"].as_str().expect("cart_id")
            ),
            access(&first),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["customer_id"],
        user_id.as_str(),
        "the cart is the account's"
    );

    // An expired access token (signed by the service's own key) is refused.
    let user = Uuid::parse_str(&user_id).expect("uuid");
    let expired =
        signed_by_the_service(&system, &claims(user, -60, AUTH_AUDIENCE, AUTH_ISSUER)).await;
    let (status, problem) = open_cart_with(&system, &expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "{problem}"
    );

    // A refresh token works once; presented again, its whole sign-in is revoked.
    let (status, second) = refresh(&system, &first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, cart) = open_cart_with(&system, access(&second)).await;
    assert_eq!(status, StatusCode::CREATED, "{cart}");
    let (status, problem) = refresh(&system, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("used before")),
        "{problem}"
    );
    let (status, problem) = refresh(&system, &second).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the family is revoked: {problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("revoked")),
        "{problem}"
    );

    // Signing out revokes the sign-in's refresh token.
    let (status, third) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let (status, _) = auth_call(
        &system,
        "/v1/auth/logout",
        json!({ "refresh_token": third["refresh_token"] }),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = refresh(&system, &third).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");

    // Each step left one audit entry, with who, what, on what, when and from where.
    let entries = audited(&system, &user_id).await;
    assert_eq!(
        actions(&entries),
        [
            "user_registered",
            "login_succeeded",
            "refresh_token_reused",
            "login_succeeded",
            "logout"
        ],
        "{entries:?}"
    );
    for entry in &entries {
        assert_eq!(entry["target"], user_id.as_str(), "{entry}");
        assert_eq!(entry["ip"], "127.0.0.1", "{entry}");
        assert!(
            entry["at"].is_string() && entry["correlation_id"].is_string(),
            "{entry}"
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn tokens_it_never_issued_are_refused_and_a_key_rotation_keeps_earlier_tokens_working() {
    let system = TestSystem::start_with(Options {
        token_audience_and_issuer: true,
        ..Options::default()
    })
    .await;
    let email = format!("grace-{}@example.com", Uuid::new_v4().simple());
    let (status, account) = register(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let user = Uuid::parse_str(account["user_id"].as_str().expect("user_id")).expect("uuid");
    let (status, before) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let (status, body) = open_cart_with(&system, access(&before)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let service_kid = kid(access(&before));

    let refused = |token: String, why: &'static str| {
        let system = &system;
        async move {
            let (status, problem) = open_cart_with(system, &token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or_default().to_owned();
            assert!(detail.contains(why), "`{why}` in {detail:?}");
        }
    };
    let good_claims = claims(user, 600, AUTH_AUDIENCE, AUTH_ISSUER);

    // A key that is not in the key set, under an id that is not, or under the service's id.
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let foreign = ed25519_dalek::SigningKey::from_bytes(&seed);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&foreign).expect("der");
    let foreign_key = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
    for (kid, why) in [
        ("ed25519-foreign", "unknown key"),
        (service_kid.as_str(), "bad signature"),
    ] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let token = jsonwebtoken::encode(&header, &good_claims, &foreign_key).expect("sign");
        refused(token, why).await;
    }
    // No signature at all.
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({ "alg": "none", "typ": "JWT" })),
        encode(&good_claims)
    );
    refused(unsigned, "alg: none").await;
    // The service's own key, for another audience or from another issuer.
    let other_audience = claims(user, 600, "billing", AUTH_ISSUER);
    refused(
        signed_by_the_service(&system, &other_audience).await,
        "wrong audience",
    )
    .await;
    let other_issuer = claims(user, 600, AUTH_AUDIENCE, "https://evil.example");
    refused(
        signed_by_the_service(&system, &other_issuer).await,
        "wrong issuer",
    )
    .await;

    // A rotation: the new key signs the next tokens; tokens of the old one keep working.
    let rotated = system
        .run_commerce(&["auth", "rotate-key", "--activate-in", "0", "--json"])
        .await;
    let rotated: Value = serde_json::from_str(&rotated).expect("JSON");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, service_kid);
    let (status, after) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(kid(access(&after)), new_kid, "new tokens use the new key");
    for token in [access(&before), access(&after)] {
        let (status, body) = open_cart_with(&system, token).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let key_set: Value = system
        .http
        .get(format!("{}/.well-known/jwks.json", system.auth_url))
        .send()
        .await
        .expect("the key set")
        .json()
        .await
        .expect("JSON");
    let published: Vec<&str> = key_set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(
        published,
        [service_kid.as_str(), new_kid.as_str()],
        "{key_set}"
    );
    for key in key_set["keys"].as_array().expect("keys") {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["alg"], "EdDSA");
        assert!(key.get("d").is_none(), "no private part: {key}");
    }
    system.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_and_an_unknown_email_answers_like_a_wrong_password() {
    let system = TestSystem::start().await;
    let email = format!("eve-{}@example.com", Uuid::new_v4().simple());
    let (status, account) = register(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");

    let (status, unknown) = login(&system, "nobody@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, wrong) = login(&system, &email, "not the password at all").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, wrong, "the same answer");

    for _ in 0..4 {
        let (status, _) = login(&system, &email, "still not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The sixth attempt in the window is refused, even with the right password.
    let response = system
        .http
        .post(format!("{}/v1/auth/login", system.auth_url))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    let window = system.config.auth.throttle.window;
    assert!(
        (1..=window.as_secs()).contains(&retry_after),
        "{retry_after}"
    );

    // After the wait, the right password signs in.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(200)).await;
    let (status, pair) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");

    let entries = audited(&system, &email).await;
    assert_eq!(
        actions(&entries),
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_throttled"
        ],
        "{entries:?}"
    );
    system.stop().await;
}

/// Everything the process logs, at every level, kept for the test to read.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = self.0.lock() {
            logs.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_password_hash_or_token_reaches_a_log_or_a_published_event() {
    // Each test is its own process: this subscriber sees everything the services log.
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .init();
    let system = TestSystem::start().await;
    let email = format!("ada-{}@example.com", Uuid::new_v4().simple());
    let password = format!("a secret {}", Uuid::new_v4().simple());
    let (status, account) = register(&system, &email, &password).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let (status, first) = login(&system, &email, &password).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = refresh(&system, &first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, _) = login(&system, &email, "a wrong password!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The customer shops: events are published meanwhile.
    let (status, cart) = open_cart_with(&system, access(&second)).await;
    assert_eq!(status, StatusCode::CREATED, "{cart}");

    let hash: String = sqlx::query_scalar("SELECT password_hash FROM auth.users WHERE email = $1")
        .bind(&email)
        .fetch_one(&system.pool)
        .await
        .expect("the stored hash");
    let secrets = [
        password.as_str(),
        "a wrong password!",
        hash.as_str(),
        first["refresh_token"].as_str().expect("refresh"),
        second["refresh_token"].as_str().expect("refresh"),
        access(&first),
        access(&second),
    ];
    let published: Vec<String> = sqlx::query_scalar(
        // The outbox publishes these rows as they are (it holds positions, not copies).
        "SELECT payload::text || metadata::text FROM es.events",
    )
    .fetch_all(&system.pool)
    .await
    .expect("the events");
    assert!(!published.is_empty(), "events were published");
    system.stop().await;
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(logged.contains("signed in"), "the capture works");
    for secret in secrets {
        assert!(!logged.contains(secret), "a credential in the logs");
        for event in &published {
            assert!(!event.contains(secret), "a credential in an event");
        }
    }
}

#[tokio::test]
async fn a_person_signs_up_shops_and_signs_out_from_the_cli_and_an_admin_grants_a_role() {
    let system = TestSystem::start().await;
    let commerce_with_stdin = |args: Vec<String>, stdin: String| {
        let mut command = system.commerce();
        command
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("run commerce");
            if let Some(mut input) = child.stdin.take() {
                std::io::Write::write_all(&mut input, stdin.as_bytes()).expect("stdin");
            }
            let output = child.wait_with_output().expect("commerce ends");
            assert!(output.status.success(), "{args:?}: {output:?}");
            String::from_utf8_lossy(&output.stdout).into_owned()
        })
    };
    let email = format!("lin-{}@example.com", Uuid::new_v4().simple());
    let signed_up = commerce_with_stdin(
        vec![
            "signup".into(),
            "--email".into(),
            email.clone(),
            "--name".into(),
            "Lin Wei".into(),
            "--password-stdin".into(),
            "--json".into(),
        ],
        format!("{PASSWORD}\n"),
    )
    .await
    .expect("join");
    let account: Value = serde_json::from_str(&signed_up).expect("JSON");
    assert_eq!(account["email"], email.as_str());
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM auth.users WHERE email = $1")
        .bind(&email)
        .fetch_one(&system.pool)
        .await
        .expect("the account");
    assert_eq!(name.as_deref(), Some("Lin Wei"));

    // The kept sign-in is used without --token.
    let created = system.run_commerce(&["cart", "create", "--json"]).await;
    let cart: Value = serde_json::from_str(&created).expect("JSON");
    assert!(cart["cart_id"].is_string(), "{cart}");
    let stored = std::fs::read_to_string(system.credentials_path()).expect("kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(system.credentials_path())
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }
    let kept: Value = serde_json::from_str(&stored).expect("JSON");

    let signed_out = system.run_commerce(&["logout", "--json"]).await;
    assert!(signed_out.contains("\"signed_out\": true"), "{signed_out}");
    assert!(!system.credentials_path().exists());
    let (status, _) = refresh(&system, &kept).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the kept refresh token is revoked"
    );

    // The first admin, from the database; it makes the person an analyst.
    let admin_email = format!("root-{}@example.com", Uuid::new_v4().simple());
    commerce_with_stdin(
        vec![
            "users".into(),
            "create-admin".into(),
            "--email".into(),
            admin_email.clone(),
            "--password-stdin".into(),
        ],
        format!("{PASSWORD}\n"),
    )
    .await
    .expect("join");
    commerce_with_stdin(
        vec![
            "login".into(),
            "--email".into(),
            admin_email,
            "--password-stdin".into(),
        ],
        format!("{PASSWORD}\n"),
    )
    .await
    .expect("join");
    let granted = system
        .run_commerce(&["users", "grant", &email, "--role", "analyst", "--json"])
        .await;
    let granted: Value = serde_json::from_str(&granted).expect("JSON");
    assert_eq!(granted["role"], "analyst", "{granted}");
    let (status, pair) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, body) = system.read("/v1/analytics/funnel", access(&pair)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the analyst reads analytics: {body}"
    );
    let audit = system
        .run_commerce(&["audit", "--action", "role_granted", "--json"])
        .await;
    let entry: Value = serde_json::from_str(audit.lines().next().expect("an entry")).expect("JSON");
    assert_eq!(entry["target"], account["user_id"], "{entry}");
    assert_eq!(entry["detail"]["role"], "analyst", "{entry}");
    let _ = std::fs::remove_file(system.credentials_path());

    // The service documents what it serves.
    let document: Value = system
        .http
        .get(format!("{}/openapi.json", system.auth_url))
        .send()
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    assert_eq!(
        documented,
        [
            "GET /.well-known/jwks.json",
            "GET /v1/audit",
            "GET /v1/users",
            "POST /v1/auth/login",
            "POST /v1/auth/logout",
            "POST /v1/auth/refresh",
            "POST /v1/auth/register",
            "POST /v1/users/{user_id}/roles",
        ]
    );
    system.stop().await;
}

#[tokio::test]
async fn a_price_change_commits_with_exactly_one_audit_entry() {
    let system = TestSystem::start().await;
    let (vendor, member) = (Uuid::new_v4(), Uuid::new_v4());
    system.approved_vendor(vendor).await;
    let token = system.token_for(Role::Vendor, member, Some(vendor));
    let product = system.create_product(&token, 1000).await;

    // With an idempotency key, sent twice: one change, one entry.
    let correlation = Uuid::new_v4();
    for _ in 0..2 {
        let response = system
            .http
            .put(format!(
                "{}/v1/products/{product}/price",
                system.command_url
            ))
            .bearer_auth(&token)
            .header("idempotency-key", "reprice-1")
            .header("x-correlation-id", correlation.to_string())
            .json(&json!({ "price": { "amount_minor": 1250, "currency": "EUR" } }))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Without one; and a refused change (another currency) leaves none.
    let (status, body) = system.change_price(&token, product, 1500).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .command(
            Method::PUT,
            &format!("/v1/products/{product}/price"),
            Some(&token),
            Some(json!({ "price": { "amount_minor": 1500, "currency": "USD" } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let entries = audited(&system, &member.to_string()).await;
    assert_eq!(
        actions(&entries),
        ["price_changed", "price_changed"],
        "{entries:?}"
    );
    assert_eq!(entries[0]["target"], format!("product {product}"));
    assert_eq!(entries[0]["correlation_id"], correlation.to_string());
    assert_eq!(entries[0]["ip"], "127.0.0.1");
    assert_eq!(entries[0]["detail"]["amount_minor"], 1250);
    assert_eq!(entries[1]["detail"]["amount_minor"], 1500);
    system.stop().await;
}

#[tokio::test]
async fn a_deployment_can_trust_an_external_identity_provider_by_configuration_alone() {
    // The provider: an Ed25519 key, its key set served on a local port.
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let key_set = json!({ "keys": [
        { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "idp-1", "alg": "EdDSA", "use": "sig" }
    ]});
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let key_set = key_set.clone();
            async move { axum::Json(key_set) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url: &'static str = Box::leak(
        format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("address")
        )
        .into_boxed_str(),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (issuer, audience) = ("https://idp.example", "commerce-api");
    let system = TestSystem::start_with(Options {
        identity_provider: Some(crate::support::IdentityProvider {
            jwks_url,
            issuer,
            audience,
        }),
        ..Options::default()
    })
    .await;

    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).expect("der");
    let signing = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("idp-1".to_owned());
    let customer = Uuid::new_v4();
    let token = jsonwebtoken::encode(&header, &claims(customer, 600, audience, issuer), &signing)
        .expect("sign");
    let (status, cart) = open_cart_with(&system, &token).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the provider's token is trusted: {cart}"
    );

    // Its own audience and issuer are required; the auth service's tokens are not its tokens.
    let foreign = jsonwebtoken::encode(&header, &claims(customer, 600, "other", issuer), &signing)
        .expect("sign");
    let (status, problem) = open_cart_with(&system, &foreign).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let email = format!("ada-{}@example.com", Uuid::new_v4().simple());
    let (status, _) = register(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, pair) = login(&system, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, problem) = open_cart_with(&system, access(&pair)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    system.stop().await;
}
