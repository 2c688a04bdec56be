//! What became of a voter's votes (`GET /v1/polls/{id}/ballot`), and the voter tokens pollcast
//! minted, which that endpoint authenticates voters with.
//!
//! Every publish is answered 204 before the vote is processed, so a voter learns the outcome
//! here, as two answers that are never mixed up:
//! - **what counts**: the voter's ballot key holds a ballot and the ledger holds the same
//!   choices (read from the keys the pipeline writes anyway, [`BallotStore`] and the ledger
//!   shard);
//! - **what the last attempt did**: `vote_status:{poll_id}:{voter_id}` holds the voter's last
//!   rejected vote (reason, the topic sequence number, the `ref` the message carried). The
//!   pipeline writes it, best effort, where it learns a rejection; it lives
//!   [`REJECTION_TTL`]. A counted ballot as new or newer (by topic sequence number) is the last
//!   attempt instead: counted. (A copy of a counted ballot, a duplicate, is not kept: it changed
//!   nothing, and costs no write.)
//!
//! So a voter whose first ballot counts and whose later vote was refused reads both: the
//! ballot that counts, and the refusal of the last attempt (never "rejected" alone).
//!
//! **Voter tokens** are registered when minted: `voter_token:{sha3-256 of the raw key}` holds
//! the token's `token_id` for the token's lifetime. A request that presents a token whose hash
//! is registered proves that it holds a token pollcast minted for that `token_id`, with no
//! need to read Momento's token format (which is not public) and no call made with the
//! voter's credentials, so it works unchanged against Momento's service.

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};

use crate::domain::{Ballot, PollId, Rejection, TokenId, VoterId};
use crate::momento::ballots::BallotStore;
use crate::momento::{keys, Momento, StoreResult};

/// How long a voter's last rejection is kept (at most the record TTL): long enough for a page
/// or an app to ask, and for a voter who reopens the page later the same day.
pub const REJECTION_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// Longest `ref` kept from a vote message (a client's id for one attempt; longer ones are cut).
const MAX_REF_LEN: usize = 64;

/// A voter's last rejected vote, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The stable reason ([`Rejection::reason`]).
    pub reason: String,
    /// What went wrong, for people.
    pub message: String,
    /// Topic sequence number of the rejected vote.
    pub seq: u64,
    /// The `ref` the vote message carried, if any.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub vote_ref: Option<String>,
    /// When the pipeline rejected it.
    pub at: DateTime<Utc>,
}

/// A voter's counted ballot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Topic sequence number of the vote that set it.
    pub seq: u64,
    /// The option ids counted: ranked polls best first, others in ascending order.
    pub choices: Vec<String>,
    /// The rating counted (rating polls).
    pub value: Option<i64>,
    /// The entries counted (open-text polls).
    pub texts: Vec<String>,
}

/// What the voter's last processed vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastAttempt {
    /// No vote of this voter processed yet (one may be on its way).
    None,
    /// It is the ballot that counts.
    Counted,
    /// It was refused; nothing of it counts.
    Rejected(Rejected),
}

/// What counts for a voter, and what their last attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteStatus {
    /// The ballot that counts, if one does.
    pub counted: Option<Counted>,
    /// What the last processed vote did.
    pub last: LastAttempt,
}

impl VoteStatus {
    /// The status from what is stored: the later of the two (by topic sequence number) is the
    /// last attempt; the counted ballot counts whatever came after it.
    pub fn of(counted: Option<Counted>, rejected: Option<Rejected>) -> Self {
        let last = match (&counted, rejected) {
            (None, None) => LastAttempt::None,
            (Some(_), None) => LastAttempt::Counted,
            (Some(ballot), Some(rejected)) if ballot.seq >= rejected.seq => LastAttempt::Counted,
            (_, Some(rejected)) => LastAttempt::Rejected(rejected),
        };
        VoteStatus { counted, last }
    }
}

/// Last attempts and counted ballots, per voter.
#[derive(Clone)]
pub struct VoteStatusStore {
    momento: Momento,
    ballots: BallotStore,
    ttl: Duration,
}

impl VoteStatusStore {
    /// Rejections live [`REJECTION_TTL`], at most `max_ttl` (the record TTL).
    pub fn new(momento: Momento, ballots: BallotStore, max_ttl: Duration) -> Self {
        Self {
            momento,
            ballots,
            ttl: REJECTION_TTL.min(max_ttl),
        }
    }

    /// Keeps `rejection` as the last rejected vote of the publisher of `message` (`token_id`
    /// names the voter, and the poll the token is for). Nothing is kept for a publisher
    /// without a valid voter `token_id`: no voter could ask.
    #[tracing::instrument(level = "debug", skip_all, fields(reason = rejection.reason()))]
    pub async fn record_rejection(
        &self,
        token_id: &str,
        message: &str,
        seq: u64,
        rejection: &Rejection,
    ) -> StoreResult<()> {
        let Ok(token_id) = TokenId::parse(token_id) else {
            return Ok(());
        };
        let rejected = Rejected {
            reason: rejection.reason().to_owned(),
            message: rejection.to_string(),
            seq,
            vote_ref: vote_ref(message),
            at: Utc::now(),
        };
        let json = serde_json::to_string(&rejected).context("encoding a rejection")?;
        let key = keys::vote_status(token_id.poll_id(), token_id.voter_id());
        self.momento
            .set(
                &key,
                json.as_bytes(),
                self.ttl,
                "storing the voter's last rejection",
            )
            .await?;
        Ok(())
    }

    /// What counts for the voter, and what their last attempt did.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn status(&self, poll: &PollId, voter: &VoterId) -> StoreResult<VoteStatus> {
        let (counted, rejected) = tokio::try_join!(self.counted(poll, voter), async {
            let key = keys::vote_status(poll, voter);
            match self
                .momento
                .get(key, "reading the voter's last attempt")
                .await?
            {
                None => Ok(None),
                Some(raw) => Ok(serde_json::from_slice::<Rejected>(&raw).ok()),
            }
        })?;
        Ok(VoteStatus::of(counted, rejected))
    }

    /// The voter's ballot, if its key holds one and the ledger has the same choices (a claim
    /// whose ledger write has not landed yet is not counted yet).
    async fn counted(&self, poll: &PollId, voter: &VoterId) -> StoreResult<Option<Counted>> {
        let Some(ballot) = self.ballots.current(poll, voter).await? else {
            return Ok(None);
        };
        let ledger = self.ballots.ledger_entry(poll, voter).await?;
        if ledger.as_deref() != Some(ballot.choices.as_slice()) {
            return Ok(None);
        }
        let decoded = Ballot::from_bytes(&ballot.choices).context("a ballot key holds garbage")?;
        Ok(Some(Counted {
            seq: ballot.position.seq,
            choices: decoded.choices().iter().map(ToString::to_string).collect(),
            value: decoded.value(),
            texts: decoded.texts().to_vec(),
        }))
    }
}

/// The `ref` of a vote message (`{"poll_id": .., "choices": .., "ref": "..."}`), if it has a
/// short one of visible ASCII.
fn vote_ref(message: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(message).ok()?;
    let text = value.get("ref")?.as_str()?;
    let ok =
        !text.is_empty() && text.len() <= MAX_REF_LEN && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_owned())
}

/// The voter tokens pollcast minted, by a hash of their key.
#[derive(Clone)]
pub struct VoterTokenRegistry {
    momento: Momento,
    max_ttl: Duration,
}

impl VoterTokenRegistry {
    /// Entries live as long as their token, at most `max_ttl` (the record TTL: Momento's
    /// service caps item TTLs at 24 h, tokens may live 25 h).
    pub fn new(momento: Momento, max_ttl: Duration) -> Self {
        Self { momento, max_ttl }
    }

    /// Registers a token just minted for `token_id`, valid for `valid_for`.
    #[tracing::instrument(level = "debug", skip_all, fields(token_id = %token_id))]
    pub async fn register(
        &self,
        token: &SecretString,
        token_id: &TokenId,
        valid_for: Duration,
    ) -> StoreResult<()> {
        let hash = key_hash(token.expose_secret()).context("a minted token has no key")?;
        self.momento
            .set(
                &keys::voter_token(&hash),
                token_id.to_string().as_bytes(),
                valid_for.min(self.max_ttl).max(Duration::from_secs(1)),
                "registering a voter token",
            )
            .await?;
        Ok(())
    }

    /// The `token_id` of `presented` (the token as minted, its raw key, either after
    /// `Bearer `), if pollcast minted it and it has not expired.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn owner(&self, presented: &str) -> StoreResult<Option<TokenId>> {
        let Some(hash) = key_hash(presented) else {
            return Ok(None);
        };
        let raw = self
            .momento
            .get(keys::voter_token(&hash), "looking up a voter token")
            .await?;
        Ok(raw
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|id| TokenId::parse(&id).ok()))
    }
}

/// Hex SHA3-256 of a token's raw key. A token comes as the SDKs' `auth_token` (base64 of
/// `{"api_key": .., "endpoint": ..}`) or as the raw key the HTTP API takes; both give the same
/// hash. `None` for an empty token.
fn key_hash(presented: &str) -> Option<String> {
    let presented = presented.trim();
    let presented = presented
        .strip_prefix("Bearer ")
        .unwrap_or(presented)
        .trim();
    if presented.is_empty() {
        return None;
    }
    let raw = raw_key(presented).unwrap_or_else(|| presented.to_owned());
    Some(hex::encode(Sha3_256::digest(raw.as_bytes())))
}

/// The `api_key` inside an `auth_token`, if `token` is one.
fn raw_key(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("api_key")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(seq: u64) -> Counted {
        Counted {
            seq,
            choices: vec!["o1".into()],
            value: None,
            texts: Vec::new(),
        }
    }

    fn rejected(seq: u64) -> Rejected {
        Rejected {
            reason: "poll_not_open".into(),
            message: "poll is closed, not open".into(),
            seq,
            vote_ref: None,
            at: DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time"),
        }
    }

    #[test]
    fn what_counts_and_what_the_last_attempt_did_are_told_apart() {
        let status = VoteStatus::of;
        assert_eq!(status(None, None).last, LastAttempt::None);
        assert_eq!(status(Some(counted(3)), None).last, LastAttempt::Counted);
        assert_eq!(
            status(Some(counted(5)), Some(rejected(4))).last,
            LastAttempt::Counted
        );
        // A first ballot counted, a later vote refused: both are told.
        let both = status(Some(counted(5)), Some(rejected(6)));
        assert_eq!(both.counted, Some(counted(5)));
        assert_eq!(both.last, LastAttempt::Rejected(rejected(6)));
        let refused = status(None, Some(rejected(1)));
        assert_eq!(refused.counted, None);
        assert_eq!(refused.last, LastAttempt::Rejected(rejected(1)));
    }

    #[test]
    fn a_token_hashes_the_same_as_its_raw_key() {
        let auth_token = base64::engine::general_purpose::STANDARD
            .encode(r#"{"api_key":"eyJraw.key.sig","endpoint":"localhost"}"#);
        assert_eq!(key_hash(&auth_token), key_hash("eyJraw.key.sig"));
        assert_eq!(
            key_hash(&format!("Bearer {auth_token}")),
            key_hash("eyJraw.key.sig")
        );
        assert_ne!(key_hash("eyJraw.key.sig"), key_hash("eyJother.key.sig"));
        assert_eq!(key_hash("  "), None);
    }

    #[test]
    fn only_short_visible_refs_are_kept() {
        assert_eq!(
            vote_ref(r#"{"poll_id":"p1","choices":[],"ref":"r-12"}"#),
            Some("r-12".into())
        );
        assert_eq!(vote_ref(r#"{"ref":"has space"}"#), None);
        assert_eq!(
            vote_ref(&format!(r#"{{"ref":"{}"}}"#, "x".repeat(65))),
            None
        );
        assert_eq!(vote_ref(r#"{"ref":7}"#), None);
        assert_eq!(vote_ref("not json"), None);
    }
}
