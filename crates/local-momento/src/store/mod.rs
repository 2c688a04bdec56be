//! The cache store. (Skeleton: the full store lands with the cache service.)

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::Shared;

/// Every cache of the server, by name.
#[derive(Default)]
pub(crate) struct Store {
    caches: DashMap<String, Arc<Cache>>,
}

/// One cache.
#[derive(Default)]
pub(crate) struct Cache {}

/// The cache already exists.
#[derive(Debug, thiserror::Error)]
#[error("cache '{0}' already exists")]
pub(crate) struct AlreadyExists(pub String);

impl Store {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Creates a cache; an existing one is left as it is and reported.
    pub(crate) fn create_cache(&self, name: &str) -> Result<(), AlreadyExists> {
        match self.caches.entry(name.to_owned()) {
            dashmap::Entry::Occupied(_) => Err(AlreadyExists(name.to_owned())),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Arc::default());
                Ok(())
            }
        }
    }

    /// Whether a cache of that name exists.
    pub(crate) fn contains_cache(&self, name: &str) -> bool {
        self.caches.contains_key(name)
    }
}

/// Removes expired items every `interval` until `shutdown` fires.
pub(crate) async fn sweep_expired(
    _shared: Arc<Shared>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
    }
}
