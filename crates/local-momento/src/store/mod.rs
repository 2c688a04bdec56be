//! The cache store: every cache of the server, each a sharded concurrent map (dashmap) of
//! items with a per-item TTL.
//!
//! - Expiry is a `u64` of milliseconds on a monotonic clock ([`monotonic_ms`]). An item is
//!   invisible from its expiry on (every access checks); it leaves memory at the next access to
//!   its key or at the next pass of [`sweep_expired`].
//! - Every read-modify-write (SetIf*, Increment, the dictionary writes) runs under the write
//!   lock of the key's shard, through [`Cache::with_live`], so it is atomic per key. Nothing
//!   here is async, so no lock can be held across an `.await`.
//! - A refused call (size limit, type mismatch, non-integer counter) changes nothing: every
//!   check runs before the first write.
//! - Methods take `now` (from [`monotonic_ms`]) rather than reading a clock, so tests can move
//!   time.
//! - **Durability** (see `persist`): a write first checks that the journal can take it, then,
//!   under the same shard lock that orders it, journals the post-image and stamps the item with
//!   its LSN. Every call returns the LSN the caller must wait for before answering: its own
//!   write's, or, for a read or a refused condition, that of the last change it observed (the
//!   item's, or the cache's last removal for a miss).
//!
//! Type mismatches follow Momento: a scalar read or conditional write on a dictionary key, or
//! a dictionary call on a scalar key, is refused ([`StoreError::WrongType`], which Momento
//! reports as `FAILED_PRECONDITION`). Set and Delete replace or remove a key of any type;
//! KeysExist, ItemGetTtl and UpdateTtl see keys of any type.

mod dictionary;
mod item;
mod restore;
mod scalar;
#[cfg(test)]
mod tests;

pub(crate) use dictionary::{CollectionTtl, FieldsToDelete};
pub(crate) use item::{Item, Kind, Value};
pub use scalar::Condition;
pub(crate) use scalar::{TtlUpdate, TtlUpdated};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use rand::RngCore;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::clock::monotonic_ms;
use crate::persist::record::Record;
use crate::persist::{Log, Lsn, Unavailable};
use crate::Shared;

/// Largest item: key plus value (dictionaries: name plus every field and value). Momento's.
pub(crate) const MAX_ITEM_BYTES: usize = 5 * 1024 * 1024;
/// Largest collection element: field plus value. Momento's.
pub(crate) const MAX_ELEMENT_BYTES: usize = 128 * 1024;

/// Why a cache call was refused. Nothing was written.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// The item would exceed [`MAX_ITEM_BYTES`].
    #[error("item size {size} bytes exceeds the limit of {limit} bytes (5 MB)")]
    ItemTooLarge { size: usize, limit: usize },
    /// A dictionary element would exceed [`MAX_ELEMENT_BYTES`].
    #[error("element size {size} bytes exceeds the limit of {limit} bytes (128 KB)")]
    ElementTooLarge { size: usize, limit: usize },
    /// The key holds another kind of value than the call works on.
    #[error("the key holds a {found}, but this call works on a {expected}")]
    WrongType { found: Kind, expected: Kind },
    /// Increment on a value that is not a base-10 integer.
    #[error("the stored value is not a base-10 integer")]
    NotAnInteger,
    /// Increment past the range of a signed 64-bit integer.
    #[error("adding {amount} to {current} overflows a signed 64-bit integer")]
    Overflow { current: i64, amount: i64 },
    /// The change could not be made durable (nothing was changed).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl StoreError {
    fn wrong_type(found: Kind, expected: Kind) -> Self {
        StoreError::WrongType { found, expected }
    }
}

/// Every cache of the server, by name.
#[derive(Default)]
pub(crate) struct Store {
    caches: DashMap<String, Arc<Cache>>,
    log: Log,
}

/// One cache: its items by key.
pub(crate) struct Cache {
    /// Its name, as records name it.
    name: Arc<str>,
    /// Reported by ListCaches; new for every cache created, even under an old name.
    id: String,
    items: DashMap<Box<[u8]>, Item>,
    log: Log,
    /// LSN of the last removal of a key (Delete, DictionaryDelete, creation or flush of the
    /// cache): a read that finds nothing waits for it, since the absence may be that change.
    removed: AtomicU64,
}

/// The cache already exists.
#[derive(Debug, thiserror::Error)]
#[error("cache '{0}' already exists")]
pub(crate) struct AlreadyExists(pub String);

/// No cache of that name.
#[derive(Debug, thiserror::Error)]
#[error("cache '{0}' does not exist")]
pub(crate) struct CacheNotFound(pub String);

/// Why a cache-level call (create, delete, flush) was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// Create: the cache exists.
    #[error(transparent)]
    AlreadyExists(#[from] AlreadyExists),
    /// Delete, flush: no such cache.
    #[error(transparent)]
    NotFound(#[from] CacheNotFound),
    /// The change could not be made durable.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl Store {
    /// A store with no caches that journals its changes to `log`.
    pub(crate) fn new(log: Log) -> Self {
        Self {
            caches: DashMap::new(),
            log,
        }
    }

    /// Creates a cache; an existing one is left as it is and reported. Returns the LSN to wait
    /// for.
    pub(crate) fn create_cache(&self, name: &str) -> Result<Lsn, CacheError> {
        self.log.check()?;
        match self.caches.entry(name.to_owned()) {
            dashmap::Entry::Occupied(_) => Err(AlreadyExists(name.to_owned()).into()),
            dashmap::Entry::Vacant(slot) => {
                let cache = Cache::new(name, random_id(), self.log.clone());
                let lsn = self.log.append(|| Record::CreateCache {
                    name,
                    id: &cache.id,
                });
                cache.removed.store(lsn, Ordering::Release);
                slot.insert(Arc::new(cache));
                Ok(lsn)
            }
        }
    }

    /// Whether a cache of that name exists.
    pub(crate) fn contains_cache(&self, name: &str) -> bool {
        self.caches.contains_key(name)
    }

    /// The cache of that name. Callers keep the `Arc`, not a map guard, so a call never blocks
    /// cache creation or deletion.
    pub(crate) fn cache(&self, name: &str) -> Result<Arc<Cache>, CacheNotFound> {
        self.caches
            .get(name)
            .map(|cache| cache.value().clone())
            .ok_or_else(|| CacheNotFound(name.to_owned()))
    }

    /// Deletes a cache and everything in it. Returns the LSN to wait for.
    pub(crate) fn delete_cache(&self, name: &str) -> Result<Lsn, CacheError> {
        self.log.check()?;
        match self.caches.entry(name.to_owned()) {
            dashmap::Entry::Vacant(_) => Err(CacheNotFound(name.to_owned()).into()),
            dashmap::Entry::Occupied(slot) => {
                let lsn = self.log.append(|| Record::DeleteCache { name });
                slot.remove();
                Ok(lsn)
            }
        }
    }

    /// Empties a cache, keeping the cache. Returns the LSN to wait for.
    pub(crate) fn flush_cache(&self, name: &str) -> Result<Lsn, CacheError> {
        self.log.check()?;
        // The map entry's lock orders this against a deletion or re-creation of the cache;
        // writes to its items racing with the flush land before or after it in the journal as
        // they do in memory, since each takes its shard's lock to write and to journal.
        match self.caches.entry(name.to_owned()) {
            dashmap::Entry::Vacant(_) => Err(CacheNotFound(name.to_owned()).into()),
            dashmap::Entry::Occupied(slot) => {
                let cache = slot.get();
                let lsn = self.log.append(|| Record::FlushCache { name });
                cache.removed.fetch_max(lsn, Ordering::AcqRel);
                cache.items.clear();
                Ok(lsn)
            }
        }
    }

    /// Every cache as `(name, id)`, sorted by name.
    pub(crate) fn list_caches(&self) -> Vec<(String, String)> {
        let mut caches: Vec<_> = self
            .caches
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().id.clone()))
            .collect();
        caches.sort();
        caches
    }

    /// Removes every item expired at `now`; returns how many went.
    pub(crate) fn sweep(&self, now: u64) -> usize {
        // Collect first: the map guard must not be held while each cache is swept.
        let caches: Vec<Arc<Cache>> = self.caches.iter().map(|c| c.value().clone()).collect();
        caches.iter().map(|cache| cache.sweep(now)).sum()
    }
}

fn random_id() -> String {
    let mut id = [0u8; 8];
    rand::rng().fill_bytes(&mut id);
    hex::encode(id)
}

impl Cache {
    fn new(name: &str, id: String, log: Log) -> Self {
        Self {
            name: name.into(),
            id,
            items: DashMap::new(),
            log,
            removed: AtomicU64::new(0),
        }
    }

    /// Number of items held, expired ones not yet swept included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Runs `read` on the live item at `key`, if there is one. An expired item found on the
    /// way is removed. Also returns the LSN the answer depends on: the item's, or for a miss
    /// the cache's last removal.
    fn read<R>(&self, key: &[u8], now: u64, read: impl FnOnce(&Item) -> R) -> (Option<R>, Lsn) {
        let Some(found) = self.items.get(key) else {
            return (None, self.removed());
        };
        if found.is_expired(now) {
            drop(found); // release the read lock before taking the write lock
            self.items.remove_if(key, |_, item| item.is_expired(now));
            return (None, self.removed());
        }
        (Some(read(&found)), found.lsn)
    }

    /// LSN of the last removal of a key.
    fn removed(&self) -> Lsn {
        self.removed.load(Ordering::Acquire)
    }

    /// Notes a removal journaled at `lsn`.
    fn note_removal(&self, lsn: Lsn) {
        self.removed.fetch_max(lsn, Ordering::AcqRel);
    }

    /// Runs `update` on the live item at `key` (`None` if missing or expired) while holding
    /// the write lock of the key's shard, so read-modify-write calls are atomic per key.
    /// What `update` leaves in the slot is stored; `None` removes the key. `update` must
    /// make every check before changing the slot, so a refused call writes nothing. It gets
    /// the key too, to journal its change while the lock still orders it.
    fn with_live<R>(
        &self,
        key: Vec<u8>,
        now: u64,
        update: impl FnOnce(&[u8], &mut Option<Item>) -> R,
    ) -> R {
        match self.items.entry(key.into_boxed_slice()) {
            dashmap::Entry::Occupied(mut occupied) => {
                // Move the item out so `update` can own it. The placeholder (an expired,
                // empty scalar) allocates nothing; were `update` to panic, it would be left
                // behind expired, hence invisible, rather than a half-updated item.
                let placeholder = Item {
                    value: item::Value::Scalar(Box::default()),
                    expires_at: 0,
                    lsn: 0,
                };
                let current = std::mem::replace(occupied.get_mut(), placeholder);
                let mut slot = (!current.is_expired(now)).then_some(current);
                let result = update(occupied.key(), &mut slot);
                match slot {
                    Some(item) => *occupied.get_mut() = item,
                    None => {
                        occupied.remove();
                    }
                }
                result
            }
            dashmap::Entry::Vacant(vacant) => {
                let mut slot = None;
                let result = update(vacant.key(), &mut slot);
                if let Some(item) = slot {
                    vacant.insert(item);
                }
                result
            }
        }
    }

    fn sweep(&self, now: u64) -> usize {
        let before = self.items.len();
        self.items.retain(|_, item| !item.is_expired(now));
        // Approximate under concurrent writes; used for logging only.
        before.saturating_sub(self.items.len())
    }
}

/// Removes expired items every `interval` until `shutdown` fires.
pub(crate) async fn sweep_expired(
    shared: Arc<Shared>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let shared = shared.clone();
        // Sweeping a million items takes milliseconds of CPU: keep it off the async workers.
        match tokio::task::spawn_blocking(move || shared.store.sweep(monotonic_ms())).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "swept expired cache items"),
            Err(error) => tracing::error!(%error, "the cache sweeper failed"),
        }
    }
}
