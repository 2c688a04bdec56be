//! One subscriber's view of a topic: a backlog (a discontinuity and replayed history, decided
//! when it subscribed) followed by live messages, with lag turned into discontinuities.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use crate::message::Message;

/// What a subscriber receives (heartbeats are added by the front ends, which know when the
/// stream is idle).
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A published message.
    Item(Arc<Message>),
    /// Messages were skipped or the numbering changed; items resume at `new_topic_sequence`.
    Discontinuity {
        /// Last sequence number known to precede the gap (0: unknown).
        last_topic_sequence: u64,
        /// Sequence number of the next item.
        new_topic_sequence: u64,
        /// The topic's page.
        new_sequence_page: u64,
    },
}

/// A subscription to one topic. Dropping it unsubscribes.
pub(crate) struct Subscription {
    page: u64,
    backlog: VecDeque<Event>,
    live: Receiver<Arc<Message>>,
    /// Sequence number of the last item handed out (or the last one before this subscription
    /// started): the `last_topic_sequence` of a lag discontinuity.
    last_sequence: u64,
    /// The live channel overflowed; the next live item is preceded by a discontinuity.
    lagged: bool,
}

impl Subscription {
    pub(super) fn new(
        page: u64,
        backlog: VecDeque<Event>,
        live: Receiver<Arc<Message>>,
        last_sequence: u64,
    ) -> Self {
        Self {
            page,
            backlog,
            live,
            last_sequence,
            lagged: false,
        }
    }

    /// The next event, waiting for one if needed; `None` only if the topic is gone.
    ///
    /// Cancel-safe (it may lose a `select!` against a heartbeat timer without losing an event):
    /// the only await is `broadcast::Receiver::recv`, which is, and what it returns is moved
    /// into the backlog before anything else can interrupt.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pop() {
                return Some(event);
            }
            match self.live.recv().await {
                Ok(message) => self.accept(message),
                Err(RecvError::Lagged(_)) => self.lagged = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is available right now.
    pub(crate) fn try_next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pop() {
                return Some(event);
            }
            match self.live.try_recv() {
                Ok(message) => self.accept(message),
                Err(TryRecvError::Lagged(_)) => self.lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    fn accept(&mut self, message: Arc<Message>) {
        if std::mem::take(&mut self.lagged) {
            self.backlog.push_back(Event::Discontinuity {
                last_topic_sequence: self.last_sequence,
                new_topic_sequence: message.sequence_number,
                new_sequence_page: self.page,
            });
        }
        self.backlog.push_back(Event::Item(message));
    }

    fn pop(&mut self) -> Option<Event> {
        let event = self.backlog.pop_front()?;
        if let Event::Item(message) = &event {
            self.last_sequence = message.sequence_number;
        }
        Some(event)
    }
}
