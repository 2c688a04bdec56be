//! Scalar calls: Get, Set, SetIf*, Delete, KeysExist, Increment, and the TTL calls (which
//! apply to keys of any type). Each returns the LSN its caller waits for (see the module docs).

use serde_bytes::Bytes;

use super::item::{add_counter, check_item_size, parse_counter, Item};
use super::{Cache, StoreError};
use crate::clock::to_unix;
use crate::persist::record::Record;
use crate::persist::Lsn;

/// When a conditional set stores (the conditions of Momento's SetIf).
#[derive(Clone, Copy, Debug)]
pub enum Condition<'a> {
    /// The key is missing.
    Absent,
    /// The key exists.
    Present,
    /// The key exists and holds exactly these bytes.
    Equal(&'a [u8]),
    /// The key is missing, or holds other bytes.
    NotEqual(&'a [u8]),
    /// The key exists and holds other bytes.
    PresentAndNotEqual(&'a [u8]),
    /// The key is missing, or holds exactly these bytes.
    AbsentOrEqual(&'a [u8]),
}

impl Condition<'_> {
    /// Whether the condition holds for `current` (`None`: the key is missing).
    pub(crate) fn holds(self, current: Option<&[u8]>) -> bool {
        match (self, current) {
            (Condition::Absent, current) => current.is_none(),
            (Condition::Present, current) => current.is_some(),
            (Condition::Equal(expected), current) => current == Some(expected),
            (Condition::NotEqual(other), current) => current != Some(other),
            (Condition::PresentAndNotEqual(other), current) => {
                current.is_some_and(|bytes| bytes != other)
            }
            (Condition::AbsentOrEqual(expected), current) => {
                current.is_none_or(|bytes| bytes == expected)
            }
        }
    }
}

/// How UpdateTtl changes a TTL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TtlUpdate {
    /// Only if it makes the item live longer.
    Increase(u64),
    /// Only if it makes the item live shorter.
    Decrease(u64),
    /// Unconditionally.
    Overwrite(u64),
}

/// What UpdateTtl did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TtlUpdated {
    /// The new TTL applies.
    Set,
    /// The condition failed; the TTL is unchanged.
    NotSet,
    /// No such key.
    Missing,
}

impl Cache {
    /// The bytes at `key`, `None` if missing.
    pub(crate) fn get(&self, key: &[u8], now: u64) -> Result<(Option<Vec<u8>>, Lsn), StoreError> {
        let (found, lsn) = self.read(key, now, |item| item.scalar_bytes().map(<[u8]>::to_vec));
        Ok((found.transpose()?, lsn))
    }

    /// Stores `value` at `key` for `ttl_ms`, replacing whatever was there (of any type).
    pub(crate) fn set(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl_ms: u64,
        now: u64,
    ) -> Result<Lsn, StoreError> {
        check_item_size(key.len() + value.len())?;
        self.log.check()?;
        self.with_live(key, now, |key, slot| {
            let item = slot.insert(Item::scalar(value, now, ttl_ms));
            self.journal_scalar(key, item);
            Ok(item.lsn)
        })
    }

    /// Stores `value` at `key` for `ttl_ms` if `condition` holds; returns whether it stored.
    /// A key holding a dictionary is refused, whatever the condition.
    pub(crate) fn set_if(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl_ms: u64,
        condition: Condition<'_>,
        now: u64,
    ) -> Result<(bool, Lsn), StoreError> {
        check_item_size(key.len() + value.len())?;
        self.log.check()?;
        self.with_live(key, now, |key, slot| {
            let current = slot.as_ref().map(Item::scalar_bytes).transpose()?;
            if !condition.holds(current) {
                let seen = slot
                    .as_ref()
                    .map_or_else(|| self.removed(), |item| item.lsn);
                return Ok((false, seen));
            }
            let item = slot.insert(Item::scalar(value, now, ttl_ms));
            self.journal_scalar(key, item);
            Ok((true, item.lsn))
        })
    }

    /// Removes `key`, of any type. Removing a missing key is not an error.
    pub(crate) fn delete(&self, key: Vec<u8>, now: u64) -> Result<Lsn, StoreError> {
        self.log.check()?;
        Ok(self.with_live(key, now, |key, slot| {
            if slot.take().is_none() {
                return self.removed();
            }
            let lsn = self.log.append(|| Record::Delete {
                cache: &self.name,
                key: Bytes::new(key),
            });
            self.note_removal(lsn);
            lsn
        }))
    }

    /// Whether each key exists (any type).
    pub(crate) fn keys_exist(&self, keys: &[Vec<u8>], now: u64) -> (Vec<bool>, Lsn) {
        let mut seen = 0;
        let exist = keys
            .iter()
            .map(|key| {
                let (found, lsn) = self.read(key, now, |_| ());
                seen = seen.max(lsn);
                found.is_some()
            })
            .collect();
        (exist, seen)
    }

    /// Adds `amount` to the integer at `key` (a missing key counts as 0) and stores the sum
    /// for `ttl_ms`, as Momento's Increment does: every increment is a write that sets the TTL.
    pub(crate) fn increment(
        &self,
        key: Vec<u8>,
        amount: i64,
        ttl_ms: u64,
        now: u64,
    ) -> Result<(i64, Lsn), StoreError> {
        let key_len = key.len();
        self.log.check()?;
        self.with_live(key, now, |key, slot| {
            let current = match slot.as_ref() {
                Some(item) => parse_counter(item.scalar_bytes()?)?,
                None => 0,
            };
            let sum = add_counter(current, amount)?;
            let text = sum.to_string().into_bytes();
            check_item_size(key_len + text.len())?;
            let item = slot.insert(Item::scalar(text, now, ttl_ms));
            self.journal_scalar(key, item);
            Ok((sum, item.lsn))
        })
    }

    /// Milliseconds `key` (any type) has left, `None` if missing.
    pub(crate) fn remaining_ttl(&self, key: &[u8], now: u64) -> (Option<u64>, Lsn) {
        self.read(key, now, |item| item.remaining_ms(now))
    }

    /// Changes the TTL of `key` (any type) as `update` says.
    pub(crate) fn update_ttl(
        &self,
        key: Vec<u8>,
        update: TtlUpdate,
        now: u64,
    ) -> Result<(TtlUpdated, Lsn), StoreError> {
        self.log.check()?;
        Ok(self.with_live(key, now, |key, slot| {
            let Some(item) = slot.as_mut() else {
                return (TtlUpdated::Missing, self.removed());
            };
            let (ttl_ms, applies): (u64, fn(u64, u64) -> bool) = match update {
                TtlUpdate::Increase(ttl) => (ttl, |new, old| new > old),
                TtlUpdate::Decrease(ttl) => (ttl, |new, old| new < old),
                TtlUpdate::Overwrite(ttl) => (ttl, |_, _| true),
            };
            let expires_at = now.saturating_add(ttl_ms);
            if !applies(expires_at, item.expires_at) {
                return (TtlUpdated::NotSet, item.lsn);
            }
            item.expires_at = expires_at;
            item.lsn = self.log.append(|| Record::Expiry {
                cache: &self.name,
                key: Bytes::new(key),
                expires_at: to_unix(expires_at),
            });
            (TtlUpdated::Set, item.lsn)
        }))
    }

    /// Journals a scalar item's post-image and stamps it with the LSN.
    fn journal_scalar(&self, key: &[u8], item: &mut Item) {
        let Ok(value) = item.scalar_bytes() else {
            return; // only called on scalars
        };
        item.lsn = self.log.append(|| Record::Scalar {
            cache: &self.name,
            key: Bytes::new(key),
            value: Bytes::new(value),
            expires_at: to_unix(item.expires_at),
        });
    }
}
