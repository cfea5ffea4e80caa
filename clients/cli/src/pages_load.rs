//! `commerce loadgen pages`: the web client's server-rendered catalog and product pages at a
//! steady rate (their p50 and p99), and as fast as 8 clients go, next to the read API's own
//! `GET /v1/catalog/products/{id}` in the same run: the page's cost over the read it is made of.
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::loadgen::quantile;

/// What to measure.
#[derive(Debug, Clone)]
pub struct PagesLoad {
    pub web: String,
    pub read_api: String,
    /// A bearer token for the read API's own request.
    pub token: String,
    /// A published product.
    pub product: uuid::Uuid,
    pub rate: u32,
    pub seconds: u64,
}

/// One target's figures.
#[derive(Debug, Serialize)]
pub struct Target {
    pub name: &'static str,
    pub url: String,
    /// At the steady rate.
    pub sent: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// As fast as 8 clients go.
    pub max_per_second: f64,
}

/// Requests at `rate` per second for `seconds`, each on its own task (an open loop: a slow answer
/// does not slow the sending). Latencies in microseconds, and how many failed.
async fn steady(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    rate: u32,
    seconds: u64,
) -> (Vec<u32>, usize) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        ticks.tick().await;
        let (http, url, token) = (http.clone(), url.to_owned(), token.map(str::to_owned));
        sent.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut request = http.get(&url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let ok = match request.send().await {
                Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
                Err(_) => false,
            };
            (
                started.elapsed().as_micros().min(u32::MAX as u128) as u32,
                ok,
            )
        }));
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for task in sent {
        match task.await {
            Ok((latency, true)) => latencies.push(latency),
            _ => failed += 1,
        }
    }
    latencies.sort_unstable();
    (latencies, failed)
}

/// Requests per second from 8 clients, each sending the next when the last is answered.
async fn flat_out(http: &reqwest::Client, url: &str, token: Option<&str>, seconds: u64) -> f64 {
    let until = Instant::now() + Duration::from_secs(seconds);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, token, done) = (
                http.clone(),
                url.to_owned(),
                token.map(str::to_owned),
                done.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    let mut request = http.get(&url);
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    if let Ok(answer) = request.send().await {
                        if answer.status().is_success() && answer.bytes().await.is_ok() {
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        let _ = client.await;
    }
    done.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(load: &PagesLoad) -> anyhow::Result<Vec<Target>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let web = load.web.trim_end_matches('/');
    let targets = [
        ("catalog page", format!("{web}/"), None),
        (
            "product page",
            format!("{web}/products/{}", load.product),
            None,
        ),
        (
            "read API product",
            format!(
                "{}/v1/catalog/products/{}",
                load.read_api.trim_end_matches('/'),
                load.product
            ),
            Some(load.token.as_str()),
        ),
    ];
    let mut report = Vec::new();
    for (name, url, token) in targets {
        // Warm: the first renders compile nothing, but connections and caches settle.
        for _ in 0..20 {
            let _ = http.get(&url).send().await;
        }
        eprintln!("{name}: {} requests/s for {} s …", load.rate, load.seconds);
        let (latencies, failed) = steady(&http, &url, token, load.rate, load.seconds).await;
        let ms = |q: f64| quantile(&latencies, q).map_or(0.0, |us| f64::from(us) / 1000.0);
        let max_per_second = flat_out(&http, &url, token, load.seconds.div_ceil(2)).await;
        report.push(Target {
            name,
            url,
            sent: latencies.len() + failed,
            failed,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_per_second,
        });
    }
    Ok(report)
}
