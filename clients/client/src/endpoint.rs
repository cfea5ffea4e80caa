//! URL building: a base URL, an absolute path and a query string of the parameters that are set.
//! Kept pure so the exact URLs are tested without a server.
use std::fmt::Display;

/// Joins a base URL and an absolute path. A trailing `/` on the base is tolerated, and a base with a
/// path (a gateway prefix such as `http://gw/commerce`) keeps it, unlike RFC 3986 joining.
pub(crate) fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// A single-aggregate read, optionally waiting for `min_version` (read-your-writes).
pub(crate) fn single_read_url(base: &str, path: &str, min_version: Option<i64>) -> String {
    QueryString::default()
        .param("min_version", min_version)
        .append_to(endpoint(base, path))
}

/// Query parameters in the order they were given. Unset ones are left out rather than sent empty,
/// so the server applies its own defaults (and does not reject an empty UUID).
#[derive(Debug, Default)]
pub(crate) struct QueryString {
    encoded: String,
}

impl QueryString {
    pub(crate) fn param(mut self, name: &str, value: Option<impl Display>) -> Self {
        if let Some(value) = value {
            self.encoded
                .push(if self.encoded.is_empty() { '?' } else { '&' });
            self.encoded.push_str(&encode(name));
            self.encoded.push('=');
            self.encoded.push_str(&encode(&value.to_string()));
        }
        self
    }

    pub(crate) fn append_to(self, mut url: String) -> String {
        url.push_str(&self.encoded);
        url
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so free text such as `q` can
/// carry `&`, `=`, `+`, `#` or non-ASCII letters without changing the query's meaning.
fn encode(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_tolerates_a_trailing_slash_and_keeps_a_base_path() {
        assert_eq!(
            endpoint("http://localhost:8080/", "/v1/carts"),
            "http://localhost:8080/v1/carts"
        );
        assert_eq!(
            endpoint("http://gw/commerce", "/v1/carts"),
            "http://gw/commerce/v1/carts"
        );
    }

    #[test]
    fn unset_parameters_are_left_out() {
        let url = QueryString::default()
            .param("a", None::<u32>)
            .param("b", Some(2))
            .param("c", None::<&str>)
            .append_to("http://h/x".to_owned());
        assert_eq!(url, "http://h/x?b=2");
        assert_eq!(
            QueryString::default().append_to("http://h/x".to_owned()),
            "http://h/x"
        );
    }

    #[test]
    fn reserved_and_non_ascii_characters_are_percent_encoded() {
        assert_eq!(encode("a b&c=d+e#f/g?"), "a%20b%26c%3Dd%2Be%23f%2Fg%3F");
        assert_eq!(encode("café"), "caf%C3%A9");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn single_read_url_adds_min_version_only_when_given() {
        assert_eq!(
            single_read_url("http://r", "/v1/carts/1", Some(7)),
            "http://r/v1/carts/1?min_version=7"
        );
        assert_eq!(
            single_read_url("http://r", "/v1/carts/1", None),
            "http://r/v1/carts/1"
        );
    }
}
