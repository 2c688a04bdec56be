//! The pure heart of pollcast: no I/O, no async, no SDK types.
//!
//! - [`ids`]: `PollId`, `OptionId`, `VoterId`, `TokenId`, parsed once at the edge.
//!
//! Time is always passed in (`now`, `at`), never read from the clock, so every rule is a
//! function of its arguments and can be tested exhaustively.

pub mod ids;

pub use ids::{IdError, IdKind, OptionId, PollId, TokenId, VoterId};
