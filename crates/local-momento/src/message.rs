//! A published message: what topics keep, subscribers receive and webhooks deliver. A leaf
//! module, so `topics`, `webhooks` and `persist` share it without importing each other.

use bytes::Bytes;

/// Largest message accepted, in bytes of text (UTF-8) or binary (Momento's limit).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;

/// A published value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// Text (`text/plain` over HTTP).
    Text(String),
    /// Bytes (`application/octet-stream` over HTTP).
    Binary(Bytes),
}

impl Value {
    /// Size that counts against [`MAX_MESSAGE_BYTES`].
    pub(crate) fn len(&self) -> usize {
        match self {
            Value::Text(text) => text.len(),
            Value::Binary(bytes) => bytes.len(),
        }
    }
}

/// A message as published: shared (not copied) by every subscriber and webhook delivery.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message {
    /// Position in its topic, from 1.
    pub(crate) sequence_number: u64,
    /// The topic's page when it was published.
    pub(crate) sequence_page: u64,
    /// What was published.
    pub(crate) value: Value,
    /// The publisher's `token_id` (`""` for API keys).
    pub(crate) publisher_id: String,
    /// When it was published, ms since the Unix epoch (a webhook's `event_timestamp`).
    pub(crate) published_at_ms: u64,
    /// Its `{"item":{...}}` element as the HTTP topics API answers a long poll with it, made
    /// once for every long poll it answers (a results message answers thousands).
    pub(crate) http_item: std::sync::OnceLock<Bytes>,
}
