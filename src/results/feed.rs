//! One upstream subscription per poll, however many Server-Sent Events clients watch it.
//!
//! The first stream of a poll subscribes to its results topic(s) (`ResultsStore::subscribe`)
//! and fans every results message out to its watchers through an in-process broadcast channel;
//! later streams of the same poll (and audience: voters, or admins, who also get the admins'
//! topic) join it, and streams that start together wait for the one subscription rather than
//! each making its own. The subscription ends [`LINGER`] after the last watcher goes (clients
//! that reconnect, as load tests and flaky networks do, find it still there). So 5,000 watchers
//! of a poll cost one Momento subscription, not 5,000.
//!
//! Each message is shared, not copied: watchers get the same [`Shared`], whose rendering for the
//! wire is made by the first watcher that writes it and reused by all the others, so a message
//! costs each watcher the write and nothing else.
//!
//! A watcher that falls more than [`BUFFER`] messages behind skips what it missed: results are
//! snapshots, and the next one is complete.
//!
//! A feed also keeps the newest results it has seen ([`Latest`]: the last message fanned out,
//! or the snapshot its first watcher read), so a stream that joins a live feed starts from
//! there instead of reading the snapshot from Momento: with thousands of clients reconnecting,
//! a connection costs Momento nothing.
//!
//! [`Feeds::close`] ends every subscription when serving stops, before the Momento they read
//! from does. With the SDK engine (Momento's service, a standalone local Momento) this matters:
//! the SDK's subscription resubscribes in a loop without a pause, and when the Momento it lost
//! refuses at once (a stopped local Momento on loopback) that loop never yields, so the process
//! could neither make progress nor exit. The in-process engine's subscriptions simply end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, OnceCell};
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::{PollId, Results};
use crate::momento::results::ResultsStore;
use crate::momento::StoreResult;

/// How many results messages a watcher may fall behind before it skips some.
pub const BUFFER: usize = 64;
/// How long a subscription outlives its last watcher.
pub const LINGER: Duration = Duration::from_secs(5);

type Key = (PollId, bool);

/// A results message as every watcher of its feed shares it.
pub struct Shared {
    /// The results.
    pub results: Results,
    /// How they go on the wire, made once.
    rendered: OnceLock<Arc<str>>,
}

impl Shared {
    /// `results` to be shared.
    pub fn new(results: Results) -> Self {
        Self {
            results,
            rendered: OnceLock::new(),
        }
    }

    /// The results as `render` puts them on the wire; `render` runs for the first watcher
    /// only (every watcher of a feed renders a message the same way).
    pub fn rendered(&self, render: impl FnOnce(&Results) -> String) -> Arc<str> {
        self.rendered
            .get_or_init(|| render(&self.results).into())
            .clone()
    }
}

/// The upstream subscription of one poll and audience, shared by its watchers.
struct Feed {
    sender: broadcast::Sender<Arc<Shared>>,
    /// The task reading the upstream subscription into `sender`, once subscribed.
    upstream: OnceCell<tokio::task::JoinHandle<()>>,
    /// The upstream subscription ended: the next watcher starts a new feed.
    ended: Arc<AtomicBool>,
    watchers: AtomicUsize,
    /// The newest results seen (a std mutex: a swap, never held across an await).
    latest: Arc<Mutex<Option<Arc<Shared>>>>,
}

/// The newest results a feed has seen. Anything newer reaches the watcher that holds this
/// through the feed (it joined the broadcast before it looked).
pub struct Latest(Arc<Mutex<Option<Arc<Shared>>>>);

impl Latest {
    /// The newest results seen, if any yet.
    pub fn get(&self) -> Option<Arc<Shared>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps `shared` unless results as new are kept already.
    pub fn offer(&self, shared: &Arc<Shared>) {
        offer(&self.0, shared);
    }
}

fn offer(latest: &Mutex<Option<Arc<Shared>>>, shared: &Arc<Shared>) {
    let mut latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
    if latest
        .as_ref()
        .is_none_or(|kept| kept.results.seq < shared.results.seq)
    {
        *latest = Some(shared.clone());
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(task) = self.upstream.get() {
            task.abort();
        }
    }
}

/// The feeds of every poll being watched.
pub struct Feeds {
    store: ResultsStore,
    // A std mutex: map operations only, never held across an await.
    feeds: Mutex<HashMap<Key, Arc<Feed>>>,
    /// Every upstream task, for [`Feeds::close`] to wait for.
    tasks: TaskTracker,
    /// Cancelled by [`Feeds::close`]: the upstream tasks stop reading.
    closing: CancellationToken,
}

/// Keeps a watcher counted; the last one to go schedules the feed's end.
struct Watcher {
    feeds: Arc<Feeds>,
    key: Key,
    feed: Arc<Feed>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if self.feed.watchers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let (feeds, key, feed) = (self.feeds.clone(), self.key.clone(), self.feed.clone());
        let end = async move {
            tokio::time::sleep(LINGER).await;
            feeds.end_if_unwatched(&key, &feed);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(end);
            }
            Err(_) => self.feeds.end_if_unwatched(&self.key, &self.feed),
        }
    }
}

impl Feeds {
    /// Feeds over `store`'s topics.
    pub fn new(store: ResultsStore) -> Self {
        Self {
            store,
            feeds: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<Feed>>> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every results message of `poll` from now on, as a voter (`admin` false) or an admin
    /// sees them, and the newest results the feed has seen; the upstream subscription is in
    /// place when this returns.
    pub async fn watch(
        self: &Arc<Self>,
        poll: &PollId,
        admin: bool,
    ) -> StoreResult<(impl Stream<Item = Arc<Shared>> + Send + 'static, Latest)> {
        let key = (poll.clone(), admin);
        let feed = {
            let mut feeds = self.lock();
            let feed = feeds.entry(key.clone()).or_insert_with(new_feed);
            if feed.ended.load(Ordering::Acquire) {
                *feed = new_feed();
            }
            feed.watchers.fetch_add(1, Ordering::AcqRel);
            feed.clone()
        };
        let watcher = Watcher {
            feeds: self.clone(),
            key,
            feed: feed.clone(),
        };
        // Joined before the subscription starts: nothing it fans out is missed.
        let messages = BroadcastStream::new(feed.sender.subscribe());
        feed.upstream
            .get_or_try_init(|| async {
                let upstream = self.store.subscribe(poll, admin).await?;
                let (sender, ended) = (feed.sender.clone(), feed.ended.clone());
                let latest = feed.latest.clone();
                let closing = self.closing.clone();
                StoreResult::Ok(self.tasks.spawn(async move {
                    let mut upstream = std::pin::pin!(upstream);
                    loop {
                        let results = tokio::select! {
                            _ = closing.cancelled() => break,
                            results = upstream.next() => results,
                        };
                        let Some(results) = results else { break };
                        let shared = Arc::new(Shared::new(results));
                        offer(&latest, &shared);
                        // No watcher right now is fine: one may join before the feed ends.
                        let _ = sender.send(shared);
                    }
                    ended.store(true, Ordering::Release);
                }))
            })
            .await?;
        let latest = Latest(feed.latest.clone());
        // The stream holds its watcher: the feed lives as long as one watches.
        let messages = messages.filter_map(move |message| {
            let _watching = &watcher;
            async move { message.ok() }
        });
        Ok((messages, latest))
    }

    /// Ends the feed of `key` if it is still `feed` and nobody watches it.
    fn end_if_unwatched(&self, key: &Key, feed: &Arc<Feed>) {
        let mut feeds = self.lock();
        let unwatched = feed.watchers.load(Ordering::Acquire) == 0;
        if unwatched && feeds.get(key).is_some_and(|f| Arc::ptr_eq(f, feed)) {
            feeds.remove(key);
        }
    }

    /// Ends every feed and returns once their upstream tasks have stopped: for the end of
    /// serving, after the last request and before the Momento they subscribe to stops.
    pub async fn close(&self) {
        self.closing.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.lock().clear();
    }

    /// How many SSE streams watch `poll` now (both audiences).
    pub fn watchers(&self, poll: &PollId) -> usize {
        self.lock()
            .iter()
            .filter(|((id, _), _)| id == poll)
            .map(|(_, feed)| feed.watchers.load(Ordering::Acquire))
            .sum()
    }

    /// How many upstream subscriptions are open (for `/metrics`).
    pub fn upstreams(&self) -> usize {
        self.lock()
            .values()
            .filter(|feed| feed.upstream.initialized() && !feed.ended.load(Ordering::Acquire))
            .count()
    }
}

fn new_feed() -> Arc<Feed> {
    let (sender, _) = broadcast::channel(BUFFER);
    Arc::new(Feed {
        sender,
        upstream: OnceCell::new(),
        ended: Arc::new(AtomicBool::new(false)),
        watchers: AtomicUsize::new(0),
        latest: Arc::new(Mutex::new(None)),
    })
}
