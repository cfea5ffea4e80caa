//! Access-token signing keys (Ed25519) and the JWKS that publishes them.
//!
//! A rotation adds a key that is published at once and signs only after `key_activation`, by
//! when every verifier has re-read the key set; the key it replaces stops signing then, and
//! stays published until the last token it signed has expired.
use std::time::Duration;

use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sqlx::PgPool;

/// A key that signs, as `jsonwebtoken` takes it.
pub struct Signer {
    pub kid: String,
    key: EncodingKey,
}

impl Signer {
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }
}

/// A new Ed25519 key pair: its id, PKCS#8 DER private key and base64url public key.
fn generate() -> anyhow::Result<(String, Vec<u8>, String)> {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let key = SigningKey::from_bytes(&seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding a signing key: {e}"))?
        .as_bytes()
        .to_vec();
    let public =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let kid = format!("ed25519-{}", uuid::Uuid::now_v7().simple());
    Ok((kid, der, public))
}

/// Makes sure a key signs: the first start of a deployment creates one, signing at once
/// (nobody holds a token to be verified yet).
pub async fn ensure_signing_key(pool: &PgPool) -> anyhow::Result<()> {
    let mut transaction = pool.begin().await?;
    // One starter creates it, however many replicas start at once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))")
        .execute(&mut *transaction)
        .await?;
    let present: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM auth.signing_keys WHERE retired_at IS NULL)",
    )
    .fetch_one(&mut *transaction)
    .await?;
    if !present {
        let (kid, der, public) = generate()?;
        sqlx::query(
            "INSERT INTO auth.signing_keys (kid, private_key, public_key, signs_from) \
             VALUES ($1, $2, $3, now())",
        )
        .bind(&kid)
        .bind(der)
        .bind(public)
        .execute(&mut *transaction)
        .await?;
        tracing::info!(%kid, "first signing key created");
    }
    transaction.commit().await?;
    Ok(())
}

/// Adds a key that signs after `activation`; the keys signing now stop then. Its id.
pub async fn rotate(pool: &PgPool, activation: Duration) -> anyhow::Result<String> {
    let (kid, der, public) = generate()?;
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))")
        .execute(&mut *transaction)
        .await?;
    let signs_from: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "INSERT INTO auth.signing_keys (kid, private_key, public_key, signs_from) \
         VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') RETURNING signs_from",
    )
    .bind(&kid)
    .bind(der)
    .bind(public)
    .bind(activation.as_millis() as f64)
    .fetch_one(&mut *transaction)
    .await?;
    sqlx::query(
        "UPDATE auth.signing_keys SET retired_at = $2 \
         WHERE kid <> $1 AND (retired_at IS NULL OR retired_at > $2)",
    )
    .bind(&kid)
    .bind(signs_from)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    tracing::info!(%kid, %signs_from, "signing key rotated");
    Ok(kid)
}

/// The key that signs now: the newest whose time has come and that is not retired.
pub async fn current_signer(pool: &PgPool) -> anyhow::Result<Signer> {
    let (kid, der): (String, Vec<u8>) = sqlx::query_as(
        "SELECT kid, private_key FROM auth.signing_keys \
         WHERE signs_from <= now() AND (retired_at IS NULL OR retired_at > now()) \
         ORDER BY signs_from DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| anyhow::anyhow!("no signing key signs now"))?;
    Ok(Signer {
        kid,
        key: EncodingKey::from_ed_der(&der),
    })
}

/// One published key, as a JWK.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    kty: &'static str,
    crv: &'static str,
    /// The public key, base64url.
    x: String,
    kid: String,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

/// The JWKS document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeySetDocument {
    keys: Vec<PublishedKey>,
}

/// Every key a valid token may have been signed with, or may be soon: not retired, or retired
/// less than `access_ttl` (and a minute of clock skew) ago.
pub async fn published(pool: &PgPool, access_ttl: Duration) -> anyhow::Result<KeySetDocument> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kid, public_key FROM auth.signing_keys \
         WHERE retired_at IS NULL \
            OR retired_at > now() - ($1 + 60000) * interval '1 millisecond' \
         ORDER BY created_at",
    )
    .bind(access_ttl.as_millis() as f64)
    .fetch_all(pool)
    .await?;
    Ok(KeySetDocument {
        keys: rows
            .into_iter()
            .map(|(kid, x)| PublishedKey {
                kty: "OKP",
                crv: "Ed25519",
                x,
                kid,
                alg: "EdDSA",
                usage: "sig",
            })
            .collect(),
    })
}
