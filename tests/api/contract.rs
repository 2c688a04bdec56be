//! The engine contract: every Momento call pollcast makes, run against both engines: the SDK
//! engine (the official `momento` crate over gRPC to a local Momento) and the in-process
//! engine (the same kind of local Momento, called directly). Each case records what the engine
//! answered and asserts it is what Momento's semantics say; the two engines' records must then
//! be equal, so the engines cannot drift apart.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use local_momento::{
    Backpressure, FaultCode, InProcessWebhook, LocalMomento, LocalMomentoConfig, Webhook,
    WebhookEvent, WebhookReceiver,
};
use pollcast::momento::engine::in_process::InProcessEngine;
use pollcast::momento::engine::sdk::SdkEngine;
use pollcast::momento::engine::{Condition, Engine, Throttled, TopicGrant};
use secrecy::{ExposeSecret, SecretString};

use crate::support::app::within;

const CACHE: &str = "contract";
const TTL: Duration = Duration::from_secs(60);

/// What one engine answered, call by call, in a form both engines can be compared in.
#[derive(Default, Debug, PartialEq, Eq)]
struct Record(Vec<String>);

impl Record {
    /// Notes `answer` under `what` and returns it.
    fn note<T: Debug>(&mut self, what: &str, answer: T) -> T {
        self.0.push(format!("{what}: {answer:?}"));
        answer
    }

    /// Notes whether `result` failed, and returns its value when it did not.
    fn outcome<T: Debug>(&mut self, what: &str, result: anyhow::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(self.note(what, value)),
            Err(error) => {
                let throttled = error.downcast_ref::<Throttled>().is_some();
                self.note(what, format!("error (throttled: {throttled})"));
                None
            }
        }
    }
}

/// A local Momento with its cache, and an engine of each kind on it.
struct Engines {
    server: LocalMomento,
    sdk: Engine,
    in_process: Engine,
}

impl Engines {
    async fn start(config: LocalMomentoConfig) -> Self {
        let server = LocalMomento::start(config).await.expect("starts");
        server.ensure_cache(CACHE).await.expect("the cache");
        let key = server.super_user_key();
        let endpoint = server.grpc_endpoint();
        let sdk = SdkEngine::connect(&key, "localhost", Some(&endpoint)).expect("SDK clients");
        Self {
            sdk: Engine::Sdk(Arc::new(sdk)),
            in_process: Engine::InProcess(InProcessEngine::new(server.client())),
            server,
        }
    }

    /// Runs `case` on each engine (its keys and topics prefixed with the engine's name, so
    /// the two do not meet), asserts the two records are equal, and returns one.
    async fn run<F, Fut>(&self, case: F) -> Record
    where
        F: Fn(Engine, String) -> Fut,
        Fut: Future<Output = Record>,
    {
        let sdk = case(self.sdk.clone(), "sdk".to_owned()).await;
        let in_process = case(self.in_process.clone(), "in-process".to_owned()).await;
        assert_eq!(sdk, in_process, "the engines answered differently");
        sdk
    }
}

async fn engines() -> Engines {
    Engines::start(LocalMomentoConfig::default()).await
}

#[tokio::test]
async fn scalar_calls_answer_alike() {
    let engines = engines().await;
    let record = engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let key = format!("{prefix}:k");
            r.outcome("get missing", engine.get(CACHE, &key).await);
            r.outcome("set", engine.set(CACHE, &key, b"v1", TTL).await);
            r.outcome("get", engine.get(CACHE, &key).await);
            let absent = Condition::Absent;
            let set_if = engine.set_if(CACHE, &key, b"x", absent, TTL).await;
            r.outcome("set_if absent on a present key", set_if);
            let equal = Condition::Equal(b"v1");
            let set_if = engine.set_if(CACHE, &key, b"v2", equal, TTL).await;
            r.outcome("set_if equal (equal)", set_if);
            let set_if = engine.set_if(CACHE, &key, b"v3", equal, TTL).await;
            r.outcome("set_if equal (now differs)", set_if);
            let missing = format!("{prefix}:missing");
            let set_if = engine.set_if(CACHE, &missing, b"v", equal, TTL).await;
            r.outcome("set_if equal on a missing key", set_if);
            let either = Condition::AbsentOrEqual(b"-");
            let fresh = format!("{prefix}:fresh");
            let set_if = engine.set_if(CACHE, &fresh, b"a", either, TTL).await;
            r.outcome("set_if absent-or-equal (absent)", set_if);
            let set_if = engine.set_if(CACHE, &fresh, b"b", either, TTL).await;
            r.outcome("set_if absent-or-equal (holds another value)", set_if);
            engine.set(CACHE, &fresh, b"-", TTL).await.unwrap();
            let set_if = engine.set_if(CACHE, &fresh, b"c", either, TTL).await;
            r.outcome("set_if absent-or-equal (equal)", set_if);
            r.outcome("get after", engine.get(CACHE, &fresh).await);
            let counter = format!("{prefix}:n");
            r.outcome(
                "increment new",
                engine.increment(CACHE, &counter, 2, TTL).await,
            );
            r.outcome("increment", engine.increment(CACHE, &counter, 5, TTL).await);
            let not_a_number = engine.increment(CACHE, &key, 1, TTL).await;
            r.outcome("increment a non-integer", not_a_number);
            r.outcome(
                "update_ttl missing",
                engine.update_ttl(CACHE, &missing, TTL).await,
            );
            r.outcome(
                "update_ttl present",
                engine.update_ttl(CACHE, &key, TTL).await,
            );
            r.outcome("delete", engine.delete(CACHE, &key).await);
            r.outcome("get after delete", engine.get(CACHE, &key).await);
            r.outcome("delete a missing key", engine.delete(CACHE, &missing).await);
            r
        })
        .await;
    assert_eq!(
        record.0,
        [
            "get missing: None",
            "set: ()",
            "get: Some([118, 49])",
            "set_if absent on a present key: false",
            "set_if equal (equal): true",
            "set_if equal (now differs): false",
            "set_if equal on a missing key: false",
            "set_if absent-or-equal (absent): true",
            "set_if absent-or-equal (holds another value): false",
            "set_if absent-or-equal (equal): true",
            "get after: Some([99])",
            "increment new: 2",
            "increment: 7",
            "increment a non-integer: \"error (throttled: false)\"",
            "update_ttl missing: false",
            "update_ttl present: true",
            "delete: ()",
            "get after delete: None",
            "delete a missing key: ()",
        ]
    );
}

#[tokio::test]
async fn dictionary_calls_answer_alike() {
    let engines = engines().await;
    let record = engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let name = format!("{prefix}:d");
            let fetched = engine.dictionary_fetch(CACHE, &name).await;
            r.outcome("fetch missing", fetched.map(sorted));
            let field = engine.dictionary_get_field(CACHE, &name, "a").await;
            r.outcome("field of a missing dictionary", field);
            let fields = vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec()),
            ];
            let set = engine
                .dictionary_set_fields(CACHE, &name, fields, TTL)
                .await;
            r.outcome("set fields", set);
            let again = vec![
                (b"a".to_vec(), b"3".to_vec()),
                (b"a".to_vec(), b"4".to_vec()),
            ];
            let set = engine.dictionary_set_fields(CACHE, &name, again, TTL).await;
            r.outcome("set a field twice in one call (the last wins)", set);
            let fetched = engine.dictionary_fetch(CACHE, &name).await;
            r.outcome("fetch", fetched.map(sorted));
            let field = engine.dictionary_get_field(CACHE, &name, "b").await;
            r.outcome("field", field);
            let field = engine.dictionary_get_field(CACHE, &name, "zz").await;
            r.outcome("missing field", field);
            let removed = engine.dictionary_remove_field(CACHE, &name, "a").await;
            r.outcome("remove a field", removed);
            let removed = engine.dictionary_remove_field(CACHE, &name, "zz").await;
            r.outcome("remove a missing field", removed);
            engine
                .dictionary_remove_field(CACHE, &name, "b")
                .await
                .unwrap();
            let fetched = engine.dictionary_fetch(CACHE, &name).await;
            r.outcome("fetch after removing the last field", fetched.map(sorted));
            let scalar = format!("{prefix}:scalar");
            engine.set(CACHE, &scalar, b"v", TTL).await.unwrap();
            let fetched = engine.dictionary_fetch(CACHE, &scalar).await;
            r.outcome("fetch a scalar as a dictionary", fetched.map(sorted));
            let name = format!("{prefix}:d2");
            let fields = vec![(b"f".to_vec(), b"v".to_vec())];
            engine
                .dictionary_set_fields(CACHE, &name, fields, TTL)
                .await
                .unwrap();
            r.outcome(
                "get a dictionary as a scalar",
                engine.get(CACHE, &name).await,
            );
            r.outcome(
                "update_ttl a dictionary",
                engine.update_ttl(CACHE, &name, TTL).await,
            );
            r
        })
        .await;
    assert_eq!(
        record.0,
        [
            "fetch missing: []",
            "field of a missing dictionary: None",
            "set fields: ()",
            "set a field twice in one call (the last wins): ()",
            "fetch: [(\"a\", \"4\"), (\"b\", \"2\")]",
            "field: Some([50])",
            "missing field: None",
            "remove a field: ()",
            "remove a missing field: ()",
            "fetch after removing the last field: []",
            "fetch a scalar as a dictionary: \"error (throttled: false)\"",
            "get a dictionary as a scalar: \"error (throttled: false)\"",
            "update_ttl a dictionary: true",
        ]
    );
}

/// A dictionary's fields as sorted text pairs.
fn sorted(fields: std::collections::HashMap<Vec<u8>, Vec<u8>>) -> Vec<(String, String)> {
    let text = |b: Vec<u8>| String::from_utf8(b).expect("text");
    let mut pairs: Vec<_> = fields
        .into_iter()
        .map(|(f, v)| (text(f), text(v)))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn an_item_expires_after_its_ttl_on_both_engines() {
    let engines = engines().await;
    engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let key = format!("{prefix}:short");
            let short = Duration::from_millis(200);
            engine.set(CACHE, &key, b"v", short).await.unwrap();
            r.note("before", engine.get(CACHE, &key).await.unwrap().is_some());
            // Expiry is the clock's business: wait for it, with a bound.
            within(10, "the item to expire", async {
                while engine.get(CACHE, &key).await.unwrap().is_some() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await;
            r.note("after", engine.get(CACHE, &key).await.unwrap());
            r
        })
        .await;
}

#[tokio::test]
async fn topics_deliver_alike_from_now_and_on_resume() {
    let engines = engines().await;
    let record = engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let topic = format!("{prefix}.t");
            let mut live = engine.subscribe(CACHE, &topic, None).await.unwrap();
            for text in ["one", "two", "three"] {
                engine
                    .publish(CACHE, &topic, text.to_owned())
                    .await
                    .unwrap();
            }
            let mut received = Vec::new();
            for _ in 0..3 {
                received.push(
                    within(10, "a message", live.next())
                        .await
                        .expect("a message"),
                );
            }
            let page = received[0].page;
            r.note(
                "one page",
                received.iter().all(|m| m.page == page && page > 0),
            );
            let seen: Vec<_> = received
                .iter()
                .map(|m| (m.seq, m.text.clone(), m.publisher_id.clone()))
                .collect();
            r.note("live", seen);
            let mut resumed = engine
                .subscribe(CACHE, &topic, Some((page, 1)))
                .await
                .unwrap();
            let mut replayed = Vec::new();
            for _ in 0..2 {
                let message = within(10, "a replayed message", resumed.next())
                    .await
                    .unwrap();
                replayed.push((message.seq, message.text));
            }
            r.note("resumed after seq 1", replayed);
            r
        })
        .await;
    assert_eq!(
        record.0,
        [
            "one page: true",
            "live: [(1, Some(\"one\"), \"\"), (2, Some(\"two\"), \"\"), (3, Some(\"three\"), \"\")]",
            "resumed after seq 1: [(2, Some(\"two\")), (3, Some(\"three\"))]",
        ]
    );
}

#[tokio::test]
async fn minted_tokens_carry_the_token_id_and_exactly_their_grants() {
    let engines = engines().await;
    let base = serve(engines.server.http_api()).await;
    let base = &base;
    let record = engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let (votes, results) = (format!("{prefix}.votes"), format!("{prefix}.results"));
            let grants = [
                TopicGrant::Publish(votes.clone()),
                TopicGrant::Subscribe(results.clone()),
            ];
            let before = unix_now();
            let minted = engine
                .mint_token(CACHE, "p1:voter", &grants, Duration::from_secs(600))
                .await
                .unwrap();
            r.note(
                "expires in about 10 minutes",
                (before + 599..=unix_now() + 601).contains(&minted.expires_at),
            );
            let token = minted.auth_token.expose_secret().to_owned();
            r.note("the SDKs' auth_token form", sdk_form(&token));
            let operator = engine.clone();
            let mut watching = operator.subscribe(CACHE, &votes, None).await.unwrap();
            let publish = |topic: String| {
                let token = token.clone();
                async move {
                    reqwest::Client::new()
                        .post(format!("{base}/topics/{CACHE}/{topic}"))
                        .header("Authorization", token)
                        .header("Content-Type", "text/plain")
                        .body("hi")
                        .send()
                        .await
                        .unwrap()
                        .status()
                }
            };
            r.note("publish on the granted topic", publish(votes.clone()).await);
            r.note(
                "publish on the results topic",
                publish(results.clone()).await,
            );
            r.note(
                "publish elsewhere",
                publish(format!("{prefix}.other")).await,
            );
            let message = within(10, "the vote", watching.next()).await.unwrap();
            r.note("publisher_id", message.publisher_id);
            let too_long = "x".repeat(65);
            let refused = engine.mint_token(CACHE, &too_long, &grants, TTL).await;
            r.outcome("a token_id over 64 characters", refused.map(|_| ()));
            r
        })
        .await;
    assert_eq!(
        record.0,
        [
            "expires in about 10 minutes: true",
            "the SDKs' auth_token form: true",
            "publish on the granted topic: 204",
            "publish on the results topic: 403",
            "publish elsewhere: 403",
            "publisher_id: \"p1:voter\"",
            "a token_id over 64 characters: \"error (throttled: false)\"",
        ]
    );
}

/// Whether `token` is base64 of `{"endpoint": .., "api_key": ..}`, as the SDKs hand it out.
fn sdk_form(token: &str) -> bool {
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(token) else {
        return false;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    value["api_key"].is_string() && value["endpoint"].is_string()
}

/// Serves `endpoint` on a free loopback port; its base URL.
async fn serve(endpoint: poem::Route) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    format!("http://{addr}")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test]
async fn injected_faults_reach_both_engines_alike() {
    let engines = engines().await;
    let faults = engines.server.faults().clone();
    let faults = &faults;
    let record = engines
        .run(|engine, prefix| async move {
            let mut r = Record::default();
            let key = format!("{prefix}:claim");
            faults.fail("SetIf", 1, FaultCode::Unavailable);
            let claim = engine
                .set_if(CACHE, &key, b"v", Condition::Absent, TTL)
                .await;
            r.outcome("a claim failed before it was served", claim);
            r.outcome("so the key is free", engine.get(CACHE, &key).await);
            faults.fail_after_applying("DictionarySet", 1, FaultCode::Unavailable);
            let name = format!("{prefix}:ledger");
            let fields = vec![(b"voter".to_vec(), b"o1".to_vec())];
            let write = engine
                .dictionary_set_fields(CACHE, &name, fields, TTL)
                .await;
            r.outcome("a ledger write that landed but reported failure", write);
            let landed = engine.dictionary_get_field(CACHE, &name, "voter").await;
            r.outcome("it landed", landed);
            faults.fail("Publish", 1, FaultCode::ResourceExhausted);
            let publish = engine
                .publish(CACHE, &format!("{prefix}.t"), "x".into())
                .await;
            r.outcome("a publish over a rate limit", publish);
            r
        })
        .await;
    assert_eq!(
        record.0,
        [
            "a claim failed before it was served: \"error (throttled: false)\"",
            "so the key is free: None",
            "a ledger write that landed but reported failure: \"error (throttled: false)\"",
            "it landed: Some([111, 49])",
            "a publish over a rate limit: \"error (throttled: true)\"",
        ]
    );
}

/// A webhook receiver that never answers: every event it gets stays in the outbox.
struct NeverAnswers;

impl WebhookReceiver for NeverAnswers {
    fn receive(&self, _event: WebhookEvent) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_publish_refused_while_delivery_is_behind_is_throttled_on_both_engines() {
    // A server of its own per engine: the bound is on the server's whole outbox.
    let config = || LocalMomentoConfig {
        webhooks: vec![Webhook {
            name: "votes-hook".into(),
            cache: CACHE.into(),
            topic: "votes".into(),
            url: "http://127.0.0.1:9/unused".into(),
            secret: SecretString::from("s"),
        }],
        in_process_webhooks: vec![InProcessWebhook {
            cache: CACHE.into(),
            name: "votes-hook".into(),
            receiver: Arc::new(NeverAnswers),
        }],
        webhook_backpressure: Backpressure::Refuse {
            max_waiting: 1,
            max_delay: Duration::from_secs(60),
        },
        ..LocalMomentoConfig::default()
    };
    let case = |engine: Engine| async move {
        let mut r = Record::default();
        let first = engine.publish(CACHE, "votes", "first".into()).await;
        r.outcome("the first publish finds room", first);
        let refused = engine.publish(CACHE, "votes", "second".into()).await;
        r.outcome("a publish past the bound", refused);
        let elsewhere = engine.publish(CACHE, "free", "x".into()).await;
        r.outcome("a topic without a webhook", elsewhere);
        let too_large = engine.set(CACHE, "big", &vec![0u8; 6 << 20], TTL).await;
        r.outcome("an item over the size limit", too_large);
        r
    };
    let (for_sdk, for_in_process) = (
        Engines::start(config()).await,
        Engines::start(config()).await,
    );
    let sdk = case(for_sdk.sdk.clone()).await;
    let in_process = case(for_in_process.in_process.clone()).await;
    assert_eq!(sdk, in_process, "the engines answered differently");
    assert_eq!(
        sdk.0,
        [
            "the first publish finds room: ()",
            "a publish past the bound: \"error (throttled: true)\"",
            "a topic without a webhook: ()",
            "an item over the size limit: \"error (throttled: false)\"",
        ]
    );
}
