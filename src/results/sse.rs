//! Results as a stream: the current snapshot first, then every results message of the poll's
//! topic. Results with a `seq` not above the last one sent are dropped, so a client sees
//! `seq` strictly increase. The stream ends after results of a finished poll (archived or
//! cancelled: nothing will change any more), and counts itself in the `results_streams` gauge
//! while it is open.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use prometheus::IntGauge;

use crate::domain::Poll;
use crate::momento::StoreResult;
use crate::results::feed::{Feeds, Shared};
use crate::results::Publisher;

/// The results of `poll`, now and as they change, as an admin (`admin`) or a voter sees them
/// (through the poll's shared [`Feeds`] subscription); `open` counts the stream while it lives.
pub async fn updates(
    feeds: &Arc<Feeds>,
    publisher: &Publisher,
    poll: Poll,
    admin: bool,
    open: IntGauge,
) -> StoreResult<impl Stream<Item = Arc<Shared>> + Send + 'static> {
    // Subscribe before reading the snapshot, so nothing published in between is missed. A live
    // feed's newest results are as good as the snapshot (anything newer comes through the
    // feed) and cost Momento nothing; the state is as of now, as `Publisher::current` gives it.
    let (published, latest) = feeds.watch(poll.id(), admin).await?;
    let now_state = |shared: &Arc<Shared>| {
        let state = poll.state_at(chrono::Utc::now());
        if shared.results.state == state {
            return shared.clone();
        }
        let mut results = shared.results.clone();
        results.state = state;
        Arc::new(Shared::new(results))
    };
    let first = match latest.get() {
        Some(shared) => now_state(&shared),
        None => {
            let shared = Arc::new(Shared::new(publisher.current(&poll).await?));
            latest.offer(&shared);
            shared
        }
    };
    let mut last_seq = first.results.seq;
    let later = published.filter(move |shared| {
        let newer = shared.results.seq > last_seq;
        if newer {
            last_seq = shared.results.seq;
        }
        futures::future::ready(newer)
    });
    let all = futures::stream::once(async move { first })
        .chain(later)
        .boxed();
    // Ends right after the results of a finished poll, without waiting for another message.
    let updates = futures::stream::unfold(
        (all, Open::new(open), false),
        |(mut all, open, finished)| async move {
            if finished {
                return None;
            }
            let shared = all.next().await?;
            let finished = shared.results.state.is_terminal();
            Some((shared, (all, open, finished)))
        },
    );
    Ok(updates)
}

/// A stream counted in a gauge from its start until it is dropped (its client went away, or it
/// ended).
struct Open(IntGauge);

impl Open {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}
