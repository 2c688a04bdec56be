//! The JSON bodies of the HTTP topics API: items, discontinuities and errors.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::message::{Message, Value, MAX_MESSAGE_BYTES};
use crate::topics::{Event, TopicError};

/// `200` body of a long poll: `{"items":[...]}`, written from each element's bytes: an item's
/// are made once per message ([`item_bytes`]) and shared by every long poll it answers.
pub(super) fn items_body(events: &[Event]) -> Vec<u8> {
    let parts: Vec<Bytes> = events.iter().map(element_bytes).collect();
    let size = parts.iter().map(Bytes::len).sum::<usize>() + parts.len() + 12;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"items\":[");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(part);
    }
    body.extend_from_slice(b"]}");
    body
}

/// One element of `items`, as JSON bytes.
fn element_bytes(event: &Event) -> Bytes {
    match event {
        Event::Item(message) => item_bytes(message),
        Event::Discontinuity { .. } => Bytes::from(to_json(&ItemJson::from(event.clone()))),
    }
}

/// `{"item":{...}}` of `message`, made on first use and kept with it.
fn item_bytes(message: &Arc<Message>) -> Bytes {
    message
        .http_item
        .get_or_init(|| Bytes::from(to_json(&ItemJson::from(Event::Item(message.clone())))))
        .clone()
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    // Strings and integers always serialize.
    serde_json::to_vec(value).expect("a topic element serializes")
}

/// One element of `items`: `{"item":{...}}` or `{"discontinuity":{...}}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ItemJson {
    Item {
        topic_sequence_number: u64,
        sequence_page: u64,
        value: ValueJson,
        publisher_id: String,
    },
    Discontinuity {
        last_topic_sequence: u64,
        new_topic_sequence: u64,
        new_sequence_page: u64,
    },
}

/// `{"text":"..."}` or `{"binary":"<standard base64>"}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ValueJson {
    Text(String),
    Binary(String),
}

impl From<Event> for ItemJson {
    fn from(event: Event) -> Self {
        match event {
            Event::Item(message) => ItemJson::Item {
                topic_sequence_number: message.sequence_number,
                sequence_page: message.sequence_page,
                value: match &message.value {
                    Value::Text(text) => ValueJson::Text(text.clone()),
                    Value::Binary(bytes) => {
                        ValueJson::Binary(base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                },
                publisher_id: message.publisher_id.clone(),
            },
            Event::Discontinuity {
                last_topic_sequence,
                new_topic_sequence,
                new_sequence_page,
            } => ItemJson::Discontinuity {
                last_topic_sequence,
                new_topic_sequence,
                new_sequence_page,
            },
        }
    }
}

/// Why an HTTP call was refused. Answered as `{"error": "<code>", "message": "..."}` with:
///
/// | status | `error`             | when                                                       |
/// |--------|---------------------|------------------------------------------------------------|
/// | 400    | `invalid_argument`  | both token forms, bad query, bad Content-Type, non-UTF-8 text, empty name |
/// | 400    | `limit_exceeded`    | a message over 4 KB                                        |
/// | 401    | `unauthenticated`   | no token, a forged, malformed or expired one               |
/// | 403    | `permission_denied` | the token's grants do not cover the topic                  |
/// | 404    | `not_found`         | the cache does not exist                                   |
/// | 429    | `limit_exceeded`    | the pipeline behind a webhook is behind, the token publishes too often, or the quota (operations, subscriptions) is used up; with `Retry-After` |
/// | 503    | `unavailable`       | the message could not be made durable (data dir failing, or stopping) |
#[derive(Debug, thiserror::Error)]
pub(super) enum ApiError {
    /// A malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// A body so far over the message limit that it was not read to the end.
    #[error("the message exceeds the request limit of {MAX_MESSAGE_BYTES} bytes")]
    BodyTooLarge,
    /// No usable token.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// Refused by the topic checks.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// Over a limit of the namespace's quota.
    #[error("{}", .0.message())]
    Quota(crate::quota::Exceeded),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            ApiError::BodyTooLarge => (StatusCode::BAD_REQUEST, "limit_exceeded"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Quota(_) => (StatusCode::TOO_MANY_REQUESTS, "limit_exceeded"),
            ApiError::Topic(error) => match error {
                TopicError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
                TopicError::MessageTooLarge(_) => (StatusCode::BAD_REQUEST, "limit_exceeded"),
                TopicError::PermissionDenied { .. } => (StatusCode::FORBIDDEN, "permission_denied"),
                TopicError::CacheNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                TopicError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                TopicError::Throttled { .. } | TopicError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "limit_exceeded")
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        tracing::debug!(%status, error = %self, "HTTP topics call refused");
        let mut response = error_response(status, code, &self.to_string());
        let retry_after = match &self {
            ApiError::Topic(TopicError::Throttled { retry_after }) => Some(*retry_after),
            ApiError::Topic(TopicError::RateLimited { retry_after }) => {
                // So an embedding server can tell this refusal from the backpressure's.
                response.extensions_mut().insert(super::TokenRateLimited);
                Some(*retry_after)
            }
            // A second refills a second's worth of operations.
            ApiError::Quota(_) => Some(std::time::Duration::from_secs(1)),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            let seconds = crate::limits::retry_after_secs(retry_after).to_string();
            if let Ok(value) = poem::http::HeaderValue::from_str(&seconds) {
                response
                    .headers_mut()
                    .insert(poem::http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A `{"error","message"}` answer.
pub(super) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &serde_json::json!({ "error": code, "message": message }),
    )
}

/// A JSON answer.
pub(super) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .content_type("application/json")
            .body(bytes),
        // Our bodies are strings and integers; this arm exists so a future change cannot panic.
        Err(error) => {
            tracing::error!(%error, "serializing an HTTP topics answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
