//! The per-aggregate sequence guard every projector applies: an event lands only if it is the
//! next one the read model has for its aggregate.
use crate::consumer::Outcome;
use crate::documents::WriteOutcome;

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
