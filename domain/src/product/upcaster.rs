use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::Value;

use super::ProductEvent;

/// The category given to products created before categories existed (`ProductCreated` 0.9).
pub const UNCATEGORIZED: &str = "uncategorized";

/// Upcasters that lift stored Product events to the shapes this code reads; hand them to the
/// event store when it is built.
pub fn product_upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "ProductCreated",
        ProductEvent::VERSION,
        Box::new(add_missing_category),
    ))]
}

/// `ProductCreated` before 1.0 had no `category`. The stored payload is the tagged enum
/// (`{"type": "ProductCreated", "data": {...}}`), so the field goes into `data`. A payload of
/// another shape is left alone for deserialisation to reject with a clear error.
fn add_missing_category(mut payload: Value) -> Value {
    if let Some(data) = payload.get_mut("data").and_then(Value::as_object_mut) {
        data.entry("category")
            .or_insert_with(|| Value::from(UNCATEGORIZED));
    }
    payload
}
