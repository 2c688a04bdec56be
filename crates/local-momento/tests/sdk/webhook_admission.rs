//! Webhooks delivered in process, and publishes refused while delivery is behind
//! (`Backpressure::Refuse`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use local_momento::{
    Backpressure, InProcessWebhook, LocalMomentoConfig, RetryPolicy, WebhookEvent, WebhookReceiver,
};
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::MomentoErrorCode;
use poem::http::StatusCode;

use crate::helpers::{within, TestMomento, CACHE};
use crate::webhooks::{gated_receiver, until_stats, webhook};

#[tokio::test]
async fn past_the_bound_publishes_are_refused_before_anything_is_written_and_never_delivered() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let (url, count) = gated_receiver(gate.clone()).await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_backpressure: Backpressure::Refuse {
            max_waiting: 100,
            max_delay: Duration::from_secs(60),
        },
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    let topics = m.topic_client(m.super_user());
    let mut refused = 0;
    for i in 0..150 {
        match topics.publish(CACHE, "votes", format!("m{i}")).await {
            Ok(_) => {}
            Err(error) => {
                assert_eq!(error.error_code, MomentoErrorCode::LimitExceededError);
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused, 50,
        "the receiver holds them all: 100 wait, the rest are refused"
    );

    let base = m.serve_http_api().await;
    let answer = reqwest::Client::new()
        .post(format!("{base}/topics/{CACHE}/votes"))
        .header("Authorization", &m.key)
        .header("Content-Type", "text/plain")
        .body("over http")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");

    // A topic without webhooks is never refused.
    topics.publish(CACHE, "other", "fine").await.unwrap();

    gate.notify_one();
    let stats = until_stats(&m, "every delivery", |s| s.delivered == 100).await;
    assert_eq!((stats.outbox_depth, stats.failed), (0, 0));
    assert_eq!(
        count.load(Ordering::SeqCst),
        100,
        "no refused message was delivered"
    );
    // Room again: publishes are taken.
    topics.publish(CACHE, "votes", "after").await.unwrap();
}

/// Keeps what it receives; fails the first `failures` attempts.
struct Keeper {
    events: Mutex<Vec<WebhookEvent>>,
    failures: AtomicUsize,
}

impl WebhookReceiver for Keeper {
    fn receive(&self, event: WebhookEvent) -> BoxFuture<'static, Result<(), String>> {
        let result = match self.failures.load(Ordering::SeqCst) {
            0 => {
                self.events.lock().unwrap().push(event);
                Ok(())
            }
            _ => {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                Err("not yet".to_owned())
            }
        };
        Box::pin(async move { result })
    }
}

#[tokio::test]
async fn an_in_process_receiver_gets_each_event_with_the_documented_fields_retried_until_taken() {
    let keeper = Arc::new(Keeper {
        events: Mutex::new(Vec::new()),
        failures: AtomicUsize::new(2),
    });
    let m = TestMomento::start_with(LocalMomentoConfig {
        // Its URL is never called while the receiver is in place.
        webhooks: vec![webhook("votes", "http://127.0.0.1:9/unused")],
        in_process_webhooks: vec![InProcessWebhook {
            cache: CACHE.into(),
            name: "votes".into(),
            receiver: keeper.clone(),
        }],
        webhook_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            ..RetryPolicy::until_delivered()
        },
        ..LocalMomentoConfig::default()
    })
    .await;
    let token = m
        .auth_client()
        .send_request(
            momento::auth::GenerateDisposableTokenRequest::new(
                PermissionScopes::topic_publish_subscribe(CACHE, "votes").into(),
                ExpiresIn::minutes(5),
            )
            .token_id("voter-7".into()),
        )
        .await
        .unwrap()
        .auth_token();
    let topics = m.topic_client(m.token(&token));
    for i in 1..=3 {
        topics
            .publish(CACHE, "votes", format!("m{i}"))
            .await
            .unwrap();
    }
    let stats = within(
        30,
        "three deliveries",
        until_stats(&m, "deliveries", |s| s.delivered == 3),
    )
    .await;
    assert_eq!(stats.attempts, 5, "two failed attempts were retried");
    let mut events = keeper.events.lock().unwrap().clone();
    events.sort_by_key(|e| e.topic_sequence_number);
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.cache.as_str(),
                e.topic.as_str(),
                e.topic_sequence_number,
                e.token_id.as_str(),
                e.value.clone(),
            )
        })
        .collect();
    let text = |t: &str| local_momento::client::TopicValue::Text(t.into());
    assert_eq!(
        seen,
        vec![
            (CACHE, "votes", 1, "voter-7", text("m1")),
            (CACHE, "votes", 2, "voter-7", text("m2")),
            (CACHE, "votes", 3, "voter-7", text("m3")),
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.publish_timestamp >= e.event_timestamp));
}
