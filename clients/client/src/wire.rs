//! JSON shapes every aggregate shares.
use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money as the API carries it: integer minor units, so no rounding ever happens on
/// the way, and an ISO 4217 currency code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (cents for EUR): `1999` is 19.99.
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`; the server refuses codes it does not know (422).
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self {
            amount_minor,
            currency: currency.into(),
        }
    }

    /// Digits after the decimal point in `currency` (ISO 4217's minor unit): 0 for `JPY`, 3 for
    /// `KWD`, 2 for most.
    pub fn decimal_places(currency: &str) -> u32 {
        const NONE: &[&str] = &[
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
            "VUV", "XAF", "XOF", "XPF",
        ];
        const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
        if NONE.contains(&currency) {
            0
        } else if THREE.contains(&currency) {
            3
        } else {
            2
        }
    }

    /// Reads an amount written as a person writes it (`19.99`, `20`, `1999` for `JPY`) in
    /// `currency`; more decimals than the currency has are refused rather than rounded.
    pub fn parse_decimal(text: &str, currency: &str) -> Result<Self, String> {
        let places = Self::decimal_places(currency);
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || (text.contains('.') && !digits(fraction)) {
            return Err(format!(
                "`{text}` is not an amount: write it like 19.99, without a currency sign"
            ));
        }
        if fraction.len() > places as usize {
            return Err(format!(
                "`{text}` has {} decimals; {currency} has {places}",
                fraction.len()
            ));
        }
        let scale = 10_i64.pow(places);
        let fraction_minor = format!("{fraction:0<width$}", width = places as usize);
        let amount_minor = whole
            .parse::<i64>()
            .ok()
            .and_then(|w| w.checked_mul(scale))
            .and_then(|w| {
                let f = if fraction_minor.is_empty() {
                    0
                } else {
                    fraction_minor.parse::<i64>().ok()?
                };
                w.checked_add(f)
            })
            .ok_or_else(|| format!("`{text}` is too large"))?;
        Ok(Self::new(amount_minor, currency))
    }
}

/// `19.99 EUR`, `1999 JPY`, `-5.00 EUR`: the amount with its currency's decimals.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places = Self::decimal_places(&self.currency);
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        if places == 0 {
            return write!(f, "{sign}{magnitude} {}", self.currency);
        }
        let scale = 10_u64.pow(places);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            magnitude / scale,
            magnitude % scale,
            self.currency,
            width = places as usize
        )
    }
}

/// Where an order goes: sent with [`CommerceClient::checkout`](crate::CommerceClient::checkout),
/// shown on the order to its customer, the vendors of its lines and admins. The server checks each
/// part (bounds in the OpenAPI document) and names the part it refuses (422).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// Who receives the parcel. Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub name: String,
    /// On orders placed before addresses had parts, the address's whole free text.
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub city: String,
    /// State, province or county, where the country uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Empty on orders placed before addresses had parts.
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case (`DE`, `GB`, `US`). Empty on orders placed before addresses
    /// had parts.
    #[serde(default)]
    pub country: String,
}

/// The answer to every accepted command that creates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Accepted {
    /// What changed: `Cart`, `Order`, `Product` or `Inventory` (a product's stock).
    #[serde(default)]
    pub aggregate_type: Option<String>,
    /// The aggregate the command changed, as the event store names it.
    pub aggregate_id: String,
    /// The aggregate's version after the command: pass it as `read_with` to read your write.
    pub version: i64,
    /// The read parameter that waits for `version`: `min_version`, or `min_stock_version` on the
    /// catalog's product after a stock receipt.
    #[serde(default)]
    pub read_with: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_and_prints_with_its_currencys_decimals() {
        for (text, currency, minor, shown) in [
            ("19.99", "EUR", 1999, "19.99 EUR"),
            ("20", "EUR", 2000, "20.00 EUR"),
            ("0.5", "USD", 50, "0.50 USD"),
            ("1500", "JPY", 1500, "1500 JPY"),
            ("1.234", "KWD", 1234, "1.234 KWD"),
        ] {
            let money = Money::parse_decimal(text, currency).expect(text);
            assert_eq!(money, Money::new(minor, currency));
            assert_eq!(money.to_string(), shown);
        }
        assert_eq!(Money::new(-500, "EUR").to_string(), "-5.00 EUR");
        for (text, currency, words) in [
            ("19.999", "EUR", "3 decimals; EUR has 2"),
            ("1.5", "JPY", "JPY has 0"),
            ("€19", "EUR", "not an amount"),
            ("19.", "EUR", "not an amount"),
            ("-1", "EUR", "not an amount"),
            ("99999999999999999999", "EUR", "too large"),
        ] {
            let error = Money::parse_decimal(text, currency).unwrap_err();
            assert!(error.contains(words), "{text}: {error}");
        }
    }
}
