//! Crypto-shredding of personal data in events.
//!
//! The fields the domain names ([`commerce_domain::personal_data`]) are stored sealed with
//! XChaCha20-Poly1305 under a key of their subject's (`pii.subject_keys`), as
//! `{"$sealed": {"key": <key id>, "nonce": <base64>, "data": <base64>}}`. The event store, the
//! outbox, the topic, the queues and their dead-letter queues only ever hold the sealed form.
//! Readers that show personal data (the orders projector, replay, `GET /v1/events`) open it with
//! the key; when the key is gone (`commerce gdpr forget`), a field opens as `{"$erased": true}` and
//! every other field of the event still replays.
//!
//! The ciphertext is bound to its subject and field (associated data `"{subject}:{field}"`), so a
//! sealed value moved to another customer's event does not open.
use std::collections::HashMap;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commerce_domain::personal_data::personal_fields;
use commerce_domain::{ERASED, SEALED};
use rand::RngCore;
use serde_json::{json, Value};
use uuid::Uuid;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error("the key store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Malformed(String),
}

/// One subject's key. Its bytes never reach a log.
#[derive(Clone)]
pub struct SubjectKey {
    pub key_id: Uuid,
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SubjectKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0_u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self {
            key_id: Uuid::new_v4(),
            key,
        }
    }

    fn from_stored(key_id: Uuid, bytes: &[u8]) -> Result<Self, PersonalDataError> {
        let key = <[u8; KEY_BYTES]>::try_from(bytes)
            .map_err(|_| PersonalDataError::Malformed(format!("key {key_id} is not 32 bytes")))?;
        Ok(Self { key_id, key })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.key).into())
    }
}

/// Keys by id, as a reader fetched them; a key not here was deleted (or never existed).
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    keys: HashMap<Uuid, SubjectKey>,
}

impl KeyRing {
    /// The keys among `key_ids` that still exist.
    pub async fn fetch(
        executor: impl sqlx::PgExecutor<'_>,
        key_ids: &[Uuid],
    ) -> Result<Self, PersonalDataError> {
        if key_ids.is_empty() {
            return Ok(Self::default());
        }
        let rows: Vec<(Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, key FROM pii.subject_keys WHERE key_id = ANY($1)")
                .bind(key_ids)
                .fetch_all(executor)
                .await?;
        let mut keys = HashMap::with_capacity(rows.len());
        for (key_id, bytes) in rows {
            keys.insert(key_id, SubjectKey::from_stored(key_id, &bytes)?);
        }
        Ok(Self { keys })
    }

    /// A ring of the given keys (for tests and for a writer that holds its keys).
    pub fn of(keys: impl IntoIterator<Item = SubjectKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k.key_id, k)).collect(),
        }
    }
}

/// The subject of an event's personal data: `None` if its type has none.
pub fn subject_of(event_type: &str, payload: &Value) -> Result<Option<Uuid>, PersonalDataError> {
    let Some(rule) = personal_fields(event_type) else {
        return Ok(None);
    };
    let subject = payload["data"][rule.subject]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| {
            PersonalDataError::Malformed(format!(
                "{event_type} has no {} naming its subject",
                rule.subject
            ))
        })?;
    Ok(Some(subject))
}

/// Whether an event's stored payload text may hold sealed fields (a cheap test before parsing).
pub fn may_be_sealed(event_type: &str, payload_text: &str) -> bool {
    personal_fields(event_type).is_some() && payload_text.contains(SEALED)
}

/// Seals the personal fields of `payload` (an event's `{"type", "data"}`) in place under `key`,
/// the key of the event's subject. Fields already sealed, and events without personal data, are
/// left as they are.
pub fn seal(
    event_type: &str,
    payload: &mut Value,
    key: &SubjectKey,
) -> Result<(), PersonalDataError> {
    let Some(rule) = personal_fields(event_type) else {
        return Ok(());
    };
    let Some(subject) = subject_of(event_type, payload)? else {
        return Ok(());
    };
    let cipher = key.cipher();
    for field in rule.fields {
        let Some(value) = payload["data"].get_mut(*field) else {
            continue;
        };
        if value.get(SEALED).is_some() || value.get(ERASED).is_some() {
            continue;
        }
        let plaintext = serde_json::to_vec(value)
            .map_err(|e| PersonalDataError::Malformed(format!("{field}: {e}")))?;
        let mut nonce = [0_u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = format!("{subject}:{field}");
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| PersonalDataError::Malformed(format!("sealing {field} failed")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        *value = json!({ SEALED: {
            "key": key.key_id,
            "nonce": b64.encode(nonce),
            "data": b64.encode(ciphertext),
        }});
    }
    Ok(())
}

/// The ids of the keys `payload`'s sealed fields were sealed under.
pub fn sealed_key_ids(event_type: &str, payload: &Value) -> Vec<Uuid> {
    let Some(rule) = personal_fields(event_type) else {
        return Vec::new();
    };
    rule.fields
        .iter()
        .filter_map(|field| payload["data"][*field][SEALED]["key"].as_str())
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// Opens the sealed fields of `payload` in place with `keys`. A field whose key is not in the
/// ring becomes `{"$erased": true}`. Answers whether a field was erased.
pub fn open(
    event_type: &str,
    payload: &mut Value,
    keys: &KeyRing,
) -> Result<bool, PersonalDataError> {
    let Some(rule) = personal_fields(event_type) else {
        return Ok(false);
    };
    let mut erased = false;
    for field in rule.fields {
        let Some(sealed) = payload["data"].get(*field).and_then(|v| v.get(SEALED)) else {
            continue;
        };
        let opened = match open_field(event_type, payload, field, sealed, keys)? {
            Some(value) => value,
            None => {
                erased = true;
                json!({ ERASED: true })
            }
        };
        payload["data"][*field] = opened;
    }
    Ok(erased)
}

/// One sealed field's value, or `None` when its key is gone.
fn open_field(
    event_type: &str,
    payload: &Value,
    field: &str,
    sealed: &Value,
    keys: &KeyRing,
) -> Result<Option<Value>, PersonalDataError> {
    let malformed =
        |what: &str| PersonalDataError::Malformed(format!("{event_type}.{field}: {what}"));
    let key_id = sealed["key"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| malformed("no key id"))?;
    let Some(key) = keys.keys.get(&key_id) else {
        return Ok(None);
    };
    let subject = subject_of(event_type, payload)?.ok_or_else(|| malformed("no subject"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let nonce = sealed["nonce"]
        .as_str()
        .and_then(|n| b64.decode(n).ok())
        .and_then(|n| <[u8; NONCE_BYTES]>::try_from(n).ok())
        .ok_or_else(|| malformed("no nonce"))?;
    let ciphertext = sealed["data"]
        .as_str()
        .and_then(|d| b64.decode(d).ok())
        .ok_or_else(|| malformed("no ciphertext"))?;
    let aad = format!("{subject}:{field}");
    let plaintext = key
        .cipher()
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| malformed("does not open with its subject's key"))?;
    serde_json::from_slice(&plaintext)
        .map(Some)
        .map_err(|e| malformed(&e.to_string()))
}

/// Opens the payload text of an event if it holds sealed fields, fetching their keys: the opened
/// text, or `None` when there was nothing to open.
pub async fn open_text(
    executor: impl sqlx::PgExecutor<'_>,
    event_type: &str,
    payload_text: &str,
) -> Result<Option<String>, PersonalDataError> {
    if !may_be_sealed(event_type, payload_text) {
        return Ok(None);
    }
    let mut payload: Value = serde_json::from_str(payload_text)
        .map_err(|e| PersonalDataError::Malformed(format!("{event_type}: {e}")))?;
    let keys = KeyRing::fetch(executor, &sealed_key_ids(event_type, &payload)).await?;
    open(event_type, &mut payload, &keys)?;
    Ok(Some(payload.to_string()))
}

/// The subject's key, created on first use. Never cached: a key deleted by
/// [`forget`] is never used again, and the subject's next event gets a new one.
pub async fn key_for(
    executor: impl sqlx::PgExecutor<'_> + Copy,
    subject: Uuid,
) -> Result<SubjectKey, PersonalDataError> {
    // Two first events of one subject may race; the loser reads the winner's key.
    for _ in 0..3 {
        let candidate = SubjectKey::generate();
        let row: Option<(Uuid, Vec<u8>)> = sqlx::query_as(
            "WITH created AS ( \
               INSERT INTO pii.subject_keys (subject, key_id, key) VALUES ($1, $2, $3) \
               ON CONFLICT (subject) DO NOTHING RETURNING key_id, key) \
             SELECT key_id, key FROM created \
             UNION ALL SELECT key_id, key FROM pii.subject_keys WHERE subject = $1 \
             LIMIT 1",
        )
        .bind(subject)
        .bind(candidate.key_id)
        .bind(candidate.key.as_slice())
        .fetch_optional(executor)
        .await?;
        if let Some((key_id, bytes)) = row {
            return SubjectKey::from_stored(key_id, &bytes);
        }
    }
    Err(PersonalDataError::Malformed(format!(
        "no key could be created for {subject}"
    )))
}

/// Deletes every key of `subject` and records the erasure: from now on every sealed field of
/// theirs, wherever a copy of the event is, opens as erased. Answers how many keys were deleted
/// (0: none was left, e.g. a repeated request). Read models that hold opened copies erase them
/// separately, after this has committed.
pub async fn forget(pool: &sqlx::PgPool, subject: Uuid) -> Result<u64, PersonalDataError> {
    let mut transaction = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM pii.subject_keys WHERE subject = $1")
        .bind(subject)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    sqlx::query("INSERT INTO pii.erasures (subject, keys_deleted) VALUES ($1, $2)")
        .bind(subject)
        .bind(deleted as i64)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(%subject, keys_deleted = deleted, "personal data key deleted");
    Ok(deleted)
}

/// Of `key_ids`, those that no longer exist: a writer that opened sealed data checks this after
/// its write commits, and erases what it wrote under a key deleted meanwhile.
pub async fn deleted_keys(
    executor: impl sqlx::PgExecutor<'_>,
    key_ids: &[Uuid],
) -> Result<Vec<Uuid>, PersonalDataError> {
    if key_ids.is_empty() {
        return Ok(Vec::new());
    }
    let present: Vec<Uuid> =
        sqlx::query_scalar("SELECT key_id FROM pii.subject_keys WHERE key_id = ANY($1)")
            .bind(key_ids)
            .fetch_all(executor)
            .await?;
    Ok(key_ids
        .iter()
        .filter(|id| !present.contains(id))
        .copied()
        .collect())
}

/// Events per batch of [`seal_stored`].
pub const SEAL_BATCH: i64 = 2_000;

/// Seals the personal data that versions before sealing-on-write stored in clear, a batch at a
/// time (each its own transaction), so that [`forget`] erases it too. Events already sealed, or
/// erased, are left alone; running it again seals nothing more. `progress` hears the events
/// examined and sealed so far. Answers how many events it sealed.
///
/// The event store refuses every change but this one (see the migration that made the
/// exception): only fields inside `payload->'data'` may change, in a transaction marked
/// `commerce.sealing_stored_events`. Copies already published (queued or dead-lettered messages)
/// are not reached; they expire with their queues' retention.
pub async fn seal_stored(
    pool: &sqlx::PgPool,
    batch: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, PersonalDataError> {
    let event_types: Vec<&str> = commerce_domain::personal_data::PERSONAL_DATA
        .iter()
        .map(|p| p.event_type)
        .collect();
    let (mut after, mut examined, mut sealed_total) = (0_i64, 0_u64, 0_u64);
    loop {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT global_position, event_type, payload::text FROM es.events \
             WHERE global_position > $1 AND event_type = ANY($2) \
             ORDER BY global_position LIMIT $3",
        )
        .bind(after)
        .bind(&event_types)
        .bind(batch.max(1))
        .fetch_all(pool)
        .await?;
        let Some((last, _, _)) = rows.last() else {
            return Ok(sealed_total);
        };
        after = *last;
        examined += rows.len() as u64;
        let mut keys: HashMap<Uuid, SubjectKey> = HashMap::new();
        let (mut positions, mut payloads) = (Vec::new(), Vec::new());
        for (position, event_type, text) in rows {
            let mut payload: Value = serde_json::from_str(&text)
                .map_err(|e| PersonalDataError::Malformed(format!("event {position}: {e}")))?;
            if !in_clear(&event_type, &payload) {
                continue;
            }
            let Some(subject) = subject_of(&event_type, &payload)? else {
                continue;
            };
            let key = match keys.get(&subject) {
                Some(key) => key.clone(),
                None => {
                    let key = key_for(pool, subject).await?;
                    keys.insert(subject, key.clone());
                    key
                }
            };
            seal(&event_type, &mut payload, &key)?;
            positions.push(position);
            payloads.push(payload.to_string());
        }
        if !positions.is_empty() {
            let mut transaction = pool.begin().await?;
            sqlx::query("SET LOCAL commerce.sealing_stored_events = 'on'")
                .execute(&mut *transaction)
                .await?;
            sealed_total += sqlx::query(
                "UPDATE es.events e SET payload = u.payload::jsonb \
                 FROM UNNEST($1::bigint[], $2::text[]) AS u(position, payload) \
                 WHERE e.global_position = u.position",
            )
            .bind(&positions)
            .bind(&payloads)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            transaction.commit().await?;
        }
        progress(examined, sealed_total);
    }
}

/// Whether a personal field of `payload` is stored in clear (neither sealed nor erased).
fn in_clear(event_type: &str, payload: &Value) -> bool {
    personal_fields(event_type).is_some_and(|rule| {
        rule.fields.iter().any(|field| {
            payload["data"]
                .get(*field)
                .is_some_and(|v| v.get(SEALED).is_none() && v.get(ERASED).is_none())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(customer: Uuid) -> Value {
        json!({"type": "OrderPlaced", "data": {
            "order_id": Uuid::from_u128(1), "customer_id": customer,
            "shipping_address": {"name": "Ada Lovelace", "line1": "Unter den Linden 1",
                                 "city": "Berlin", "postal_code": "10117", "country": "DE"},
            "payment_token": "tok_ok"}})
    }

    #[test]
    fn a_sealed_address_opens_with_its_key_and_is_erased_without_it() {
        let customer = Uuid::from_u128(7);
        let key = SubjectKey::generate();
        let original = placed(customer);
        let mut sealed = original.clone();
        seal("OrderPlaced", &mut sealed, &key).expect("seals");
        let text = sealed.to_string();
        assert!(
            !text.contains("Lovelace") && !text.contains("Linden"),
            "{text}"
        );
        assert_eq!(
            sealed["data"]["payment_token"], "tok_ok",
            "other fields stay"
        );
        assert_eq!(sealed_key_ids("OrderPlaced", &sealed), vec![key.key_id]);
        assert!(may_be_sealed("OrderPlaced", &text));

        let mut opened = sealed.clone();
        let erased = open("OrderPlaced", &mut opened, &KeyRing::of([key.clone()])).expect("opens");
        assert!(!erased);
        assert_eq!(opened, original);

        let mut without_key = sealed.clone();
        assert!(open("OrderPlaced", &mut without_key, &KeyRing::default()).expect("opens"));
        assert_eq!(
            without_key["data"]["shipping_address"],
            json!({"$erased": true})
        );
        assert_eq!(
            without_key["data"]["order_id"],
            original["data"]["order_id"]
        );
    }

    #[test]
    fn a_sealed_address_moved_to_another_customer_does_not_open() {
        let key = SubjectKey::generate();
        let mut sealed = placed(Uuid::from_u128(7));
        seal("OrderPlaced", &mut sealed, &key).expect("seals");
        sealed["data"]["customer_id"] = json!(Uuid::from_u128(8));
        let refused = open("OrderPlaced", &mut sealed, &KeyRing::of([key]));
        assert!(refused.is_err());
    }

    #[test]
    fn sealing_twice_and_events_without_personal_data_change_nothing() {
        let key = SubjectKey::generate();
        let mut sealed = placed(Uuid::from_u128(7));
        seal("OrderPlaced", &mut sealed, &key).expect("seals");
        let once = sealed.clone();
        seal("OrderPlaced", &mut sealed, &key).expect("seals again");
        assert_eq!(sealed, once);
        let mut confirmed = json!({"type": "OrderConfirmed", "data": {"order_id": 1}});
        let before = confirmed.clone();
        seal("OrderConfirmed", &mut confirmed, &key).expect("nothing to seal");
        assert_eq!(confirmed, before);
        assert!(format!("{key:?}").contains("key_id") && !format!("{key:?}").contains("key:"));
    }
}
