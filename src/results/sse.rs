//! Results as a stream: the current snapshot first, then every results message of the poll's
//! topic. Results with a `seq` not above the last one sent are dropped, so a client sees
//! `seq` strictly increase.

use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::domain::{Poll, Results};
use crate::momento::tokens::results_topic;
use crate::momento::Momento;
use crate::results::Publisher;

/// The results of `poll`, now and as they change.
pub async fn updates(
    publisher: Arc<Publisher>,
    momento: Momento,
    poll: Poll,
) -> anyhow::Result<impl Stream<Item = Results> + Send + 'static> {
    // Subscribe before reading the snapshot, so nothing published in between is missed.
    let subscription = momento
        .topics()
        .subscribe(momento.cache_name().to_owned(), results_topic(poll.id()))
        .await?;
    let first = publisher.current(&poll).await?;
    let mut last_seq = first.seq;
    let later = subscription.filter_map(move |item| {
        let parsed = String::try_from(item)
            .ok()
            .and_then(|text| serde_json::from_str::<Results>(&text).ok());
        let out = match parsed {
            Some(results) if results.seq > last_seq => {
                last_seq = results.seq;
                Some(results)
            }
            _ => None,
        };
        async move { out }
    });
    Ok(futures::stream::once(async move { first }).chain(later))
}
