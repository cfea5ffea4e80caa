//! Vendors in the catalog read model: each vendor's profile with its history of decisions, the
//! lists of vendors by status, and the hiding of a suspended vendor's products.
//!
//! Layout, beside the products (see [`crate::catalog`]), in generation `N`:
//! - `catalog:g{N}:vendor-profile:{v}`: hash with `doc` (the [`VendorDocument`]), `version` (the
//!   last applied Vendor sequence) and `status`.
//! - `catalog:g{N}:vendor-products:{v}`: set of every product id of the vendor, published or not,
//!   so a suspension finds them all.
//! - `catalog:g{N}:vendors` and `catalog:g{N}:vendors:{status}`: sorted sets of vendor ids
//!   (score 0, by id, i.e. by application time), for the admins' lists.
//!
//! A product is listed (in the published, category and vendor indexes) when it is published and
//! its vendor is not suspended; its hash's `vendor_suspended` says which. Vendor and product
//! events are separate streams, applied in any order relative to each other, so both sides check
//! the other: a product write reads the vendor's status in its script, and a suspension (or
//! reinstatement) records the status first, then walks the vendor's products in chunks, then
//! publishes the profile's new document. A product written after the status stays hidden; one
//! written before is moved by the walk; a read at the profile's new version finds both done.
use chrono::{DateTime, Utc};
use commerce_domain::vendor::{VendorEvent, VendorStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A vendor as the catalog knows it. The contact address is personal data and stays in the
/// event store, sealed; the catalog keeps none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VendorDocument {
    pub vendor_id: Uuid,
    pub name: String,
    /// `pending`, `approved` or `suspended`.
    #[schema(value_type = String, example = "approved")]
    pub status: VendorStatus,
    /// Who applied (a user id).
    pub applicant_id: Uuid,
    pub applied_at: DateTime<Utc>,
    /// Every admin decision, oldest first.
    pub history: Vec<VendorDecision>,
    /// The last applied vendor event's sequence: what `min_version` waits for.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// One admin decision on a vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VendorDecision {
    /// `approved`, `suspended` or `reinstated`.
    pub decision: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The vendor's version this decision made.
    pub version: i64,
}

/// The profile after `event` (the vendor stream's `sequence`, at `occurred_at`), or why the event
/// cannot follow `before`.
pub fn evolve(
    before: Option<VendorDocument>,
    event: VendorEvent,
    sequence: i64,
    occurred_at: DateTime<Utc>,
) -> anyhow::Result<VendorDocument> {
    let decided = |mut doc: VendorDocument, status, decision: &str, reason: String| {
        doc.status = status;
        doc.history.push(VendorDecision {
            decision: decision.to_owned(),
            reason,
            at: occurred_at,
            version: sequence,
        });
        doc
    };
    let mut doc = match (before, event) {
        (
            None,
            VendorEvent::VendorApplied {
                vendor_id,
                name,
                applicant_id,
                ..
            },
        ) => VendorDocument {
            vendor_id: vendor_id.0,
            name: name.into(),
            status: VendorStatus::Pending,
            applicant_id: applicant_id.0,
            applied_at: occurred_at,
            history: Vec::new(),
            version: 0,
            updated_at: occurred_at,
        },
        (Some(doc), VendorEvent::VendorApproved { reason, .. }) => {
            decided(doc, VendorStatus::Approved, "approved", reason.into())
        }
        (Some(doc), VendorEvent::VendorSuspended { reason, .. }) => {
            decided(doc, VendorStatus::Suspended, "suspended", reason.into())
        }
        (Some(doc), VendorEvent::VendorReinstated { reason, .. }) => {
            decided(doc, VendorStatus::Approved, "reinstated", reason.into())
        }
        (before, event) => anyhow::bail!(
            "{} cannot follow {}",
            event.name(),
            if before.is_some() {
                "an existing vendor"
            } else {
                "nothing"
            }
        ),
    };
    doc.version = sequence;
    doc.updated_at = occurred_at;
    Ok(doc)
}

/// Every status, in the order the status indexes are passed to [`VENDOR_WRITE`].
pub const STATUSES: [VendorStatus; 3] = [
    VendorStatus::Pending,
    VendorStatus::Approved,
    VendorStatus::Suspended,
];

/// Records a vendor event's effect on the profile if its version is still the expected one: the
/// version, the status (which product writes read from then on) and the new document, kept as
/// `pending_doc` until its products have followed (see [`VENDOR_WALK`]); files the vendor under
/// its status.
/// KEYS[1] the profile hash, KEYS[2] all vendors, KEYS[3] the index of the new status,
/// KEYS[4..5] the other status indexes.
/// ARGV[1] expected version, ARGV[2] new version, ARGV[3] document, ARGV[4] status, ARGV[5] vendor
/// id. Returns -1 when written and the products need not move, -2 when written and they must
/// (the vendor entered or left suspension), else the stored version.
pub(crate) const VENDOR_STATUS_WRITE: &str = r#"
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then return stored end
local was_suspended = redis.call('HGET', KEYS[1], 'status') == 'suspended'
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'pending_doc', ARGV[3], 'status', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[5])
redis.call('ZADD', KEYS[3], 0, ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[5])
redis.call('ZREM', KEYS[5], ARGV[5])
if was_suspended == (ARGV[4] == 'suspended') then return -1 end
return -2
"#;

/// Moves one chunk of a vendor's products to where its current status puts them: out of the
/// indexes while it is suspended, published ones back in otherwise. A chunk is a few hundred
/// products, so Redis is never held for long (a 10,000-product vendor in one script held it for
/// about 0.2 s); each chunk reads the status afresh, so chunks and product writes agree whatever
/// their order.
/// KEYS[1] the profile hash, KEYS[2] the vendor's product set, KEYS[3] the published index,
/// KEYS[4] the vendor's published index. ARGV[1] the SSCAN cursor, ARGV[2] the chunk size,
/// ARGV[3] the product key prefix, ARGV[4] the category index prefix.
/// Returns the next cursor ("0" when the walk is done).
pub(crate) const VENDOR_WALK: &str = r#"
local suspended = redis.call('HGET', KEYS[1], 'status') == 'suspended'
local scanned = redis.call('SSCAN', KEYS[2], ARGV[1], 'COUNT', ARGV[2])
for _, id in ipairs(scanned[2]) do
  local key = ARGV[3] .. id
  local doc = redis.call('HGET', key, 'doc')
  if doc then
    local product = cjson.decode(doc)
    local indexes = {KEYS[3], KEYS[4], ARGV[4] .. product.category}
    if suspended then
      redis.call('HSET', key, 'vendor_suspended', '1')
      for _, index in ipairs(indexes) do redis.call('ZREM', index, id) end
    else
      redis.call('HSET', key, 'vendor_suspended', '0')
      if product.published then
        for _, index in ipairs(indexes) do redis.call('ZADD', index, 0, id) end
      end
    end
  end
end
return scanned[1]
"#;

/// Makes the pending document the profile's, once its products have followed: from then on a
/// read at its version finds the catalog as the event left it.
/// KEYS[1] the profile hash. ARGV[1] the version the pending document is of.
/// Returns 1 when published, 0 when there was nothing pending at that version.
pub(crate) const VENDOR_PUBLISH: &str = r#"
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local pending = redis.call('HGET', KEYS[1], 'pending_doc')
if not pending then return 0 end
redis.call('HSET', KEYS[1], 'doc', pending)
redis.call('HDEL', KEYS[1], 'pending_doc')
return 1
"#;

/// Products a [`VENDOR_WALK`] chunk takes at most (SSCAN's COUNT is a hint; a chunk may hold a
/// few more).
pub(crate) const WALK_CHUNK: usize = 250;

/// Writes a product's document if its version is still the expected one, listing it in its
/// indexes only while its vendor is not suspended, and records it among the vendor's products.
/// KEYS[1] the product hash, KEYS[2] its vendor's profile hash, KEYS[3] the vendor's product set,
/// KEYS[4..] the indexes. ARGV[1] expected version, ARGV[2] new version, ARGV[3] document,
/// ARGV[4] product id, then 'add' or 'rem' for each index.
/// Returns -1 when written, else the stored version.
pub(crate) const PRODUCT_WRITE: &str = r#"
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then return stored end
local suspended = redis.call('HGET', KEYS[2], 'status') == 'suspended'
local flag = '0'
if suspended then flag = '1' end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3], 'vendor_suspended', flag)
redis.call('SADD', KEYS[3], ARGV[4])
for i = 4, #KEYS do
  if ARGV[i + 1] == 'add' and not suspended then
    redis.call('ZADD', KEYS[i], 0, ARGV[4])
  else
    redis.call('ZREM', KEYS[i], ARGV[4])
  end
end
return -1
"#;

#[cfg(test)]
mod tests {
    use commerce_domain::{ContactEmail, Reason, UserId, VendorId, VendorName};

    use super::*;

    fn applied() -> VendorEvent {
        VendorEvent::VendorApplied {
            vendor_id: VendorId(Uuid::from_u128(1)),
            name: VendorName::parse("Ada's Atelier").unwrap(),
            contact_email: ContactEmail::parse("ada@example.com").unwrap(),
            applicant_id: UserId(Uuid::from_u128(2)),
        }
    }

    fn reason(text: &str) -> Reason {
        Reason::parse(text).unwrap()
    }

    #[test]
    fn the_profile_keeps_every_decision_with_its_reason() {
        let at = Utc::now();
        let vendor_id = VendorId(Uuid::from_u128(1));
        let doc = evolve(None, applied(), 1, at).unwrap();
        assert_eq!(doc.status, VendorStatus::Pending);
        let doc = evolve(
            Some(doc),
            VendorEvent::VendorApproved {
                vendor_id,
                reason: reason("documents checked"),
            },
            2,
            at,
        )
        .unwrap();
        let doc = evolve(
            Some(doc),
            VendorEvent::VendorSuspended {
                vendor_id,
                reason: reason("counterfeit goods reported"),
            },
            3,
            at,
        )
        .unwrap();
        let doc = evolve(
            Some(doc),
            VendorEvent::VendorReinstated {
                vendor_id,
                reason: reason("cleared"),
            },
            4,
            at,
        )
        .unwrap();
        assert_eq!(doc.status, VendorStatus::Approved);
        assert_eq!(doc.version, 4);
        let decisions: Vec<_> = doc
            .history
            .iter()
            .map(|d| (d.decision.as_str(), d.reason.as_str(), d.version))
            .collect();
        assert_eq!(
            decisions,
            [
                ("approved", "documents checked", 2),
                ("suspended", "counterfeit goods reported", 3),
                ("reinstated", "cleared", 4)
            ]
        );
    }

    #[test]
    fn a_decision_needs_an_application_and_an_application_comes_once() {
        let approved = VendorEvent::VendorApproved {
            vendor_id: VendorId(Uuid::from_u128(1)),
            reason: reason("ok"),
        };
        assert!(evolve(None, approved, 1, Utc::now()).is_err());
        let doc = evolve(None, applied(), 1, Utc::now()).unwrap();
        assert!(evolve(Some(doc), applied(), 2, Utc::now()).is_err());
    }
}
