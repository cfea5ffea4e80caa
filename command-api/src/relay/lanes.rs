//! Lanes: the long-lived workers that publish claimed events, several at once, while each
//! aggregate's events stay in one lane and in order.
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use tokio::sync::{mpsc, oneshot};

use super::batches::{publish_in_order, Publisher, Stop, SNS_BATCH_LIMIT};
use super::PendingEvent;

/// One lane's share of a claim, and where to report what SNS did with it.
pub struct LaneWork {
    pub events: Vec<PendingEvent>,
    pub reply: oneshot::Sender<LaneOutcome>,
}

/// What became of one [`LaneWork`].
pub struct LaneOutcome {
    pub acknowledged: Vec<i64>,
    /// Why the lane stopped short of this work's end; it publishes nothing more after a stop.
    pub stopped: Option<Stop>,
}

/// Publishes every piece of work it receives, in order. Work that queued up while it was busy is
/// published as one sequence, so batches stay full. After a stop it publishes nothing more until
/// the pipeline restarts, since what follows may belong to the stopped event's aggregate.
pub async fn lane_worker(publisher: Publisher, mut work: mpsc::Receiver<LaneWork>) {
    let mut stopped: Option<Stop> = None;
    while let Some(first) = work.recv().await {
        let mut items = vec![first];
        while let Ok(more) = work.try_recv() {
            items.push(more);
        }
        let positions: Vec<Vec<i64>> = items
            .iter()
            .map(|item| item.events.iter().map(|e| e.global_position).collect())
            .collect();
        let mut acknowledged = Vec::new();
        if stopped.is_none() {
            let events: Vec<PendingEvent> = items
                .iter_mut()
                .flat_map(|item| std::mem::take(&mut item.events))
                .collect();
            let published = publish_in_order(&publisher, &events).await;
            acknowledged = published.acknowledged;
            stopped = published.stopped;
        }
        // Acknowledgements are a prefix of the combined sequence: hand each item its part, and the
        // stop to every item left short (a rejection only to the item holding that event).
        let mut acknowledged = acknowledged.into_iter();
        for (item, positions) in items.into_iter().zip(positions) {
            let mine: Vec<i64> = acknowledged.by_ref().take(positions.len()).collect();
            let short = mine.len() < positions.len();
            let stop = match &stopped {
                Some(Stop::Rejected(r)) if !positions.contains(&r.global_position) => {
                    short.then_some(Stop::Unavailable)
                }
                other => other.clone().filter(|_| short),
            };
            let _ = item.reply.send(LaneOutcome {
                acknowledged: mine,
                stopped: stop,
            });
        }
    }
}

/// Decides which lane publishes each claimed event.
///
/// An aggregate with events still in flight stays in the lane that has them (per-aggregate order);
/// every other aggregate goes where there is least work. Lanes are filled in slices that are
/// multiples of ten, so PublishBatch calls go out full, as in the raw ceiling.
pub struct LaneAssigner {
    /// Events queued or publishing per lane.
    load: Vec<usize>,
    /// Aggregates with events in flight: their lane and how many events.
    in_flight: HashMap<String, (usize, usize)>,
    /// What each unfinished claim put where, to release on completion.
    claims: HashMap<u64, Vec<(String, usize)>>,
    /// Events per slice before moving to another lane: the claim spread over the lanes, rounded
    /// up to whole batches.
    slice: usize,
}

impl LaneAssigner {
    pub fn new(lanes: usize, claim_limit: usize) -> Self {
        let per_lane = claim_limit.div_ceil(lanes.max(1));
        Self {
            load: vec![0; lanes.max(1)],
            in_flight: HashMap::new(),
            claims: HashMap::new(),
            slice: per_lane.div_ceil(SNS_BATCH_LIMIT).max(1) * SNS_BATCH_LIMIT,
        }
    }

    fn least_loaded(&self, out: &[Vec<PendingEvent>]) -> usize {
        (0..self.load.len())
            .min_by_key(|&lane| self.load[lane] + out[lane].len())
            .unwrap_or(0)
    }

    pub fn assign(&mut self, claim_id: u64, pending: Vec<PendingEvent>) -> Vec<Vec<PendingEvent>> {
        let mut out: Vec<Vec<PendingEvent>> = (0..self.load.len()).map(|_| Vec::new()).collect();
        let mut placed: HashMap<String, usize> = HashMap::new();
        let mut filling: Option<usize> = None;
        for event in pending {
            let lane = if let Some(&(lane, _)) = self.in_flight.get(&event.aggregate_id) {
                lane
            } else if let Some(&lane) = placed.get(&event.aggregate_id) {
                lane
            } else {
                match filling {
                    Some(lane) if out[lane].len() < self.slice => lane,
                    _ => {
                        let lane = self.least_loaded(&out);
                        filling = Some(lane);
                        lane
                    }
                }
            };
            placed.insert(event.aggregate_id.clone(), lane);
            self.in_flight
                .entry(event.aggregate_id.clone())
                .or_insert((lane, 0))
                .1 += 1;
            self.claims
                .entry(claim_id)
                .or_default()
                .push((event.aggregate_id.clone(), lane));
            out[lane].push(event);
        }
        for (lane, events) in out.iter().enumerate() {
            self.load[lane] += events.len();
        }
        out
    }

    pub fn release(&mut self, claim_id: u64) {
        for (aggregate, lane) in self.claims.remove(&claim_id).unwrap_or_default() {
            self.load[lane] = self.load[lane].saturating_sub(1);
            if let Some(entry) = self.in_flight.get_mut(&aggregate) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.in_flight.remove(&aggregate);
                }
            }
        }
    }
}

/// Groups events into `lanes` lanes by a hash of their aggregate id, keeping their order: for a
/// single claim published on its own (no pipeline).
pub fn split_into_lanes(pending: Vec<PendingEvent>, lanes: usize) -> Vec<Vec<PendingEvent>> {
    let lanes = lanes.max(1);
    let mut out: Vec<Vec<PendingEvent>> = (0..lanes).map(|_| Vec::new()).collect();
    for event in pending {
        let mut hasher = DefaultHasher::new();
        event.aggregate_id.hash(&mut hasher);
        out[(hasher.finish() % lanes as u64) as usize].push(event);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn event(aggregate: &str, position: i64) -> PendingEvent {
        PendingEvent {
            global_position: position,
            event_id: Uuid::now_v7(),
            aggregate_type: "Product".into(),
            aggregate_id: aggregate.into(),
            event_type: "E".into(),
            body: String::new(),
        }
    }

    #[test]
    fn the_assigner_fills_whole_batches_and_keeps_in_flight_aggregates_in_their_lane() {
        let mut assigner = LaneAssigner::new(4, 80);
        let first: Vec<_> = (0..80).map(|i| event(&format!("a{i}"), i)).collect();
        let lanes = assigner.assign(0, first);
        for lane in &lanes {
            assert_eq!(lane.len() % SNS_BATCH_LIMIT, 0, "whole batches only");
        }
        let lane_of_a5 = lanes
            .iter()
            .position(|l| l.iter().any(|e| e.aggregate_id == "a5"))
            .unwrap();
        // While claim 0 is in flight, a5's next event must follow it in the same lane.
        let second = assigner.assign(1, vec![event("a5", 100), event("new", 101)]);
        assert_eq!(
            second[lane_of_a5].first().map(|e| e.global_position),
            Some(100)
        );
        // Once claim 0 is done, a5 is free to go anywhere; nothing stays accounted.
        assigner.release(0);
        assigner.release(1);
        assert!(assigner.in_flight.is_empty());
        assert!(assigner.load.iter().all(|&l| l == 0));
    }

    #[test]
    fn lanes_keep_each_aggregates_events_together_and_in_order() {
        let pending: Vec<_> = (0..100).map(|i| event(&format!("a{}", i % 7), i)).collect();
        let lanes = split_into_lanes(pending, 4);
        assert_eq!(lanes.len(), 4);
        for lane in &lanes {
            assert!(lane
                .windows(2)
                .all(|w| w[0].global_position < w[1].global_position));
        }
        for aggregate in (0..7).map(|i| format!("a{i}")) {
            let holding = lanes
                .iter()
                .filter(|l| l.iter().any(|e| e.aggregate_id == aggregate))
                .count();
            assert_eq!(holding, 1, "{aggregate} is in exactly one lane");
        }
    }
}
