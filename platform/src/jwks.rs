//! An identity provider's public keys (a JWKS document, RFC 7517), read over HTTP and cached by
//! key id. A token naming a key the cache lacks (a key added by a rotation) makes it read the
//! document again (at most once a second: a token of an unknown key waits for the next read),
//! so a rotation needs no restart; the cache is also
//! read again when it is five minutes old, so a key withdrawn by the provider stops verifying.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::auth::AuthError;

/// How long a read document is trusted.
const MAX_AGE: Duration = Duration::from_secs(300);
/// The least time between two reads.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The keys of one JWKS URL.
pub struct KeySet {
    url: String,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    /// One read at a time; the others wait for it and use its result.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    read_at: Option<Instant>,
}

impl KeySet {
    pub fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            url: url.to_owned(),
            http,
            cached: RwLock::new(Cached::default()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn read_at(&self) -> Option<Instant> {
        self.cached.read().map(|c| c.read_at).unwrap_or(None)
    }

    /// Never read, or read too long ago.
    pub fn is_stale(&self) -> bool {
        self.read_at().is_none_or(|at| at.elapsed() > MAX_AGE)
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.cached
            .read()
            .map(|c| c.keys.contains_key(kid))
            .unwrap_or(false)
    }

    /// The key `kid` if it is one for `algorithm`.
    pub fn key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let cached = self.cached.read().ok()?;
        let (key_algorithm, key) = cached.keys.get(kid)?;
        (*key_algorithm == algorithm).then(|| key.clone())
    }

    /// Reads the document again, at most once a second: a caller that finds a read younger than
    /// that waits out the second, then reads (a key rotated in just after a read is found).
    /// A caller whose wait for the lock saw a read finish uses that read, whatever it found: so
    /// requests naming unknown keys (a flood of made-up ones) cost one read between them, not
    /// one each, and never queue a genuine token behind seconds of reads.
    pub async fn refresh(&self, kid: Option<&str>) -> Result<(), AuthError> {
        let asked_at = Instant::now();
        let _reading = self.reading.lock().await;
        if self.read_at().is_some_and(|at| at >= asked_at) {
            return Ok(());
        }
        if kid.is_some_and(|kid| self.knows(kid)) && !self.is_stale() {
            return Ok(());
        }
        if let Some(age) = self.read_at().map(|at| at.elapsed()) {
            if age < MIN_INTERVAL {
                tokio::time::sleep(MIN_INTERVAL - age).await;
            }
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            AuthError::KeysUnavailable(format!("reading {}: {e}", self.url))
        };
        let answer = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| unavailable(&e.without_url()))?;
        let answer = answer
            .error_for_status()
            .map_err(|e| unavailable(&e.without_url()))?;
        let set: JwkSet = answer.json().await.map_err(|e| unavailable(&e))?;
        let keys: HashMap<String, (Algorithm, DecodingKey)> =
            set.keys.iter().filter_map(usable).collect();
        tracing::info!(url = %self.url, keys = keys.len(), "identity provider keys read");
        if let Ok(mut cached) = self.cached.write() {
            *cached = Cached {
                keys,
                read_at: Some(Instant::now()),
            };
        }
        Ok(())
    }
}

/// A signing key of the set with its id and algorithm; keys for other uses, without an id, or
/// of a kind this service does not verify are left out.
fn usable(jwk: &Jwk) -> Option<(String, (Algorithm, DecodingKey))> {
    let kid = jwk.common.key_id.clone()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
    {
        return None;
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::OctetKeyPair(okp), _) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS256)) => Algorithm::PS256,
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, (algorithm, key)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn callers_waiting_together_share_one_read() {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(serde_json::json!({ "keys": [] })) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let key_set = Arc::new(KeySet::new(&url));
        key_set.refresh(None).await.unwrap();
        // Twenty requests naming keys nobody has, at once, just after a read.
        let callers: Vec<_> = (0..20)
            .map(|i| {
                let key_set = key_set.clone();
                tokio::spawn(async move { key_set.refresh(Some(&format!("made-up-{i}"))).await })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap().unwrap();
        }
        assert_eq!(
            reads.load(Ordering::SeqCst),
            2,
            "the first read and one more between them"
        );
    }
}
