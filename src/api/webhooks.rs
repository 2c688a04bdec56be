//! `POST /v1/webhooks/momento`: votes delivered by Momento's webhook (signed).
//!
//! Answers: 200 for every well-signed, fresh event, whatever became of the vote (accepted,
//! revote, duplicate, rejected: a rejection is recorded, not worth a retry); 401 when the
//! signature does not sign the body, or the event is outside the replay window (older than
//! `--webhook-max-age`, or ahead of this server's clock); 400 when a well-signed body is not a
//! webhook event; 413 over 64 KB; 503 when the backend failed before the vote was settled
//! (retrying is safe: a ballot left in doubt is counted once, by the retry or by the sweep);
//! 404 when webhook ingest is off. A vote is run to completion whether or not the caller waits
//! for the answer.

use std::sync::Arc;

use chrono::Utc;
use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::body::{RawJson, MAX_BODY_BYTES};
use crate::api::errors::{ApiError, ErrorBody};
use crate::api::tags::ApiTags;
use crate::ingest::pipeline::{Delivery, Outcome, Source};
use crate::momento::keys::is_votes_topic;
use crate::state::AppState;

/// The webhook resource.
pub struct WebhooksApi;

/// Momento's webhook event (documented payload).
#[derive(Debug, Object)]
pub struct WebhookEvent {
    /// The cache of the topic.
    pub cache: String,
    /// The topic (`votes`).
    pub topic: String,
    /// When the message was published, ms since the epoch.
    pub event_timestamp: i64,
    /// When this call was made, ms since the epoch (replay window).
    pub publish_timestamp: i64,
    /// The message's topic sequence number.
    pub topic_sequence_number: u64,
    /// The publisher's token_id: `{poll_id}:{voter_id}`.
    pub token_id: String,
    /// The vote message, `{"poll_id": "...", "choices": ["o1"]}`.
    pub text: String,
}

/// What became of a delivered vote.
#[derive(Debug, Object)]
pub struct WebhookOutcome {
    /// `accepted`, `revoted`, `duplicate`, `rejected` or `ignored` (not a vote topic).
    pub outcome: String,
    /// Why it was rejected (a `votes_rejected_total` reason).
    pub reason: Option<String>,
}

/// Answer of `POST /v1/webhooks/momento`.
#[derive(ApiResponse)]
pub enum WebhookResponse {
    /// The event was verified and handled (the outcome says how).
    #[oai(status = 200)]
    Ok(Json<WebhookOutcome>),
    /// The body is over 64 KiB (counted as a `too_large` refusal).
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
}

#[OpenApi(tag = "ApiTags::Ingest")]
impl WebhooksApi {
    /// Momento webhook: a vote published on the `votes` topic, signed with `momento-signature`
    /// (HMAC-SHA3-256 of the body, hex).
    #[oai(
        path = "/v1/webhooks/momento",
        method = "post",
        operation_id = "momento_webhook"
    )]
    async fn deliver(
        &self,
        state: Data<&Arc<AppState>>,
        /// Lowercase hex HMAC-SHA3-256 of the exact body bytes.
        #[oai(name = "momento-signature")]
        signature: Header<Option<String>>,
        body: RawJson<WebhookEvent>,
    ) -> Result<WebhookResponse, ApiError> {
        let Some(verifier) = &state.webhook else {
            return Err(ApiError::not_found(
                "webhook ingest is not enabled (--ingest)",
            ));
        };
        if body.is_over_limit() {
            tracing::debug!(
                reason = "too_large",
                "webhook call refused: body over the limit"
            );
            state
                .metrics
                .webhook_refused
                .with_label_values(&["too_large"])
                .inc();
            return Ok(WebhookResponse::TooLarge(ErrorBody::new(
                "payload_too_large",
                format!("the body is over {MAX_BODY_BYTES} bytes"),
            )));
        }
        let event = verifier
            .verify(signature.0.as_deref(), &body.0, Utc::now())
            .inspect_err(|refusal| {
                // The reason only: never the signature, the body or a token.
                tracing::debug!(reason = refusal.reason(), "webhook call refused: {refusal}");
                state
                    .metrics
                    .webhook_refused
                    .with_label_values(&[refusal.reason()])
                    .inc();
            })?;
        if event.cache() != state.momento.cache_name() || !is_votes_topic(event.topic()) {
            return Ok(outcome("ignored", None));
        }
        let delivery = Delivery {
            token_id: event.token_id().to_owned(),
            text: event.text().unwrap_or_default().to_owned(),
            seq: event.sequence_number(),
            page: None,
            published_at: event.published_at(),
            source: Source::Webhook,
        };
        // The vote runs to completion in a task of its own: a caller that hangs up (or
        // Momento's 5 s timeout) must not drop it between its claim and its ledger write.
        let pipeline = state.pipeline.clone();
        let processed = tokio::spawn(async move { pipeline.process(delivery).await })
            .await
            .map_err(|error| {
                ApiError::internal(&anyhow::anyhow!("the vote's task failed: {error}"))
            })?;
        Ok(match processed? {
            Outcome::Accepted => outcome("accepted", None),
            Outcome::Revoted => outcome("revoted", None),
            Outcome::Duplicate => outcome("duplicate", None),
            Outcome::Rejected(r) => outcome("rejected", Some(r.reason())),
        })
    }
}

fn outcome(outcome: &str, reason: Option<&str>) -> WebhookResponse {
    WebhookResponse::Ok(Json(WebhookOutcome {
        outcome: outcome.to_owned(),
        reason: reason.map(str::to_owned),
    }))
}
