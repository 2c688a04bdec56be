//! Subscription streams over the raw `Pubsub` protocol, where the SDK would hide what these
//! tests look at: heartbeats, discontinuities, and the end of a stream.

use std::time::Duration;

use local_momento::LocalMomentoConfig;
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::pubsub::subscription_item::Kind;
use momento_protos::cache_client::pubsub::{SubscriptionItem, SubscriptionRequest};
use tonic::Streaming;

use crate::helpers::{authorized, raw_pubsub, within, TestMomento, CACHE};

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

#[tokio::test]
async fn a_subscriber_too_slow_to_keep_up_gets_discontinuities_never_silent_gaps() {
    let m = TestMomento::start_with(LocalMomentoConfig {
        subscriber_buffer: 8,
        ..LocalMomentoConfig::default()
    })
    .await;
    // A 64 KB HTTP/2 window (hyper's client default is 2 MB), so unread messages soon stay
    // on the server, where the subscriber's buffer of 8 overflows.
    let channel = tonic::transport::Endpoint::from_shared(m.server.grpc_endpoint())
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let request = SubscriptionRequest {
        cache_name: CACHE.into(),
        topic: "t".into(),
        resume_at_topic_sequence_number: 0,
        sequence_page: 0,
    };
    let mut stream = PubsubClient::new(channel)
        .subscribe(authorized(request, &m.key))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next_raw(&mut stream).await, Kind::Heartbeat(_)));

    // Not reading meanwhile: 1.2 MB, far more than the window and the server's send buffer.
    const MESSAGES: u64 = 300;
    let client = m.topic_client(m.super_user());
    for n in 1..=MESSAGES {
        client
            .publish(CACHE, "t", format!("{n:04}").repeat(1000))
            .await
            .unwrap();
    }

    let mut last_item = 0;
    let mut pending_gap = None;
    let mut gaps = 0;
    while last_item < MESSAGES {
        match next_raw_event(&mut stream).await {
            Kind::Item(item) => {
                let expected = pending_gap.take().unwrap_or(last_item + 1);
                assert_eq!(item.topic_sequence_number, expected, "no unannounced gap");
                last_item = item.topic_sequence_number;
            }
            Kind::Discontinuity(d) => {
                assert_eq!(
                    d.last_topic_sequence, last_item,
                    "names the last item received"
                );
                assert!(d.new_topic_sequence > last_item + 1, "{d:?}");
                pending_gap = Some(d.new_topic_sequence);
                gaps += 1;
            }
            Kind::Heartbeat(_) => unreachable!("skipped by next_raw_event"),
        }
    }
    assert!(gaps > 0, "the subscriber fell behind, so it was told");
}
