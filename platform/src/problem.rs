//! RFC 7807 problem+json: the one shape every error takes on the wire.
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// An error as a client sees it. `type` is a stable, documented slug per kind of problem.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    pub detail: String,
    /// Seconds a client should wait before retrying (503, 429).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("/problems/{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid bearer token",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 422 for a rule the API document cannot state: one that depends on the state of what the
    /// command addresses (an empty cart, a product not published, another currency than the
    /// product's) or on the caller's role. A request the document allows may get it.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule-violation",
            "The request breaks a business rule",
            detail,
        )
    }

    /// 422 for a value outside the bounds the API document states for it (length, pattern,
    /// range, list of values). A request the document allows never gets it.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-value",
            "A value is outside its documented bounds",
            detail,
        )
    }

    /// 413: the body is over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
            format!("the body exceeds the limit of {limit} bytes"),
        )
    }

    /// 429: too many attempts; `retry_after_secs` says when to try again.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u32) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        );
        problem.retry_after = Some(retry_after_secs.max(1));
        problem
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dependency-unavailable",
            "A dependency is unavailable",
            detail,
        );
        problem.retry_after = Some(1);
        problem
    }

    /// For faults the client cannot fix; the cause goes to the log, never to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "internal error",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
                status,
                "payload-too-large",
                "Request body too large",
                rejection.body_text(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
                status,
                "unsupported-media-type",
                "Expected application/json",
                rejection.body_text(),
            ),
            // Missing fields and wrong types break the schema: malformed, like a syntax error.
            _ => Problem::bad_request(plain_words(&rejection.body_text())),
        }
    }
}

/// A deserialiser's message in the API's words: JSON's names for types (an integer, an object,
/// an array), never the implementation's (`u32`, `struct CancelBody`, "sequence", "target type").
pub fn plain_words(message: &str) -> String {
    const PREFIXES: [(&str, &str); 3] = [
        (
            "Failed to deserialize the JSON body into the target type: ",
            "The body does not fit the operation's schema: ",
        ),
        (
            "Failed to parse the request body as JSON: ",
            "The body is not valid JSON: ",
        ),
        (
            "Failed to deserialize query string: ",
            "The query string does not fit the operation's schema: ",
        ),
    ];
    let mut text = message.to_owned();
    for (prefix, plain) in PREFIXES {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = format!("{plain}{rest}");
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("expected ") {
        let (before, after) = rest.split_at(at + "expected ".len());
        out.push_str(before);
        let token_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let (token, tail) = after.split_at(token_end);
        rest = match token {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64"
            | "i128" | "isize" => {
                out.push_str("an integer");
                tail
            }
            "f32" | "f64" => {
                out.push_str("a number");
                tail
            }
            "struct" => {
                out.push_str("a JSON object");
                // Skip the type's name after `struct `.
                let name = tail.trim_start_matches(' ');
                let name_end = name
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(name.len());
                &name[name_end..]
            }
            _ => after,
        };
    }
    out.push_str(rest);
    out.replace("expected a map", "expected a JSON object")
        .replace("expected a sequence", "expected a JSON array")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("invalid type: map", "invalid type: object")
        .replace("invalid digit found in string", "expected an integer")
}

/// `axum::Json` whose rejection is a [`Problem`], so malformed input looks like every other error.
/// The body must be a JSON object, as every documented request body is: serde would otherwise
/// also read a struct from an array of its fields in order (`[3]` for `{"quantity": 3}`, `[]`
/// for `{}`), which the documents do not allow.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(JsonObject(value)) =
            axum::Json::<JsonObject<T>>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// [`ApiJson`] for a command whose body is optional: an empty body (with or without a
/// `Content-Type`) or `null` reads as `T::default()`; any other body must be JSON as for
/// [`ApiJson`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload-too-large",
                        "Request body too large",
                        rejection.body_text(),
                    ),
                    // The body could not be read at all (the client broke off): malformed.
                    _ => Problem::bad_request(plain_words(&rejection.body_text())),
                })?;
        // No body, or JSON `null` (what the document's optional body allows): no input.
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(Self(T::default()));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// `T` read only from a JSON object: the map is handed to `T`'s own `Deserialize` as it is read
/// (no intermediate value), and anything but an object is refused.
struct JsonObject<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(JsonObject)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is a [`Problem`] (400 with what was wrong).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| Problem::bad_request(plain_words(&e.body_text())))?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialiser_messages_use_jsons_names_for_types() {
        for (message, plain) in [
            (
                "Failed to deserialize the JSON body into the target type: quantity: invalid type: string \"x\", expected u32 at line 1 column 9",
                "The body does not fit the operation's schema: quantity: invalid type: string \"x\", expected an integer at line 1 column 9",
            ),
            (
                "price: invalid type: sequence, expected struct RawMoney at line 1",
                "price: invalid type: array, expected a JSON object at line 1",
            ),
            (
                "Failed to deserialize query string: limit: invalid digit found in string",
                "The query string does not fit the operation's schema: limit: expected an integer",
            ),
            ("amount: expected f64", "amount: expected a number"),
            ("reason: expected a string", "reason: expected a string"),
        ] {
            assert_eq!(plain_words(message), plain);
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(deserialize_with = "crate::whole_number::deserialize")]
        quantity: u32,
        #[serde(default)]
        note: Option<String>,
    }

    fn read(json: &str) -> Result<Body, String> {
        serde_json::from_str::<JsonObject<Body>>(json)
            .map(|JsonObject(body)| body)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_body_is_read_from_an_object_with_the_types_own_rules() {
        assert_eq!(
            read(r#"{"quantity": 3.0, "note": "x"}"#),
            Ok(Body {
                quantity: 3,
                note: Some("x".into())
            })
        );
        assert!(read(r#"{"quantity": 3, "colour": "red"}"#)
            .unwrap_err()
            .contains("unknown field"));
        assert!(read(r#"{"note": "x"}"#)
            .unwrap_err()
            .contains("missing field"));
    }

    #[test]
    fn anything_but_an_object_is_refused_even_when_serde_could_read_the_struct_from_it() {
        for json in ["[3]", "[3, null]", "[]", "3", "\"x\"", "null"] {
            let refused = read(json);
            assert!(refused.is_err(), "{json}: {refused:?}");
        }
        assert!(read("[3]").unwrap_err().contains("expected a JSON object"));
    }
}
