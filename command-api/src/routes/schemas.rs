//! The documented schemas of request values, built from the bounds, patterns and lists of the
//! domain types that parse them (`Title::MAX_LEN`, `Title::PATTERN`, `Currency::all()`, ...), so
//! the API document and the handlers cannot drift apart: a value the document allows is accepted
//! and one it forbids is refused (tested by `document_agreement`).
use commerce_domain::order::CancelReason;
use commerce_domain::{
    Category, ContactEmail, CountryCode, Currency, Description, PaymentToken, Reason, Sku, Title,
    TrackingNumber, VendorName,
};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A text of `min..=max` characters (as sent) matching `pattern`.
fn text(min: usize, max: usize, pattern: &str, description: &str, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .examples([serde_json::json!(example)])
        .build()
}

/// One of `values`.
fn one_of<'a>(
    values: impl IntoIterator<Item = &'a str>,
    description: &str,
    example: &str,
) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .examples([serde_json::json!(example)])
        .build()
}

pub(crate) fn sku() -> Object {
    text(
        Sku::MIN_LEN,
        Sku::MAX_LEN,
        Sku::PATTERN,
        "The vendor's stock-keeping unit: ASCII letters, digits, '-', '_' and '.'",
        "TEE-001",
    )
}

pub(crate) fn title() -> Object {
    text(
        Title::MIN_LEN,
        Title::MAX_LEN,
        Title::PATTERN,
        "One line, not blank; surrounding white space is dropped",
        "Organic cotton tee",
    )
}

pub(crate) fn description() -> Object {
    text(
        Description::MIN_LEN,
        Description::MAX_LEN,
        Description::PATTERN,
        "May be empty and span lines (no control characters but newlines and tabs)",
        "Soft, heavy cotton.",
    )
}

pub(crate) fn category() -> Object {
    text(
        Category::MIN_LEN,
        Category::MAX_LEN,
        Category::PATTERN,
        "A slug: lower-case ASCII letters, digits and '-'",
        "apparel",
    )
}

pub(crate) fn payment_token() -> Object {
    text(
        PaymentToken::MIN_LEN,
        PaymentToken::MAX_LEN,
        PaymentToken::PATTERN,
        "The payment provider's token; the local simulator understands `tok_ok`, \
         `tok_decline` and `tok_timeout`",
        "tok_ok",
    )
}

pub(crate) fn tracking() -> Object {
    text(
        TrackingNumber::MIN_LEN,
        TrackingNumber::MAX_LEN,
        TrackingNumber::PATTERN,
        "The carrier's tracking number: ASCII letters, digits, '-' and spaces, not blank",
        "1Z 999 AA1",
    )
}

pub(crate) fn currency() -> Object {
    one_of(
        Currency::all(),
        "ISO 4217 currency code (active codes)",
        "EUR",
    )
}

pub(crate) fn cancel_reason() -> Object {
    one_of(
        CancelReason::ALL.map(CancelReason::as_str),
        "`customer_request` for customers (any other is 403); admins may give any",
        "customer_request",
    )
}

/// Exactly the assigned ISO 3166-1 alpha-2 codes the handler accepts.
pub(crate) fn country_code() -> Object {
    one_of(
        CountryCode::ALL.iter().copied(),
        "ISO 3166-1 alpha-2 country code, upper case",
        "DE",
    )
}

pub(crate) fn vendor_name() -> Object {
    text(
        VendorName::MIN_LEN,
        VendorName::MAX_LEN,
        VendorName::PATTERN,
        "The display name the storefront shows: one line, not blank",
        "Ada's Atelier",
    )
}

pub(crate) fn contact_email() -> Object {
    text(
        3,
        ContactEmail::MAX_LEN,
        ContactEmail::PATTERN,
        "Where the marketplace reaches the vendor: one address, `local@domain.tld`; personal \
         data, stored sealed under the applicant's key",
        "shop@example.com",
    )
}

/// [`reason`], or `null` (the same as leaving it out).
pub(crate) fn optional_reason() -> Object {
    let mut schema = reason();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

pub(crate) fn reason() -> Object {
    text(
        Reason::MIN_LEN,
        Reason::MAX_LEN,
        Reason::PATTERN,
        "Why the decision was taken, kept in the vendor's history: one line, not blank",
        "Documents checked",
    )
}
