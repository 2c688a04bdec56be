//! One topic's state: its page, its sequence numbers, its recent history, the messages waiting
//! to be durable, and the live fan-out to its subscribers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::sync::broadcast;

use super::subscription::{Event, Subscription};
use crate::clock::unix_ms;
use crate::message::{Message, Value};
use crate::persist::Lsn;
use crate::webhooks::{HookKey, Released};

/// One (cache, topic).
pub(crate) struct Topic {
    page: u64,
    history_capacity: usize,
    subscriber_buffer: usize,
    /// A `std::sync::Mutex`, not an async one: every section under it is a few pushes, pops
    /// and a non-blocking `broadcast::send`, never an `.await`, so it is held for microseconds
    /// and a blocking lock costs less than an async one would.
    state: Mutex<State>,
}

struct State {
    /// The sequence number the next message gets.
    next_sequence: u64,
    /// The most recent released messages, oldest first, consecutive sequence numbers.
    history: VecDeque<Arc<Message>>,
    /// Published but not durable yet, in sequence order: invisible to everyone until released.
    unreleased: VecDeque<Unreleased>,
    /// Live fan-out. A broadcast channel gives each subscriber a bounded window over one shared
    /// ring: a subscriber more than its capacity behind sees `Lagged` rather than holding memory.
    live: broadcast::Sender<Arc<Message>>,
}

/// A message waiting for its journal record to be durable.
struct Unreleased {
    lsn: Lsn,
    message: Arc<Message>,
    hooks: Vec<HookKey>,
}

impl Topic {
    /// A new topic (a new page) that keeps `history_capacity` messages and lets each
    /// subscriber fall `subscriber_buffer` (at least 1) messages behind.
    pub(crate) fn new(history_capacity: usize, subscriber_buffer: usize) -> Self {
        Self::restored(new_page(), 1, history_capacity, subscriber_buffer)
    }

    /// A topic as a snapshot or the journal left it.
    pub(crate) fn restored(
        page: u64,
        next_sequence: u64,
        history_capacity: usize,
        subscriber_buffer: usize,
    ) -> Self {
        let subscriber_buffer = subscriber_buffer.max(1);
        let (live, _) = broadcast::channel(subscriber_buffer);
        Self {
            page,
            history_capacity,
            subscriber_buffer,
            state: Mutex::new(State {
                next_sequence,
                history: VecDeque::new(),
                unreleased: VecDeque::new(),
                live,
            }),
        }
    }

    /// The topic's page.
    pub(crate) fn page(&self) -> u64 {
        self.page
    }

    /// Numbers the next message and journals it (`journal` returns its LSN, 0 in memory) while
    /// holding the topic's lock, so journal order is sequence order. The message stays
    /// invisible until [`Topic::release`] sees its LSN durable.
    pub(crate) fn publish(
        &self,
        value: Value,
        publisher_id: &str,
        hooks: Vec<HookKey>,
        journal: impl FnOnce(&Message) -> Lsn,
    ) -> (Arc<Message>, Lsn) {
        let mut state = self.lock();
        let message = Arc::new(Message {
            sequence_number: state.next_sequence,
            sequence_page: self.page,
            value,
            publisher_id: publisher_id.to_owned(),
            published_at_ms: unix_ms(),
            http_item: Default::default(),
        });
        let lsn = journal(&message);
        state.next_sequence += 1;
        state.unreleased.push_back(Unreleased {
            lsn,
            message: message.clone(),
            hooks,
        });
        (message, lsn)
    }

    /// Hands every message whose LSN is at most `durable` to the history and the subscribers,
    /// in sequence order; returns them for the webhooks. Idempotent: whoever calls first
    /// releases.
    pub(crate) fn release(&self, durable: Lsn) -> Vec<Released> {
        let mut state = self.lock();
        let mut released = Vec::new();
        while state.unreleased.front().is_some_and(|u| u.lsn <= durable) {
            let Some(Unreleased { message, hooks, .. }) = state.unreleased.pop_front() else {
                break;
            };
            state.remember(message.clone(), self.history_capacity);
            // An error only means nobody is subscribed right now: topics are best-effort
            // multicast.
            let _ = state.live.send(message.clone());
            released.push(Released { message, hooks });
        }
        released
    }

    /// Adds a message read back from the journal or a snapshot to the history, if it is newer
    /// than what the topic holds.
    pub(crate) fn restore(&self, message: Message) {
        let mut state = self.lock();
        if message.sequence_number < state.next_sequence {
            return; // a snapshot taken while publishing went on holds it already
        }
        state.next_sequence = message.sequence_number + 1;
        state.remember(Arc::new(message), self.history_capacity);
    }

    /// Makes sure the next message is numbered at least `next` (a snapshot's topic record,
    /// which follows the topic's history).
    pub(crate) fn restore_next(&self, next: u64) {
        let mut state = self.lock();
        state.next_sequence = state.next_sequence.max(next);
    }

    /// The sequence number the next message gets, and the history (for a snapshot).
    pub(crate) fn snapshot(&self) -> (u64, Vec<Arc<Message>>) {
        let state = self.lock();
        // Unreleased messages are not durable: a snapshot must not make them so ahead of the
        // journal, so it numbers from the first of them.
        let next = state
            .unreleased
            .front()
            .map_or(state.next_sequence, |u| u.message.sequence_number);
        (next, state.history.iter().cloned().collect())
    }

    /// Ends every subscription open on this topic (the topic was reset): each gets the messages
    /// already released to it, then no more.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        // Receivers see `Closed` once their sender is gone; a fresh one takes its place for
        // anyone still holding this topic (it is no longer in the map).
        let (live, _) = broadcast::channel(self.subscriber_buffer);
        drop(std::mem::replace(&mut state.live, live));
    }

    /// How many subscriptions are waiting for this topic's next message right now.
    pub(crate) fn subscribers(&self) -> usize {
        self.lock().live.receiver_count()
    }

    /// A subscription resuming at `resume_at` on `page` (see the module docs of `topics`).
    pub(crate) fn subscribe(&self, resume_at: u64, page: u64) -> Subscription {
        let state = self.lock();
        // Joining the fan-out under the lock release takes: every message is either in the
        // snapshot below or arrives live, never both, never neither.
        let live = state.live.subscribe();
        let next = state
            .unreleased
            .front()
            .map_or(state.next_sequence, |u| u.message.sequence_number);
        let mut backlog = VecDeque::new();
        if resume_at == 0 {
            // Live only.
        } else if page != self.page {
            backlog.push_back(Event::Discontinuity {
                last_topic_sequence: 0,
                new_topic_sequence: next,
                new_sequence_page: self.page,
            });
        } else if resume_at < next {
            let oldest = state.history.front().map_or(next, |m| m.sequence_number);
            if oldest > resume_at {
                backlog.push_back(Event::Discontinuity {
                    last_topic_sequence: resume_at - 1,
                    new_topic_sequence: oldest,
                    new_sequence_page: self.page,
                });
            }
            // History holds consecutive numbers from `oldest`, so `resume_at` is an offset.
            let skip = usize::try_from(resume_at.saturating_sub(oldest)).unwrap_or(usize::MAX);
            backlog.extend(state.history.iter().skip(skip).cloned().map(Event::Item));
        }
        drop(state);
        Subscription::new(self.page, backlog, live, next - 1)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No section under this lock can panic halfway through a change, so a poisoned lock
        // still guards consistent state: keep serving rather than propagate the panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn remember(&mut self, message: Arc<Message>, capacity: usize) {
        if capacity == 0 {
            return;
        }
        if self.history.len() >= capacity {
            self.history.pop_front();
        }
        self.history.push_back(message);
    }
}

/// A new non-zero page: the current time in seconds in the high bits, random low bits. Pages
/// of a topic therefore grow across resets (as Momento's protocol promises) and two servers
/// started in the same second still differ. Kept below 2^53 so JavaScript clients of the HTTP
/// API, whose JSON numbers are doubles, can send the page back unchanged.
pub(crate) fn new_page() -> u64 {
    const RANDOM_BITS: u32 = 20;
    const TIME_BITS: u32 = 53 - RANDOM_BITS;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = seconds & ((1 << TIME_BITS) - 1);
    let random = rand::rng().random_range(0..1u64 << RANDOM_BITS);
    ((time << RANDOM_BITS) | random).max(1)
}
