//! Reading Order events stored in older shapes: `OrderPlaced` 1.0 held the address as a string.
use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};

use super::OrderEvent;
use crate::address::address_in_parts;

/// Upcasters that lift stored Order events to the shapes this code reads; hand them to the event
/// store when it is built.
pub fn order_upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "OrderPlaced",
        OrderEvent::PLACED_VERSION,
        Box::new(address_in_parts),
    ))]
}
