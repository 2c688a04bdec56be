//! What every request handler shares, built once by `startup` and attached to every route.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use poem::web::cookie::CookieKey;
use secrecy::SecretString;

use crate::config::{IngestMode, ServeArgs};
use crate::ingest::pipeline::Pipeline;
use crate::ingest::webhook::Verifier;
use crate::metrics::Metrics;
use crate::momento::ballots::BallotStore;
use crate::momento::events::EventStore;
use crate::momento::moderation::ModerationStore;
use crate::momento::polls::PollStore;
use crate::momento::results::ResultsStore;
use crate::momento::status::{VoteStatusStore, VoterTokenRegistry};
use crate::momento::Momento;
use crate::results::Publisher;
use crate::scheduler::Scheduler;

/// What every request handler shares.
pub struct AppState {
    /// The SDK clients.
    pub momento: Momento,
    /// Poll records and the poll index.
    pub polls: PollStore,
    /// Ballot keys and the ballot ledger.
    pub ballots: BallotStore,
    /// Results seq, snapshots and topics.
    pub results: ResultsStore,
    /// One results subscription per watched poll, shared by its SSE streams.
    pub feeds: Arc<crate::results::feed::Feeds>,
    /// Deadlines of the lifecycle clock.
    pub scheduler: Arc<Scheduler>,
    /// The vote pipeline both ingest paths feed.
    pub pipeline: Arc<Pipeline>,
    /// Counts and publishes results.
    pub publisher: Arc<Publisher>,
    /// Verifies webhook calls; `None` when webhook ingest is off.
    pub webhook: Option<Verifier>,
    /// Which ingest paths run.
    pub ingest: IngestMode,
    /// How votes are spread over topics (a poll's votes go to one).
    pub vote_shards: crate::momento::keys::VoteShards,
    /// Replicas ingesting votes, as the last shard round counted them (1 until then).
    pub replicas_alive: Arc<std::sync::atomic::AtomicUsize>,
    /// Set once the votes-topic subscription is live (readiness waits for it when it runs:
    /// votes published before it would be missed).
    pub subscribed: Arc<AtomicBool>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The admin key admin operations must present (checked in `api/auth.rs`).
    pub admin_key: SecretString,
    /// Where clients reach this server.
    pub public_url: String,
    /// Base URL of the HTTP topics API voter tokens work with: pollcast's own URL when the
    /// local Momento is embedded (it is mounted there), Momento's otherwise.
    pub http_endpoint: String,
    /// Settings of the run.
    pub settings: ServeArgs,
    /// How long records live in the cache (`--record-ttl` or the mode's default).
    pub record_ttl: std::time::Duration,
    /// What became of voters' votes (`GET /v1/polls/{id}/ballot`).
    pub status: VoteStatusStore,
    /// The voter tokens pollcast minted, which voters authenticate with.
    pub voter_tokens: VoterTokenRegistry,
    /// The key voter cookies are signed with (`api/voter_cookie.rs`).
    pub cookie_key: CookieKey,
    /// The embedded local Momento's counters (`None` against Momento's service).
    pub embedded: Option<local_momento::Observer>,
    /// Events (join codes, their polls, the active one).
    pub events: EventStore,
    /// Who follows which event's active poll (`GET /v1/events/{id}/stream`).
    pub event_watch: Arc<crate::api::event_watch::EventWatch>,
    /// Moderation decisions on open-text entries.
    pub moderation: ModerationStore,
    /// The limits against abuse per client address (`api/limits`).
    pub limits: Arc<crate::api::limits::Limits>,
    /// The key proof-of-work puzzles are signed with (`api/challenge.rs`).
    pub challenge_key: secrecy::SecretSlice<u8>,
    /// Proof-of-work puzzles already answered.
    pub challenges: crate::momento::challenges::ChallengeStore,
}
