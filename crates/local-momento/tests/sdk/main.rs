//! Black-box tests of the local Momento, driven through the official `momento` crate.
//! One test binary (modules below) so it links once.

mod helpers;
mod http_api;
mod tokens;
mod topic_permissions;
mod topics;
mod webhooks;
