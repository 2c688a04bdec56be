//! Black-box tests of the local Momento, driven through the official `momento` crate.
//! One test binary (modules below) so it links once.

mod cache;
mod control;
mod durability;
mod faults;
// Shared by every module; not each module uses every helper.
#[allow(dead_code)]
mod helpers;
mod http_api;
mod http_api_errors;
mod publish_limits;
mod quota;
mod slow_clients;
mod tokens;
mod topic_permissions;
mod topic_streams;
mod topics;
mod webhook_admission;
mod webhooks;
