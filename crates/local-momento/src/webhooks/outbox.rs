//! The outbox: every event not yet delivered, which are ready to be tried, and when the others
//! may be tried again. Plain data under the dispatcher's mutex; no I/O.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::HookKey;
use crate::message::Message;

/// One event: a message on a topic, for one webhook.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct EventKey {
    /// The webhook.
    pub(crate) hook: HookKey,
    /// The topic the message was published on.
    pub(crate) topic: Arc<str>,
    /// The message's page.
    pub(crate) page: u64,
    /// The message's sequence number.
    pub(crate) sequence: u64,
}

/// An event waiting for delivery.
pub(crate) struct Entry {
    /// The message.
    pub(crate) message: Arc<Message>,
    /// Attempts made so far.
    pub(crate) attempts: u32,
}

/// Events not yet delivered.
#[derive(Default)]
pub(crate) struct Outbox {
    entries: HashMap<EventKey, Entry>,
    /// Events to try now, oldest first.
    ready: VecDeque<EventKey>,
    /// Events to try again at a time (the counter keeps equal times apart).
    retry: BTreeMap<(Instant, u64), EventKey>,
    counter: u64,
}

impl Outbox {
    /// Adds an event, ready at once (a repeated event, as when a snapshot and the journal both
    /// hold it, is added once).
    pub(crate) fn add(&mut self, key: EventKey, message: Arc<Message>) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(key.clone()) {
            slot.insert(Entry {
                message,
                attempts: 0,
            });
            self.ready.push_back(key);
        }
    }

    /// Adds `message`, published on `topic`, as an event for each of `hooks`.
    pub(crate) fn add_for(
        &mut self,
        hooks: Vec<super::HookKey>,
        topic: &Arc<str>,
        message: &Arc<Message>,
    ) {
        for hook in hooks {
            let key = EventKey {
                hook,
                topic: topic.clone(),
                page: message.sequence_page,
                sequence: message.sequence_number,
            };
            self.add(key, message.clone());
        }
    }

    /// Removes an event (delivered, or given up on).
    pub(crate) fn remove(&mut self, key: &EventKey) -> Option<Entry> {
        // A stale copy left in `ready` or `retry` is skipped when it comes up.
        self.entries.remove(key)
    }

    /// The next event to try now (moving retries that are due to the ready queue first), with
    /// its message.
    pub(crate) fn next_ready(&mut self, now: Instant) -> Option<(EventKey, Arc<Message>)> {
        while let Some(entry) = self.retry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.ready.push_back(entry.remove());
        }
        while let Some(key) = self.ready.pop_front() {
            if let Some(entry) = self.entries.get(&key) {
                return Some((key, entry.message.clone()));
            }
        }
        None
    }

    /// Counts a failed attempt; returns how many have been made.
    pub(crate) fn failed(&mut self, key: &EventKey) -> u32 {
        match self.entries.get_mut(key) {
            Some(entry) => {
                entry.attempts = entry.attempts.saturating_add(1);
                entry.attempts
            }
            None => 0,
        }
    }

    /// Tries `key` again at `at`.
    pub(crate) fn retry_at(&mut self, key: EventKey, at: Instant) {
        self.counter += 1;
        self.retry.insert((at, self.counter), key);
    }

    /// Makes every event waiting for a retry ready now (its receiver is answering again).
    pub(crate) fn retry_all_now(&mut self) {
        let waiting = std::mem::take(&mut self.retry);
        self.ready.extend(waiting.into_values());
    }

    /// When the earliest retry is due.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.retry.first_key_value().map(|((at, _), _)| *at)
    }

    /// Events ready to be tried now (what backpressure bounds).
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// When the oldest event ready for delivery was published (Unix ms): how far behind
    /// delivery is. Events already settled are dropped from the front on the way.
    pub(crate) fn oldest_ready_published_at(&mut self) -> Option<u64> {
        while let Some(key) = self.ready.front() {
            match self.entries.get(key) {
                Some(entry) => return Some(entry.message.published_at_ms),
                None => {
                    self.ready.pop_front();
                }
            }
        }
        None
    }

    /// Events not yet delivered.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// When the oldest waiting event was published (Unix ms).
    pub(crate) fn oldest_published_at(&self) -> Option<u64> {
        self.entries
            .values()
            .map(|entry| entry.message.published_at_ms)
            .min()
    }

    /// Every waiting event, for a snapshot.
    pub(crate) fn events(&self) -> Vec<(EventKey, Arc<Message>)> {
        let mut events: Vec<_> = self
            .entries
            .iter()
            .map(|(key, entry)| (key.clone(), entry.message.clone()))
            .collect();
        events.sort_by(|a, b| {
            (&a.0.hook, &a.0.topic, a.0.page, a.0.sequence).cmp(&(
                &b.0.hook,
                &b.0.topic,
                b.0.page,
                b.0.sequence,
            ))
        });
        events
    }
}
