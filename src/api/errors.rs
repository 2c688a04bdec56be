//! The HTTP edge's one error shape, `{"error": "<code>", "message": "<what went wrong>"}`, and
//! the middleware that gives every error response (including poem's own: unknown routes,
//! unparseable bodies, missing credentials) that shape.
//!
//! Every error an area reports reaches the edge through one `From` impl here, each an
//! exhaustive `match` (no `_ =>` arm to send a new variant to 500 unseen), so handlers use `?`:
//! [`StoreError`] (503), [`ChangeError`] (404, 400, 409, 503), the webhook's [`Refusal`]
//! (400, 401) and [`ValidationErrors`] (400).

use poem::http::header::CONTENT_TYPE;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::domain::{self, TransitionError, ValidationErrors};
use crate::ingest::webhook::Refusal;
use crate::momento::polls::ChangeError;
use crate::momento::StoreError;

/// Longest part of a request (an id from a path) an error message repeats.
pub const MAX_ECHO_CHARS: usize = 64;

/// `raw`, as an error message may repeat it: at most [`MAX_ECHO_CHARS`] characters (then `…`),
/// control characters as `?`. An id in a path can be as long as a URL; the answer stays short.
pub fn echo(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(MAX_ECHO_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if raw.chars().nth(MAX_ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// An error as every endpoint reports it.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// A stable, machine-readable code, e.g. `invalid_request`, `not_found`, `conflict`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// Illegal transitions only: the state the poll is in (and stays in).
    #[oai(skip_serializing_if_is_none)]
    pub state: Option<String>,
    /// Illegal transitions only: the refused event.
    #[oai(skip_serializing_if_is_none)]
    pub event: Option<String>,
}

impl ErrorBody {
    /// An error body with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Json<Self> {
        Json(Self {
            error: code.to_owned(),
            message: message.into(),
            state: None,
            event: None,
        })
    }
}

/// The errors an operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or breaks a rule; the message names the field and the rule.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The admin key is missing or wrong.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller may not see this (e.g. results of an `on_close` poll before it closes).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such poll.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the poll's current state (e.g. an illegal transition).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Something failed inside pollcast; nothing internal is disclosed.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// Momento could not be reached, or refused over its rate limit (`throttled`); nothing
    /// was done: retry after `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(ErrorBody::new("invalid_request", message))
    }

    /// 401 with `message`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(ErrorBody::new("unauthorized", message))
    }

    /// 403 with `code` and `message`.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::Forbidden(ErrorBody::new(code, message))
    }

    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(ErrorBody::new("not_found", message))
    }

    /// 404 for the poll id `raw` (which may not even be a valid poll id).
    pub fn no_poll(raw: &str) -> Self {
        Self::not_found(format!("no poll with id '{}'", echo(raw)))
    }

    /// 409 with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(ErrorBody::new("conflict", message))
    }

    /// 409 for an event the poll's state refuses, naming both.
    fn illegal_transition(error: &TransitionError) -> Self {
        let mut body = ErrorBody::new("illegal_transition", error.to_string());
        body.0.state = Some(error.from.as_str().to_owned());
        body.0.event = Some(error.event.to_string());
        Self::Conflict(body)
    }

    /// 503 with `Retry-After` after logging `cause`: `throttled` when Momento refused over a
    /// rate limit of the namespace, `unavailable` otherwise.
    pub fn unavailable(cause: &anyhow::Error) -> Self {
        if crate::momento::is_throttled(cause) {
            tracing::warn!(
                error = format!("{cause:#}"),
                "Momento refused over a rate limit"
            );
            return Self::Unavailable(
                ErrorBody::new(
                    "throttled",
                    "Momento's rate limit for this namespace was reached; try again in a second",
                ),
                1,
            );
        }
        tracing::error!(error = format!("{cause:#}"), "Momento call failed");
        Self::Unavailable(
            ErrorBody::new(
                "unavailable",
                "the backend is not answering; try again shortly",
            ),
            1,
        )
    }

    /// 500 after logging `cause`; the client learns nothing internal.
    pub fn internal(cause: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{cause:#}"), "internal error");
        Self::Internal(ErrorBody::new("internal", "an internal error occurred"))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::unavailable(&error.into())
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::bad_request(errors.to_string())
    }
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::NotFound(id) => Self::no_poll(id.as_str()),
            ChangeError::Refused(refused) => match refused.refusal {
                // The state allows `schedule`, but the requested time is one no poll may open
                // at: a bad body (400), not a conflict with the poll's state (409).
                domain::Refusal::OpensAtNotInFuture { .. } => {
                    Self::bad_request("opens_at: must be in the future")
                }
                domain::Refusal::OpensAtNotBeforeClosesAt { closes_at, .. } => Self::bad_request(
                    format!("opens_at: must be before the poll's closes_at ({closes_at})"),
                ),
                domain::Refusal::NotAllowed
                | domain::Refusal::NothingDue
                | domain::Refusal::ClosesAtPassed { .. } => Self::illegal_transition(&refused),
            },
            ChangeError::Contended => {
                Self::conflict("the poll kept changing while this change was attempted; try again")
            }
            ChangeError::Backend(error) => error.into(),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Malformed(_) => Self::bad_request(refusal.to_string()),
            Refusal::BadSignature | Refusal::Stale { .. } | Refusal::Future { .. } => {
                Self::Unauthorized(ErrorBody::new(refusal.reason(), refusal.to_string()))
            }
        }
    }
}

/// Gives every error response that is not JSON yet the [`ErrorBody`] shape.
pub async fn json_errors<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let response = match next.call(request).await {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    };
    let status = response.status();
    // JSON errors are in shape already; HTML ones are pages' (a poll that does not exist).
    if !(status.is_client_error() || status.is_server_error())
        || is_json(&response)
        || is_html(&response)
    {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let text = body.into_string().await.unwrap_or_default();
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut converted = ErrorBody::new(code_for(status), message).into_response();
    converted.set_status(status);
    for (name, value) in parts.headers.iter() {
        if name != CONTENT_TYPE && name != poem::http::header::CONTENT_LENGTH {
            converted.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(converted)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}
