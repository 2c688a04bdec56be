//! The request body extractors: [`StrictJson`] (a required JSON body), [`OptionalJson`] (a JSON
//! body that may be absent) and [`RawJson`] (a JSON body kept as bytes, to be verified before
//! it is parsed). All three read at most [`MAX_BODY_BYTES`].
//!
//! poem-openapi's own `Json` coerces numbers and booleans into strings (`"title": 5` would make
//! a poll titled "5"), reports type errors without the field (`Expected input type
//! "integer(uint32)", found "ten"`), and insists on a `Content-Type` even when the body is
//! optional. Bodies are parsed here with serde instead, into the same type whose schema the
//! spec shows, and an error is prefixed with the top-level field it is in:
//! `max_voters: invalid type: string "ten", expected u32`.

use poem::{Body, Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest request body read, well above any valid one (a poll of 32 labels of 200 characters,
/// a batch of 500 voter ids, a webhook event carrying a 4 KB message escaped into JSON); larger
/// bodies answer 413 before they are buffered whole.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A required JSON body (`Content-Type: application/json`), parsed strictly.
pub struct StrictJson<T>(pub T);

impl<T: DeserializeOwned + Type> StrictJson<T> {
    async fn read(request: &Request, body: Body) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if <Json<T> as Payload>::check_content_type(content_type) => {}
            Some(content_type) => {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into())
            }
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        let bytes = body.into_bytes_limit(MAX_BODY_BYTES).await?;
        Ok(Self(parse_strict(&bytes)?))
    }
}

/// An optional JSON body that may come without a `Content-Type`: `Some(T)` when a body was
/// sent (parsed like [`StrictJson`]'s), `None` when it is empty, which is what `POST` with no
/// body at all sends (`curl -X POST`, a bare `fetch`).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + Type> OptionalJson<T> {
    async fn read(request: &Request, body: Body) -> poem::Result<Self> {
        let bytes = body.into_bytes_limit(MAX_BODY_BYTES).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if let Some(content_type) = request.content_type() {
            if !content_type.starts_with("application/json") {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into());
            }
        }
        Ok(Self(Some(parse_strict(&bytes)?)))
    }
}

/// A JSON body kept as raw bytes, documented in the spec with `T`'s schema. For bodies that
/// must be verified before they are parsed. At most `MAX_BODY_BYTES + 1` bytes are read: a
/// longer body is [`RawJson::is_over_limit`], and the handler refuses it (and counts the
/// refusal).
pub struct RawJson<T>(pub Vec<u8>, std::marker::PhantomData<T>);

impl<T> RawJson<T> {
    /// Whether the body is longer than [`MAX_BODY_BYTES`] (then only its first
    /// `MAX_BODY_BYTES + 1` bytes were read).
    pub fn is_over_limit(&self) -> bool {
        self.0.len() > MAX_BODY_BYTES
    }

    async fn read(_request: &Request, body: Body) -> poem::Result<Self> {
        use tokio::io::AsyncReadExt;
        let mut bytes = Vec::new();
        let read = body
            .into_async_read()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .await;
        read.map_err(|e| {
            poem::Error::from_string(e.to_string(), poem::http::StatusCode::BAD_REQUEST)
        })?;
        Ok(Self(bytes, std::marker::PhantomData))
    }
}

/// The `ApiExtractor` of a body extractor: in the spec, `T`'s schema as `$content_type`
/// (`$required` or not); from a request, the extractor's own `read`.
macro_rules! body_extractor {
    ($extractor:ident<T: [$($bound:tt)+]>, $content_type:expr, required: $required:expr) => {
        impl<'a, T: $($bound)+> ApiExtractor<'a> for $extractor<T> {
            const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
            type ParamType = ();
            type ParamRawType = ();

            fn register(registry: &mut Registry) {
                T::register(registry);
            }

            fn request_meta() -> Option<MetaRequest> {
                Some(MetaRequest {
                    description: None,
                    content: vec![MetaMediaType {
                        content_type: $content_type,
                        schema: T::schema_ref(),
                    }],
                    required: $required,
                })
            }

            async fn from_request(
                request: &'a Request,
                body: &mut RequestBody,
                _opts: ExtractParamOptions<()>,
            ) -> poem::Result<Self> {
                Self::read(request, body.take()?).await
            }
        }
    };
}

body_extractor!(
    StrictJson<T: [DeserializeOwned + Type]>,
    <Json<T> as Payload>::CONTENT_TYPE,
    required: true
);
body_extractor!(
    OptionalJson<T: [DeserializeOwned + Type]>,
    "application/json; charset=utf-8",
    required: false
);
body_extractor!(RawJson<T: [Type]>, "application/json", required: true);

/// `bytes` read as every REST body type, as the handlers would (a poll's also validated as
/// creating it does): for the fuzzer (`crate::fuzzing::rest_bodies`).
pub(crate) fn fuzz_bodies(bytes: &[u8]) {
    use crate::api::views::{Activation, EventPolls, EventTokenRequest, NewEvent};
    if let Ok(poll) = parse_strict::<crate::api::views::NewPoll>(bytes) {
        let id = crate::domain::PollId::parse("pFuzz1").expect("a poll id");
        let _ = crate::domain::NewPoll::from(poll).validate(id, chrono::Utc::now());
    }
    let _ = parse_strict::<crate::api::views::Schedule>(bytes);
    let _ = parse_strict::<crate::api::tokens::TokenRequest>(bytes);
    let _ = parse_strict::<crate::api::tokens::BatchTokenRequest>(bytes);
    let _ = parse_strict::<NewEvent>(bytes);
    let _ = parse_strict::<EventPolls>(bytes);
    let _ = parse_strict::<Activation>(bytes);
    let _ = parse_strict::<EventTokenRequest>(bytes);
}

/// Parses `bytes`, a JSON object, as a `T` with serde; an error names the top-level field it
/// is in.
fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseRequestPayloadError> {
    let fail = |reason: String| ParseRequestPayloadError { reason };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
    if !value.is_object() {
        // serde would read a struct from an array too: `["alice"]` as `{"voter_id": "alice"}`.
        return Err(fail("the body must be a JSON object".to_owned()));
    }
    // Re-encoded compactly, the error's column tells which field it is in.
    let text = value.to_string();
    serde_json::from_str(&text).map_err(|error| {
        let message = error.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        match field_at(&value, error.column()) {
            Some(field) => fail(format!("{field}: {message}")),
            None => fail(message.to_owned()),
        }
    })
}

/// The top-level field of `value` (an object, encoded compactly) whose `"key":value` text holds
/// the 1-based `column`.
fn field_at(value: &Value, column: usize) -> Option<&str> {
    let object = value.as_object()?;
    let mut start = 1; // after `{`
    for (key, field) in object {
        let len = Value::String(key.clone()).to_string().len() + 1 + field.to_string().len();
        // serde reports the column of the last byte it read: the offending value's (or key's).
        if (start..start + len).contains(&column.saturating_sub(1)) {
            return Some(key);
        }
        start += len + 1; // and the `,`
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        tags: Vec<String>,
        max: Option<u32>,
    }

    fn error(json: &str) -> String {
        parse_strict::<Body>(json.as_bytes()).unwrap_err().reason
    }

    #[test]
    fn type_errors_name_their_top_level_field() {
        assert!(error(r#"{"title": 5, "tags": []}"#).starts_with("title: invalid type"));
        assert!(error(r#"{"title": "t", "tags": ["a", 2]}"#).starts_with("tags: invalid type"));
        assert!(error(r#"{"title": "t", "tags": [], "max": -1}"#).starts_with("max: invalid value"));
        assert!(error(r#"{"max": "ten", "title": "t", "tags": []}"#).starts_with("max: "));
        assert!(error(r#"{"title": "ü", "tags": [], "max": true}"#).starts_with("max: "));
    }

    #[test]
    fn unknown_and_missing_fields_are_named_and_only_objects_are_bodies() {
        let unknown = error(r#"{"title": "t", "tags": [], "maxx": 1}"#);
        assert!(unknown.contains("unknown field `maxx`"), "{unknown}");
        assert_eq!(error(r#"{"title": "t"}"#), "missing field `tags`");
        assert_eq!(error(r#"["t", []]"#), "the body must be a JSON object");
        assert!(
            error("{").starts_with("EOF while parsing"),
            "{}",
            error("{")
        );
        assert!(parse_strict::<Body>(br#"{"title": "t", "tags": ["a"]}"#).is_ok());
    }
}
