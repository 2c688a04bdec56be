//! The pure heart of pollcast: no I/O, no async, no SDK types.
//!
//! - [`ids`]: `PollId`, `OptionId`, `VoterId`, `TokenId`, parsed once at the edge.
//! - [`poll`] and [`new_poll`]: the poll record, and its creation from what an admin submits
//!   ([`validation`] holds the shared field rules). The views the API serves are in
//!   `api/views.rs`.
//! - [`lifecycle`]: the state machine `draft -> scheduled -> open -> closed -> archived`.
//! - [`kinds`]: the settings of `rating` (the scale) and `open_text` polls (limits, moderation).
//! - [`ballot`]: the vote message, its checks against a poll, the canonical stored ballot.
//! - [`position`]: a vote's place in the votes topic: which of a voter's votes is the latest.
//! - [`tally`] and [`irv`]: counts per option and instant-runoff for ranked polls.
//! - [`rating`]: a rating poll's counts per value, mean and median.
//! - [`open_text`] and [`words`]: an open-text poll's entries, their moderation, and the word
//!   list of a word cloud.
//! - [`profanity`]: the optional profanity filter of open-text polls.
//! - [`session`]: events (a join code, an ordered list of polls, the active one).
//! - [`challenge`]: the proof of work (ALTCHA's scheme) of `"challenge": "pow"` polls.
//! - [`results`]: the results payload clients receive.
//!
//! Time is always passed in (`now`, `at`), never read from the clock, so every rule is a
//! function of its arguments and can be tested exhaustively.

pub mod ballot;
pub mod challenge;
pub mod ids;
pub mod irv;
pub mod kinds;
pub mod lifecycle;
pub mod new_poll;
pub mod open_text;
pub mod poll;
pub mod position;
pub mod profanity;
pub mod rating;
pub mod results;
pub mod session;
pub mod tally;
pub mod validation;
pub mod words;

#[cfg(test)]
mod test_support;

pub use ballot::{
    Answer, Ballot, Rejection, StoredBallotError, VoteMessage, VoteTiming, MAX_VOTE_MESSAGE_BYTES,
};
pub use ids::{IdError, IdKind, OptionId, PollId, TokenId, VoterId};
pub use irv::{instant_runoff, Round, Runoff};
pub use kinds::{Moderation, Scale};
pub use lifecycle::{
    accepts_votes, transition, Event, EventKind, PollState, PollTimes, Refusal, TransitionError,
};
pub use new_poll::NewPoll;
pub use open_text::{Decision, Entry, EntryKey, EntryStatus, OpenTextResults};
pub use poll::{next_clock_deadline, Access, Poll, PollKind, PollOption, ResultsVisibility};
pub use position::VotePosition;
pub use results::Results;
pub use tally::{RunningTally, Tally};
pub use validation::{Rule, ValidationError, ValidationErrors};
