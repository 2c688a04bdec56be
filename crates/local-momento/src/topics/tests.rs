use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Event, Subscription, Topics, Value};
use crate::config::LocalMomentoConfig;
use crate::persist::Log;
use crate::webhooks::Dispatcher;

/// Topics in memory, with webhook delivery running (inside a Tokio runtime).
fn topics(history: usize, subscriber_buffer: usize) -> Topics {
    let config = LocalMomentoConfig {
        topic_history: history,
        subscriber_buffer,
        ..LocalMomentoConfig::default()
    };
    let webhooks = Arc::new(Dispatcher::new(config.delivery_settings(), Log::default()));
    tokio::spawn(webhooks.clone().run(CancellationToken::new()));
    Topics::new(
        config.topic_settings(),
        Log::default(),
        webhooks,
        CancellationToken::new(),
    )
}

/// Publishes on `c`/`t`. In memory nothing waits, so the future is ready at once.
fn publish_on(topics: &Topics, topic: &str, text: &str) -> u64 {
    futures::executor::block_on(topics.publish("c", topic, Value::Text(text.into()), "pub"))
        .expect("in memory, a publish cannot fail")
}

fn publish(topics: &Topics, text: &str) -> u64 {
    publish_on(topics, "t", text)
}

/// Everything available now, as `item N` / `gap L->N` strings.
fn drain(subscription: &mut Subscription) -> Vec<String> {
    std::iter::from_fn(|| subscription.try_next())
        .map(|event| match event {
            Event::Item(m) => format!("item {}", m.sequence_number),
            Event::Discontinuity {
                last_topic_sequence,
                new_topic_sequence,
                ..
            } => format!("gap {last_topic_sequence}->{new_topic_sequence}"),
        })
        .collect()
}

fn page_of(topics: &Topics) -> u64 {
    let mut probe = topics.subscribe("c", "t", 1, 0);
    match probe.try_next() {
        Some(Event::Discontinuity {
            new_sequence_page, ..
        }) => new_sequence_page,
        other => panic!("a wrong page yields a discontinuity first, got {other:?}"),
    }
}

#[tokio::test]
async fn sequence_numbers_start_at_one_and_grow_by_one_per_topic() {
    let topics = topics(10, 10);
    assert_eq!(publish(&topics, "a"), 1);
    assert_eq!(publish(&topics, "b"), 2);
    assert_eq!(publish_on(&topics, "other", "x"), 1);
    assert_eq!(topics.stats().published, 3);
}

#[tokio::test]
async fn pages_are_non_zero_and_safe_for_javascript_numbers() {
    let topics = topics(10, 10);
    let page = page_of(&topics);
    assert!(page > 0 && page < 1 << 53, "{page}");
}

#[tokio::test]
async fn a_live_subscription_gets_only_what_is_published_after_it() {
    let topics = topics(10, 10);
    publish(&topics, "before");
    let mut subscription = topics.subscribe("c", "t", 0, 0);
    publish(&topics, "after");
    assert_eq!(drain(&mut subscription), ["item 2"]);
}

#[tokio::test]
async fn resuming_on_the_right_page_replays_from_the_number_given_then_goes_live() {
    let topics = topics(10, 10);
    for text in ["1", "2", "3"] {
        publish(&topics, text);
    }
    let page = page_of(&topics);
    let mut subscription = topics.subscribe("c", "t", 2, page);
    publish(&topics, "4");
    assert_eq!(drain(&mut subscription), ["item 2", "item 3", "item 4"]);
}

#[tokio::test]
async fn resuming_past_the_history_starts_with_a_discontinuity() {
    let topics = topics(2, 10);
    for text in ["1", "2", "3", "4"] {
        publish(&topics, text);
    }
    let page = page_of(&topics);
    let mut subscription = topics.subscribe("c", "t", 1, page);
    assert_eq!(drain(&mut subscription), ["gap 0->3", "item 3", "item 4"]);
}

#[tokio::test]
async fn resuming_on_another_page_gets_a_discontinuity_naming_the_next_number() {
    let topics = topics(10, 10);
    publish(&topics, "1");
    let mut subscription = topics.subscribe("c", "t", 1, 12345);
    assert_eq!(drain(&mut subscription), ["gap 0->2"]);
}

#[tokio::test]
async fn resuming_after_the_newest_message_waits_for_live_ones() {
    let topics = topics(10, 10);
    publish(&topics, "1");
    let page = page_of(&topics);
    let mut subscription = topics.subscribe("c", "t", 2, page);
    assert!(drain(&mut subscription).is_empty());
    publish(&topics, "2");
    assert_eq!(drain(&mut subscription), ["item 2"]);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_gets_a_discontinuity_and_the_newest_messages() {
    let topics = topics(100, 4);
    let mut subscription = topics.subscribe("c", "t", 0, 0);
    publish(&topics, "1");
    assert_eq!(drain(&mut subscription), ["item 1"]);
    for n in 2..=11 {
        publish(&topics, &n.to_string());
    }
    assert_eq!(
        drain(&mut subscription),
        ["gap 1->8", "item 8", "item 9", "item 10", "item 11"]
    );
}

#[tokio::test]
async fn waiting_for_the_next_event_wakes_on_publish() {
    let topics = Arc::new(topics(10, 10));
    let mut subscription = topics.subscribe("c", "t", 0, 0);
    let publisher = topics.clone();
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        publisher
            .publish("c", "t", Value::Text("hi".into()), "p")
            .await
            .unwrap();
    });
    match subscription.next().await {
        Some(Event::Item(m)) => {
            assert_eq!(m.value, Value::Text("hi".into()));
            assert_eq!(m.publisher_id, "p");
        }
        other => panic!("expected the item, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_counters_record_attempts_and_failures() {
    let topics = topics(10, 10);
    // Port 1 on loopback refuses connections: a failed delivery, quickly.
    topics
        .register_webhook(crate::webhooks::Webhook {
            name: "hook".into(),
            cache: "c".into(),
            topic: "t".into(),
            url: "http://127.0.0.1:1/hook".into(),
            secret: "s".to_owned().into(),
        })
        .unwrap();
    publish(&topics, "1");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while topics.stats().webhooks.failed == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            topics.stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stats = topics.stats();
    assert_eq!(
        (
            stats.published,
            stats.webhooks.attempts,
            stats.webhooks.delivered,
            stats.webhooks.failed
        ),
        (1, 1, 0, 1)
    );
}

#[tokio::test]
async fn a_reset_topic_numbers_from_one_on_a_greater_page_and_ends_open_subscriptions() {
    let topics = topics(10, 10);
    let mut open = topics.subscribe("c", "t", 0, 0);
    publish(&topics, "1");
    publish(&topics, "2");
    let old_page = page_of(&topics);

    topics.reset("c", "t");

    // What was released before the reset still arrives; then the subscription ends.
    assert_eq!(drain(&mut open), ["item 1", "item 2"]);
    assert!(open.next().await.is_none(), "the reset ends it");
    assert_eq!(publish(&topics, "3"), 1, "numbering restarts");
    let new_page = page_of(&topics);
    assert!(new_page > old_page, "{new_page} > {old_page}");
    // A subscriber resuming on the old page learns of the new one, then gets live messages;
    // one resuming on the new page gets its history.
    assert_eq!(
        drain(&mut topics.subscribe("c", "t", 3, old_page)),
        ["gap 0->2"]
    );
    assert_eq!(
        drain(&mut topics.subscribe("c", "t", 1, new_page)),
        ["item 1"]
    );
}

#[tokio::test]
async fn an_injected_reset_applies_at_the_next_use_and_survives_a_restart() {
    use crate::client::{TopicEvent, TopicValue};
    use crate::persist::{FsyncPolicy, Persistence};

    let dir = tempfile::tempdir().unwrap();
    let config = || LocalMomentoConfig {
        persistence: Persistence::Durable {
            dir: dir.path().to_owned(),
            fsync: FsyncPolicy::Never,
        },
        ..LocalMomentoConfig::default()
    };
    let page_seen = |m: &crate::LocalMomento| {
        let client = m.client();
        async move {
            // Resuming on page 0 is resuming on another page: a discontinuity names the page.
            let mut probe = client.subscribe("c", "t", 1, 0).await.unwrap();
            match probe.next().await {
                Some(TopicEvent::Discontinuity {
                    new_sequence_page, ..
                }) => new_sequence_page,
                other => panic!("expected a discontinuity, got {other:?}"),
            }
        }
    };
    let text = |t: &str| TopicValue::Text(t.to_owned());
    let m = crate::LocalMomento::start(config()).await.unwrap();
    m.ensure_cache("c").await.unwrap();
    let client = m.client();
    assert_eq!(client.publish("c", "t", text("a")).await.unwrap(), 1);
    assert_eq!(client.publish("c", "t", text("b")).await.unwrap(), 2);
    let old_page = page_seen(&m).await;

    m.faults().reset_topic("c", "t");
    assert_eq!(client.publish("c", "t", text("c")).await.unwrap(), 1);
    let new_page = page_seen(&m).await;
    assert!(new_page > old_page);
    m.shutdown().await;

    let m = crate::LocalMomento::start(config()).await.unwrap();
    assert_eq!(page_seen(&m).await, new_page, "the reset was journaled");
    assert_eq!(m.client().publish("c", "t", text("d")).await.unwrap(), 2);
    m.shutdown().await;
}
