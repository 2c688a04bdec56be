//! Topics through the official SDK's TopicClient, and through the raw `Pubsub` protocol where
//! the SDK hides what a test needs to see (heartbeats, discontinuities).

use std::time::Duration;

use futures::StreamExt;
use local_momento::LocalMomentoConfig;
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::topics::{SubscribeRequest, Subscription, SubscriptionValue, ValueKind};
use momento::MomentoErrorCode;
use momento_protos::cache_client::pubsub::subscription_item::Kind;
use momento_protos::cache_client::pubsub::{
    topic_value, PublishRequest, SubscriptionItem, SubscriptionRequest, TopicValue,
};
use tonic::Streaming;

use crate::helpers::{authorized, raw_pubsub, within, TestMomento, CACHE};

pub async fn next_value(subscription: &mut Subscription) -> SubscriptionValue {
    within(10, "a topic item", subscription.next())
        .await
        .expect("an SDK subscription never ends on its own")
}

fn text(value: &SubscriptionValue) -> &str {
    match &value.kind {
        ValueKind::Text(text) => text,
        ValueKind::Binary(_) => panic!("expected text, got {value:?}"),
    }
}

/// A raw subscription to `topic` of [`CACHE`] with the super-user key.
async fn raw_subscribe(
    m: &TestMomento,
    topic: &str,
    resume_at: u64,
    page: u64,
) -> Streaming<SubscriptionItem> {
    let request = SubscriptionRequest {
        cache_name: CACHE.into(),
        topic: topic.into(),
        resume_at_topic_sequence_number: resume_at,
        sequence_page: page,
    };
    raw_pubsub(m)
        .await
        .subscribe(authorized(request, &m.key))
        .await
        .expect("subscribed")
        .into_inner()
}

async fn next_raw(stream: &mut Streaming<SubscriptionItem>) -> Kind {
    within(10, "a raw subscription item", stream.message())
        .await
        .expect("no stream error")
        .expect("the stream goes on")
        .kind
        .expect("every item has a kind")
}

async fn next_raw_event(stream: &mut Streaming<SubscriptionItem>) -> Kind {
    loop {
        match next_raw(stream).await {
            Kind::Heartbeat(_) => continue,
            other => return other,
        }
    }
}

/// The current page of `topic`, learnt from the discontinuity a wrong page provokes.
async fn page_of(m: &TestMomento, topic: &str) -> u64 {
    let mut probe = raw_subscribe(m, topic, 1, 1).await;
    match next_raw_event(&mut probe).await {
        Kind::Discontinuity(d) => d.new_sequence_page,
        other => panic!("expected a discontinuity, got {other:?}"),
    }
}

#[tokio::test]
async fn published_messages_reach_sdk_subscribers_with_the_publishers_token_id() {
    let m = TestMomento::start().await;
    let mut subscription = m
        .topic_client(m.super_user())
        .subscribe(CACHE, "t")
        .await
        .expect("subscribed");
    let voter = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "voter-7",
        )
        .await;

    m.topic_client(m.token(&voter))
        .publish(CACHE, "t", "yes")
        .await
        .expect("a publish-only token publishes");
    m.topic_client(m.super_user())
        .publish(CACHE, "t", vec![0u8, 255])
        .await
        .expect("the super user publishes");

    let first = next_value(&mut subscription).await;
    assert_eq!(text(&first), "yes");
    assert_eq!(first.publisher_id, "voter-7");
    assert_eq!(first.topic_sequence_number, 1);
    assert_ne!(first.topic_sequence_page, 0);
    let second = next_value(&mut subscription).await;
    assert_eq!(second.kind, ValueKind::Binary(vec![0, 255]));
    assert_eq!(second.publisher_id, "", "API keys have no token_id");
    assert_eq!(second.topic_sequence_number, 2);
    assert_eq!(second.topic_sequence_page, first.topic_sequence_page);
}

#[tokio::test]
async fn the_sdk_resumes_at_the_number_it_gives_so_it_sees_that_item_again() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut live = client.subscribe(CACHE, "t").await.expect("subscribed");
    for n in 1..=3 {
        client.publish(CACHE, "t", format!("m{n}")).await.unwrap();
    }
    let page = next_value(&mut live).await.topic_sequence_page;

    let mut resumed = client
        .send_request(SubscribeRequest::new(CACHE, "t", Some(2), Some(page)))
        .await
        .expect("resumed");
    client.publish(CACHE, "t", "m4").await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..3 {
        let value = next_value(&mut resumed).await;
        seen.push((value.topic_sequence_number, text(&value).to_owned()));
    }
    assert_eq!(seen, [(2, "m2".into()), (3, "m3".into()), (4, "m4".into())]);
}

#[tokio::test]
async fn a_subscription_starts_with_a_heartbeat_and_sends_more_while_idle() {
    let m = TestMomento::start_with(LocalMomentoConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..LocalMomentoConfig::default()
    })
    .await;
    let mut stream = raw_subscribe(&m, "t", 0, 0).await;
    assert!(matches!(next_raw(&mut stream).await, Kind::Heartbeat(_)));

    m.topic_client(m.super_user())
        .publish(CACHE, "t", "hello")
        .await
        .unwrap();
    match next_raw_event(&mut stream).await {
        Kind::Item(item) => assert_eq!(item.topic_sequence_number, 1),
        other => panic!("expected the item, got {other:?}"),
    }
    assert!(
        matches!(next_raw(&mut stream).await, Kind::Heartbeat(_)),
        "an idle stream gets heartbeats"
    );
}

#[tokio::test]
async fn resuming_beyond_the_retained_history_yields_a_discontinuity_then_the_rest() {
    let m = TestMomento::start_with(LocalMomentoConfig {
        topic_history: 3,
        ..LocalMomentoConfig::default()
    })
    .await;
    let client = m.topic_client(m.super_user());
    for n in 1..=6 {
        client.publish(CACHE, "t", format!("m{n}")).await.unwrap();
    }
    let page = page_of(&m, "t").await;

    let mut stream = raw_subscribe(&m, "t", 2, page).await;
    match next_raw_event(&mut stream).await {
        Kind::Discontinuity(d) => {
            assert_eq!(
                (
                    d.last_topic_sequence,
                    d.new_topic_sequence,
                    d.new_sequence_page
                ),
                (1, 4, page)
            );
        }
        other => panic!("expected a discontinuity, got {other:?}"),
    }
    for expected in 4..=6 {
        match next_raw_event(&mut stream).await {
            Kind::Item(item) => {
                assert_eq!(item.topic_sequence_number, expected);
                assert_eq!(item.sequence_page, page);
            }
            other => panic!("expected item {expected}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn resuming_with_a_wrong_page_yields_a_discontinuity_naming_the_current_page() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    client.publish(CACHE, "t", "m1").await.unwrap();
    client.publish(CACHE, "t", "m2").await.unwrap();
    let page = page_of(&m, "t").await;

    let mut stream = raw_subscribe(&m, "t", 2, page + 1).await;
    match next_raw_event(&mut stream).await {
        Kind::Discontinuity(d) => {
            assert_eq!(
                (
                    d.last_topic_sequence,
                    d.new_topic_sequence,
                    d.new_sequence_page
                ),
                (0, 3, page)
            );
        }
        other => panic!("expected a discontinuity, got {other:?}"),
    }
    client.publish(CACHE, "t", "m3").await.unwrap();
    match next_raw_event(&mut stream).await {
        Kind::Item(item) => assert_eq!(item.topic_sequence_number, 3, "then live items"),
        other => panic!("expected item 3, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_up_to_4096_bytes_are_published_and_larger_ones_are_limit_exceeded() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut subscription = client.subscribe(CACHE, "t").await.unwrap();

    client
        .publish(CACHE, "t", "a".repeat(4096))
        .await
        .expect("4096 bytes");
    client
        .publish(CACHE, "t", "é".repeat(2048))
        .await
        .expect("2048 two-byte characters are 4096 bytes");
    for (what, result) in [
        ("text", client.publish(CACHE, "t", "a".repeat(4097)).await),
        (
            "multi-byte text",
            client
                .publish(CACHE, "t", format!("a{}", "é".repeat(2048)))
                .await,
        ),
        ("binary", client.publish(CACHE, "t", vec![7u8; 4097]).await),
    ] {
        let err = result.expect_err(what);
        assert_eq!(
            err.error_code,
            MomentoErrorCode::LimitExceededError,
            "{what}: {err:?}"
        );
    }
    client.publish(CACHE, "t", "end").await.unwrap();

    let sizes: Vec<_> = [
        next_value(&mut subscription).await,
        next_value(&mut subscription).await,
        next_value(&mut subscription).await,
    ]
    .iter()
    .map(|v| (v.topic_sequence_number, text(v).len()))
    .collect();
    assert_eq!(
        sizes,
        [(1, 4096), (2, 4096), (3, 3)],
        "refused messages are not published"
    );
}

#[tokio::test]
async fn publishing_or_subscribing_to_an_unknown_cache_is_cache_not_found() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let err = client.publish("no-such-cache", "t", "x").await.unwrap_err();
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
    let err = client.subscribe("no-such-cache", "t").await.err().unwrap();
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_topic_name_or_a_missing_value_is_invalid_argument() {
    let m = TestMomento::start().await;
    let mut raw = raw_pubsub(&m).await;
    let text = |t: &str| {
        Some(TopicValue {
            kind: Some(topic_value::Kind::Text(t.into())),
        })
    };
    for (topic, value) in [("", text("x")), ("t", None)] {
        let request = PublishRequest {
            cache_name: CACHE.into(),
            topic: topic.into(),
            value,
        };
        let status = raw.publish(authorized(request, &m.key)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
}

#[tokio::test]
async fn ten_concurrent_subscribers_each_receive_every_message_of_a_burst_in_order() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut subscriptions = Vec::new();
    for _ in 0..10 {
        subscriptions.push(client.subscribe(CACHE, "burst").await.unwrap());
    }

    const MESSAGES: u64 = 200;
    let publishes = (0..MESSAGES).map(|n| client.publish(CACHE, "burst", format!("m{n}")));
    for result in futures::future::join_all(publishes).await {
        result.expect("published");
    }

    let mut received = Vec::new();
    for subscription in &mut subscriptions {
        let mut seen = Vec::new();
        for _ in 0..MESSAGES {
            let value = next_value(subscription).await;
            seen.push((value.topic_sequence_number, text(&value).to_owned()));
        }
        let numbers: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            (1..=MESSAGES).collect::<Vec<_>>(),
            "in order, no gaps"
        );
        received.push(seen);
    }
    assert!(
        received.windows(2).all(|w| w[0] == w[1]),
        "every subscriber sees the same messages under the same numbers"
    );
    let mut texts: Vec<_> = received[0].iter().map(|(_, t)| t.clone()).collect();
    texts.sort();
    let mut expected: Vec<_> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    expected.sort();
    assert_eq!(texts, expected, "every published message, once");
}

#[tokio::test]
async fn subscriptions_end_cleanly_when_the_server_shuts_down() {
    let m = TestMomento::start().await;
    let mut stream = raw_subscribe(&m, "t", 0, 0).await;
    assert!(matches!(next_raw(&mut stream).await, Kind::Heartbeat(_)));

    let shutdown = tokio::spawn(m.server.shutdown());
    let end = within(10, "the end of the stream", stream.message()).await;
    assert!(
        matches!(end, Ok(None)),
        "a clean end of stream, not an error: {end:?}"
    );
    within(10, "the server to stop", shutdown).await.unwrap();
}
