//! Votes: the message a voter publishes, its checks against a poll, and the stored ballot.
//!
//! The ingest pipeline runs, in order, and the first failing step names the [`Rejection`]:
//! 1. [`VoteMessage::parse`]: size (`too_large`), JSON shape and poll id (`malformed`).
//! 2. [`VoteMessage::voter`]: the publisher's `token_id` (`missing_token`, `invalid_token`) must
//!    name the message's poll (`wrong_poll`: a token for one poll spoofing another).
//! 3. Loading the poll (`unknown_poll`): I/O, done by the caller.
//! 4. [`Ballot::validate`]: the poll counts a vote cast when this one was (`poll_not_open`; see
//!    [`Poll::counts_vote`]: open then, and not closed longer than the grace window), then the
//!    choices: none at all (`too_few_choices`), an id the poll lacks (`unknown_option`), an
//!    option named twice (`duplicate_choice`), more than the kind allows (`too_many_choices`).
//! 5. Dedupe against the stored ballot (`already_voted` unless `allow_revote`) and the
//!    `max_voters` cap (`poll_full`): the caller decides, with the cache.
//!
//! Unknown fields in the message are ignored so newer clients can add some; the voter's
//! identity is never read from the message, only from the token.
//!
//! The stored form ([`Ballot::to_bytes`]) is canonical: `o1,o3,o2`, option ids joined by
//! commas, in rank order for `ranked` polls and in ascending id order for `multi` ones (where
//! order means nothing), so two ballots with the same meaning have the same bytes and a revote
//! can compare-and-set from the exact old bytes. It is also what the poll's ballot ledger holds
//! for the voter (field = voter id, value = these bytes), which results are counted from.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use super::ids::{IdError, OptionId, PollId, TokenId, VoterId};
use super::lifecycle::PollState;
use super::poll::{Poll, PollKind};

/// Largest vote message accepted, in bytes: Momento's limit for a topic message.
pub const MAX_VOTE_MESSAGE_BYTES: usize = 4096;

/// Why a vote was not counted. [`Rejection::reason`] is a stable label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// The message is larger than [`MAX_VOTE_MESSAGE_BYTES`].
    #[error("vote message has {bytes} bytes, more than {MAX_VOTE_MESSAGE_BYTES}")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The message is not `{"poll_id": "...", "choices": ["o1", ...]}`.
    #[error("vote message is malformed: {detail}")]
    Malformed {
        /// What is wrong with it.
        detail: String,
    },
    /// The publisher had no disposable token (Momento reports an empty `token_id`).
    #[error("vote was published without a voter token")]
    MissingToken,
    /// The publisher's `token_id` is not `"{poll_id}:{voter_id}"`.
    #[error("publisher token id is invalid: {0}")]
    InvalidToken(IdError),
    /// The token was issued for another poll than the one the message names.
    #[error("token is for poll {token_poll}, not for poll {message_poll}")]
    WrongPoll {
        /// The poll the token is for.
        token_poll: PollId,
        /// The poll the message names.
        message_poll: PollId,
    },
    /// No poll has the message's id.
    #[error("no poll {poll_id}")]
    UnknownPoll {
        /// The id the message named.
        poll_id: PollId,
    },
    /// The poll is not open when the vote was cast.
    #[error("poll is {state}, not open")]
    PollNotOpen {
        /// Its state at the vote's time.
        state: PollState,
    },
    /// A choice is not an option of the poll.
    #[error("poll has no option {choice:?}")]
    UnknownOption {
        /// The choice as sent.
        choice: String,
    },
    /// An option is named twice.
    #[error("option {choice} is chosen more than once")]
    DuplicateChoice {
        /// The repeated option.
        choice: OptionId,
    },
    /// Fewer choices than the poll needs.
    #[error("ballot has {got} choices, fewer than {min}")]
    TooFewChoices {
        /// The fewest allowed.
        min: usize,
        /// How many it has.
        got: usize,
    },
    /// More choices than the poll allows.
    #[error("ballot has {got} choices, more than {max}")]
    TooManyChoices {
        /// The most allowed.
        max: usize,
        /// How many it has.
        got: usize,
    },
    /// The voter already has a ballot and the poll does not allow revoting.
    #[error("voter has already voted and the poll does not allow revoting")]
    AlreadyVoted,
    /// The poll already has `max_voters` ballots.
    #[error("poll already has its {max_voters} ballots")]
    PollFull {
        /// The poll's cap.
        max_voters: u32,
    },
}

impl Rejection {
    /// Every [`Rejection::reason`], so metrics can register each label up front.
    pub const REASONS: [&'static str; 13] = [
        "too_large",
        "malformed",
        "missing_token",
        "invalid_token",
        "wrong_poll",
        "unknown_poll",
        "poll_not_open",
        "unknown_option",
        "duplicate_choice",
        "too_few_choices",
        "too_many_choices",
        "already_voted",
        "poll_full",
    ];

    /// A stable `snake_case` label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Malformed { .. } => "malformed",
            Rejection::MissingToken => "missing_token",
            Rejection::InvalidToken(_) => "invalid_token",
            Rejection::WrongPoll { .. } => "wrong_poll",
            Rejection::UnknownPoll { .. } => "unknown_poll",
            Rejection::PollNotOpen { .. } => "poll_not_open",
            Rejection::UnknownOption { .. } => "unknown_option",
            Rejection::DuplicateChoice { .. } => "duplicate_choice",
            Rejection::TooFewChoices { .. } => "too_few_choices",
            Rejection::TooManyChoices { .. } => "too_many_choices",
            Rejection::AlreadyVoted => "already_voted",
            Rejection::PollFull { .. } => "poll_full",
        }
    }
}

/// A decoded vote message, not yet checked against its poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteMessage {
    poll_id: PollId,
    choices: Vec<String>,
}

#[derive(Deserialize)]
struct WireVote {
    poll_id: String,
    choices: Vec<String>,
}

impl VoteMessage {
    /// Decodes `{"poll_id":"p7Kx2","choices":["o1"]}`. For `ranked` polls the choices are
    /// the ranking, best first. Choices stay text until [`Ballot::validate`], so a choice
    /// that is no option id is reported as `unknown_option`, not as `malformed`.
    pub fn parse(text: &str) -> Result<Self, Rejection> {
        if text.len() > MAX_VOTE_MESSAGE_BYTES {
            return Err(Rejection::TooLarge { bytes: text.len() });
        }
        let wire: WireVote = serde_json::from_str(text).map_err(|e| Rejection::Malformed {
            detail: e.to_string(),
        })?;
        let poll_id = PollId::parse(&wire.poll_id).map_err(|e| Rejection::Malformed {
            detail: e.to_string(),
        })?;
        Ok(Self {
            poll_id,
            choices: wire.choices,
        })
    }

    /// The poll the message names; the caller loads it.
    pub fn poll_id(&self) -> &PollId {
        &self.poll_id
    }

    /// The choices as sent.
    pub fn choices(&self) -> &[String] {
        &self.choices
    }

    /// The voter, from the publisher's `token_id` as Momento reports it (`""` when the
    /// publisher had no disposable token); refused unless the token is for this poll.
    pub fn voter(&self, token_id: &str) -> Result<VoterId, Rejection> {
        if token_id.is_empty() {
            return Err(Rejection::MissingToken);
        }
        let (token_poll, voter) = TokenId::parse(token_id)
            .map_err(Rejection::InvalidToken)?
            .into_parts();
        if token_poll != self.poll_id {
            return Err(Rejection::WrongPoll {
                token_poll,
                message_poll: self.poll_id.clone(),
            });
        }
        Ok(voter)
    }
}

/// When a vote was cast and when it is judged, and how long after its close a poll still counts
/// votes cast while it was open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteTiming {
    /// When the vote was published: the webhook's `event_timestamp`, or when the subscription
    /// read it (a bound from above on its publish time).
    pub cast_at: DateTime<Utc>,
    /// When it is judged (now).
    pub judged_at: DateTime<Utc>,
    /// How long after a poll's close votes cast before it still count.
    pub close_grace: chrono::Duration,
}

impl VoteTiming {
    /// A vote cast and judged at `at`, without grace.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            cast_at: at,
            judged_at: at,
            close_grace: chrono::Duration::zero(),
        }
    }
}

/// A vote checked against its poll: options that exist, as many as the kind allows, no
/// repeats, in canonical order. Only made by [`Ballot::validate`] and [`Ballot::from_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ballot {
    choices: Vec<OptionId>,
}

impl Ballot {
    /// Checks `message` against `poll` for a vote cast and judged as `timing` says (the
    /// publish time when known, so a vote sent before `closes_at` but processed late, behind a
    /// queue or a lagging scheduler, is judged by when it was cast; see [`Poll::counts_vote`]).
    pub fn validate(
        poll: &Poll,
        message: &VoteMessage,
        timing: VoteTiming,
    ) -> Result<Ballot, Rejection> {
        // The caller loaded the poll the message names; a mismatch means it has no such poll.
        if poll.id() != message.poll_id() {
            return Err(Rejection::UnknownPoll {
                poll_id: message.poll_id().clone(),
            });
        }
        poll.counts_vote(timing.cast_at, timing.judged_at, timing.close_grace)
            .map_err(|state| Rejection::PollNotOpen { state })?;
        let (min, max) = poll.choice_bounds();
        let got = message.choices.len();
        if got < min {
            return Err(Rejection::TooFewChoices { min, got });
        }
        let mut choices = Vec::with_capacity(got);
        let mut seen = BTreeSet::new();
        for text in &message.choices {
            let id = OptionId::parse(text)
                .ok()
                .filter(|&id| poll.option(id).is_some())
                .ok_or_else(|| Rejection::UnknownOption {
                    choice: text.clone(),
                })?;
            if !seen.insert(id) {
                return Err(Rejection::DuplicateChoice { choice: id });
            }
            choices.push(id);
        }
        if got > max {
            return Err(Rejection::TooManyChoices { max, got });
        }
        if poll.kind() == PollKind::Multi {
            choices.sort_unstable();
        }
        Ok(Ballot { choices })
    }

    /// The chosen options: the ranking, best first, for `ranked` polls; ascending ids
    /// otherwise.
    pub fn choices(&self) -> &[OptionId] {
        &self.choices
    }

    /// The canonical stored form, e.g. `o1,o3,o2`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Decodes the stored form. Only the exact bytes [`Ballot::to_bytes`] writes are
    /// accepted, so a decoded ballot re-encodes to the same bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ballot, StoredBallotError> {
        let text = std::str::from_utf8(bytes).map_err(|_| StoredBallotError::NotUtf8)?;
        let choices = text
            .split(',')
            .map(OptionId::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoredBallotError::BadOption)?;
        let distinct: BTreeSet<_> = choices.iter().collect();
        if distinct.len() != choices.len() {
            return Err(StoredBallotError::Duplicate);
        }
        Ok(Ballot { choices })
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.choices.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

impl AsRef<[OptionId]> for Ballot {
    fn as_ref(&self) -> &[OptionId] {
        &self.choices
    }
}

/// Why stored ballot bytes do not decode: the cache holds something pollcast did not write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoredBallotError {
    /// The bytes are not UTF-8.
    #[error("stored ballot is not UTF-8")]
    NotUtf8,
    /// A part is not an option id (this includes empty bytes and stray spaces).
    #[error("stored ballot has a bad option id: {0}")]
    BadOption(IdError),
    /// An option appears twice.
    #[error("stored ballot names an option twice")]
    Duplicate,
}

#[cfg(test)]
mod tests;
