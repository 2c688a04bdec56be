//! Scalar calls: Get, Set, SetIf*, Delete, KeysExist, Increment, and the TTL calls (which
//! apply to keys of any type).

use super::item::{add_counter, check_item_size, parse_counter, Item};
use super::{Cache, StoreError};

/// When a conditional set stores (the conditions of Momento's SetIf).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Condition<'a> {
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
    pub(crate) fn get(&self, key: &[u8], now: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key, now, |item| item.scalar_bytes().map(<[u8]>::to_vec))
            .transpose()
    }

    /// Stores `value` at `key` for `ttl_ms`, replacing whatever was there (of any type).
    pub(crate) fn set(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl_ms: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        check_item_size(key.len() + value.len())?;
        self.items
            .insert(key.into_boxed_slice(), Item::scalar(value, now, ttl_ms));
        Ok(())
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
    ) -> Result<bool, StoreError> {
        check_item_size(key.len() + value.len())?;
        self.with_live(key, now, |slot| {
            let current = slot.as_ref().map(Item::scalar_bytes).transpose()?;
            if !condition.holds(current) {
                return Ok(false);
            }
            *slot = Some(Item::scalar(value, now, ttl_ms));
            Ok(true)
        })
    }

    /// Removes `key`, of any type. Removing a missing key is not an error.
    pub(crate) fn delete(&self, key: &[u8]) {
        self.items.remove(key);
    }

    /// Whether each key exists (any type).
    pub(crate) fn keys_exist(&self, keys: &[Vec<u8>], now: u64) -> Vec<bool> {
        keys.iter()
            .map(|key| self.read(key, now, |_| ()).is_some())
            .collect()
    }

    /// Adds `amount` to the integer at `key` (a missing key counts as 0) and stores the sum
    /// for `ttl_ms`, as Momento's Increment does: every increment is a write that sets the TTL.
    pub(crate) fn increment(
        &self,
        key: Vec<u8>,
        amount: i64,
        ttl_ms: u64,
        now: u64,
    ) -> Result<i64, StoreError> {
        let key_len = key.len();
        self.with_live(key, now, |slot| {
            let current = match slot.as_ref() {
                Some(item) => parse_counter(item.scalar_bytes()?)?,
                None => 0,
            };
            let sum = add_counter(current, amount)?;
            let text = sum.to_string().into_bytes();
            check_item_size(key_len + text.len())?;
            *slot = Some(Item::scalar(text, now, ttl_ms));
            Ok(sum)
        })
    }

    /// Milliseconds `key` (any type) has left, `None` if missing.
    pub(crate) fn remaining_ttl(&self, key: &[u8], now: u64) -> Option<u64> {
        self.read(key, now, |item| item.remaining_ms(now))
    }

    /// Changes the TTL of `key` (any type) as `update` says.
    pub(crate) fn update_ttl(&self, key: Vec<u8>, update: TtlUpdate, now: u64) -> TtlUpdated {
        self.with_live(key, now, |slot| {
            let Some(item) = slot.as_mut() else {
                return TtlUpdated::Missing;
            };
            let (ttl_ms, applies): (u64, fn(u64, u64) -> bool) = match update {
                TtlUpdate::Increase(ttl) => (ttl, |new, old| new > old),
                TtlUpdate::Decrease(ttl) => (ttl, |new, old| new < old),
                TtlUpdate::Overwrite(ttl) => (ttl, |_, _| true),
            };
            let expires_at = now.saturating_add(ttl_ms);
            if !applies(expires_at, item.expires_at) {
                return TtlUpdated::NotSet;
            }
            item.expires_at = expires_at;
            TtlUpdated::Set
        })
    }
}
