//! One upstream subscription per poll, however many Server-Sent Events clients watch it.
//!
//! The first stream of a poll subscribes to its results topic(s) (`ResultsStore::subscribe`)
//! and fans every results message out to its watchers through an in-process broadcast channel;
//! later streams of the same poll (and audience: voters, or admins, who also get the admins'
//! topic) join it. The subscription ends when the last watcher goes. So 5,000 watchers of a
//! poll cost one Momento subscription, not 5,000.
//!
//! A watcher that falls more than [`BUFFER`] messages behind skips what it missed: results are
//! snapshots, and the next one is complete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::{PollId, Results};
use crate::momento::results::ResultsStore;
use crate::momento::StoreResult;

/// How many results messages a watcher may fall behind before it skips some.
pub const BUFFER: usize = 64;

/// The upstream subscription of one poll and audience, shared by its watchers.
pub struct Feed {
    sender: broadcast::Sender<Arc<Results>>,
    /// Reads the upstream subscription into `sender`; stops when the feed is dropped.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The feeds of every poll being watched.
pub struct Feeds {
    store: ResultsStore,
    // A std mutex: map operations only, never held across an await.
    feeds: Mutex<HashMap<(PollId, bool), Weak<Feed>>>,
}

impl Feeds {
    /// Feeds over `store`'s topics.
    pub fn new(store: ResultsStore) -> Self {
        Self {
            store,
            feeds: Mutex::new(HashMap::new()),
        }
    }

    /// Every results message of `poll` from now on, as a voter (`admin` false) or an admin
    /// sees them; the upstream subscription is in place when this returns.
    pub async fn watch(
        &self,
        poll: &PollId,
        admin: bool,
    ) -> StoreResult<impl Stream<Item = Results> + Send + 'static> {
        let key = (poll.clone(), admin);
        let existing = self.lock().get(&key).and_then(Weak::upgrade);
        let feed = match existing {
            Some(feed) => feed,
            None => {
                let upstream = self.store.subscribe(poll, admin).await?;
                let (sender, _) = broadcast::channel(BUFFER);
                let fan_out = sender.clone();
                let task = tokio::spawn(async move {
                    let mut upstream = std::pin::pin!(upstream);
                    while let Some(results) = upstream.next().await {
                        // No watcher right now is fine: one may join before the feed is dropped.
                        let _ = fan_out.send(Arc::new(results));
                    }
                });
                let feed = Arc::new(Feed { sender, task });
                // Two first watchers at once may both subscribe; the later one's feed is kept
                // in the map, and the earlier lives on for its own watcher.
                self.lock().insert(key, Arc::downgrade(&feed));
                feed
            }
        };
        let messages = BroadcastStream::new(feed.sender.subscribe());
        // The stream holds the feed: the subscription lives as long as one watcher does.
        Ok(messages.filter_map(move |message| {
            let _held = &feed;
            let results = message.ok().map(|results| (*results).clone());
            async move { results }
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PollId, bool), Weak<Feed>>> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.retain(|_, feed| feed.strong_count() > 0);
        feeds
    }

    /// How many upstream subscriptions are open (for tests and metrics).
    pub fn upstreams(&self) -> usize {
        self.lock().len()
    }
}
