//! Reading Cart events stored in older shapes: `CartCheckedOut` 1.0 held the address as a string.
use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};

use super::CartEvent;
use crate::address::address_in_parts;

/// Upcasters that lift stored Cart events to the shapes this code reads; hand them to the event
/// store when it is built.
pub fn cart_upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "CartCheckedOut",
        CartEvent::CHECKED_OUT_VERSION,
        Box::new(address_in_parts),
    ))]
}
