//! Why a vote was not counted: every [`Rejection`], each with a stable reason for metrics.

use thiserror::Error;

use super::super::ids::{IdError, OptionId, PollId};
use super::super::lifecycle::PollState;
use super::super::poll::PollKind;
use super::MAX_VOTE_MESSAGE_BYTES;

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
    /// The message carries more than one of `choices`, `value` and `texts`.
    #[error("a ballot carries one of choices, value or texts, not several")]
    MixedBallot,
    /// The message answers as another kind of poll does (a `value` for a single poll, ...).
    #[error("a {kind} poll takes {expected}, not {sent}")]
    WrongKind {
        /// The poll's kind.
        kind: PollKind,
        /// What it takes (`choices`, `value`, `texts`).
        expected: &'static str,
        /// What the message carried.
        sent: &'static str,
    },
    /// A rating that is not a whole number.
    #[error("the value {value} is not a whole number")]
    NotAnInteger {
        /// The value as sent (JSON).
        value: String,
    },
    /// A rating outside the poll's scale.
    #[error("the value {value} is not on the scale {min}..={max}")]
    OutOfScale {
        /// The value sent.
        value: i64,
        /// The scale's lowest value.
        min: i32,
        /// The scale's highest value.
        max: i32,
    },
    /// An open-text ballot with no entry, or an entry blank once trimmed.
    #[error("entry {index} is empty")]
    EmptyEntry {
        /// Which entry (0 when the ballot has none).
        index: usize,
    },
    /// An entry longer than the poll's `max_length`.
    #[error("entry {index} has {chars} characters, more than {max}")]
    EntryTooLong {
        /// Which entry.
        index: usize,
        /// Its length in characters.
        chars: usize,
        /// The poll's `max_length`.
        max: u32,
    },
    /// More entries than the poll's `max_entries`.
    #[error("ballot has {got} entries, more than {max}")]
    TooManyEntries {
        /// The poll's `max_entries`.
        max: u32,
        /// How many it has.
        got: usize,
    },
    /// An entry holding a control character (a line break, a bidi control, ...).
    #[error("entry {index} contains a control character")]
    ControlCharacter {
        /// Which entry.
        index: usize,
    },
    /// The same entry twice in one ballot (compared ignoring case).
    #[error("entry {index} repeats an earlier one")]
    DuplicateEntry {
        /// Which entry.
        index: usize,
    },
}

impl Rejection {
    /// Every [`Rejection::reason`], so metrics can register each label up front.
    pub const REASONS: [&'static str; 22] = [
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
        "mixed_ballot",
        "wrong_kind",
        "not_an_integer",
        "out_of_scale",
        "empty_entry",
        "entry_too_long",
        "too_many_entries",
        "control_character",
        "duplicate_entry",
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
            Rejection::MixedBallot => "mixed_ballot",
            Rejection::WrongKind { .. } => "wrong_kind",
            Rejection::NotAnInteger { .. } => "not_an_integer",
            Rejection::OutOfScale { .. } => "out_of_scale",
            Rejection::EmptyEntry { .. } => "empty_entry",
            Rejection::EntryTooLong { .. } => "entry_too_long",
            Rejection::TooManyEntries { .. } => "too_many_entries",
            Rejection::ControlCharacter { .. } => "control_character",
            Rejection::DuplicateEntry { .. } => "duplicate_entry",
        }
    }
}
