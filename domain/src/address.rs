//! Where an order goes: a shipping address in validated parts, its ISO 3166-1 alpha-2 country, and
//! how addresses stored before they had parts (one free-text string) are read.
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ValidationError;

/// ISO 3166-1 alpha-2: every officially assigned code, sorted for a binary search. A closed list,
/// so a plausible typo ("UK", "EU") is refused rather than handed to a carrier.
const ISO_3166_ALPHA_2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(&'static str);

impl CountryCode {
    /// Every assigned code, sorted: the values the API documents as allowed.
    pub const ALL: &'static [&'static str] = &ISO_3166_ALPHA_2;

    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        ISO_3166_ALPHA_2
            .binary_search(&code)
            .map(|i| Self(ISO_3166_ALPHA_2[i]))
            .map_err(|_| {
                ValidationError::new(
                    "country",
                    format!("{code:?} is not an ISO 3166-1 alpha-2 country code (upper case)"),
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.0.to_owned()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A shipping address as the client sent it, part by part, not yet validated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressParts<'a> {
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub region: Option<&'a str>,
    pub postal_code: &'a str,
    pub country: &'a str,
}

/// Where an order goes, in the parts carriers, taxes and per-vendor shipping need.
///
/// [`ShippingAddress::new`] validates every part at the edge. Deserialisation reads every form an
/// address was ever stored in, each by the rules it was accepted under: an address in parts goes
/// through [`ShippingAddress::new`] again (so a stored event cannot smuggle in a bad part), while
/// an address from before addresses had parts (`CartCheckedOut`/`OrderPlaced` before 2.0, one
/// free-text string) is read by that older rule into `line1`, every other part empty or absent.
/// The string itself is read too, not only its upcast form `{"line1": …}`: projectors receive
/// relayed payloads without the command side's upcasters, and old messages may still be queued.
///
/// An address is personal data, stored sealed under its customer's key (see
/// [`crate::personal_data`]). A reader that does not open it (the command side, which decides
/// nothing on it, or the saga) reads it as [`Withheld::Sealed`]; a reader that opens it after the
/// customer's key was deleted reads `{"$erased": true}` as [`Withheld::Erased`]. A withheld
/// address has no parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "StoredAddress")]
pub struct ShippingAddress {
    /// Boxed: the events that carry an address stay as small as their other variants.
    parts: Box<Parts>,
}

/// Why an address has no parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Withheld {
    /// Still sealed: this reader did not open it.
    Sealed,
    /// Erased: its customer's key was deleted (crypto-shredding).
    Erased,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
struct Parts {
    /// Who receives the parcel.
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line2: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    city: String,
    /// State, province or county, where the country uses one.
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    postal_code: String,
    /// Absent only on an address stored before addresses had parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<CountryCode>,
    #[serde(skip)]
    withheld: Option<Withheld>,
}

impl Serialize for ShippingAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.parts.withheld {
            None => self.parts.serialize(serializer),
            Some(withheld) => {
                let mut map = serializer.serialize_map(Some(1))?;
                match withheld {
                    Withheld::Erased => map.serialize_entry(ERASED, &true)?,
                    Withheld::Sealed => map.serialize_entry(SEALED, &true)?,
                }
                map.end()
            }
        }
    }
}

/// The field of a stored value that is sealed (its ciphertext and key id inside).
pub const SEALED: &str = "$sealed";
/// The field that stands for a value whose key was deleted: `{"$erased": true}`.
pub const ERASED: &str = "$erased";

impl ShippingAddress {
    pub const NAME_MAX: usize = 100;
    pub const LINE_MAX: usize = 200;
    pub const CITY_MAX: usize = 100;
    pub const REGION_MAX: usize = 100;
    pub const POSTAL_CODE_MAX: usize = 20;
    /// The free text of an address stored before addresses had parts, as it was bounded then.
    const UNSTRUCTURED_MAX: usize = 500;

    /// The JSON Schema (ECMA-262) form of a required text part's rule: no control characters and
    /// something other than spaces. Bounds are checked on the text as sent, then surrounding
    /// spaces are dropped, so the API document and this check agree on every value.
    pub const TEXT_PATTERN: &'static str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*\
        [^ \\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";
    /// An optional text part: no control characters; empty or only spaces counts as absent.
    pub const OPTIONAL_TEXT_PATTERN: &'static str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
    /// A postal code: ASCII letters, digits, spaces and `-`, with at least one letter or digit.
    pub const POSTAL_CODE_PATTERN: &'static str = "^[A-Za-z0-9 -]*[A-Za-z0-9][A-Za-z0-9 -]*$";

    /// Validates each part; a refusal names the part (`shipping_address.postal_code`, …).
    pub fn new(parts: AddressParts<'_>) -> Result<Self, ValidationError> {
        Ok(Self::from(Parts {
            name: required_text("shipping_address.name", parts.name, Self::NAME_MAX)?,
            line1: required_text("shipping_address.line1", parts.line1, Self::LINE_MAX)?,
            line2: optional_text("shipping_address.line2", parts.line2, Self::LINE_MAX)?,
            city: required_text("shipping_address.city", parts.city, Self::CITY_MAX)?,
            region: optional_text("shipping_address.region", parts.region, Self::REGION_MAX)?,
            postal_code: postal_code(parts.postal_code)?,
            country: Some(CountryCode::parse(parts.country).map_err(|refused| {
                ValidationError::new("shipping_address.country", refused.reason)
            })?),
            withheld: None,
        }))
    }

    /// An address stored before addresses had parts: the text as the customer wrote it (it may
    /// span lines), checked by the rule it was accepted under then.
    fn unstructured(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if !(1..=Self::UNSTRUCTURED_MAX).contains(&text.chars().count()) {
            return Err(ValidationError::new(
                "shipping_address",
                format!("must be 1 to {} characters long", Self::UNSTRUCTURED_MAX),
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ValidationError::new(
                "shipping_address",
                "must not contain control characters other than newlines",
            ));
        }
        Ok(Self::from(Parts {
            name: String::new(),
            line1: text.to_owned(),
            line2: None,
            city: String::new(),
            region: None,
            postal_code: String::new(),
            country: None,
            withheld: None,
        }))
    }

    /// An address whose customer's key was deleted: no parts left.
    pub fn erased() -> Self {
        Self::withheld_as(Withheld::Erased)
    }

    fn withheld_as(withheld: Withheld) -> Self {
        Self::from(Parts {
            name: String::new(),
            line1: String::new(),
            line2: None,
            city: String::new(),
            region: None,
            postal_code: String::new(),
            country: None,
            withheld: Some(withheld),
        })
    }

    /// Why this address has no parts, when it has none.
    pub fn withheld(&self) -> Option<Withheld> {
        self.parts.withheld
    }

    /// Empty on an address stored before addresses had parts.
    pub fn name(&self) -> &str {
        &self.parts.name
    }

    /// On an address stored before addresses had parts, its whole free text.
    pub fn line1(&self) -> &str {
        &self.parts.line1
    }

    pub fn line2(&self) -> Option<&str> {
        self.parts.line2.as_deref()
    }

    /// Empty on an address stored before addresses had parts.
    pub fn city(&self) -> &str {
        &self.parts.city
    }

    pub fn region(&self) -> Option<&str> {
        self.parts.region.as_deref()
    }

    /// Empty on an address stored before addresses had parts.
    pub fn postal_code(&self) -> &str {
        &self.parts.postal_code
    }

    /// `None` only on an address stored before addresses had parts.
    pub fn country(&self) -> Option<CountryCode> {
        self.parts.country
    }
}

impl From<Parts> for ShippingAddress {
    fn from(parts: Parts) -> Self {
        Self {
            parts: Box::new(parts),
        }
    }
}

/// Every form an address was stored in; see [`ShippingAddress`].
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredAddress {
    /// Before 2.0: one free-text string.
    Text(String),
    /// Sealed, or erased (see [`Withheld`]).
    Withheld(WithheldMarker),
    /// 2.0: parts, or `{"line1": …}` alone for an upcast 1.0 address.
    Parts(StoredParts),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithheldMarker {
    #[serde(rename = "$sealed", default)]
    sealed: Option<serde_json::Value>,
    #[serde(rename = "$erased", default)]
    erased: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredParts {
    name: Option<String>,
    line1: String,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

impl TryFrom<StoredAddress> for ShippingAddress {
    type Error = ValidationError;
    fn try_from(stored: StoredAddress) -> Result<Self, Self::Error> {
        let parts = match stored {
            StoredAddress::Text(text) => return Self::unstructured(&text),
            StoredAddress::Withheld(WithheldMarker {
                erased: Some(true), ..
            }) => return Ok(Self::withheld_as(Withheld::Erased)),
            StoredAddress::Withheld(WithheldMarker {
                sealed: Some(_), ..
            }) => return Ok(Self::withheld_as(Withheld::Sealed)),
            StoredAddress::Withheld(_) => {
                return Err(ValidationError::new(
                    "shipping_address",
                    "must be an address, sealed or erased",
                ))
            }
            StoredAddress::Parts(parts) => parts,
        };
        let only_line1 = parts.name.is_none()
            && parts.line2.is_none()
            && parts.city.is_none()
            && parts.region.is_none()
            && parts.postal_code.is_none()
            && parts.country.is_none();
        if only_line1 {
            return Self::unstructured(&parts.line1);
        }
        Self::new(AddressParts {
            name: parts.name.as_deref().unwrap_or_default(),
            line1: &parts.line1,
            line2: parts.line2.as_deref(),
            city: parts.city.as_deref().unwrap_or_default(),
            region: parts.region.as_deref(),
            postal_code: parts.postal_code.as_deref().unwrap_or_default(),
            country: parts.country.as_deref().unwrap_or_default(),
        })
    }
}

/// Lifts a `CartCheckedOut` or `OrderPlaced` payload stored before 2.0, whose
/// `data.shipping_address` is the free text, to the 2.0 shape: the text in `line1`, no other
/// part. A payload of another shape is left alone for deserialisation to reject or read.
pub(crate) fn address_in_parts(mut payload: Value) -> Value {
    if let Some(address) = payload
        .get_mut("data")
        .and_then(|data| data.get_mut("shipping_address"))
    {
        if let Value::String(text) = address {
            let line1 = std::mem::take(text);
            *address = serde_json::json!({ "line1": line1 });
        }
    }
    payload
}

/// Whether a character may appear in a text part: not a control character.
fn printable(c: char) -> bool {
    !c.is_control()
}

/// A part that must be given: 1 to `max` characters as sent, no control characters, something
/// other than spaces; stored without surrounding spaces.
fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
    let len = value.chars().count();
    if !(1..=max).contains(&len) {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters long, got {len}"),
        ));
    }
    if !value.chars().all(printable) {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain control characters (one line of text), got {}",
                crate::error::quoted(value)
            ),
        ));
    }
    let trimmed = value.trim_matches(' ');
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be blank"));
    }
    Ok(trimmed.to_owned())
}

/// A part that may be left out: up to `max` characters as sent, no control characters; absent
/// when missing, empty or only spaces.
fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters long, got {len}"),
        ));
    }
    if !value.chars().all(printable) {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain control characters (one line of text), got {}",
                crate::error::quoted(value)
            ),
        ));
    }
    let trimmed = value.trim_matches(' ');
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn postal_code(value: &str) -> Result<String, ValidationError> {
    const FIELD: &str = "shipping_address.postal_code";
    let max = ShippingAddress::POSTAL_CODE_MAX;
    let len = value.chars().count();
    if !(1..=max).contains(&len) {
        return Err(ValidationError::new(
            FIELD,
            format!("must be 1 to {max} characters long, got {len}"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-'))
        || !value.chars().any(|c| c.is_ascii_alphanumeric())
    {
        return Err(ValidationError::new(
            FIELD,
            format!(
                "may contain only ASCII letters, digits, spaces and '-', and at least one letter \
                 or digit, got {}",
                crate::error::quoted(value)
            ),
        ));
    }
    Ok(value.trim_matches(' ').to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parts() -> AddressParts<'static> {
        AddressParts {
            name: "Ada Lovelace",
            line1: "12 St James's Square",
            line2: Some("Flat 3"),
            city: "London",
            region: None,
            postal_code: "SW1Y 4JH",
            country: "GB",
        }
    }

    #[test]
    fn the_country_list_is_sorted_complete_and_every_code_is_found() {
        assert!(ISO_3166_ALPHA_2.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(CountryCode::ALL.len(), 249, "every assigned code");
        for code in CountryCode::ALL {
            assert_eq!(CountryCode::parse(code).map(CountryCode::as_str), Ok(*code));
        }
        for refused in ["UK", "EU", "XX", "gb", "GBR", "", "G"] {
            assert!(CountryCode::parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_address_in_valid_parts_is_kept_without_surrounding_spaces() {
        let address = ShippingAddress::new(AddressParts {
            name: " Ada Lovelace ",
            region: Some("  "),
            ..parts()
        })
        .expect("valid");
        assert_eq!(address.name(), "Ada Lovelace");
        assert_eq!(address.line2(), Some("Flat 3"));
        assert_eq!(address.region(), None, "only spaces is no region");
        assert_eq!(address.country().map(CountryCode::as_str), Some("GB"));
    }

    #[test]
    fn each_invalid_part_is_refused_naming_the_part() {
        let long = "x".repeat(201);
        let cases: [(AddressParts, &str); 10] = [
            (
                AddressParts {
                    name: "",
                    ..parts()
                },
                "shipping_address.name",
            ),
            (
                AddressParts {
                    name: "   ",
                    ..parts()
                },
                "shipping_address.name",
            ),
            (
                AddressParts {
                    line1: &long,
                    ..parts()
                },
                "shipping_address.line1",
            ),
            (
                AddressParts {
                    line1: "a\nb",
                    ..parts()
                },
                "shipping_address.line1",
            ),
            (
                AddressParts {
                    line2: Some(&long),
                    ..parts()
                },
                "shipping_address.line2",
            ),
            (
                AddressParts {
                    city: "",
                    ..parts()
                },
                "shipping_address.city",
            ),
            (
                AddressParts {
                    region: Some("\t"),
                    ..parts()
                },
                "shipping_address.region",
            ),
            (
                AddressParts {
                    postal_code: "SW1Y_4JH",
                    ..parts()
                },
                "shipping_address.postal_code",
            ),
            (
                AddressParts {
                    postal_code: " - ",
                    ..parts()
                },
                "shipping_address.postal_code",
            ),
            (
                AddressParts {
                    country: "UK",
                    ..parts()
                },
                "shipping_address.country",
            ),
        ];
        for (parts, field) in cases {
            let refused = ShippingAddress::new(parts).expect_err(field);
            assert_eq!(refused.field, field, "{parts:?}");
        }
    }

    #[test]
    fn an_address_in_parts_round_trips_and_is_validated_again_when_read() {
        let address = ShippingAddress::new(parts()).expect("valid");
        let stored = serde_json::to_value(&address).expect("serialises");
        assert_eq!(
            stored,
            json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "Flat 3",
                   "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"})
        );
        assert_eq!(
            serde_json::from_value::<ShippingAddress>(stored.clone()).ok(),
            Some(address)
        );
        let mut smuggled = stored;
        smuggled["country"] = json!("XX");
        assert!(serde_json::from_value::<ShippingAddress>(smuggled).is_err());
    }

    #[test]
    fn an_address_stored_as_free_text_reads_into_line1_in_either_form() {
        let text = "1 Main St\nSpringfield";
        let from_string: ShippingAddress = serde_json::from_value(json!(text)).expect("1.0 form");
        let upcast: ShippingAddress =
            serde_json::from_value(json!({ "line1": text })).expect("upcast form");
        assert_eq!(from_string, upcast);
        assert_eq!(upcast.line1(), text);
        assert_eq!(
            (upcast.name(), upcast.city(), upcast.postal_code()),
            ("", "", "")
        );
        assert_eq!(upcast.country(), None);
        assert_eq!(
            serde_json::to_value(&upcast).ok(),
            Some(json!({ "line1": text }))
        );
        assert!(serde_json::from_value::<ShippingAddress>(json!("  ")).is_err());
        assert!(
            serde_json::from_value::<ShippingAddress>(json!({"line1": "x", "colour": "red"}))
                .is_err()
        );
    }

    #[test]
    fn a_stored_free_text_address_is_lifted_into_line1() {
        let lifted = address_in_parts(json!({"type": "OrderPlaced", "data": {
            "order_id": "o", "shipping_address": "1 Main St"}}));
        assert_eq!(
            lifted["data"]["shipping_address"],
            json!({"line1": "1 Main St"})
        );
        let current = json!({"type": "OrderPlaced", "data": {"shipping_address": {"line1": "x"}}});
        assert_eq!(
            address_in_parts(current.clone()),
            current,
            "2.0 is left alone"
        );
    }
}
