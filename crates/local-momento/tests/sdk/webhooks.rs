//! Webhook deliveries, received by test HTTP servers on loopback ports. Signatures are checked
//! with an HMAC-SHA3-256 written here from the definition, not with the crate's `sign`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use local_momento::{LocalMomentoConfig, RetryPolicy, Webhook};
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

fn webhook(topic: &str, url: &str) -> Webhook {
    Webhook {
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
    m.server.register_webhook(webhook("bin", &url));
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        requests.try_recv().is_err(),
        "only the hooked topic is delivered"
    );
}

#[tokio::test]
async fn by_default_a_failing_receiver_gets_exactly_one_attempt() {
    let (url, mut requests) = receiver(&[500, 500, 500]).await;
    let m = TestMomento::start().await;
    m.server.register_webhook(webhook("votes", &url));
    m.topic_client(m.super_user())
        .publish(CACHE, "votes", "yes")
        .await
        .unwrap();

    next_request(&mut requests).await.assert_signed_with(SECRET);
    // Several times the retry policy's initial backoff, in case it retried anyway.
    tokio::time::sleep(Duration::from_millis(600)).await;
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
    m.server.register_webhook(webhook("votes", &url));
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
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    m.server.register_webhook(webhook("votes", &url));
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
    m.server.register_webhook(webhook("votes", &url));
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        events.try_recv().is_err(),
        "one attempt by default: no new connection"
    );
}

/// A receiver whose answers wait until `open` is set; counts the requests it answered.
async fn gated_receiver(
    open: Arc<tokio::sync::Notify>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use poem::{handler, listener::TcpListener, post, web::Data, EndpointExt, Route, Server};
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let count = Arc::new(AtomicUsize::new(0));
    let app = Route::new()
        .at("/hook", post(hook))
        .data(open)
        .data(count.clone());
    tokio::spawn(Server::new(TcpListener::bind(addr)).run(app));
    tokio::time::sleep(Duration::from_millis(100)).await;
    (format!("http://{addr}/hook"), count)
}

/// Publishes `n` messages while the receiver is held, then lets it answer; returns how many
/// it got.
async fn deliveries_of_a_burst_to_a_held_receiver(backpressure: bool, n: usize) -> usize {
    let gate = Arc::new(tokio::sync::Notify::new());
    let (url, count) = gated_receiver(gate.clone()).await;
    let m = TestMomento::start_with(LocalMomentoConfig {
        webhook_backpressure: backpressure,
        ..LocalMomentoConfig::default()
    })
    .await;
    m.server.register_webhook(webhook("votes", &url));
    let client = m.topic_client(m.super_user());
    let publishing = tokio::spawn(async move {
        let publishes = (0..n).map(|i| {
            let client = client.clone();
            async move { client.publish(CACHE, "votes", format!("m{i}")).await }
        });
        futures::future::join_all(publishes).await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    gate.notify_one();
    let results = within(60, "every publish", publishing).await.unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "every publish succeeds");
    // Let the deliveries finish, then count.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count.load(std::sync::atomic::Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test]
async fn with_backpressure_a_burst_beyond_the_queue_waits_and_every_event_is_delivered() {
    let n = 1500; // more than the queue (1024) plus the deliveries in flight (64)
    assert_eq!(deliveries_of_a_burst_to_a_held_receiver(true, n).await, n);
}

#[tokio::test]
async fn without_backpressure_a_burst_beyond_the_queue_is_dropped_as_momento_would() {
    let n = 1500;
    let delivered = deliveries_of_a_burst_to_a_held_receiver(false, n).await;
    assert!(
        delivered < n,
        "{delivered} of {n} delivered: the queue should have overflowed"
    );
}
