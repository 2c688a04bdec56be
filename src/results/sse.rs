//! Results as a stream: the current snapshot first, then every results message of the poll's
//! topic. Results with a `seq` not above the last one sent are dropped, so a client sees
//! `seq` strictly increase.

use futures::{Stream, StreamExt};

use crate::domain::{Poll, Results};
use crate::momento::results::ResultsStore;
use crate::momento::StoreResult;
use crate::results::Publisher;

/// The results of `poll`, now and as they change, as an admin (`admin`) or a voter sees them.
pub async fn updates(
    store: &ResultsStore,
    publisher: &Publisher,
    poll: Poll,
    admin: bool,
) -> StoreResult<impl Stream<Item = Results> + Send + 'static> {
    // Subscribe before reading the snapshot, so nothing published in between is missed.
    let published = store.subscribe(poll.id(), admin).await?;
    let first = publisher.current(&poll).await?;
    let mut last_seq = first.seq;
    let later = published.filter(move |results| {
        let newer = results.seq > last_seq;
        if newer {
            last_seq = results.seq;
        }
        futures::future::ready(newer)
    });
    Ok(futures::stream::once(async move { first }).chain(later))
}
