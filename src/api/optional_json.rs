//! An optional JSON request body that may come without a `Content-Type`: `POST` with no body at
//! all (what `curl -X POST` and a bare `fetch` send) is `None`. poem-openapi's own `Json`
//! insists on the header even when the body is optional. A body that is sent is parsed like
//! [`StrictJson`](crate::api::strict_json::StrictJson)'s.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;

use crate::api::strict_json::{parse_strict, MAX_BODY_BYTES};

/// `Some(T)` when a JSON body was sent, `None` when the body is empty.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: DeserializeOwned + Type> ApiExtractor<'a> for OptionalJson<T> {
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
                content_type: "application/json; charset=utf-8",
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes_limit(MAX_BODY_BYTES).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if let Some(content_type) = request.content_type() {
            if !content_type.starts_with("application/json") {
                return Err(poem_openapi::error::ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into());
            }
        }
        Ok(Self(Some(parse_strict(&bytes)?)))
    }
}

/// A JSON body kept as raw bytes, documented in the spec with `T`'s schema. For bodies that
/// must be verified before they are parsed. At most `LIMIT + 1` bytes are read: a longer body
/// is [`RawJson::is_over_limit`], and the handler refuses it (and counts the refusal).
pub struct RawJson<T, const LIMIT: usize>(pub Vec<u8>, std::marker::PhantomData<T>);

impl<T, const LIMIT: usize> RawJson<T, LIMIT> {
    /// Whether the body is longer than `LIMIT` (then only its first `LIMIT + 1` bytes were read).
    pub fn is_over_limit(&self) -> bool {
        self.0.len() > LIMIT
    }
}

impl<'a, T: Type, const LIMIT: usize> ApiExtractor<'a> for RawJson<T, LIMIT> {
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
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        use tokio::io::AsyncReadExt;
        let mut bytes = Vec::new();
        let read = body
            .take()?
            .into_async_read()
            .take(LIMIT as u64 + 1)
            .read_to_end(&mut bytes)
            .await;
        read.map_err(|e| {
            poem::Error::from_string(e.to_string(), poem::http::StatusCode::BAD_REQUEST)
        })?;
        Ok(Self(bytes, std::marker::PhantomData))
    }
}
