//! What the tests share; no tests here.
//!
//! - [`answers`]: a poll opened with its voters' tokens, and answers of any kind published.
//! - [`app`]: `spawn_app()`, the [`app::TestApp`] and its typed request helpers, assertions.
//! - [`ballot`]: a voter's ballot status, asked with the voter's token.
//! - [`voting`]: voter tokens in bulk, votes published and delivered, results and metrics read.
//! - [`runoff`]: instant-runoff counted by the tests on their own.
//! - [`sdk`]: the official `momento` crate as a voter or an operator would use it.
//! - [`process`]: the `pollcast serve` and `pollcast local-momento` binaries as processes.
//! - [`sse`]: Server-Sent Events read event by event; the results stream and CSV export.

pub mod answers;
pub mod app;
pub mod ballot;
pub mod process;
pub mod runoff;
pub mod sdk;
pub mod sse;
pub mod voting;
