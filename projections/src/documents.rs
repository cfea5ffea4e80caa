//! Redis hashes that hold a read-model document and the per-aggregate version guarding it.
//!
//! Each document is a hash: `doc` (JSON) plus one or more version fields, each the last applied
//! sequence of one aggregate stream feeding the document. A write names the version field it
//! advances and the value it expects there, and happens only if that is still what is stored, in
//! one atomic step with its index changes: the exactly-once guard for redelivered events.
use anyhow::Context;
use redis::aio::ConnectionManager;
use redis::Script;

use crate::consumer::Outcome;
use crate::error::ProjectionError;
use crate::sequence::{after_write, sequence_check};

/// Writes fields of a document hash if the version field still holds what the new values were
/// computed from, and maintains sorted-set indexes in the same step.
/// KEYS[1] the hash, KEYS[2..] index sets.
/// ARGV[1] version field, ARGV[2] expected version, ARGV[3] new version, ARGV[4] index member,
/// ARGV[5] number of field/value pairs n, then n pairs, then 'add' or 'rem' for each index key.
/// Returns -1 when written, else the stored version.
const CONDITIONAL_WRITE: &str = r#"
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if stored ~= tonumber(ARGV[2]) then return stored end
local pairs_count = tonumber(ARGV[5])
local args = {ARGV[1], ARGV[3]}
for i = 0, pairs_count - 1 do
  table.insert(args, ARGV[6 + 2 * i])
  table.insert(args, ARGV[7 + 2 * i])
end
redis.call('HSET', KEYS[1], unpack(args))
local ops = 6 + 2 * pairs_count
for i = 2, #KEYS do
  if ARGV[ops + i - 2] == 'add' then
    redis.call('ZADD', KEYS[i], 0, ARGV[4])
  else
    redis.call('ZREM', KEYS[i], ARGV[4])
  end
end
return -1
"#;

/// An index change that goes with a write.
#[derive(Debug, Clone)]
pub enum IndexChange {
    Add(String),
    Remove(String),
}

/// Sets `fields` of the hash `key` and advances `version_field` from `expected` to `new`, with
/// `indexes` changed for `member`.
pub struct GuardedWrite<'a> {
    pub key: &'a str,
    pub version_field: &'a str,
    pub expected: i64,
    pub new: i64,
    pub fields: &'a [(&'a str, String)],
    pub member: &'a str,
    pub indexes: &'a [IndexChange],
}

/// How a conditional write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The stored version moved on; here is what it is now.
    Stale {
        stored: i64,
    },
}

/// Access to document hashes.
#[derive(Clone)]
pub struct Documents {
    redis: ConnectionManager,
    write: Script,
}

impl Documents {
    pub fn new(redis: ConnectionManager) -> Self {
        Self {
            redis,
            write: Script::new(CONDITIONAL_WRITE),
        }
    }

    pub fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The value of `version_field` (0 if absent) and the document, if any.
    pub async fn load<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        version_field: &str,
    ) -> Result<(i64, Option<T>), ProjectionError> {
        let mut redis = self.redis.clone();
        let (version, doc): (Option<i64>, Option<String>) = redis::cmd("HMGET")
            .arg(key)
            .arg(version_field)
            .arg("doc")
            .query_async(&mut redis)
            .await?;
        let doc = doc
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .context("a stored document is not valid JSON")
            .map_err(ProjectionError::Failed)?;
        Ok((version.unwrap_or(0), doc))
    }

    /// Advances `version_field` of `key` to `sequence` if that is the next one, changing nothing
    /// else: how an event that cannot be projected is skipped.
    pub async fn advance(
        &self,
        key: &str,
        version_field: &str,
        sequence: i64,
    ) -> Result<Outcome, ProjectionError> {
        let (stored, _) = self.load::<serde_json::Value>(key, version_field).await?;
        if let Some(outcome) = sequence_check(sequence, stored) {
            return Ok(outcome);
        }
        let written = self
            .write_if(GuardedWrite {
                key,
                version_field,
                expected: stored,
                new: sequence,
                fields: &[],
                member: "",
                indexes: &[],
            })
            .await?;
        Ok(after_write(written, sequence))
    }

    /// Performs `write` only if its version field still holds what it expects.
    pub async fn write_if(&self, write: GuardedWrite<'_>) -> Result<WriteOutcome, ProjectionError> {
        let GuardedWrite {
            key,
            version_field,
            expected,
            new,
            fields,
            member,
            indexes,
        } = write;
        let mut invocation = self.write.key(key);
        for change in indexes {
            match change {
                IndexChange::Add(index) | IndexChange::Remove(index) => {
                    invocation.key(index);
                }
            }
        }
        invocation
            .arg(version_field)
            .arg(expected)
            .arg(new)
            .arg(member)
            .arg(fields.len());
        for (name, value) in fields {
            invocation.arg(*name).arg(value);
        }
        for change in indexes {
            invocation.arg(match change {
                IndexChange::Add(_) => "add",
                IndexChange::Remove(_) => "rem",
            });
        }
        let mut redis = self.redis.clone();
        let result: i64 = invocation.invoke_async(&mut redis).await?;
        Ok(match result {
            -1 => WriteOutcome::Written,
            stored => WriteOutcome::Stale { stored },
        })
    }
}

/// Reads the live generation of a model (`{prefix}{model}:current`), 1 if none was swapped in.
pub async fn live_generation(
    redis: &mut ConnectionManager,
    current_key: &str,
) -> redis::RedisResult<u64> {
    let current: Option<u64> = redis::cmd("GET")
        .arg(current_key)
        .query_async(redis)
        .await?;
    Ok(current.unwrap_or(1))
}

/// Creates the generation marker if absent, and returns the live generation.
pub async fn start_generation(
    redis: &mut ConnectionManager,
    current_key: &str,
) -> anyhow::Result<u64> {
    let _: Option<String> = redis::cmd("SET")
        .arg(current_key)
        .arg(1)
        .arg("NX")
        .query_async(redis)
        .await
        .context("initialising a read model generation")?;
    Ok(live_generation(redis, current_key).await?)
}

/// How long a projector trusts the live generation it last read before reading it again: a
/// rebuild's swap reaches every projector within this, and costs no read per event.
const GENERATION_REFRESH: std::time::Duration = std::time::Duration::from_millis(100);

/// The generation a projector writes into: a fixed one (a rebuild's), or the live one, followed
/// as rebuilds swap it (re-read at most every [`GENERATION_REFRESH`]).
pub enum Generation {
    Fixed(u64),
    Live {
        current_key: String,
        redis: ConnectionManager,
        last: std::sync::Mutex<(u64, std::time::Instant)>,
    },
}

impl Generation {
    /// Follows the live generation named by `current_key`, creating its marker if absent.
    pub async fn live(mut redis: ConnectionManager, current_key: String) -> anyhow::Result<Self> {
        let generation = start_generation(&mut redis, &current_key).await?;
        Ok(Generation::Live {
            current_key,
            redis,
            last: std::sync::Mutex::new((generation, std::time::Instant::now())),
        })
    }

    pub async fn get(&self) -> Result<u64, ProjectionError> {
        match self {
            Generation::Fixed(generation) => Ok(*generation),
            Generation::Live {
                current_key,
                redis,
                last,
            } => {
                let cached = *last.lock().unwrap_or_else(|e| e.into_inner());
                if cached.1.elapsed() < GENERATION_REFRESH {
                    return Ok(cached.0);
                }
                let mut redis = redis.clone();
                let generation = live_generation(&mut redis, current_key).await?;
                *last.lock().unwrap_or_else(|e| e.into_inner()) =
                    (generation, std::time::Instant::now());
                Ok(generation)
            }
        }
    }
}
