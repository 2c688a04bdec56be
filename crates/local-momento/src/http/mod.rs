//! Momento's HTTP topics API, as poem routes to mount at the root of any poem server.
//!
//! - `POST /topics/{cache}/{topic}` with `Content-Type: text/plain` (the body is published as
//!   text and must be UTF-8) or `application/octet-stream` (published as binary): `204`.
//!   Bodies over 4 KB are refused with `400` (`limit_exceeded`), nothing published.
//! - `GET /topics/{cache}/{topic}?sequence_number=N&sequence_page=P` (both default to 0): a
//!   long poll. It answers as soon as at least one item or discontinuity is available, with
//!   everything available at that moment (at most [`MAX_BATCH`] elements):
//!   `200 {"items":[{"item":{"topic_sequence_number":1,"sequence_page":P,
//!   "value":{"text":"hello"},"publisher_id":"..."}},{"discontinuity":{"last_topic_sequence":..,
//!   "new_topic_sequence":..,"new_sequence_page":..}}]}`; binary values are
//!   `{"binary":"<standard base64>"}`. Resume works as over gRPC (see the `topics` module):
//!   N = 0 means "from now"; to continue after an answer, send the last item's
//!   `topic_sequence_number + 1` and its `sequence_page`. If nothing arrives within the
//!   server's `long_poll_max_wait` (default 30 s) it answers `200 {"items":[]}`; a client
//!   simply polls again with the same parameters. It also answers `{"items":[]}` at shutdown.
//! - `HEAD /topics/{cache}/{topic}` answers at once, without a body: `200` when the caller may
//!   long-poll the topic, else the status the long poll would have (it never waits).
//! - The token goes in the `Authorization` header (raw, `Bearer <token>`, or the SDKs' base64
//!   `auth_token` form) **or** the `token` query parameter, never both (`400`); none → `401`.
//! - Errors are JSON `{"error": "<code>", "message": "..."}`; the codes and statuses are listed
//!   on `ApiError` (400 invalid_argument | limit_exceeded, 401, 403, 404, 503 unavailable, and
//!   429 limit_exceeded with `Retry-After` (seconds) when a publish is refused because the
//!   topic's webhook delivery is behind, see [`crate::Backpressure::Refuse`], or because the
//!   token publishes too often, see [`crate::limits`]; nothing was published).
//! - CORS: any origin may call with any request header (the `Authorization` header included),
//!   methods GET and POST, and may read `Retry-After`; no cookies are involved, so credentials
//!   are not allowed.

mod json;

use std::sync::Arc;

use bytes::Bytes;
use poem::error::ReadBodyError;
use poem::http::{Method, StatusCode};
use poem::middleware::Cors;
use poem::web::Data;
use poem::{get, handler, Body, EndpointExt, IntoResponse, Request, Response, Route};
use serde::Deserialize;

use crate::auth::{AuthError, Principal};
use crate::message::{Value, MAX_MESSAGE_BYTES};
use crate::quota::MaybeGate;
use crate::topics;
use crate::Shared;
use json::{error_response, items_body, ApiError};

/// Marks (in a response's extensions) a publish refused because its token is over its
/// publish rate ([`crate::limits`]), so an embedding server can count it apart.
#[derive(Debug, Clone, Copy)]
pub struct TokenRateLimited;

/// Most elements one long-poll answer carries; the rest wait for the next poll.
pub const MAX_BATCH: usize = 100;

/// Largest POST body read. A little over the message limit, so a message just over it gets
/// the proper `limit_exceeded` answer, while a huge body is cut off early instead of buffered.
const MAX_BODY_BYTES: usize = MAX_MESSAGE_BYTES + 1024;

/// The routes of the HTTP topics API.
pub(crate) fn routes(shared: Arc<Shared>) -> Route {
    let cors = Cors::new()
        .allow_methods([Method::GET, Method::POST])
        .expose_header(poem::http::header::RETRY_AFTER)
        .allow_credentials(false);
    let topic = get(subscribe)
        .head(head)
        .post(publish)
        .with(cors)
        .catch_all_error(|error: poem::Error| async move {
            // Errors raised outside our handlers (405, refused CORS preflight) keep the JSON shape.
            let status = error.status();
            let code = match status {
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::FORBIDDEN => "forbidden",
                _ if status.is_client_error() => "invalid_argument",
                _ => "internal",
            };
            error_response(status, code, &error.to_string())
        })
        .data(shared);
    Route::new().at("/topics/:cache/:topic", topic)
}

#[derive(Deserialize)]
struct PublishQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct SubscribeQuery {
    token: Option<String>,
    #[serde(default)]
    sequence_number: u64,
    #[serde(default)]
    sequence_page: u64,
}

#[handler]
async fn publish(request: &Request, body: Body, shared: Data<&Arc<Shared>>) -> Response {
    match try_publish(request, body, &shared).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(path = %request.uri().path()))]
async fn try_publish(request: &Request, body: Body, shared: &Shared) -> Result<(), ApiError> {
    let (cache, topic) = names(request)?;
    let query: PublishQuery = query(request)?;
    let caller = authenticate(shared, request, query.token.as_deref())?;
    shared.quota.operation().map_err(ApiError::Quota)?;
    let value = match media_type(request).as_deref() {
        Some("text/plain") => {
            let bytes = read_body(body).await?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::BadRequest("a text/plain body must be UTF-8".into()))?;
            Value::Text(text)
        }
        Some("application/octet-stream") => Value::Binary(read_body(body).await?),
        _ => {
            return Err(ApiError::BadRequest(
                "Content-Type must be text/plain or application/octet-stream".into(),
            ))
        }
    };
    topics::publish_as(shared, &caller, &cache, &topic, value).await?;
    Ok(())
}

#[handler]
async fn subscribe(request: &Request, shared: Data<&Arc<Shared>>) -> Response {
    match try_subscribe(request, &shared).await {
        Ok(events) => Response::builder()
            .status(StatusCode::OK)
            .content_type("application/json")
            .body(items_body(&events)),
        Err(error) => error.into_response(),
    }
}

/// `HEAD`: what a long poll would answer, at once and without a body: `200` when the caller
/// may subscribe, else the long poll's error status. (Left to `GET`, a `HEAD` would wait the
/// whole long poll for a body nobody reads.)
#[handler]
async fn head(request: &Request, shared: Data<&Arc<Shared>>) -> Response {
    let checked = (|| {
        let (cache, topic) = names(request)?;
        let query: SubscribeQuery = query(request)?;
        let caller = authenticate(&shared, request, query.token.as_deref())?;
        topics::check_subscribe(&shared, &caller, &cache, &topic)?;
        Ok::<(), ApiError>(())
    })();
    match checked {
        Ok(()) => Response::builder()
            .status(StatusCode::OK)
            .content_type("application/json")
            .finish(),
        Err(error) => {
            let status = error.into_response().status();
            Response::builder().status(status).finish()
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(path = %request.uri().path()))]
async fn try_subscribe(request: &Request, shared: &Shared) -> Result<Vec<topics::Event>, ApiError> {
    let (cache, topic) = names(request)?;
    let query: SubscribeQuery = query(request)?;
    let caller = authenticate(shared, request, query.token.as_deref())?;
    shared.quota.operation().map_err(ApiError::Quota)?;
    let _slot = shared.quota.subscription().map_err(ApiError::Quota)?;
    let mut subscription = topics::subscribe_as(
        shared,
        &caller,
        &cache,
        &topic,
        query.sequence_number,
        query.sequence_page,
    )?;
    let first = tokio::select! {
        biased;
        _ = shared.topics.shutdown().cancelled() => None,
        event = subscription.next() => event,
        _ = tokio::time::sleep(shared.topics.long_poll_max_wait()) => None,
    };
    let mut events = Vec::new();
    if let Some(event) = first {
        shared.quota.delivered();
        events.push(event);
        while events.len() < MAX_BATCH {
            match subscription.try_next() {
                Some(event) => {
                    shared.quota.delivered();
                    events.push(event)
                }
                None => break,
            }
        }
    }
    Ok(events)
}

fn names(request: &Request) -> Result<(String, String), ApiError> {
    request
        .path_params::<(String, String)>()
        .map_err(|_| ApiError::BadRequest("the path must be /topics/{cache}/{topic}".into()))
}

fn query<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    request
        .params::<T>()
        .map_err(|error| ApiError::BadRequest(format!("bad query parameters: {error}")))
}

/// The caller, from exactly one of the `Authorization` header and the `token` parameter.
fn authenticate(
    shared: &Shared,
    request: &Request,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let header = request.headers().get(poem::http::header::AUTHORIZATION);
    let presented = match (header, query_token) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give the token in the Authorization header or the token parameter, not both"
                    .into(),
            ))
        }
        // A header that is not visible ASCII cannot hold a token we issued.
        (Some(value), None) => value.to_str().map_err(|_| AuthError::Invalid)?,
        (None, Some(token)) => token,
        (None, None) => "",
    };
    Ok(shared.auth.authenticate(presented)?)
}

/// The request's media type without parameters, lowercased (`text/plain; charset=utf-8` →
/// `text/plain`).
fn media_type(request: &Request) -> Option<String> {
    let content_type = request.content_type()?;
    let essence = content_type.split(';').next().unwrap_or_default();
    Some(essence.trim().to_ascii_lowercase())
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    body.into_bytes_limit(MAX_BODY_BYTES)
        .await
        .map_err(|error| match error {
            ReadBodyError::PayloadTooLarge => ApiError::BodyTooLarge,
            other => ApiError::BadRequest(format!("could not read the body: {other}")),
        })
}
