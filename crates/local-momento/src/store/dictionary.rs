//! Dictionary calls. A dictionary is one item (one key, one TTL) holding field -> bytes.
//!
//! Collection TTL, as Momento's `CollectionTtl`: a write that creates the dictionary gives it
//! `ttl_ms`; a write to an existing one sets its expiry to `now + ttl_ms` only when `refresh`
//! is true. Removing the last field removes the dictionary, as Momento does (empty
//! collections do not exist). Each call returns the LSN its caller waits for.

use std::collections::HashMap;

use serde_bytes::Bytes;

use super::item::{
    add_counter, check_element_size, check_item_size, parse_counter, Dictionary, Item, Value,
};
use super::{Cache, Kind, StoreError};
use crate::clock::to_unix;
use crate::persist::record::Record;
use crate::persist::Lsn;

/// The TTL part of a dictionary write.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CollectionTtl {
    /// TTL for a new dictionary, and for an existing one when `refresh` is true.
    pub(crate) ttl_ms: u64,
    /// Whether a write to an existing dictionary resets its TTL.
    pub(crate) refresh: bool,
}

/// A dictionary's (field, value) pairs.
pub(crate) type Elements = Vec<(Vec<u8>, Vec<u8>)>;

/// The values of asked-for fields, `None` where a field is missing.
pub(crate) type FieldValues = Vec<Option<Vec<u8>>>;

/// Which fields DictionaryDelete removes.
#[derive(Debug)]
pub(crate) enum FieldsToDelete {
    /// These fields (missing ones are ignored).
    Some(Vec<Vec<u8>>),
    /// The whole dictionary.
    All,
}

impl Cache {
    /// The values of `fields` in the dictionary `name` (`None` per missing field), or `None`
    /// if there is no such dictionary.
    pub(crate) fn dictionary_get(
        &self,
        name: &[u8],
        fields: &[Vec<u8>],
        now: u64,
    ) -> Result<(Option<FieldValues>, Lsn), StoreError> {
        let (found, lsn) = self.read(name, now, |item| {
            let dictionary = item.dictionary()?;
            Ok::<_, StoreError>(
                fields
                    .iter()
                    .map(|field| dictionary.fields.get(field.as_slice()).map(|v| v.to_vec()))
                    .collect(),
            )
        });
        Ok((found.transpose()?, lsn))
    }

    /// Every field and value of the dictionary `name`, or `None` if there is none.
    pub(crate) fn dictionary_fetch(
        &self,
        name: &[u8],
        now: u64,
    ) -> Result<(Option<Elements>, Lsn), StoreError> {
        let (found, lsn) = self.read(name, now, |item| {
            Ok::<_, StoreError>(
                item.dictionary()?
                    .fields
                    .iter()
                    .map(|(field, value)| (field.to_vec(), value.to_vec()))
                    .collect(),
            )
        });
        Ok((found.transpose()?, lsn))
    }

    /// How many fields the dictionary `name` has, or `None` if there is none.
    pub(crate) fn dictionary_length(
        &self,
        name: &[u8],
        now: u64,
    ) -> Result<(Option<usize>, Lsn), StoreError> {
        let (found, lsn) = self.read(name, now, |item| {
            Ok::<_, StoreError>(item.dictionary()?.fields.len())
        });
        Ok((found.transpose()?, lsn))
    }

    /// Sets `elements` (field, value; the last wins on a repeated field) in the dictionary
    /// `name`, creating it if needed. All or nothing: one element over 128 KB, or a result
    /// over 5 MB, refuses the whole call.
    pub(crate) fn dictionary_set(
        &self,
        name: Vec<u8>,
        elements: Elements,
        ttl: CollectionTtl,
        now: u64,
    ) -> Result<Lsn, StoreError> {
        for (field, value) in &elements {
            check_element_size(field.len() + value.len())?;
        }
        if elements.is_empty() {
            return Ok(0); // nothing to write, and an empty dictionary must not be created
        }
        self.log.check()?;
        let name_len = name.len();
        self.with_live(name, now, |name, slot| {
            let empty = Dictionary::default();
            let current = match slot.as_ref() {
                Some(item) => item.dictionary()?,
                None => &empty,
            };
            // One entry per field, so a repeated field is counted once, with its last value.
            let last_values: HashMap<&[u8], usize> = elements
                .iter()
                .map(|(field, value)| (field.as_slice(), value.len()))
                .collect();
            check_item_size(name_len + current.bytes_after(last_values))?;
            let fresh = slot.is_none();
            let item = dictionary_in(slot, ttl, now)?;
            if self.log.is_on() {
                let fields = elements
                    .iter()
                    .map(|(field, value)| (Bytes::new(field), Bytes::new(value)))
                    .collect();
                item.lsn = self.log.append(|| Record::Fields {
                    cache: &self.name,
                    name: Bytes::new(name),
                    fresh,
                    expires_at: to_unix(item.expires_at),
                    fields,
                });
            }
            let dictionary = item.dictionary_mut()?;
            for (field, value) in elements {
                dictionary.insert(field.into_boxed_slice(), value.into_boxed_slice());
            }
            Ok(item.lsn)
        })
    }

    /// Adds `amount` to the integer in `field` of the dictionary `name` (a missing field or
    /// dictionary counts as 0) and returns the sum.
    pub(crate) fn dictionary_increment(
        &self,
        name: Vec<u8>,
        field: Vec<u8>,
        amount: i64,
        ttl: CollectionTtl,
        now: u64,
    ) -> Result<(i64, Lsn), StoreError> {
        self.log.check()?;
        let name_len = name.len();
        self.with_live(name, now, |name, slot| {
            let empty = Dictionary::default();
            let current = match slot.as_ref() {
                Some(item) => item.dictionary()?,
                None => &empty,
            };
            let count = match current.fields.get(field.as_slice()) {
                Some(bytes) => parse_counter(bytes)?,
                None => 0,
            };
            let sum = add_counter(count, amount)?;
            let text = sum.to_string().into_bytes();
            check_element_size(field.len() + text.len())?;
            check_item_size(name_len + current.bytes_after([(field.as_slice(), text.len())]))?;
            let fresh = slot.is_none();
            let item = dictionary_in(slot, ttl, now)?;
            item.lsn = self.log.append(|| Record::Fields {
                cache: &self.name,
                name: Bytes::new(name),
                fresh,
                expires_at: to_unix(item.expires_at),
                fields: vec![(Bytes::new(&field), Bytes::new(&text))],
            });
            item.dictionary_mut()?
                .insert(field.into_boxed_slice(), text.into_boxed_slice());
            Ok((sum, item.lsn))
        })
    }

    /// Removes `fields` from the dictionary `name`; a missing dictionary is not an error.
    pub(crate) fn dictionary_delete(
        &self,
        name: Vec<u8>,
        fields: FieldsToDelete,
        now: u64,
    ) -> Result<Lsn, StoreError> {
        self.log.check()?;
        self.with_live(name, now, |name, slot| {
            let Some(item) = slot.as_mut() else {
                return Ok(self.removed());
            };
            let dictionary = item.dictionary_mut()?;
            let lsn = match fields {
                FieldsToDelete::All => {
                    *slot = None;
                    self.log.append(|| Record::Delete {
                        cache: &self.name,
                        key: Bytes::new(name),
                    })
                }
                FieldsToDelete::Some(fields) => {
                    let present: Vec<&Vec<u8>> = fields
                        .iter()
                        .filter(|field| dictionary.fields.contains_key(field.as_slice()))
                        .collect();
                    if present.is_empty() {
                        return Ok(item.lsn); // nothing changes
                    }
                    for field in &present {
                        dictionary.remove(field);
                    }
                    let lsn = self.log.append(|| Record::RemoveFields {
                        cache: &self.name,
                        name: Bytes::new(name),
                        fields: present.iter().map(|field| Bytes::new(field)).collect(),
                    });
                    if dictionary.fields.is_empty() {
                        *slot = None;
                    } else {
                        item.lsn = lsn;
                    }
                    lsn
                }
            };
            self.note_removal(lsn);
            Ok(lsn)
        })
    }
}

/// The dictionary item in `slot` for a write: created with the TTL if missing, its TTL
/// refreshed if asked. Callers check the type first, so the mismatch below only guards the
/// contract.
fn dictionary_in(
    slot: &mut Option<Item>,
    ttl: CollectionTtl,
    now: u64,
) -> Result<&mut Item, StoreError> {
    let expires_at = now.saturating_add(ttl.ttl_ms);
    let item = slot.get_or_insert_with(|| Item {
        value: Value::Dictionary(Box::default()),
        expires_at,
        lsn: 0,
    });
    if item.kind() != Kind::Dictionary {
        return Err(StoreError::wrong_type(item.kind(), Kind::Dictionary));
    }
    if ttl.refresh {
        item.expires_at = expires_at;
    }
    Ok(item)
}
