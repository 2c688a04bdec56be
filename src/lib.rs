//! pollcast: a real-time polling service on Momento topics, cache and disposable tokens.
//!
//! Layout:
//! - [`config`]: the command line and every setting (`POLLCAST_*` env vars too).
//! - [`domain`]: pure rules: ids, polls, the lifecycle state machine, ballots, tally, IRV.
//! - [`standalone`]: `pollcast local-momento`, the local Momento as a server of its own.
//!
//! The Momento-compatible server itself is the `local-momento` crate in `crates/`.

pub mod config;
pub mod domain;
pub mod standalone;
