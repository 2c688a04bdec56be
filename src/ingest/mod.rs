//! Vote ingest: the webhook (signed over HTTP, or in process from the embedded local
//! Momento's outbox, [`in_process`]) and the votes-topic subscription, all feeding one
//! [`pipeline::Pipeline`]. Which paths run is `--ingest` (default: webhook in embedded mode,
//! subscription against Momento's service); running both counts each ballot once.

pub mod in_process;
pub mod pipeline;
pub mod shards;
pub mod subscription;
pub mod webhook;
