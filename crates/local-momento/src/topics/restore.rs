//! Rebuilding topics from records at start (see `persist::recover`), and reading them out for
//! a snapshot.

use std::sync::Arc;

use super::{Topic, Topics};
use crate::persist::record::Record;

impl Topics {
    /// Applies a topic record; returns `false` for a record of another kind.
    pub(crate) fn restore(&self, record: &Record<'_>) -> bool {
        match record {
            Record::Publish {
                cache,
                topic,
                message,
            }
            | Record::History {
                cache,
                topic,
                message,
            } => {
                let state = self.restored(cache, topic, message.page);
                // A message of a page the topic was reset from since is gone with that page.
                if state.page() == message.page {
                    state.restore(message.to_message());
                }
            }
            Record::Topic {
                cache,
                topic,
                page,
                next_sequence,
            } => {
                let state = self.restored(cache, topic, *page);
                if state.page() == *page {
                    state.restore_next(*next_sequence);
                }
            }
            _ => return false,
        }
        true
    }

    /// The topic, created with `page` if it is not there yet, or if it is there with an older
    /// page (the topic was reset since: pages grow across resets).
    fn restored(&self, cache: &str, topic: &str, page: u64) -> Arc<Topic> {
        let fresh = || {
            Arc::new(Topic::restored(
                page,
                1,
                self.settings.history,
                self.settings.subscriber_buffer,
            ))
        };
        let mut entry = self
            .topics
            .entry((cache.to_owned(), topic.to_owned()))
            .or_insert_with(fresh);
        if entry.page() < page {
            *entry = fresh();
        }
        entry.clone()
    }

    /// Every topic as `(cache, topic, state)`, sorted, for a snapshot.
    pub(crate) fn all(&self) -> Vec<(String, String, Arc<Topic>)> {
        let mut all: Vec<_> = self
            .topics
            .iter()
            .map(|entry| {
                let (cache, topic) = entry.key().clone();
                (cache, topic, entry.value().clone())
            })
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }
}
