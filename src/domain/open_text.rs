//! An open-text poll's results: its entries, each with an id and a moderation status, and
//! what the public sees of them (the visible entries and their word list).
//!
//! - **Entry ids** are a keyed hash (HMAC-SHA3-256, [`EntryKey`]) of the poll, the voter and
//!   the text, 12 hex characters: stable across counts and replicas (same key), the same for
//!   an entry a revote keeps, new for a text a revote changes (so a revote cannot swap new
//!   text into an approved entry), and no way back to the voter without the key.
//! - **Moderation** ([`status`]): an admin's decision wins (hidden, or approved); without
//!   one, an entry the profanity filter flags is hidden (by the filter), an entry of a
//!   `pre`-moderated poll is pending, any other is visible.
//! - **What the public sees** ([`OpenTextResults::public`]) is built from the visible entries
//!   only: no hidden or pending entry, and no word of one, reaches the results, whichever
//!   channel carries them (REST, SSE, the results topic). A results message must fit Momento's
//!   4 KB: the word list and the entries are cut to a byte budget, most given words first and
//!   entries in their order, and the totals say how many there are.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha3::Sha3_256;

use super::ids::{PollId, VoterId};
use super::kinds::Moderation;
use super::words::{word_list, WordCount};

/// Bytes of entry text a results message carries at most.
pub const ENTRIES_BUDGET: usize = 2000;
/// Bytes of word-list terms a results message carries at most.
pub const WORDS_BUDGET: usize = 800;

/// The key entry ids are made with (derived from a secret by the caller).
#[derive(Clone)]
pub struct EntryKey(Vec<u8>);

impl EntryKey {
    /// A key of these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The id of `voter`'s entry `text` in `poll`.
    pub fn entry_id(&self, poll: &PollId, voter: &str, text: &str) -> String {
        let mut mac = Hmac::<Sha3_256>::new_from_slice(&self.0).expect("any key length");
        for part in [poll.as_str(), voter, text] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..6])
    }
}

impl std::fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntryKey(..)")
    }
}

/// An admin's decision on an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Hidden from the public.
    Hidden,
    /// Shown (approved on a `pre` poll, or unhidden).
    Approved,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// The public sees it.
    Visible,
    /// Waiting for an admin's approval (`moderation: pre`).
    Pending,
    /// Hidden by an admin.
    HiddenByAdmin,
    /// Hidden by the profanity filter (an admin may unhide it).
    HiddenByFilter,
}

impl EntryStatus {
    /// Whether the public sees the entry.
    pub fn is_visible(self) -> bool {
        self == EntryStatus::Visible
    }
}

/// The status of an entry: the admin's `decision` if any, else the filter's flag, else what
/// the poll's `moderation` gives by default.
pub fn status(moderation: Moderation, decision: Option<Decision>, flagged: bool) -> EntryStatus {
    match (decision, flagged, moderation) {
        (Some(Decision::Hidden), _, _) => EntryStatus::HiddenByAdmin,
        (Some(Decision::Approved), _, _) => EntryStatus::Visible,
        (None, true, _) => EntryStatus::HiddenByFilter,
        (None, false, Moderation::Pre) => EntryStatus::Pending,
        (None, false, Moderation::Post) => EntryStatus::Visible,
    }
}

/// One entry of an open-text poll, with its moderation status (what admins see).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its id.
    pub id: String,
    /// The text, normalised.
    pub text: String,
    /// Where it stands.
    pub status: EntryStatus,
}

/// The entries of the ballots `ledger` holds (voter id, texts), each with its id and status,
/// in a stable order (by text ignoring case, then id). `flagged` is the profanity filter
/// (`None` when the poll does not use it).
pub fn entries<'a>(
    poll: &PollId,
    moderation: Moderation,
    key: &EntryKey,
    ledger: impl IntoIterator<Item = (&'a str, &'a [String])>,
    decisions: &HashMap<String, Decision>,
    flagged: Option<&dyn Fn(&str) -> bool>,
) -> Vec<Entry> {
    let mut all: Vec<Entry> = ledger
        .into_iter()
        .flat_map(|(voter, texts)| texts.iter().map(move |text| (voter, text)))
        .map(|(voter, text)| {
            let id = key.entry_id(poll, voter, text);
            let flag = flagged.is_some_and(|f| f(text));
            let status = status(moderation, decisions.get(&id).copied(), flag);
            Entry {
                id,
                text: text.clone(),
                status,
            }
        })
        .collect();
    all.sort_by(|a, b| (a.text.to_lowercase(), &a.id).cmp(&(b.text.to_lowercase(), &b.id)));
    all
}

/// An entry as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicEntry {
    /// Its id.
    pub id: String,
    /// The text.
    pub text: String,
}

/// What an open-text poll's results add: the visible entries and their word list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTextResults {
    /// Visible entries, in order, as many as fit the message (see `entries_total`).
    pub entries: Vec<PublicEntry>,
    /// How many entries are visible in all.
    pub entries_total: u64,
    /// The word list of the visible entries, most given first, as many as fit.
    pub words: Vec<WordCount>,
    /// How many terms the visible entries gave in all (the sum of every term's count).
    pub words_total: u64,
}

impl OpenTextResults {
    /// What the public sees of `entries`: the visible ones only.
    pub fn public(entries: &[Entry]) -> Self {
        let visible: Vec<&Entry> = entries.iter().filter(|e| e.status.is_visible()).collect();
        let (all_words, words_total) = word_list(visible.iter().map(|e| e.text.as_str()));
        let mut budget = WORDS_BUDGET;
        let words = all_words
            .into_iter()
            .take_while(|w| take(&mut budget, w.word.len() + 20))
            .collect();
        let mut budget = ENTRIES_BUDGET;
        let shown = visible
            .iter()
            .take_while(|e| take(&mut budget, e.text.len() + e.id.len() + 20))
            .map(|e| PublicEntry {
                id: e.id.clone(),
                text: e.text.clone(),
            })
            .collect();
        Self {
            entries: shown,
            entries_total: visible.len() as u64,
            words,
            words_total,
        }
    }
}

/// Takes `cost` from `budget` if it has that much.
fn take(budget: &mut usize, cost: usize) -> bool {
    match budget.checked_sub(cost) {
        Some(left) => {
            *budget = left;
            true
        }
        None => false,
    }
}

/// The voter id a ledger field names, as text (ledger fields are voter ids).
pub fn voter_of(field: &[u8]) -> Option<VoterId> {
    VoterId::parse(std::str::from_utf8(field).ok()?).ok()
}

#[cfg(test)]
mod tests;
