//! Validated value types. Each is parsed once, at the edge, and is valid for the rest of its life;
//! deserialisation goes through the same parser so stored events cannot smuggle in bad values.
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DomainError, ValidationError, Withheld, ERASED, SEALED};

/// ISO 4217 active currency codes. A closed list so a typo ("EUE") is refused, not stored.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD \
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR \
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR \
MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK \
SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES \
VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL";

/// Whether `code` is in [`ISO_4217`]: a binary search over its fixed-width entries, since every
/// stored price is checked again each time an aggregate is loaded.
fn is_iso_4217(code: &str) -> bool {
    let entries = ISO_4217.len().div_ceil(4);
    let entry = |i: usize| ISO_4217.get(4 * i..4 * i + 3).unwrap_or_default();
    let (mut low, mut high) = (0, entries);
    while low < high {
        let middle = (low + high) / 2;
        match entry(middle).cmp(code) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        if code.len() == 3 && is_iso_4217(code) {
            Ok(Self(code.to_owned()))
        } else {
            Err(ValidationError::new(
                "currency",
                format!("{code:?} is not an ISO 4217 currency code"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every accepted code, sorted: the values the API documents as allowed.
    pub fn all() -> impl Iterator<Item = &'static str> {
        ISO_4217.split(' ')
    }
}

impl TryFrom<String> for Currency {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A price: integer minor units (cents) and a currency. Never floating point.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney")]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

#[derive(Deserialize)]
struct RawMoney {
    amount_minor: i64,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = ValidationError;
    fn try_from(raw: RawMoney) -> Result<Self, Self::Error> {
        Money::new(raw.amount_minor, raw.currency)
    }
}

impl Money {
    /// Largest accepted amount: keeps totals of many lines far from `i64` overflow.
    pub const MAX_AMOUNT_MINOR: i64 = 100_000_000_000;

    /// A positive price. Zero is refused: a free listing is almost always a data-entry mistake.
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX_AMOUNT_MINOR).contains(&amount_minor) {
            return Err(ValidationError::new(
                "price.amount_minor",
                format!(
                    "must be 1 to {} minor units, got {amount_minor}",
                    Self::MAX_AMOUNT_MINOR
                ),
            ));
        }
        Ok(Self {
            amount_minor,
            currency,
        })
    }

    /// The price of `quantity` units, refused if it would leave the accepted range.
    pub fn times(&self, quantity: Quantity) -> Result<Money, DomainError> {
        let amount_minor = self
            .amount_minor
            .checked_mul(i64::from(quantity.get()))
            .filter(|amount| *amount <= Self::MAX_AMOUNT_MINOR)
            .ok_or(DomainError::AmountTooLarge {
                max_minor: Self::MAX_AMOUNT_MINOR,
            })?;
        Ok(Self {
            amount_minor,
            currency: self.currency.clone(),
        })
    }

    /// The sum of two amounts in one currency, refused if it would leave the accepted range.
    pub fn checked_add(&self, other: &Money) -> Result<Money, DomainError> {
        self.ensure_same_currency(other)?;
        let amount_minor = self
            .amount_minor
            .checked_add(other.amount_minor)
            .filter(|amount| *amount <= Self::MAX_AMOUNT_MINOR)
            .ok_or(DomainError::AmountTooLarge {
                max_minor: Self::MAX_AMOUNT_MINOR,
            })?;
        Ok(Self {
            amount_minor,
            currency: self.currency.clone(),
        })
    }

    /// The total of `amounts`: `None` when there are none (a `Money` is never zero), an error when
    /// they mix currencies or the total leaves the accepted range.
    pub fn try_sum<'a>(
        amounts: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Option<Money>, DomainError> {
        amounts
            .into_iter()
            .try_fold(None, |total: Option<Money>, amount| match total {
                None => Ok(Some(amount.clone())),
                Some(total) => total.checked_add(amount).map(Some),
            })
    }

    /// Refuses `other` unless it is in this amount's currency.
    pub fn ensure_same_currency(&self, other: &Money) -> Result<(), DomainError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch {
                expected: self.currency.to_string(),
                given: other.currency.to_string(),
            })
        }
    }
}

/// A number of units: at least one, and bounded so that stock and price arithmetic stay far from
/// overflow. Zero is not a quantity; commands that use zero to mean "remove" say so themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// Largest quantity one command may carry.
    pub const MAX: u32 = 1_000_000;

    pub fn new(value: u32) -> Result<Self, ValidationError> {
        if !(1..=Self::MAX).contains(&value) {
            return Err(ValidationError::new(
                "quantity",
                format!("must be 1 to {}, got {value}", Self::MAX),
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = ValidationError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> Self {
        value.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The characters Rust's `str::trim` drops that are not control characters (which every text
/// rule refuses anyway), as a JSON Schema (ECMA-262) character-class body: what "blank" means.
macro_rules! blank_class {
    () => {
        " \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    };
}

/// Defines a length-bounded text newtype with a character rule. The bounds and the rule apply to
/// the text as sent; surrounding white space is then dropped, and a required text (`min` of 1 or
/// more) must keep something. `PATTERN` states the same rule for the API document (ECMA-262, the
/// dialect of JSON Schema), so the document and `parse` agree on every value.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $allowed:expr, $rule:literal, $pattern:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MIN_LEN: usize = $min;
            pub const MAX_LEN: usize = $max;
            /// The rule of `parse` (beyond the length) as a JSON Schema pattern.
            pub const PATTERN: &'static str = $pattern;

            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                let len = value.chars().count();
                if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
                    return Err(ValidationError::new(
                        $field,
                        format!(
                            "must be {} to {} characters long, got {len}",
                            Self::MIN_LEN, Self::MAX_LEN
                        ),
                    ));
                }
                let allowed: fn(char) -> bool = $allowed;
                if !value.chars().all(allowed) {
                    return Err(ValidationError::new(
                        $field,
                        format!("{}, got {}", $rule, crate::error::quoted(value)),
                    ));
                }
                let value = value.trim();
                if value.is_empty() && Self::MIN_LEN > 0 {
                    return Err(ValidationError::new($field, "must not be blank"));
                }
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// A vendor's stock-keeping unit: letters, digits, `-`, `_`, `.`.
    Sku, "sku", 1, 64,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
    "may contain only ASCII letters, digits, '-', '_' and '.'",
    "^[A-Za-z0-9._-]+$"
);
bounded_text!(
    /// A product title as shown in the storefront.
    Title, "title", 1, 200, |c| !c.is_control(), "must not contain control characters",
    concat!(
        "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^", blank_class!(),
        "\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )
);
bounded_text!(
    /// A product description; may be empty, may span lines.
    Description, "description", 0, 5000,
    |c| !c.is_control() || c == '\n' || c == '\t',
    "must not contain control characters other than newlines and tabs",
    "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$"
);
bounded_text!(
    /// A catalogue category slug, used as an index key: lower-case letters, digits and `-`.
    Category, "category", 1, 64,
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
    "may contain only lower-case ASCII letters, digits and '-'",
    "^[a-z0-9-]+$"
);
bounded_text!(
    /// The payment provider's token for the customer's payment method (never a card number).
    PaymentToken, "payment_token", 1, 128,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
    "may contain only ASCII letters, digits, '-', '_' and '.'",
    "^[A-Za-z0-9._-]+$"
);
bounded_text!(
    /// A carrier's tracking number for a shipped order.
    TrackingNumber, "tracking", 1, 64,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | ' '),
    "may contain only ASCII letters, digits, '-' and spaces",
    "^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$"
);

bounded_text!(
    /// A vendor's display name, as the storefront shows it.
    VendorName, "name", 1, 120, |c| !c.is_control(), "must not contain control characters",
    concat!(
        "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^", blank_class!(),
        "\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )
);
bounded_text!(
    /// Why an admin approved, suspended or reinstated a vendor, kept in its history.
    Reason, "reason", 1, 500, |c| !c.is_control(), "must not contain control characters",
    concat!(
        "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^", blank_class!(),
        "\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )
);

/// Where the marketplace reaches a vendor: one address, `local@domain`, without white space.
/// Checked for shape only; whether it receives mail is the sign-up flow's to prove.
///
/// It is personal data of the applicant, stored sealed under their key (see
/// [`crate::personal_data`]). A reader that does not open it (the command side, the catalog)
/// reads it as [`Withheld::Sealed`]; once the applicant's key is deleted it reads as
/// [`Withheld::Erased`]. A withheld address is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactEmail {
    address: String,
    withheld: Option<Withheld>,
}

impl ContactEmail {
    /// RFC 5321's limit on a path.
    pub const MAX_LEN: usize = 254;
    /// The rule of `parse` as a JSON Schema pattern.
    pub const PATTERN: &'static str = concat!(
        "^[^\\s@\\u0000-\\u001F\\u007F-\\u009F]+",
        "@[^\\s@.\\u0000-\\u001F\\u007F-\\u009F]+",
        "(\\.[^\\s@.\\u0000-\\u001F\\u007F-\\u009F]+)+$"
    );

    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let invalid = |reason: String| ValidationError::new("contact_email", reason);
        let len = value.chars().count();
        if !(3..=Self::MAX_LEN).contains(&len) {
            return Err(invalid(format!(
                "must be 3 to {} characters long, got {len}",
                Self::MAX_LEN
            )));
        }
        let shaped = value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        });
        // White space as JSON Schema's `\s` has it too (U+FEFF), so the pattern agrees.
        let blank = |c: char| c.is_whitespace() || c.is_control() || c == '\u{feff}';
        if !shaped || value.chars().any(blank) {
            return Err(invalid(format!(
                "must be an address like name@example.com, got {}",
                crate::error::quoted(value)
            )));
        }
        Ok(Self {
            address: value.to_owned(),
            withheld: None,
        })
    }

    /// The address; empty when it is withheld.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// Why there is no address, when there is none.
    pub fn withheld(&self) -> Option<Withheld> {
        self.withheld
    }
}

impl Serialize for ContactEmail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let marker = match self.withheld {
            None => return serializer.serialize_str(&self.address),
            Some(Withheld::Sealed) => SEALED,
            Some(Withheld::Erased) => ERASED,
        };
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(marker, &true)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for ContactEmail {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Every form the address is stored in: the text, sealed or erased.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            Withheld(serde_json::Map<String, serde_json::Value>),
        }
        let withheld = |withheld| Self {
            address: String::new(),
            withheld: Some(withheld),
        };
        match Stored::deserialize(deserializer)? {
            Stored::Text(text) => Self::parse(&text).map_err(serde::de::Error::custom),
            Stored::Withheld(marker)
                if marker.get(ERASED) == Some(&serde_json::Value::Bool(true)) =>
            {
                Ok(withheld(Withheld::Erased))
            }
            Stored::Withheld(marker) if marker.contains_key(SEALED) => {
                Ok(withheld(Withheld::Sealed))
            }
            Stored::Withheld(_) => Err(serde::de::Error::custom(
                "contact_email: must be an address, sealed or erased",
            )),
        }
    }
}

impl fmt::Display for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.withheld {
            None => f.write_str(&self.address),
            Some(Withheld::Sealed) => f.write_str("(sealed)"),
            Some(Withheld::Erased) => f.write_str("(erased)"),
        }
    }
}

/// Defines a UUID-backed identifier newtype.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7) so ids sort roughly by creation.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies a product; also its aggregate id.
    ProductId
);
uuid_id!(
    /// Identifies a vendor of the marketplace.
    VendorId
);
uuid_id!(
    /// Identifies a customer of the storefront.
    CustomerId
);
uuid_id!(
    /// Identifies a signed-in person (an account of the auth service), such as a vendor's
    /// applicant.
    UserId
);
uuid_id!(
    /// Identifies a shopping cart; also its aggregate id.
    CartId
);
uuid_id!(
    /// Identifies an order; also its aggregate id, and the key of its stock reservations.
    OrderId
);
uuid_id!(
    /// Identifies a payment; also its aggregate id.
    PaymentId
);
uuid_id!(
    /// Identifies one refund of a payment, so a retried refund is recognised and not paid twice.
    RefundId
);
uuid_id!(
    /// Identifies one payout to a vendor, so a payout run stopped and run again pays it once.
    PayoutId
);
uuid_id!(
    /// Identifies one return of some lines of an order.
    ReturnId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_accepts_iso_codes_and_refuses_others() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("AAA").is_err() && Currency::parse("ZZZ").is_err());
    }

    #[test]
    fn the_currency_list_is_sorted_fixed_width_and_every_code_is_found() {
        let codes: Vec<&str> = Currency::all().collect();
        assert!(
            codes.iter().all(|c| c.len() == 3),
            "one space between 3-letter codes"
        );
        assert!(
            codes.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        for code in codes {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn money_must_be_positive_and_bounded() {
        let eur = Currency::parse("EUR").unwrap();
        assert!(Money::new(1, eur.clone()).is_ok());
        assert!(Money::new(0, eur.clone()).is_err());
        assert!(Money::new(-5, eur.clone()).is_err());
        assert!(Money::new(Money::MAX_AMOUNT_MINOR + 1, eur).is_err());
    }

    #[test]
    fn money_deserialisation_applies_the_same_rules() {
        let bad: Result<Money, _> =
            serde_json::from_str(r#"{"amount_minor": -1, "currency": "EUR"}"#);
        assert!(bad.is_err());
        let unknown: Result<Money, _> =
            serde_json::from_str(r#"{"amount_minor": 100, "currency": "ABC"}"#);
        assert!(unknown.is_err());
        let good: Money =
            serde_json::from_str(r#"{"amount_minor": 1999, "currency": "EUR"}"#).unwrap();
        assert_eq!(good.amount_minor, 1999);
    }

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    #[test]
    fn quantity_is_positive_and_bounded_also_when_deserialised() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(Quantity::MAX).is_ok());
        assert!(Quantity::new(Quantity::MAX + 1).is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-3").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("7").unwrap().get(), 7);
    }

    #[test]
    fn money_times_a_quantity_multiplies_within_bounds() {
        assert_eq!(
            eur(250).times(Quantity::new(4).unwrap()).unwrap(),
            eur(1000)
        );
        assert_eq!(
            eur(Money::MAX_AMOUNT_MINOR).times(Quantity::new(2).unwrap()),
            Err(DomainError::AmountTooLarge {
                max_minor: Money::MAX_AMOUNT_MINOR
            })
        );
    }

    #[test]
    fn money_sums_refuse_mixed_currencies_and_overflow() {
        assert_eq!(Money::try_sum([]), Ok(None));
        assert_eq!(Money::try_sum([&eur(100), &eur(250)]), Ok(Some(eur(350))));
        let usd = Money::new(100, Currency::parse("USD").unwrap()).unwrap();
        assert_eq!(
            Money::try_sum([&eur(100), &usd]),
            Err(DomainError::CurrencyMismatch {
                expected: "EUR".into(),
                given: "USD".into()
            })
        );
        assert_eq!(
            Money::try_sum([&eur(Money::MAX_AMOUNT_MINOR), &eur(1)]),
            Err(DomainError::AmountTooLarge {
                max_minor: Money::MAX_AMOUNT_MINOR
            })
        );
    }

    #[test]
    fn ids_parse_from_uuid_strings() {
        let id: OrderId = "0190c0de-0000-7000-8000-000000000001".parse().unwrap();
        assert_eq!(id.to_string(), "0190c0de-0000-7000-8000-000000000001");
        assert!("not-a-uuid".parse::<CartId>().is_err());
    }

    #[test]
    fn order_texts_are_bounded() {
        assert!(PaymentToken::parse("tok_ok").is_ok());
        assert!(PaymentToken::parse("tok ok").is_err());
        assert!(TrackingNumber::parse("1Z 999-AA1").is_ok());
        assert!(TrackingNumber::parse("").is_err());
    }

    #[test]
    fn text_values_are_bounded_as_sent_then_trimmed() {
        assert_eq!(Title::parse("  Tee \u{3000}").unwrap().as_str(), "Tee");
        assert!(Sku::parse("  AB-1 ").is_err(), "no spaces in a SKU");
        assert!(Sku::parse("has space").is_err());
        assert!(Title::parse("").is_err());
        assert!(Title::parse(" \u{a0}\u{3000}").is_err(), "blank");
        assert!(Title::parse(&"x".repeat(201)).is_err());
        assert!(
            Title::parse(&format!(" {}", "x".repeat(200))).is_err(),
            "the length is the text's as sent"
        );
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("  ").is_ok());
        assert_eq!(Description::parse("a\n\tb\n").unwrap().as_str(), "a\n\tb");
        assert!(Category::parse("Shoes").is_err());
        assert!(Category::parse("running-shoes").is_ok());
        assert_eq!(TrackingNumber::parse(" 1Z 9 ").unwrap().as_str(), "1Z 9");
        assert!(TrackingNumber::parse("   ").is_err());
        assert!(TrackingNumber::parse(&"9".repeat(65)).is_err());
    }
}
