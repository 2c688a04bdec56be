//! Momento's HTTP topics API, described in the spec so Swagger UI shows how a vote is sent.
//!
//! With the embedded local Momento the API itself is served by the local Momento, mounted on
//! pollcast's port at `/topics` (a more specific route than this service's, so requests never
//! reach the handlers here). Against Momento's service it lives at the token's
//! `http_endpoint`, and the handlers here answer 404 saying so.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::auth::VoterAuth;
use crate::api::errors::ApiError;
use crate::api::tags::ApiTags;
use crate::state::AppState;

/// Momento's HTTP topics API (documentation; see the module doc).
pub struct TopicsApi;

/// Answer of a publish.
#[derive(ApiResponse)]
pub enum Published {
    /// Published. Not yet processed: ask `GET /v1/polls/{id}/ballot` what became of a vote.
    #[oai(status = 204)]
    NoContent,
}

/// A message's value: `text` or `binary` (standard base64).
#[derive(Debug, Clone, Object)]
pub struct TopicValue {
    /// A text message (votes and results are text: JSON).
    pub text: Option<String>,
    /// A binary message, standard base64.
    pub binary: Option<String>,
}

/// A message of the topic.
#[derive(Debug, Clone, Object)]
pub struct TopicItem {
    /// Its sequence number in the topic.
    pub topic_sequence_number: u64,
    /// The sequence page it belongs to (changes when the topic was reset).
    pub sequence_page: u64,
    /// The message.
    pub value: TopicValue,
    /// The publisher's `token_id` (`{poll_id}:{voter_id}` for a vote).
    pub publisher_id: Option<String>,
}

/// Messages were lost between two sequence numbers; continue from the new ones.
#[derive(Debug, Clone, Object)]
pub struct TopicDiscontinuity {
    /// The last sequence number before the gap.
    pub last_topic_sequence: u64,
    /// Where the topic continues.
    pub new_topic_sequence: u64,
    /// The sequence page it continues on.
    pub new_sequence_page: u64,
}

/// One element of a long-poll answer: an `item` or a `discontinuity`.
#[derive(Debug, Clone, Object)]
pub struct TopicElement {
    /// A message.
    pub item: Option<TopicItem>,
    /// A gap.
    pub discontinuity: Option<TopicDiscontinuity>,
}

/// A long-poll answer.
#[derive(Debug, Clone, Object)]
pub struct TopicItems {
    /// What arrived, oldest first; empty when nothing did before the server's wait ended.
    pub items: Vec<TopicElement>,
}

/// Answer of a long poll.
#[derive(ApiResponse)]
pub enum Polled {
    /// What arrived.
    #[oai(status = 200)]
    Ok(Json<TopicItems>),
}

#[OpenApi(prefix_path = "/topics", tag = "ApiTags::MomentoTopics")]
impl TopicsApi {
    /// Send a vote: publish the vote message on the `votes` topic with the voter's own token
    /// (`Authorization: <token>`), at the token's `http_endpoint` (pollcast's own URL with the
    /// embedded local Momento). The body is text: `{"poll_id": "p7Kx2", "choices": ["o1"]}`
    /// (`ranked`: the ranking, best first), optionally with `"ref"`, a client's id for the
    /// attempt that `GET /v1/polls/{id}/ballot` reports back with a rejection. The voter is
    /// never in the message: Momento attaches the token's `token_id`. 204 means published,
    /// not counted: ask `GET /v1/polls/{id}/ballot`.
    #[oai(
        path = "/:cache/:topic",
        method = "post",
        operation_id = "publish_vote"
    )]
    async fn publish(
        &self,
        _voter: VoterAuth,
        state: Data<&Arc<AppState>>,
        /// The cache (`cache` of the token response).
        cache: Path<String>,
        /// The topic (`votes_topic` of the token response).
        topic: Path<String>,
        /// The vote message.
        _body: PlainText<String>,
    ) -> Result<Published, ApiError> {
        Err(elsewhere(&state, &cache.0, &topic.0))
    }

    /// Watch a topic (long poll): a voter token may subscribe to its poll's results topic
    /// (`results_topic`), whose messages are the results JSON. Start with
    /// `sequence_number=0&sequence_page=0` (from now); continue with the last item's
    /// `topic_sequence_number + 1` and its `sequence_page`. Answers as soon as something
    /// arrives, or `{"items": []}` after a while: ask again.
    #[oai(path = "/:cache/:topic", method = "get", operation_id = "poll_topic")]
    async fn subscribe(
        &self,
        _voter: VoterAuth,
        state: Data<&Arc<AppState>>,
        /// The cache.
        cache: Path<String>,
        /// The topic (`results_topic` of the token response).
        topic: Path<String>,
        /// Where to continue (0: from now).
        sequence_number: Query<Option<u64>>,
        /// The sequence page of `sequence_number`.
        sequence_page: Query<Option<u64>>,
    ) -> Result<Polled, ApiError> {
        let _ = (sequence_number, sequence_page);
        Err(elsewhere(&state, &cache.0, &topic.0))
    }
}

/// The topics API is not on this server (Momento's service): say where it is.
fn elsewhere(state: &AppState, cache: &str, topic: &str) -> ApiError {
    ApiError::not_found(format!(
        "this pollcast uses Momento's service: the topics API is at {}/topics/{}/{}",
        state.http_endpoint,
        crate::api::errors::echo(cache),
        crate::api::errors::echo(topic)
    ))
}
