//! The API document and the handlers agree on every bound of every request value: each sample
//! the document allows is accepted by the parser its handler uses, and each it forbids is refused.
//! (`infra/local/fuzz-openapi` checks the same against the running services with generated data;
//! these tests pin it value by value, edge by edge.) The helpers also serve the address test in
//! `carts`.
use commerce_domain::order::CancelReason;
use commerce_domain::{
    Category, Currency, Description, Money, PaymentToken, Quantity, Sku, Title, TrackingNumber,
};
use serde_json::{json, Value};
use utoipa::OpenApi;

use super::carts::line_quantity;

/// The command API's document as served at `/openapi.json`.
pub(crate) fn document() -> Value {
    serde_json::to_value(crate::ApiDoc::openapi()).expect("document")
}

/// JSON Schema patterns are ECMA-262: `\uXXXX` there is `\x{XXXX}` for regex-lite.
fn ecma_to_regex_lite(pattern: &str) -> String {
    let mut translated = String::new();
    let mut rest = pattern;
    while let Some(at) = rest.find("\\u") {
        translated.push_str(&rest[..at]);
        translated.push_str(&format!("\\x{{{}}}", &rest[at + 2..at + 6]));
        rest = &rest[at + 6..];
    }
    translated.push_str(rest);
    translated
}

/// Whether `schema` (one property's) admits `value`, for the keywords the documents use.
pub(crate) fn documented_allows(schema: &Value, value: &Value) -> bool {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let listed = schema["enum"]
        .as_array()
        .is_none_or(|values| values.contains(value));
    let admitted = match value {
        Value::String(text) => {
            let length = text.chars().count() as u64;
            types.contains(&"string")
                && schema["minLength"].as_u64().is_none_or(|min| length >= min)
                && schema["maxLength"].as_u64().is_none_or(|max| length <= max)
                && schema["pattern"].as_str().is_none_or(|pattern| {
                    regex_lite::Regex::new(&ecma_to_regex_lite(pattern))
                        .expect("the documented pattern compiles")
                        .is_match(text)
                })
        }
        Value::Number(number) => {
            // JSON Schema: an integer is any number with a zero fractional part.
            let number = number.as_f64().expect("a finite number");
            types.contains(&"integer")
                && number.fract() == 0.0
                && schema["minimum"].as_f64().is_none_or(|min| number >= min)
                && schema["maximum"].as_f64().is_none_or(|max| number <= max)
        }
        Value::Null => types.contains(&"null"),
        _ => false,
    };
    admitted && listed
}

/// Texts around the edges of a rule with `max` characters: blanks, padding, control characters,
/// every white space `str::trim` drops, non-ASCII letters, and lengths either side of `max`.
pub(crate) fn text_samples(max: usize) -> Vec<String> {
    let mut samples: Vec<String> = [
        "",
        " ",
        "   ",
        "a",
        " a ",
        "-",
        "a-1",
        "A1 2B",
        "SW1Y 4JH",
        "SW1Y_4JH",
        "a.b",
        "a\nb",
        "a\tb",
        "\n",
        "\u{7f}",
        "x\u{85}",
        "\u{9f}",
        "\u{a0}",
        "é",
        "Zürich",
        "GB",
        "gb",
        "UK",
        "XX",
        "DE ",
        "ZW",
        "AA",
        "Tee",
        "tee",
        "1Z 999-AA1",
        "tok_ok",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for blank in (0..=0x3000u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace() || c.is_control())
    {
        samples.push(blank.to_string());
        samples.push(format!("{blank}x{blank}"));
    }
    for length in [max - 1, max, max + 1] {
        samples.push("x".repeat(length));
        samples.push(format!(" {}", "x".repeat(length - 1)));
        samples.push(format!("{} ", "x".repeat(length)));
    }
    samples
}

/// The schema of `property` in the component `component`.
fn property<'a>(document: &'a Value, component: &str, property: &str) -> &'a Value {
    let schema = &document["components"]["schemas"][component]["properties"][property];
    assert!(schema.is_object(), "{component}.{property} is documented");
    schema
}

#[test]
fn every_documented_text_bound_is_the_parsers() {
    let document = document();
    type Parser = fn(&str) -> bool;
    let texts: [(&str, &str, Parser, usize); 8] = [
        (
            "CreateProductBody",
            "sku",
            |v| Sku::parse(v).is_ok(),
            Sku::MAX_LEN,
        ),
        (
            "CreateProductBody",
            "title",
            |v| Title::parse(v).is_ok(),
            Title::MAX_LEN,
        ),
        (
            "CreateProductBody",
            "description",
            |v| Description::parse(v).is_ok(),
            Description::MAX_LEN,
        ),
        (
            "CreateProductBody",
            "category",
            |v| Category::parse(v).is_ok(),
            Category::MAX_LEN,
        ),
        ("Money", "currency", |v| Currency::parse(v).is_ok(), 3),
        (
            "CheckoutBody",
            "payment_token",
            |v| PaymentToken::parse(v).is_ok(),
            PaymentToken::MAX_LEN,
        ),
        (
            "ShipBody",
            "tracking",
            |v| TrackingNumber::parse(v).is_ok(),
            TrackingNumber::MAX_LEN,
        ),
        (
            "CancelBody",
            "reason",
            |v| CancelReason::parse(v).is_some(),
            16,
        ),
    ];
    for (component, name, accepted, max) in texts {
        let documented = property(&document, component, name);
        let mut samples = text_samples(max);
        samples.extend(Currency::all().map(str::to_owned));
        samples.extend(["AAA", "ZZZ", "eur", "EURO"].map(str::to_owned));
        samples.extend(CancelReason::ALL.map(|r| r.as_str().to_owned()));
        samples.extend(["Admin", "customer_request "].map(str::to_owned));
        for value in samples {
            assert_eq!(
                documented_allows(documented, &json!(value)),
                accepted(&value),
                "{component}.{name} = {value:?}: document {documented}"
            );
        }
    }
}

#[test]
fn every_documented_integer_bound_is_the_handlers() {
    let document = document();
    type Parser = fn(i64) -> bool;
    let integers: [(&str, &str, Parser); 4] = [
        ("AddItemBody", "quantity", |q| {
            line_quantity(i128::from(q), 1).is_ok_and(|q| Quantity::new(q).is_ok())
        }),
        ("ChangeQuantityBody", "quantity", |q| {
            line_quantity(i128::from(q), 0).is_ok()
        }),
        ("ReceiptBody", "quantity", |q| {
            super::carts::bounded_quantity(i128::from(q), 1, Quantity::MAX)
                .is_ok_and(|q| Quantity::new(q).is_ok())
        }),
        ("Money", "amount_minor", |amount| {
            Money::new(amount, Currency::parse("EUR").expect("EUR")).is_ok()
        }),
    ];
    for (component, name, accepted) in integers {
        let documented = property(&document, component, name);
        let mut probes = vec![i64::MIN, -1, 0, 1, 2, 98, 99, 100, i64::MAX];
        probes.extend([u32::MAX, Quantity::MAX].map(i64::from));
        probes.push(Money::MAX_AMOUNT_MINOR);
        for bound in [&documented["minimum"], &documented["maximum"]] {
            let bound = bound.as_i64().expect("an integer bound");
            probes.extend([bound - 1, bound, bound + 1]);
        }
        for value in probes {
            assert_eq!(
                documented_allows(documented, &json!(value)),
                accepted(value),
                "{component}.{name} = {value}: document {documented}"
            );
        }
    }
}

#[test]
fn integer_fields_read_integer_valued_numbers_as_json_schema_does() {
    let product = "0190c0de-0000-7000-8000-000000000001";
    let add: super::carts::AddItemBody =
        serde_json::from_value(json!({"product_id": product, "quantity": 24.0})).expect("24.0");
    assert_eq!(add.quantity, 24);
    let receipt: super::inventory::ReceiptBody =
        serde_json::from_value(json!({"quantity": 3922.0})).expect("3922.0");
    assert_eq!(receipt.quantity, 3922);
    let price: super::products::PriceBody =
        serde_json::from_value(json!({"amount_minor": 1e3, "currency": "EUR"})).expect("1e3");
    assert_eq!(price.amount_minor, 1000);
    for fraction in [json!(24.5), json!("24")] {
        let refused = serde_json::from_value::<super::carts::ChangeQuantityBody>(
            json!({ "quantity": fraction }),
        );
        assert!(refused.is_err(), "{fraction}");
    }
}

#[test]
fn every_request_body_refuses_unknown_fields_in_the_document_too() {
    let document = document();
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let bodies: Vec<&String> = schemas
        .keys()
        .filter(|name| name.ends_with("Body") || *name == "Money")
        .collect();
    assert!(bodies.len() >= 11, "{bodies:?}");
    for name in bodies {
        assert_eq!(
            schemas[name]["additionalProperties"], false,
            "{name}: {}",
            schemas[name]
        );
    }
}

#[test]
fn an_admins_missing_vendor_is_a_documented_rule_and_null_is_documented_as_absent() {
    let document = document();
    let vendor_id = property(&document, "CreateProductBody", "vendor_id");
    assert!(documented_allows(vendor_id, &Value::Null), "{vendor_id}");
    let description = vendor_id["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("an admin must name it") && description.contains("`null`"),
        "{description}"
    );
}
