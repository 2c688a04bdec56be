//! The votes topic as the subscription ingest reads it: a subscription that can resume after
//! the last item read, yielding each message with its publisher's `token_id`.

use std::time::Duration;

use anyhow::Context;
use futures::{Stream, StreamExt};
use momento::cache::SetRequest;
use momento::topics::SubscribeRequest;

use crate::momento::keys::{SUBSCRIPTION_CURSOR, VOTES_TOPIC};
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
    /// Where the subscription ingest last said it had processed the votes topic up to.
    #[tracing::instrument(skip_all)]
    pub async fn votes_cursor(&self) -> StoreResult<Option<TopicPosition>> {
        let raw = self
            .get(SUBSCRIPTION_CURSOR.to_owned(), "reading the votes cursor")
            .await?;
        Ok(raw.as_deref().and_then(TopicPosition::decode))
    }

    /// Records that every vote up to `position` is processed (lives `ttl`).
    #[tracing::instrument(skip_all, fields(page = position.page, seq = position.seq))]
    pub async fn save_votes_cursor(
        &self,
        position: TopicPosition,
        ttl: Duration,
    ) -> StoreResult<()> {
        let request =
            SetRequest::new(self.cache_name(), SUBSCRIPTION_CURSOR, position.encode()).ttl(ttl);
        self.send(request, "saving the votes cursor").await?;
        Ok(())
    }

    /// Subscribes to the votes topic, from the item after `after` when given (else from now).
    #[tracing::instrument(skip_all, fields(resume = ?after))]
    pub async fn subscribe_votes(
        &self,
        after: Option<TopicPosition>,
    ) -> StoreResult<impl Stream<Item = VoteItem> + Send + Unpin + 'static> {
        let request = SubscribeRequest::new(
            self.cache_name().to_owned(),
            VOTES_TOPIC.to_owned(),
            after.map(|last| last.seq + 1),
            after.map(|last| last.page),
        );
        let subscription = self
            .topics()
            .send_request(request)
            .await
            .context("subscribing to the votes topic")?;
        Ok(subscription.map(|item| VoteItem {
            publisher_id: item.publisher_id.clone(),
            position: TopicPosition {
                seq: item.topic_sequence_number,
                page: item.topic_sequence_page,
            },
            text: String::try_from(item).unwrap_or_default(),
        }))
    }
}
