//! Who follows which event: one watch per event per replica, however many phones and screens
//! follow it (`GET /v1/events/{id}/stream`).
//!
//! A change made by this replica reaches its followers at once ([`EventWatch::changed`]). A
//! change made by another replica is seen by reading the record every [`FOLLOW_INTERVAL`] while
//! anyone follows the event: one read per event per replica, not per follower. (Reads of the
//! record are all Momento is asked: no topic of its own, so the store stays a plain record.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::session::{EventId, Session};
use crate::momento::events::EventStore;
use crate::momento::StoreResult;

/// How often a followed event's record is read for changes made elsewhere.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

/// The followed events of this replica.
pub struct EventWatch {
    store: EventStore,
    // A std mutex: map operations only, never held across an await.
    watches: Mutex<HashMap<EventId, watch::Sender<Session>>>,
}

impl EventWatch {
    /// Watches over `store`.
    pub fn new(store: EventStore) -> Self {
        Self {
            store,
            watches: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<EventId, watch::Sender<Session>>> {
        self.watches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The event `id` now and as it changes; `None` when there is no such event.
    pub async fn follow(
        self: &Arc<Self>,
        id: &EventId,
    ) -> StoreResult<Option<watch::Receiver<Session>>> {
        if let Some(sender) = self.lock().get(id) {
            return Ok(Some(sender.subscribe()));
        }
        let Some((event, _)) = self.store.get(id).await? else {
            return Ok(None);
        };
        let (receiver, start) = {
            let mut watches = self.lock();
            match watches.get(id) {
                Some(sender) => (sender.subscribe(), false),
                None => {
                    let (sender, receiver) = watch::channel(event);
                    watches.insert(id.clone(), sender);
                    (receiver, true)
                }
            }
        };
        if start {
            tokio::spawn(self.clone().read_changes(id.clone()));
        }
        Ok(Some(receiver))
    }

    /// This replica changed `event`: its followers hear of it now.
    pub fn changed(&self, event: &Session) {
        if let Some(sender) = self.lock().get(&event.id) {
            offer(sender, event.clone());
        }
    }

    /// Reads the record every [`FOLLOW_INTERVAL`] until nobody follows the event.
    async fn read_changes(self: Arc<Self>, id: EventId) {
        loop {
            tokio::time::sleep(FOLLOW_INTERVAL).await;
            let sender = {
                let mut watches = self.lock();
                match watches.get(&id) {
                    Some(sender) if sender.receiver_count() == 0 => {
                        watches.remove(&id);
                        return;
                    }
                    Some(sender) => sender.clone(),
                    None => return,
                }
            };
            match self.store.get(&id).await {
                Ok(Some((event, _))) => offer(&sender, event),
                Ok(None) => {}
                Err(error) => tracing::debug!(error = format!("{error:#}"), "event not read"),
            }
        }
    }
}

/// Sends `event` unless the followers have it, or a later version, already.
fn offer(sender: &watch::Sender<Session>, event: Session) {
    sender.send_if_modified(|current| {
        let newer = event.version > current.version;
        if newer {
            *current = event;
        }
        newer
    });
}
