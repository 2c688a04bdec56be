//! One topic's state: its page, its next sequence number, its recent history and the live
//! fan-out to its subscribers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::sync::broadcast;

use super::subscription::{Event, Subscription};
use super::{now_millis, Message, Value};

/// One (cache, topic).
pub(super) struct Topic {
    page: u64,
    history_capacity: usize,
    /// A `std::sync::Mutex`, not an async one: every section under it is a few pushes, pops
    /// and a non-blocking `broadcast::send`, never an `.await`, so it is held for microseconds
    /// and a blocking lock costs less than an async one would.
    state: Mutex<State>,
}

struct State {
    /// The sequence number the next message gets.
    next_sequence: u64,
    /// The most recent messages, oldest first, consecutive sequence numbers.
    history: VecDeque<Arc<Message>>,
    /// Live fan-out. A broadcast channel gives each subscriber a bounded window over one shared
    /// ring: a subscriber more than its capacity behind sees `Lagged` rather than holding memory.
    live: broadcast::Sender<Arc<Message>>,
}

impl Topic {
    /// A topic that keeps `history_capacity` messages and lets each subscriber fall
    /// `subscriber_buffer` (at least 1) messages behind.
    pub(super) fn new(history_capacity: usize, subscriber_buffer: usize) -> Self {
        let (live, _) = broadcast::channel(subscriber_buffer.max(1));
        Self {
            page: new_page(),
            history_capacity,
            state: Mutex::new(State {
                next_sequence: 1,
                history: VecDeque::new(),
                live,
            }),
        }
    }

    /// Appends a message and hands it to every current subscriber.
    pub(super) fn publish(&self, value: Value, publisher_id: &str) -> Arc<Message> {
        let mut state = self.lock();
        let message = Arc::new(Message {
            sequence_number: state.next_sequence,
            sequence_page: self.page,
            value,
            publisher_id: publisher_id.to_owned(),
            published_at_ms: now_millis(),
        });
        state.next_sequence += 1;
        if self.history_capacity > 0 {
            if state.history.len() >= self.history_capacity {
                state.history.pop_front();
            }
            state.history.push_back(message.clone());
        }
        // An error only means nobody is subscribed right now: topics are best-effort multicast.
        let _ = state.live.send(message.clone());
        message
    }

    /// A subscription resuming at `resume_at` on `page` (see the module docs of `topics`).
    pub(super) fn subscribe(&self, resume_at: u64, page: u64) -> Subscription {
        let state = self.lock();
        // Joining the fan-out under the lock publish takes: every message is either in the
        // snapshot below or arrives live, never both, never neither.
        let live = state.live.subscribe();
        let next = state.next_sequence;
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

/// A new non-zero page: the current time in seconds in the high bits, random low bits. Pages
/// of a topic therefore grow across restarts (as Momento's protocol promises) and two servers
/// started in the same second still differ. Kept below 2^53 so JavaScript clients of the HTTP
/// API, whose JSON numbers are doubles, can send the page back unchanged.
fn new_page() -> u64 {
    const RANDOM_BITS: u32 = 20;
    const TIME_BITS: u32 = 53 - RANDOM_BITS;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = seconds & ((1 << TIME_BITS) - 1);
    let random = rand::rng().random_range(0..1u64 << RANDOM_BITS);
    ((time << RANDOM_BITS) | random).max(1)
}
