//! JSON request bodies parsed strictly, with errors that name the field.
//!
//! poem-openapi's own `Json` coerces numbers and booleans into strings (`"title": 5` would make
//! a poll titled "5") and reports type errors without the field (`Expected input type
//! "integer(uint32)", found "ten"`). Bodies are parsed here with serde instead, into the same
//! type whose schema the spec shows, and an error is prefixed with the top-level field it is in:
//! `max_voters: invalid type: string "ten", expected u32`.

use poem::{Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest request body read, well above any valid one (a poll of 32 labels of 200 characters,
/// a batch of 500 voter ids); larger bodies answer 413 before they are buffered whole.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// A required JSON body (`Content-Type: application/json`), parsed strictly.
pub struct StrictJson<T>(pub T);

impl<'a, T: DeserializeOwned + Type> ApiExtractor<'a> for StrictJson<T> {
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
                content_type: <Json<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
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
        let bytes = body.take()?.into_bytes_limit(MAX_BODY_BYTES).await?;
        Ok(Self(parse_strict(&bytes)?))
    }
}

/// Parses `bytes`, a JSON object, as a `T` with serde; an error names the top-level field it
/// is in.
pub(crate) fn parse_strict<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, ParseRequestPayloadError> {
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
