//! The pure heart of pollcast: no I/O, no async, no SDK types.
//!
//! - [`ids`]: `PollId`, `OptionId`, `VoterId`, `TokenId`, parsed once at the edge.
//! - [`poll`] and [`new_poll`]: the poll record, and its creation from what an admin submits
//!   ([`validation`] holds the shared field rules). The views the API serves are in
//!   `api/views.rs`.
//! - [`lifecycle`]: the state machine `draft -> scheduled -> open -> closed -> archived`.
//! - [`ballot`]: the vote message, its checks against a poll, the canonical stored ballot.
//! - [`position`]: a vote's place in the votes topic: which of a voter's votes is the latest.
//! - [`tally`] and [`irv`]: counts per option and instant-runoff for ranked polls.
//! - [`results`]: the results payload clients receive.
//!
//! Time is always passed in (`now`, `at`), never read from the clock, so every rule is a
//! function of its arguments and can be tested exhaustively.

pub mod ballot;
pub mod ids;
pub mod irv;
pub mod lifecycle;
pub mod new_poll;
pub mod poll;
pub mod position;
pub mod results;
pub mod tally;
pub mod validation;

#[cfg(test)]
mod test_support;

pub use ballot::{
    Ballot, Rejection, StoredBallotError, VoteMessage, VoteTiming, MAX_VOTE_MESSAGE_BYTES,
};
pub use ids::{IdError, IdKind, OptionId, PollId, TokenId, VoterId};
pub use irv::{instant_runoff, Round, Runoff};
pub use lifecycle::{
    accepts_votes, transition, Event, EventKind, PollState, PollTimes, Refusal, TransitionError,
};
pub use new_poll::NewPoll;
pub use poll::{next_clock_deadline, Access, Poll, PollKind, PollOption, ResultsVisibility};
pub use position::VotePosition;
pub use results::Results;
pub use tally::{RunningTally, Tally};
pub use validation::{Rule, ValidationError, ValidationErrors};
