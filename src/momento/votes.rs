//! The votes topics as the subscription ingest reads them: a subscription that can resume
//! after the last item read, yielding each message with its publisher's `token_id`, and the
//! position per topic a new reader resumes from.

use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::momento::keys::votes_cursor;
use crate::momento::{Momento, StoreResult};

/// Where an item stands in a topic: its sequence number within a sequence page (a page
/// changes when the topic's numbering restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPosition {
    /// The topic sequence number.
    pub seq: u64,
    /// The sequence page.
    pub page: u64,
}

/// A message read from the votes topic.
#[derive(Debug, Clone)]
pub struct VoteItem {
    /// The publisher's `token_id` (`""` when it had none).
    pub publisher_id: String,
    /// The message text (`""` for a binary message).
    pub text: String,
    /// Where it stands in the topic.
    pub position: TopicPosition,
}

impl TopicPosition {
    fn encode(self) -> String {
        format!("{}:{}", self.page, self.seq)
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let (page, seq) = std::str::from_utf8(raw).ok()?.split_once(':')?;
        Some(Self {
            page: page.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl Momento {
    /// Where the subscription ingest last said it had processed the votes topic `topic` up to.
    #[tracing::instrument(level = "debug", skip_all, fields(topic))]
    pub async fn votes_cursor(&self, topic: &str) -> StoreResult<Option<TopicPosition>> {
        let raw = self
            .get(votes_cursor(topic), "reading the votes cursor")
            .await?;
        Ok(raw.as_deref().and_then(TopicPosition::decode))
    }

    /// Records that every vote of `topic` up to `position` is processed (lives `ttl`).
    #[tracing::instrument(level = "debug", skip_all, fields(topic, page = position.page, seq = position.seq))]
    pub async fn save_votes_cursor(
        &self,
        topic: &str,
        position: TopicPosition,
        ttl: Duration,
    ) -> StoreResult<()> {
        let (key, encoded) = (votes_cursor(topic), position.encode());
        let saved = self.set(&key, encoded.as_bytes(), ttl, "saving the votes cursor");
        saved.await?;
        Ok(())
    }

    /// Subscribes to the votes topic `topic`, from the item after `after` when given (else from
    /// now).
    #[tracing::instrument(level = "debug", skip_all, fields(topic, resume = ?after))]
    pub async fn subscribe_votes(
        &self,
        topic: &str,
        after: Option<TopicPosition>,
    ) -> StoreResult<impl Stream<Item = VoteItem> + Send + Unpin + 'static> {
        let after = after.map(|last| (last.page, last.seq));
        let subscription = self
            .subscribe(topic, after, "subscribing to a votes topic")
            .await?;
        Ok(subscription.map(|message| VoteItem {
            publisher_id: message.publisher_id,
            position: TopicPosition {
                seq: message.seq,
                page: message.page,
            },
            text: message.text.unwrap_or_default(),
        }))
    }
}
