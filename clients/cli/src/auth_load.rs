//! `commerce loadgen auth`: sign-ins per second and their latency against the running auth
//! service, next to the time of one Argon2id hash with the same parameters measured in this
//! process; and what verifying a bearer token costs the command API per request (the same
//! request with a valid token, which is verified, and without one, which is refused before any
//! verification), next to `/healthz`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_auth::passwords::{HashParams, PasswordHashing};
use commerce_client::CommerceClient;
use serde::Serialize;
use uuid::Uuid;

use crate::loadgen::quantile;

/// What to measure.
#[derive(Debug, Clone)]
pub struct AuthLoad {
    pub command_api: String,
    pub auth_api: String,
    /// Concurrent sign-ins (each with its own account) and requests.
    pub concurrency: usize,
    /// How long each part runs.
    pub seconds: u64,
    /// The Argon2id parameters the auth service runs with.
    pub hashing: HashParams,
}

/// One part's throughput and latency.
#[derive(Debug, Serialize)]
pub struct Rate {
    pub requests: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct AuthReport {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// One hash in this process, the median of 20.
    pub hash_ms: f64,
    pub logins: Rate,
    /// A command with a valid token: verified, then refused for its malformed body.
    pub with_token: Rate,
    /// The same command without a token: refused before any verification.
    pub without_token: Rate,
    pub healthz: Rate,
}

/// Runs `requests` from `concurrency` workers for `seconds`; each call answers whether it went
/// as expected. Latencies in microseconds.
async fn drive<F, Fut>(concurrency: usize, seconds: u64, call: F) -> anyhow::Result<Rate>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (call, stop) = (call.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    call(worker).await?;
                    latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.context("a worker panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ms = |q: f64| quantile(&latencies, q).map_or(0.0, |us| f64::from(us) / 1000.0);
    Ok(Rate {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
    })
}

pub async fn run(load: &AuthLoad) -> anyhow::Result<AuthReport> {
    let hashing = PasswordHashing::new(load.hashing)?;
    let mut hashes = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        hashing.hash("a password to time the hash with")?;
        hashes.push(started.elapsed().as_micros() as u32);
    }
    hashes.sort_unstable();
    let hash_ms = quantile(&hashes, 0.5).map_or(0.0, |us| f64::from(us) / 1000.0);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.concurrency)
        .build()?;
    let client = CommerceClient::with_http_client(http.clone(), &load.command_api, "")
        .with_auth_api(&load.auth_api);
    let password = format!("loadgen {}", Uuid::new_v4());
    let mut emails = Vec::new();
    for _ in 0..load.concurrency {
        let email = format!("loadgen-{}@example.com", Uuid::new_v4().simple());
        client
            .register(&email, &password, None)
            .await
            .with_context(|| format!("registering {email} at {}", load.auth_api))?;
        emails.push(email);
    }
    let token = client.login(&emails[0], &password).await?.access_token;
    eprintln!("signing in for {} s …", load.seconds);
    let logins = {
        let (client, emails, password) = (client.clone(), Arc::new(emails), password.clone());
        drive(load.concurrency, load.seconds, move |worker| {
            let (client, emails, password) = (client.clone(), emails.clone(), password.clone());
            async move {
                client.login(&emails[worker], &password).await?;
                Ok(())
            }
        })
        .await?
    };
    // A cart line of a cart that need not exist: the body is refused (400) after the token.
    let url = format!("{}/v1/carts/{}/items", load.command_api, Uuid::new_v4());
    let request = |token: Option<String>, expected: u16| {
        let (http, url) = (http.clone(), url.clone());
        move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let mut request = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body("{");
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let status = request.send().await?.status().as_u16();
                anyhow::ensure!(status == expected, "expected {expected}, got {status}");
                Ok(())
            }
        }
    };
    eprintln!(
        "commands with and without a token for {} s each …",
        load.seconds
    );
    let with_token = drive(load.concurrency, load.seconds, request(Some(token), 400)).await?;
    let without_token = drive(load.concurrency, load.seconds, request(None, 401)).await?;
    let healthz = {
        let (http, url) = (http.clone(), format!("{}/healthz", load.command_api));
        drive(load.concurrency, load.seconds, move |_| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                anyhow::ensure!(http.get(&url).send().await?.status().is_success());
                Ok(())
            }
        })
        .await?
    };
    Ok(AuthReport {
        argon2_memory_kib: load.hashing.memory_kib,
        argon2_iterations: load.hashing.iterations,
        argon2_parallelism: load.hashing.parallelism,
        hash_ms,
        logins,
        with_token,
        without_token,
        healthz,
    })
}
