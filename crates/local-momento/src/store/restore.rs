//! Rebuilding the store from records at start (see `persist::recover`). Records are
//! post-images, so applying one never checks a condition; applying one whose change the state
//! already holds leaves it as it is. Nothing here is journaled again.

use std::sync::Arc;

use super::item::{Item, Value};
use super::{Cache, Store};
use crate::clock::from_unix;
use crate::persist::record::Record;

impl Store {
    /// Applies one cache record; returns `false` for a record of another kind. A record for
    /// a cache that does not exist is skipped: it can only come before the cache's deletion
    /// was replayed, or after a flush of the journal raced a deletion, and is moot either way.
    pub(crate) fn restore(&self, record: &Record<'_>) -> bool {
        match record {
            Record::CreateCache { name, id } => {
                self.caches.entry((*name).to_owned()).or_insert_with(|| {
                    Arc::new(Cache::new(name, (*id).to_owned(), self.log.clone()))
                });
            }
            Record::DeleteCache { name } => {
                self.caches.remove(*name);
            }
            Record::FlushCache { name } => {
                if let Some(cache) = self.caches.get(*name) {
                    cache.items.clear();
                }
            }
            Record::Scalar {
                cache,
                key,
                value,
                expires_at,
            } => self.with_cache(cache, |cache| {
                cache.items.insert(
                    key.to_vec().into_boxed_slice(),
                    Item {
                        value: Value::Scalar(value.to_vec().into_boxed_slice()),
                        expires_at: from_unix(*expires_at),
                        lsn: 0,
                    },
                );
            }),
            Record::Delete { cache, key } => self.with_cache(cache, |cache| {
                cache.items.remove(key.as_ref());
            }),
            Record::Expiry {
                cache,
                key,
                expires_at,
            } => self.with_cache(cache, |cache| {
                if let Some(mut item) = cache.items.get_mut(key.as_ref()) {
                    item.expires_at = from_unix(*expires_at);
                }
            }),
            Record::Fields {
                cache,
                name,
                fresh,
                expires_at,
                fields,
            } => self.with_cache(cache, |cache| {
                let mut item = cache
                    .items
                    .entry(name.to_vec().into_boxed_slice())
                    .or_insert_with(empty_dictionary);
                if *fresh || !matches!(item.value, Value::Dictionary(_)) {
                    *item = empty_dictionary();
                }
                item.expires_at = from_unix(*expires_at);
                if let Value::Dictionary(dictionary) = &mut item.value {
                    for (field, value) in fields {
                        dictionary.insert(
                            field.to_vec().into_boxed_slice(),
                            value.to_vec().into_boxed_slice(),
                        );
                    }
                }
            }),
            Record::RemoveFields {
                cache,
                name,
                fields,
            } => self.with_cache(cache, |cache| {
                let emptied = match cache.items.get_mut(name.as_ref()) {
                    Some(mut item) => match &mut item.value {
                        Value::Dictionary(dictionary) => {
                            for field in fields {
                                dictionary.remove(field);
                            }
                            dictionary.fields.is_empty()
                        }
                        Value::Scalar(_) => false,
                    },
                    None => false,
                };
                if emptied {
                    cache.items.remove(name.as_ref());
                }
            }),
            _ => return false,
        }
        true
    }

    fn with_cache(&self, name: &str, apply: impl FnOnce(&Cache)) {
        if let Some(cache) = self.caches.get(name) {
            apply(&cache);
        }
    }

    /// Drops what expired while the server was down (at `now` on the monotonic clock).
    pub(crate) fn drop_expired(&self, now: u64) -> usize {
        self.sweep(now)
    }

    /// Every cache, by name, for a snapshot.
    pub(crate) fn caches(&self) -> Vec<Arc<Cache>> {
        let mut caches: Vec<Arc<Cache>> = self.caches.iter().map(|c| c.value().clone()).collect();
        caches.sort_by(|a, b| a.name.cmp(&b.name));
        caches
    }

    /// How many items every cache holds together.
    pub(crate) fn item_count(&self) -> usize {
        self.caches.iter().map(|cache| cache.items.len()).sum()
    }
}

impl Cache {
    /// The cache's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The cache's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Calls `each` with every live item, holding each shard's read lock only while its items
    /// are visited (writers to other shards go on; see `persist::snapshot`).
    pub(crate) fn for_each_item(&self, now: u64, mut each: impl FnMut(&[u8], &Item)) {
        for entry in self.items.iter() {
            if !entry.is_expired(now) {
                each(entry.key(), entry.value());
            }
        }
    }
}

fn empty_dictionary() -> Item {
    Item {
        value: Value::Dictionary(Box::default()),
        expires_at: 0,
        lsn: 0,
    }
}
