//! The per-aggregate sequence guard every projector applies: an event lands only if it is the
//! next one the read model has for its aggregate.
use commerce_platform::envelope::EventEnvelope;

use crate::consumer::Outcome;
use crate::documents::WriteOutcome;
use crate::error::ProjectionError;

/// Duplicate or gap, from the event's sequence and the stored one; `None` when it is the next.
pub fn sequence_check(sequence: i64, stored: i64) -> Option<Outcome> {
    if sequence <= stored {
        Some(Outcome::Duplicate)
    } else if sequence > stored + 1 {
        Some(Outcome::Gap { have: stored })
    } else {
        None
    }
}

/// The CTE `advanced` of a statement that writes an event's effects only if it is its aggregate's
/// next (`$1` aggregate type, `$2` id, `$3` sequence): it advances the checkpoint in `table` when
/// `$3` is 1 and there is none, or the checkpoint is at `$3 - 1`, and holds one row then. The rest
/// of the statement writes under `WHERE EXISTS (SELECT 1 FROM advanced)`.
pub(crate) fn checkpoint_advance(table: &str) -> String {
    format!(
        "advanced AS ( \
           INSERT INTO {table} (aggregate_type, aggregate_id, version) \
           SELECT $1, $2, $3 WHERE $3 = 1 OR EXISTS (SELECT 1 FROM {table} \
               WHERE aggregate_type = $1 AND aggregate_id = $2) \
           ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = EXCLUDED.version \
           WHERE {table}.version = EXCLUDED.version - 1 \
           RETURNING 1)"
    )
}

/// Why a statement built on [`checkpoint_advance`] wrote nothing for `envelope`: a duplicate or a
/// gap, read from the checkpoint in `table`.
pub(crate) async fn refused_at_checkpoint(
    pool: &sqlx::PgPool,
    table: &str,
    envelope: &EventEnvelope,
) -> Result<Outcome, ProjectionError> {
    let stored: i64 = sqlx::query_scalar(&format!(
        "SELECT version FROM {table} WHERE aggregate_type = $1 AND aggregate_id = $2"
    ))
    .bind(&envelope.aggregate_type)
    .bind(&envelope.aggregate_id)
    .fetch_optional(pool)
    .await?
    .unwrap_or(0);
    // The next one after all: the write lost to a concurrent one of the same event; retried.
    sequence_check(envelope.sequence, stored).ok_or_else(|| {
        ProjectionError::Failed(anyhow::anyhow!(
            "{} {} event {} was refused at checkpoint {stored}",
            envelope.aggregate_type,
            envelope.aggregate_id,
            envelope.sequence
        ))
    })
}

/// The outcome of a conditional write of event `sequence`.
pub fn after_write(written: WriteOutcome, sequence: i64) -> Outcome {
    match written {
        WriteOutcome::Written => Outcome::Applied,
        // Someone else applied it between our read and write (e.g. a redelivery racing us).
        WriteOutcome::Stale { stored } if stored >= sequence => Outcome::Duplicate,
        WriteOutcome::Stale { stored } => Outcome::Gap { have: stored },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_next_sequence_is_applied() {
        assert_eq!(sequence_check(3, 3), Some(Outcome::Duplicate));
        assert_eq!(sequence_check(2, 3), Some(Outcome::Duplicate));
        assert_eq!(sequence_check(4, 3), None);
        assert_eq!(sequence_check(6, 3), Some(Outcome::Gap { have: 3 }));
    }
}
