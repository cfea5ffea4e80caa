//! Events stored in older shapes, lifted to the shapes this code reads before a projector (or a
//! rebuild) deserialises them: the same upcasters the command side loads aggregates through.
use std::sync::OnceLock;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

/// Every aggregate's upcasters, built once.
fn upcasters() -> &'static [Box<dyn EventUpcaster>] {
    static ALL: OnceLock<Vec<Box<dyn EventUpcaster>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = commerce_domain::product::product_upcasters();
        all.extend(commerce_domain::cart::cart_upcasters());
        all.extend(commerce_domain::order::order_upcasters());
        all
    })
}

/// Whether an `event_type` event stored at `event_version` is in an older shape.
pub fn is_old(event_type: &str, event_version: &str) -> bool {
    upcasters()
        .iter()
        .any(|upcaster| upcaster.can_upcast(event_type, event_version))
}

/// The typed event from its stored JSON text, upcast first when it is in an older shape (the
/// current shape is read straight from the text).
pub fn parse<T: serde::de::DeserializeOwned>(
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    event_version: &str,
    payload_json: &str,
) -> serde_json::Result<T> {
    if !is_old(event_type, event_version) {
        return serde_json::from_str(payload_json);
    }
    let payload = serde_json::from_str(payload_json)?;
    serde_json::from_value(current_shape(
        aggregate_type,
        aggregate_id,
        event_type,
        event_version,
        payload,
    ))
}

/// The typed event an envelope carries, upcast first when it is in an older shape.
pub fn read_event<T: serde::de::DeserializeOwned>(
    envelope: &commerce_platform::envelope::EventEnvelope,
) -> serde_json::Result<T> {
    serde_json::from_value(current_shape(
        &envelope.aggregate_type,
        &envelope.aggregate_id,
        &envelope.event_type,
        &envelope.event_version,
        envelope.payload.clone(),
    ))
}

/// `payload` of an `event_type` event stored at `event_version`, in the current shape.
pub fn current_shape(
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Value {
    if !is_old(event_type, event_version) {
        return payload;
    }
    let mut event = SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence: 0,
        aggregate_type: aggregate_type.to_owned(),
        event_type: event_type.to_owned(),
        event_version: event_version.to_owned(),
        payload,
        metadata: Value::Null,
    };
    for upcaster in upcasters() {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            event = upcaster.upcast(event);
        }
    }
    event.payload
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_product_created_before_categories_gets_the_default_one() {
        let old = json!({"type": "ProductCreated", "data": {"sku": "A"}});
        let lifted = current_shape("Product", "p", "ProductCreated", "0.9", old.clone());
        assert_eq!(
            lifted["data"]["category"],
            commerce_domain::product::UNCATEGORIZED
        );
        let current = current_shape("Product", "p", "ProductCreated", "1.0", old.clone());
        assert_eq!(current, old, "the current version is left alone");
    }
}
