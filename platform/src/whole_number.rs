//! Integer fields of request bodies as JSON Schema reads them: `24.0` is the integer 24.
//!
//! The API documents say `type: integer`, and JSON Schema counts any number with a zero
//! fractional part as an integer, so a client (or a schema-driven fuzzer) may send `24.0` or
//! `2.4e1`. serde reads those as floats and refuses them for an integer type; this reads them as
//! the integer they are. A fraction (`24.5`) or a value outside the target type is still refused,
//! as a malformed body (400). Use it as
//! `#[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]`.
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Unexpected, Visitor};

/// Reads an integer, or a float with no fractional part, into `T`.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_any(WholeNumber(PhantomData))
}

struct WholeNumber<T>(PhantomData<T>);

/// 2^63 and 2^64 as floats: the first values outside `i64` and `u64`.
const I64_END: f64 = 9_223_372_036_854_775_808.0;
const U64_END: f64 = 18_446_744_073_709_551_616.0;

impl<'de, T> Visitor<'de> for WholeNumber<T>
where
    T: TryFrom<i64> + TryFrom<u64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The range in numbers: a client reads JSON, not the server's type names.
        let range = match std::any::type_name::<T>() {
            "u8" => "0 to 255",
            "u16" => "0 to 65535",
            "u32" => "0 to 4294967295",
            "u64" => "0 to 18446744073709551615",
            "i32" => "-2147483648 to 2147483647",
            "i64" => "-9223372036854775808 to 9223372036854775807",
            _ => "",
        };
        if range.is_empty() {
            f.write_str("a whole number")
        } else {
            write!(f, "a whole number from {range}")
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        let refused = || E::invalid_value(Unexpected::Float(value), &self);
        if value.fract() != 0.0 {
            return Err(refused());
        }
        // The casts are exact: the value is whole and inside the type's range.
        if (-I64_END..I64_END).contains(&value) {
            T::try_from(value as i64).map_err(|_| refused())
        } else if (0.0..U64_END).contains(&value) {
            T::try_from(value as u64).map_err(|_| refused())
        } else {
            Err(refused())
        }
    }
}

/// Like [`deserialize`] for an optional field: `null` (or, with `#[serde(default)]`, an absent
/// field) is `None`. Use it as
/// `#[serde(default, deserialize_with = "commerce_platform::whole_number::optional")]`.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct Whole<T>(T);
    impl<'de, T> serde::Deserialize<'de> for Whole<T>
    where
        T: TryFrom<i64> + TryFrom<u64>,
    {
        fn deserialize<D2: Deserializer<'de>>(deserializer: D2) -> Result<Self, D2::Error> {
            deserialize(deserializer).map(Whole)
        }
    }
    <Option<Whole<T>> as serde::Deserialize>::deserialize(deserializer)
        .map(|whole| whole.map(|Whole(value)| value))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::deserialize")]
        quantity: u32,
        #[serde(deserialize_with = "super::deserialize")]
        amount: i64,
    }

    fn read(json: &str) -> Result<(u32, i64), String> {
        serde_json::from_str::<Body>(json)
            .map(|b| (b.quantity, b.amount))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_and_integer_valued_floats_are_read_as_integers() {
        assert_eq!(read(r#"{"quantity": 24, "amount": -3}"#), Ok((24, -3)));
        assert_eq!(read(r#"{"quantity": 24.0, "amount": -3.0}"#), Ok((24, -3)));
        assert_eq!(
            read(r#"{"quantity": 2.4e1, "amount": 1e11}"#),
            Ok((24, 100_000_000_000))
        );
        assert_eq!(read(r#"{"quantity": -0.0, "amount": 0}"#), Ok((0, 0)));
    }

    #[test]
    fn fractions_other_types_and_values_outside_the_type_are_refused() {
        for json in [
            r#"{"quantity": 24.5, "amount": 1}"#,
            r#"{"quantity": "24", "amount": 1}"#,
            r#"{"quantity": null, "amount": 1}"#,
            r#"{"quantity": -1, "amount": 1}"#,
            r#"{"quantity": -1.0, "amount": 1}"#,
            r#"{"quantity": 4294967296, "amount": 1}"#,
            r#"{"quantity": 4294967296.0, "amount": 1}"#,
            r#"{"quantity": 1, "amount": 1e19}"#,
            r#"{"quantity": 1, "amount": 1e300}"#,
        ] {
            let refused = read(json);
            assert!(refused.is_err(), "{json}: {refused:?}");
        }
        assert!(read(r#"{"quantity": 24.5, "amount": 1}"#)
            .unwrap_err()
            .contains("a whole number from 0 to 4294967295"));
    }

    #[test]
    fn an_optional_whole_number_reads_null_as_none() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "super::optional")]
            n: Option<u32>,
        }
        let read = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.n);
        assert_eq!(read(r#"{"n": 24.0}"#).ok(), Some(Some(24)));
        assert_eq!(read(r#"{"n": null}"#).ok(), Some(None));
        assert_eq!(read("{}").ok(), Some(None));
        assert!(read(r#"{"n": 2.5}"#).is_err());
        assert!(read(r#"{"n": -1}"#).is_err());
    }
}
