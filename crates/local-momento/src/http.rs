//! Momento's HTTP topics API. (Skeleton: lands with the pubsub service.)

use std::sync::Arc;

use crate::Shared;

/// The routes of the HTTP topics API.
pub(crate) fn routes(_shared: Arc<Shared>) -> poem::Route {
    poem::Route::new()
}
