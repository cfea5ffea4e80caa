//! Which fields of which events hold personal data, and whose.
//!
//! Those fields are stored sealed under a key of their subject's (crypto-shredding): deleting the
//! key erases them from every copy of the event (the store, the outbox, queued messages, backups)
//! while every other field still replays. The sealing itself is I/O and lives with the store; the
//! rules live here, next to the events they describe.

/// Personal data in one event type: the fields of its `data` that hold it, and the field naming
/// the person it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonalFields {
    pub event_type: &'static str,
    /// The field of `data` holding the subject's id (a UUID).
    pub subject: &'static str,
    /// The fields of `data` sealed under the subject's key.
    pub fields: &'static [&'static str],
}

/// Every event type with personal data. A shipping address names a person and where they live;
/// a vendor's contact address is often a person's own.
pub const PERSONAL_DATA: &[PersonalFields] = &[
    PersonalFields {
        event_type: "CartCheckedOut",
        subject: "customer_id",
        fields: &["shipping_address"],
    },
    PersonalFields {
        event_type: "OrderPlaced",
        subject: "customer_id",
        fields: &["shipping_address"],
    },
    PersonalFields {
        event_type: "VendorApplied",
        subject: "applicant_id",
        fields: &["contact_email"],
    },
];

/// The personal fields of `event_type`, if it has any.
pub fn personal_fields(event_type: &str) -> Option<&'static PersonalFields> {
    PERSONAL_DATA.iter().find(|p| p.event_type == event_type)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::cart::CartEvent;
    use crate::order::OrderEvent;
    use crate::vendor::VendorEvent;
    use crate::{ContactEmail, ShippingAddress, Withheld};

    fn data() -> Value {
        let eur = json!({"amount_minor": 500, "currency": "EUR"});
        json!({"cart_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708101",
               "order_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708102",
               "customer_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708103",
               "lines": [{"product_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708104",
                          "vendor_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708105",
                          "quantity": 1, "unit_price": eur, "line_total": eur}],
               "total": eur, "payment_token": "tok_ok",
               "shipping_address": {"name": "Ada Lovelace", "line1": "Unter den Linden 1",
                                    "city": "Berlin", "postal_code": "10117", "country": "DE"}})
    }

    fn vendor_data() -> Value {
        json!({"vendor_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708105", "name": "Ada's Atelier",
               "contact_email": "ada@example.com",
               "applicant_id": "0191e5c4-3f7a-7c2e-9b1d-4a5e6f708103"})
    }

    /// Each rule names fields the event really has, and a subject that is the customer's id.
    #[test]
    fn every_rule_names_fields_of_its_event() {
        for rule in PERSONAL_DATA {
            let mut data = match rule.event_type {
                "VendorApplied" => vendor_data(),
                _ => data(),
            };
            if rule.event_type == "OrderPlaced" {
                data.as_object_mut().map(|d| d.remove("cart_id"));
            }
            let payload = json!({"type": rule.event_type, "data": data});
            let round_trip = match rule.event_type {
                "CartCheckedOut" => serde_json::to_value(
                    serde_json::from_value::<CartEvent>(payload).expect("a CartEvent"),
                ),
                "OrderPlaced" => serde_json::to_value(
                    serde_json::from_value::<OrderEvent>(payload).expect("an OrderEvent"),
                ),
                "VendorApplied" => serde_json::to_value(
                    serde_json::from_value::<VendorEvent>(payload).expect("a VendorEvent"),
                ),
                other => panic!("no sample for {other}"),
            }
            .expect("serialises");
            assert!(round_trip["data"][rule.subject].is_string(), "{rule:?}");
            for field in rule.fields {
                assert!(round_trip["data"].get(field).is_some(), "{rule:?}: {field}");
            }
        }
    }

    #[test]
    fn a_sealed_or_erased_address_reads_as_withheld_and_writes_back_the_same() {
        let sealed: ShippingAddress =
            serde_json::from_value(json!({"$sealed": {"key": "k", "nonce": "n", "data": "d"}}))
                .expect("sealed");
        assert_eq!(sealed.withheld(), Some(Withheld::Sealed));
        assert_eq!(sealed.line1(), "");
        let erased: ShippingAddress =
            serde_json::from_value(json!({"$erased": true})).expect("erased");
        assert_eq!(erased, ShippingAddress::erased());
        assert_eq!(
            serde_json::to_value(&erased).expect("json"),
            json!({"$erased": true})
        );
        assert!(serde_json::from_value::<ShippingAddress>(json!({"$erased": false})).is_err());
        assert!(serde_json::from_value::<ShippingAddress>(json!({})).is_err());
    }

    #[test]
    fn a_sealed_or_erased_contact_email_reads_as_withheld_and_writes_back_the_same() {
        let sealed: ContactEmail =
            serde_json::from_value(json!({"$sealed": {"key": "k", "nonce": "n", "data": "d"}}))
                .expect("sealed");
        assert_eq!(sealed.withheld(), Some(Withheld::Sealed));
        assert_eq!(sealed.as_str(), "");
        let erased: ContactEmail =
            serde_json::from_value(json!({"$erased": true})).expect("erased");
        assert_eq!(erased.withheld(), Some(Withheld::Erased));
        assert_eq!(
            serde_json::to_value(&erased).expect("json"),
            json!({"$erased": true})
        );
        let open: ContactEmail = serde_json::from_value(json!("ada@example.com")).expect("open");
        assert_eq!(open.withheld(), None);
        assert_eq!(
            serde_json::to_value(&open).expect("json"),
            json!("ada@example.com")
        );
        assert!(serde_json::from_value::<ContactEmail>(json!({"$erased": false})).is_err());
        assert!(serde_json::from_value::<ContactEmail>(json!("not an address")).is_err());
    }
}
