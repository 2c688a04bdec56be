//! Vote ingest: the signed webhook and the votes-topic subscription, both feeding one
//! [`pipeline::Pipeline`]. Which paths run is `--ingest` (default: webhook in embedded mode,
//! subscription against Momento's service); running both counts each ballot once.

pub mod pipeline;
pub mod subscription;
pub mod webhook;
