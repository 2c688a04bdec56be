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
//!    option named twice (`duplicate_choice`), more than the kind allows (`too_many_choices`);
//!    a rating ([`answers`]): not a whole number (`not_an_integer`), off the scale
//!    (`out_of_scale`); open text: too many entries (`too_many_entries`), an empty one
//!    (`empty_entry`), one too long (`entry_too_long`), a control character
//!    (`control_character`), one repeated (`duplicate_entry`). An answer of another kind
//!    (`wrong_kind`), or several at once (`mixed_ballot`), is refused first.
//! 5. Dedupe against the stored ballot (`already_voted` unless `allow_revote`) and the
//!    `max_voters` cap (`poll_full`): the caller decides, with the cache.
//!
//! Unknown fields in the message are ignored so newer clients can add some; the voter's
//! identity is never read from the message, only from the token.
//!
//! The stored form ([`Ballot::to_bytes`]) is canonical: `o1,o3,o2`, option ids joined by
//! commas, in rank order for `ranked` polls and in ascending id order for `multi` ones (where
//! order means nothing); `v4` for a rating; `t` and the JSON array of the normalised entries
//! for open text (`t["Rust","Zig"]`, in the order given). So two ballots with the same meaning
//! have the same bytes and a revote can compare-and-set from the exact old bytes. It is also what the poll's ballot ledger holds
//! for the voter (field = voter id, value = these bytes), which results are counted from.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use super::ids::{IdError, OptionId, PollId, TokenId, VoterId};
use super::poll::{Poll, PollKind};

pub mod answers;
mod rejection;

pub use rejection::Rejection;

/// Largest vote message accepted, in bytes: Momento's limit for a topic message.
pub const MAX_VOTE_MESSAGE_BYTES: usize = 4096;

/// What a vote message answers with, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `choices`: option ids (single, multi, ranked polls).
    Choices(Vec<String>),
    /// `value`: a rating, any JSON value until checked (so `4.5` is `not_an_integer`).
    Value(serde_json::Value),
    /// `texts`: open-text entries, as sent.
    Texts(Vec<String>),
}

impl Answer {
    /// The field that carried it.
    pub fn field(&self) -> &'static str {
        match self {
            Answer::Choices(_) => "choices",
            Answer::Value(_) => "value",
            Answer::Texts(_) => "texts",
        }
    }
}

/// A decoded vote message, not yet checked against its poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteMessage {
    poll_id: PollId,
    answer: Answer,
}

#[derive(Deserialize)]
struct WireVote {
    poll_id: String,
    #[serde(default)]
    choices: Option<Vec<String>>,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    texts: Option<Vec<String>>,
}

impl VoteMessage {
    /// Decodes `{"poll_id":"p7Kx2","choices":["o1"]}` (for `ranked` polls the ranking, best
    /// first), `{"poll_id":..,"value":4}` (rating) or `{"poll_id":..,"texts":["..."]}` (open
    /// text). Exactly one of the three: none is `malformed`, several `mixed_ballot`. Answers
    /// stay as sent until [`Ballot::validate`], so a choice that is no option id is reported
    /// as `unknown_option`, not as `malformed`.
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
        let value = wire.value.filter(|v| !v.is_null());
        let mut answers = [
            wire.choices.map(Answer::Choices),
            value.map(Answer::Value),
            wire.texts.map(Answer::Texts),
        ]
        .into_iter()
        .flatten();
        let answer = answers.next().ok_or_else(|| Rejection::Malformed {
            detail: "missing field `choices` (or `value`, or `texts`)".to_owned(),
        })?;
        if answers.next().is_some() {
            return Err(Rejection::MixedBallot);
        }
        Ok(Self { poll_id, answer })
    }

    /// The poll the message names; the caller loads it.
    pub fn poll_id(&self) -> &PollId {
        &self.poll_id
    }

    /// What the message answers with.
    pub fn answer(&self) -> &Answer {
        &self.answer
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
/// repeats, in canonical order; a value on the scale; entries within the limits, normalised.
/// Only made by [`Ballot::validate`] and [`Ballot::from_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ballot(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Choices(Vec<OptionId>),
    Rating(i64),
    Texts(Vec<String>),
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
        let kind = match (poll.kind(), message.answer()) {
            (k, Answer::Choices(choices)) if k.has_options() => {
                Kind::Choices(validate_choices(poll, choices)?)
            }
            (PollKind::Rating, Answer::Value(value)) => Kind::Rating(answers::rating(poll, value)?),
            (PollKind::OpenText, Answer::Texts(texts)) => Kind::Texts(answers::texts(poll, texts)?),
            (kind, sent) => {
                return Err(Rejection::WrongKind {
                    kind,
                    expected: answers::expected(kind),
                    sent: sent.field(),
                })
            }
        };
        Ok(Ballot(kind))
    }

    /// The chosen options: the ranking, best first, for `ranked` polls; ascending ids
    /// otherwise; none for ratings and texts.
    pub fn choices(&self) -> &[OptionId] {
        match &self.0 {
            Kind::Choices(choices) => choices,
            Kind::Rating(_) | Kind::Texts(_) => &[],
        }
    }

    /// The rating, for a `rating` ballot.
    pub fn value(&self) -> Option<i64> {
        match &self.0 {
            Kind::Rating(value) => Some(*value),
            _ => None,
        }
    }

    /// The entries, normalised, for an `open_text` ballot (empty otherwise).
    pub fn texts(&self) -> &[String] {
        match &self.0 {
            Kind::Texts(texts) => texts,
            _ => &[],
        }
    }

    /// The canonical stored form, e.g. `o1,o3,o2`, `v4`, `t["Rust"]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Decodes the stored form. Only the exact bytes [`Ballot::to_bytes`] writes are
    /// accepted, so a decoded ballot re-encodes to the same bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ballot, StoredBallotError> {
        let text = std::str::from_utf8(bytes).map_err(|_| StoredBallotError::NotUtf8)?;
        if let Some(value) = text.strip_prefix('v') {
            return match value.parse::<i64>() {
                Ok(v) if v.to_string() == value => Ok(Ballot(Kind::Rating(v))),
                _ => Err(StoredBallotError::BadAnswer),
            };
        }
        if let Some(json) = text.strip_prefix('t') {
            let texts: Vec<String> =
                serde_json::from_str(json).map_err(|_| StoredBallotError::BadAnswer)?;
            let ballot = Ballot(Kind::Texts(texts));
            let canonical = ballot.texts().iter().all(|t| !t.is_empty())
                && !ballot.texts().is_empty()
                && ballot.to_string() == text;
            return canonical
                .then_some(ballot)
                .ok_or(StoredBallotError::BadAnswer);
        }
        let choices = text
            .split(',')
            .map(OptionId::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoredBallotError::BadOption)?;
        let distinct: BTreeSet<_> = choices.iter().collect();
        if distinct.len() != choices.len() {
            return Err(StoredBallotError::Duplicate);
        }
        Ok(Ballot(Kind::Choices(choices)))
    }
}

/// Checks `choices` against `poll`: as many as its kind allows, every one an option, none
/// twice; ascending for `multi` polls.
fn validate_choices(poll: &Poll, sent: &[String]) -> Result<Vec<OptionId>, Rejection> {
    let (min, max) = poll.choice_bounds();
    let got = sent.len();
    if got < min {
        return Err(Rejection::TooFewChoices { min, got });
    }
    let mut choices = Vec::with_capacity(got);
    let mut seen = BTreeSet::new();
    for text in sent {
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
    Ok(choices)
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Choices(choices) => {
                for (i, id) in choices.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{id}")?;
                }
                Ok(())
            }
            Kind::Rating(value) => write!(f, "v{value}"),
            Kind::Texts(texts) => {
                let json = serde_json::to_string(texts).map_err(|_| fmt::Error)?;
                write!(f, "t{json}")
            }
        }
    }
}

impl AsRef<[OptionId]> for Ballot {
    fn as_ref(&self) -> &[OptionId] {
        self.choices()
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
    /// A rating or texts not in the canonical form.
    #[error("stored ballot has a rating or texts pollcast did not write")]
    BadAnswer,
}

#[cfg(test)]
mod tests;
