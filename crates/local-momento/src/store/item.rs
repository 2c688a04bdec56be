//! What one key holds: a value (scalar bytes or a dictionary) and when it expires.
//!
//! Kept compact on purpose (the goal is a million small keys in well under 300 MB): keys and
//! values are boxed slices (no spare capacity), a dictionary is boxed so a scalar item pays
//! only for a pointer-sized variant, and expiry is a `u64` of milliseconds on the store's
//! monotonic clock rather than an `Instant` (16 bytes). The journal position of the item's last
//! change (`lsn`, 8 bytes) lets a read wait until what it returns is durable.

use std::collections::HashMap;

use super::{StoreError, MAX_ELEMENT_BYTES, MAX_ITEM_BYTES};
use crate::persist::Lsn;

/// One item of a cache.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) value: Value,
    /// Milliseconds on the monotonic clock ([`crate::clock::monotonic_ms`]) from which the
    /// item is gone.
    pub(crate) expires_at: u64,
    /// Journal position of the item's last change (0: durable, or not journaled).
    pub(crate) lsn: Lsn,
}

/// The value of an item.
#[derive(Debug)]
pub(crate) enum Value {
    /// Plain bytes (Get/Set/SetIf/Increment).
    Scalar(Box<[u8]>),
    /// Field -> bytes (the Dictionary* calls).
    Dictionary(Box<Dictionary>),
}

/// What kind of value a key holds, to name a type mismatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Plain bytes.
    Scalar,
    /// A dictionary.
    Dictionary,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Scalar => "scalar value",
            Kind::Dictionary => "dictionary",
        })
    }
}

/// A dictionary and the bytes its fields and values take (its share of the item size limit).
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    pub(crate) fields: HashMap<Box<[u8]>, Box<[u8]>>,
    /// Sum of `field.len() + value.len()`, kept up to date so the 5 MB check is O(request).
    pub(crate) bytes: usize,
}

impl Item {
    /// A scalar item living `ttl_ms` from `now`.
    pub(crate) fn scalar(value: Vec<u8>, now: u64, ttl_ms: u64) -> Self {
        Self {
            value: Value::Scalar(value.into_boxed_slice()),
            expires_at: now.saturating_add(ttl_ms),
            lsn: 0,
        }
    }

    /// Whether the item is gone at `now`.
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Milliseconds left at `now`.
    pub(crate) fn remaining_ms(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// What kind of value it holds.
    pub(crate) fn kind(&self) -> Kind {
        match self.value {
            Value::Scalar(_) => Kind::Scalar,
            Value::Dictionary(_) => Kind::Dictionary,
        }
    }

    /// The scalar bytes, or the mismatch.
    pub(crate) fn scalar_bytes(&self) -> Result<&[u8], StoreError> {
        match &self.value {
            Value::Scalar(bytes) => Ok(bytes),
            Value::Dictionary(_) => Err(StoreError::wrong_type(Kind::Dictionary, Kind::Scalar)),
        }
    }

    /// The dictionary, or the mismatch.
    pub(crate) fn dictionary(&self) -> Result<&Dictionary, StoreError> {
        match &self.value {
            Value::Dictionary(dictionary) => Ok(dictionary),
            Value::Scalar(_) => Err(StoreError::wrong_type(Kind::Scalar, Kind::Dictionary)),
        }
    }

    /// The dictionary, mutably, or the mismatch.
    pub(crate) fn dictionary_mut(&mut self) -> Result<&mut Dictionary, StoreError> {
        match &mut self.value {
            Value::Dictionary(dictionary) => Ok(dictionary),
            Value::Scalar(_) => Err(StoreError::wrong_type(Kind::Scalar, Kind::Dictionary)),
        }
    }
}

impl Dictionary {
    /// Bytes the dictionary would take once `updates` (field, new value length) are applied.
    /// Each field must appear once in `updates`.
    pub(crate) fn bytes_after<'a>(
        &self,
        updates: impl IntoIterator<Item = (&'a [u8], usize)>,
    ) -> usize {
        updates
            .into_iter()
            .fold(self.bytes, |bytes, (field, value_len)| {
                let old = self
                    .fields
                    .get(field)
                    .map_or(0, |old| field.len() + old.len());
                bytes - old + field.len() + value_len
            })
    }

    /// Sets one field, keeping [`Dictionary::bytes`] right. Size checks are the caller's.
    pub(crate) fn insert(&mut self, field: Box<[u8]>, value: Box<[u8]>) {
        let field_len = field.len();
        self.bytes += field_len + value.len();
        if let Some(old) = self.fields.insert(field, value) {
            self.bytes -= field_len + old.len();
        }
    }

    /// Removes one field, keeping [`Dictionary::bytes`] right.
    pub(crate) fn remove(&mut self, field: &[u8]) {
        if let Some((field, value)) = self.fields.remove_entry(field) {
            self.bytes -= field.len() + value.len();
        }
    }
}

/// Refuses an item (key plus value, or dictionary name plus every field and value) over 5 MB.
pub(crate) fn check_item_size(size: usize) -> Result<(), StoreError> {
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            size,
            limit: MAX_ITEM_BYTES,
        });
    }
    Ok(())
}

/// Refuses a collection element (field plus value) over 128 KB.
pub(crate) fn check_element_size(size: usize) -> Result<(), StoreError> {
    if size > MAX_ELEMENT_BYTES {
        return Err(StoreError::ElementTooLarge {
            size,
            limit: MAX_ELEMENT_BYTES,
        });
    }
    Ok(())
}

/// Parses a stored counter: Momento's Increment needs a base-10 UTF-8 integer.
pub(crate) fn parse_counter(bytes: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or(StoreError::NotAnInteger)
}

/// `current + amount`, or the overflow.
pub(crate) fn add_counter(current: i64, amount: i64) -> Result<i64, StoreError> {
    current
        .checked_add(amount)
        .ok_or(StoreError::Overflow { current, amount })
}
