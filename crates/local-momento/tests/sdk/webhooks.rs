//! Webhook deliveries, received by test HTTP servers on loopback ports. Signatures are checked
//! with an HMAC-SHA3-256 written here from the definition, not with the crate's `sign`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use local_momento::{Backpressure, LocalMomentoConfig, RetryPolicy, Webhook};
use momento::auth::{ExpiresIn, PermissionScopes};
use poem::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha3::{Digest, Sha3_256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::helpers::{serve_http, within, TestMomento, CACHE};

const SECRET: &str = "webhook-secret";

/// HMAC (RFC 2104) over SHA3-256, whose block size is 136 bytes.
fn hmac_sha3_256_hex(key: &[u8], message: &[u8]) -> String {
    const BLOCK: usize = 136;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha3_256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha3_256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha3_256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn assert_signed_with(&self, secret: &str) {
        let signature = self.headers["momento-signature"].to_str().unwrap();
        assert_eq!(signature, hmac_sha3_256_hex(secret.as_bytes(), &self.body));
    }
}

/// A receiver answering with `statuses` in turn, then 200; returns its URL and its requests.
async fn receiver(statuses: &[u16]) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sent, received) = mpsc::unbounded_channel();
    let statuses = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<_>>(),
    ));
    let endpoint = poem::endpoint::make(move |mut request: poem::Request| {
        let sent = sent.clone();
        let statuses = statuses.clone();
        async move {
            let body = request.take_body().into_vec().await.unwrap_or_default();
            let _ = sent.send(Received {
                headers: request.headers().clone(),
                body,
            });
            let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
            StatusCode::from_u16(status).unwrap()
        }
    });
    (format!("{}/hook", serve_http(endpoint).await), received)
}

async fn next_request(requests: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    within(10, "a webhook request", requests.recv())
        .await
        .expect("the receiver runs")
}

pub(crate) fn webhook(topic: &str, url: &str) -> Webhook {
    Webhook {
        name: topic.to_owned(),
        cache: CACHE.into(),
        topic: topic.into(),
        url: url.into(),
        secret: SECRET.to_owned().into(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn the_tests_own_hmac_matches_momentos_test_vector() {
    let body = br#"{"text":"some text", "another_field": "another field" }"#;
    let signature = hmac_sha3_256_hex(b"1234567890", body);
    assert!(
        signature.starts_with("b43f7278") && signature.ends_with("eea3da"),
        "{signature}"
    );
}

#[tokio::test]
async fn a_published_message_is_posted_signed_with_every_documented_field_in_order() {
    let (url, mut requests) = receiver(&[]).await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhooks: vec![webhook("votes", &url)],
        ..LocalMomentoConfig::default()
    })
    .await;
    let voter = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "votes"),
            ExpiresIn::minutes(5),
            "voter-7",
        )
        .await;
    let before = now_ms();
    m.topic_client(m.token(&voter))
        .publish(CACHE, "votes", "yes")
        .await
        .unwrap();

    let request = next_request(&mut requests).await;
    let after = now_ms();
    request.assert_signed_with(SECRET);
    assert_eq!(request.headers["content-type"], "application/json");
    let agent = request.headers["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("Momento/1.0 (Webhooks;"), "{agent}");
    let raw = String::from_utf8(request.body.clone()).unwrap();
    let keys = [
        "cache",
        "topic",
        "event_timestamp",
        "publish_timestamp",
        "topic_sequence_number",
        "token_id",
        "text",
    ];
    let positions: Vec<_> = keys
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).expect(k))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "documented order: {raw}"
    );
    let body = request.json();
    assert_eq!(body.as_object().unwrap().len(), keys.len(), "{raw}");
    assert_eq!(body["cache"], CACHE);
    assert_eq!(body["topic"], "votes");
    assert_eq!(body["topic_sequence_number"], 1);
    assert_eq!(body["token_id"], "voter-7");
    assert_eq!(body["text"], "yes");
    let event = body["event_timestamp"].as_u64().unwrap();
    let call = body["publish_timestamp"].as_u64().unwrap();
    assert!(
        before <= event && event <= call && call <= after,
        "{before} {event} {call} {after}"
    );
}

#[tokio::test]
async fn binary_messages_are_posted_as_base64_and_api_keys_have_an_empty_token_id() {
    let (url, mut requests) = receiver(&[]).await;
    let m = TestMomento::start().await;
    m.server.register_webhook(webhook("bin", &url)).unwrap();
    m.topic_client(m.super_user())
        .publish(CACHE, "bin", vec![0u8, 159, 255])
        .await
        .unwrap();
    m.topic_client(m.super_user())
        .publish(CACHE, "other", "not hooked")
        .await
        .unwrap();

    let request = next_request(&mut requests).await;
    request.assert_signed_with(SECRET);
    let body = request.json();
    assert_eq!(body["binary"], "AJ//");
    assert!(body.get("text").is_none(), "{body}");
    assert_eq!(body["token_id"], "");
    // The event left the outbox, and the other topic never had one.
    let stats = until_stats(&m, "the delivery", |s| s.delivered == 1).await;
    assert_eq!((stats.attempts, stats.outbox_depth), (1, 0));
    assert!(
        requests.try_recv().is_err(),
        "only the hooked topic is delivered"
    );
}

#[tokio::test]
async fn by_default_a_failing_receiver_gets_exactly_one_attempt() {
    let (url, mut requests) = receiver(&[500, 500, 500]).await;
    let m = TestMomento::start().await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    m.topic_client(m.super_user())
        .publish(CACHE, "votes", "yes")
        .await
        .unwrap();

    next_request(&mut requests).await.assert_signed_with(SECRET);
    // Given up: the event left the outbox after one attempt, so none can follow.
    let stats = until_stats(&m, "the event to be given up", |s| s.failed == 1).await;
    assert_eq!((stats.attempts, stats.outbox_depth), (1, 0));
    assert!(requests.try_recv().is_err(), "Momento delivers once");
}

#[tokio::test]
async fn with_three_attempts_a_receiver_failing_twice_gets_the_event_on_the_third() {
    let (url, mut requests) = receiver(&[500, 503]).await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    m.topic_client(m.super_user())
        .publish(CACHE, "votes", "yes")
        .await
        .unwrap();

    let mut attempts = Vec::new();
    for _ in 0..3 {
        let request = next_request(&mut requests).await;
        request.assert_signed_with(SECRET);
        attempts.push(request.json());
    }
    for attempt in &attempts {
        assert_eq!(attempt["topic_sequence_number"], 1);
        assert_eq!(attempt["event_timestamp"], attempts[0]["event_timestamp"]);
    }
    let calls: Vec<_> = attempts
        .iter()
        .map(|a| a["publish_timestamp"].as_u64().unwrap())
        .collect();
    assert!(
        calls.windows(2).all(|w| w[0] <= w[1]),
        "each attempt is a new call: {calls:?}"
    );
    let stats = until_stats(&m, "the delivery", |s| s.delivered == 1).await;
    assert_eq!((stats.attempts, stats.outbox_depth), (3, 0));
    assert!(
        requests.try_recv().is_err(),
        "delivered on the third attempt: no fourth"
    );
}

/// A receiver that reads requests and never answers. Reports each request's arrival, and
/// each connection's close by the client.
async fn silent_receiver() -> (String, mpsc::UnboundedReceiver<&'static str>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (events, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let events = events.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 8192];
                let mut arrived = false;
                loop {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) if !arrived => {
                            arrived = true;
                            let _ = events.send("request");
                        }
                        Ok(_) => {}
                    }
                }
                let _ = events.send("closed");
            });
        }
    });
    (url, received)
}

#[tokio::test]
async fn publishing_does_not_wait_for_a_receiver_that_never_answers() {
    let (url, mut events) = silent_receiver().await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_timeout: Duration::from_secs(600),
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    let client = m.topic_client(m.super_user());
    client.publish(CACHE, "votes", "first").await.unwrap();
    assert_eq!(
        within(10, "the first request", events.recv()).await,
        Some("request")
    );

    // Each of these would take the full 600 s timeout if publish waited for its delivery.
    within(10, "publishes while deliveries hang", async {
        for n in 0..5 {
            client
                .publish(CACHE, "votes", format!("more {n}"))
                .await
                .unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_delivery_to_a_receiver_that_never_answers_is_given_up_after_the_timeout() {
    let (url, mut events) = silent_receiver().await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_timeout: Duration::from_millis(300),
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    m.topic_client(m.super_user())
        .publish(CACHE, "votes", "yes")
        .await
        .unwrap();

    assert_eq!(
        within(10, "the request", events.recv()).await,
        Some("request")
    );
    assert_eq!(
        within(10, "the sender to give up", events.recv()).await,
        Some("closed"),
        "the server closes the connection once the timeout passes"
    );
    let stats = until_stats(&m, "the event to be given up", |s| s.failed == 1).await;
    assert_eq!((stats.attempts, stats.outbox_depth), (1, 0));
    assert!(
        events.try_recv().is_err(),
        "one attempt by default: no new connection"
    );
}

/// A receiver whose answers wait until `open` is set; counts the requests it answered.
pub(crate) async fn gated_receiver(
    open: Arc<tokio::sync::Notify>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use poem::{handler, listener::TcpAcceptor, post, web::Data, EndpointExt, Route, Server};
    use std::sync::atomic::{AtomicUsize, Ordering};
    #[handler]
    async fn hook(
        Data(gate): Data<&Arc<tokio::sync::Notify>>,
        Data(count): Data<&Arc<AtomicUsize>>,
    ) -> StatusCode {
        gate.notified().await;
        gate.notify_one(); // pass it on: once opened, the gate stays open
        count.fetch_add(1, Ordering::SeqCst);
        StatusCode::NO_CONTENT
    }
    // Bound here and handed to the server as is: connections queue until it accepts them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let app = Route::new()
        .at("/hook", post(hook))
        .data(open)
        .data(count.clone());
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("http://{addr}/hook"), count)
}

/// Waits until the server's webhook counters satisfy `done`, or fails after 60 s.
pub(crate) async fn until_stats(
    m: &TestMomento,
    what: &str,
    done: impl Fn(&local_momento::WebhookStats) -> bool,
) -> local_momento::WebhookStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = m.server.webhook_stats();
        if done(&stats) {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes `n` messages on a topic whose receiver holds every request until it is let go.
/// Returns the server, whether the publishes all finished while the receiver was held, the
/// gate and the receiver's count.
async fn burst_to_a_held_receiver(
    backpressure: Backpressure,
    n: usize,
) -> (
    TestMomento,
    tokio::task::JoinHandle<Vec<Result<(), String>>>,
    Arc<tokio::sync::Notify>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let gate = Arc::new(tokio::sync::Notify::new());
    let (url, count) = gated_receiver(gate.clone()).await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_backpressure: backpressure,
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url)).unwrap();
    let client = m.topic_client(m.super_user());
    let publishing = tokio::spawn(async move {
        let publishes = (0..n).map(|i| {
            let client = client.clone();
            async move {
                client
                    .publish(CACHE, "votes", format!("m{i}"))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        });
        futures::future::join_all(publishes).await
    });
    (m, publishing, gate, count)
}

#[tokio::test]
async fn with_backpressure_a_burst_beyond_the_queue_waits_and_every_event_is_delivered() {
    let n = 1500; // more than the queue (1024) plus the deliveries in flight (64)
    let (m, publishing, gate, count) = burst_to_a_held_receiver(Backpressure::Wait, n).await;
    // The receiver holds the first 64; the outbox fills to its ready limit, then publishes wait.
    until_stats(&m, "the outbox to fill", |s| {
        s.outbox_depth as usize >= local_momento::webhooks::QUEUE_CAPACITY
    })
    .await;
    assert!(
        !publishing.is_finished(),
        "publishes wait while the receiver is held"
    );
    gate.notify_one();
    let results = within(60, "every publish", publishing).await.unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "every publish succeeds");
    let stats = until_stats(&m, "every delivery", |s| s.delivered as usize == n).await;
    assert_eq!((stats.outbox_depth, stats.failed), (0, 0));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), n);
}

#[tokio::test]
async fn without_backpressure_a_burst_is_kept_in_the_outbox_and_every_event_is_delivered() {
    let n = 1500;
    let (m, publishing, gate, count) = burst_to_a_held_receiver(Backpressure::Off, n).await;
    // Nothing waits for the receiver: every publish is answered while it holds the requests.
    let results = within(60, "every publish", publishing).await.unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "every publish succeeds");
    assert_eq!(m.server.webhook_stats().outbox_depth as usize, n);
    gate.notify_one();
    let stats = until_stats(&m, "every delivery", |s| s.delivered as usize == n).await;
    assert_eq!((stats.outbox_depth, stats.failed), (0, 0));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), n);
}
