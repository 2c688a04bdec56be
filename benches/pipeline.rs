//! The vote pipeline, measured: `cargo bench --bench pipeline` (`-- --quick` for a short run).
//!
//! 1. **Webhook endpoint**: requests/s of `POST /v1/webhooks/momento` with well-signed, unique,
//!    valid votes (each one counted), against a bare poem endpoint that only answers 204 (the
//!    ceiling of the HTTP stack), both driven by the same 64 concurrent keep-alive clients.
//! 2. **End to end, embedded default**: votes published through the local Momento's HTTP topics
//!    API (each with its own voter token) until the results topic shows them all: votes/s, and
//!    publish-to-results latency per vote (p50/p99), measured by a results subscriber. Baseline:
//!    the same publishes to a topic nobody ingests (the HTTP publish path alone).
//!
//! 3. **Durable against in memory**: the end-to-end run once with `--in-memory` and once with a
//!    data dir (`--fsync always`, the default), in the same process run.
//!
//! Everything runs in this process on loopback; see docs/PERFORMANCE.md. The ingest path is
//! the embedded default (webhook) unless `PIPELINE_BENCH_INGEST=subscription` (or `both`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use momento::topics::configurations;
use momento::{CredentialProvider, TopicClient};
use pollcast::config::ServeArgs;
use pollcast::ingest::webhook::sign;
use pollcast::startup::Application;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The allocator the `pollcast` binary uses, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONCURRENCY: usize = 64;
const ADMIN: &str = "bench-admin-key-0123456789";
const SECRET: &str = "bench-webhook-secret";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (seconds, votes) = if quick { (3, 5_000) } else { (10, 40_000) };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(seconds, votes));
}

async fn run(seconds: u64, votes: usize) {
    let app = start(None).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    println!(
        "# pollcast pipeline bench ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    // 1. Webhook endpoint against a bare 204 endpoint (needs webhook ingest).
    if std::env::var("PIPELINE_BENCH_INGEST").as_deref() != Ok("subscription") {
        webhook_endpoint(&app, &http, seconds).await;
    }
    let in_memory = end_to_end(&app, &http, votes, "in memory").await;
    app.stop.cancel();
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let app = start(Some(dir.path())).await;
    let durable = end_to_end(&app, &http, votes, "durable, --fsync always").await;
    app.stop.cancel();
    println!("## Durable against in memory, same run");
    println!("| votes/s in memory | votes/s durable | durable / in memory |");
    println!("|---:|---:|---:|");
    println!(
        "| {in_memory:.0} | {durable:.0} | {:.2} |",
        durable / in_memory
    );
}

async fn webhook_endpoint(app: &App, http: &reqwest::Client, seconds: u64) {
    let bare = bare_endpoint().await;
    let poll = open_poll(http, &app.base).await;
    let body_of = {
        let poll = poll.clone();
        Arc::new(move |i: u64| {
            let now = chrono::Utc::now().timestamp_millis();
            json!({"cache": "pollcast", "topic": "votes", "event_timestamp": now,
               "publish_timestamp": now, "topic_sequence_number": i + 1,
               "token_id": format!("{poll}:w{i}"),
               "text": json!({"poll_id": poll, "choices": ["o1"]}).to_string()})
            .to_string()
        })
    };
    let ceiling = hammer(http, seconds, {
        let url = format!("http://{bare}/hook");
        let body_of = body_of.clone();
        move |client: reqwest::Client, i| {
            let body = body_of(i);
            let url = url.clone();
            async move {
                let sig = sign(SECRET, body.as_bytes());
                let r = client
                    .post(url)
                    .header("momento-signature", sig)
                    .body(body)
                    .send()
                    .await;
                r.map(|r| r.status().as_u16() == 204).unwrap_or(false)
            }
        }
    })
    .await;
    let webhook = hammer(http, seconds, {
        let url = format!("{}/v1/webhooks/momento", app.base);
        let body_of = body_of.clone();
        move |client: reqwest::Client, i| {
            let body = body_of(i);
            let url = url.clone();
            async move {
                let sig = sign(SECRET, body.as_bytes());
                let r = client
                    .post(url)
                    .header("momento-signature", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let v: Value = r.json().await.unwrap_or_default();
                        v["outcome"] == "accepted"
                    }
                    _ => false,
                }
            }
        }
    })
    .await;
    println!("## Webhook endpoint, {CONCURRENCY} concurrent clients, {seconds} s each");
    println!("| endpoint | requests/s | vs ceiling |");
    println!("|---|---:|---:|");
    println!("| bare poem endpoint answering 204 (ceiling) | {ceiling:.0} | 1.00 |");
    println!(
        "| POST /v1/webhooks/momento, signed unique votes, all accepted | {webhook:.0} | {:.2} |",
        webhook / ceiling
    );
    println!();
}

/// Step 2, end to end through the HTTP topics API (see the module docs): prints the table
/// and returns votes/s.
async fn end_to_end(app: &App, http: &reqwest::Client, votes: usize, label: &str) -> f64 {
    let poll = open_poll(http, &app.base).await;
    let tokens = mint_tokens(http, &app.base, &poll, votes).await;
    // Voter tokens may publish on `votes` only: the baseline topic takes the super-user key.
    let super_user = vec![app.key.clone(); tokens.len()];
    let baseline = publish_all(http, &app.base, "not-ingested", &poll, &super_user).await;
    let results = subscribe_results(app, &poll).await;
    let e2e = publish_all(http, &app.base, "votes", &poll, &tokens).await;
    let arrivals = results
        .wait_for(votes as u64, Duration::from_secs(120))
        .await;
    let latencies = latency(&e2e.sent, &arrivals);
    let last = arrivals.last().map(|(at, _)| *at).unwrap_or(e2e.started);
    let votes_per_s = votes as f64 / last.duration_since(e2e.started).as_secs_f64();
    println!("## End to end ({label}): {votes} votes through the HTTP topics API, {CONCURRENCY} concurrent publishers");
    println!("| path | votes/s | p50 ms | p99 ms | counted |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| publish only, topic not ingested (baseline) | {:.0} | | | |",
        baseline.rate
    );
    println!(
        "| publish -> {} -> pipeline -> results topic | {votes_per_s:.0} | {:.1} | {:.1} | {} |",
        std::env::var("PIPELINE_BENCH_INGEST").unwrap_or_else(|_| "webhook".into()),
        latencies.0,
        latencies.1,
        arrivals.last().map(|(_, n)| *n).unwrap_or(0)
    );
    println!();
    println!(
        "(end-to-end votes/s vs publish-only baseline: {:.2})",
        votes_per_s / baseline.rate
    );
    println!();
    votes_per_s
}

struct App {
    base: String,
    grpc: String,
    key: String,
    stop: CancellationToken,
}

/// The app in memory, or durable in `data_dir`.
async fn start(data_dir: Option<&std::path::Path>) -> App {
    let mut settings = ServeArgs {
        admin_key: Some(SecretString::from(ADMIN)),
        // PIPELINE_BENCH_INGEST=subscription|both measures the other ingest paths end to end
        // (the webhook endpoint figures need webhook ingest, which `both` keeps on).
        ingest: match std::env::var("PIPELINE_BENCH_INGEST").as_deref() {
            Ok("subscription") => Some(pollcast::config::IngestMode::Subscription),
            Ok("both") => Some(pollcast::config::IngestMode::Both),
            _ => None,
        },
        webhook_secret: Some(SecretString::from(SECRET)),
        ..ServeArgs::new(SocketAddr::from(([127, 0, 0, 1], 0)))
    };
    if let Some(dir) = data_dir {
        settings.in_memory = false;
        settings.data_dir = dir.to_owned();
    }
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let grpc = app.local_momento_grpc().expect("embedded");
    let key = app
        .local_momento_key()
        .expect("embedded")
        .expose_secret()
        .to_owned();
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        app.run_until_stopped(async move { s.cancelled().await })
            .await
    });
    App {
        base,
        grpc,
        key,
        stop,
    }
}

async fn bare_endpoint() -> SocketAddr {
    use poem::{
        handler,
        listener::{Acceptor, Listener, TcpListener},
        post, Route, Server,
    };
    #[handler]
    fn hook(_body: Vec<u8>) -> poem::http::StatusCode {
        poem::http::StatusCode::NO_CONTENT
    }
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/hook", post(hook))));
    addr
}

async fn open_poll(http: &reqwest::Client, base: &str) -> String {
    let poll: Value = http
        .post(format!("{base}/v1/polls"))
        .bearer_auth(ADMIN)
        .json(&json!({"title": "bench", "options": ["a", "b", "c"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = poll["id"].as_str().unwrap().to_owned();
    let opened = http
        .post(format!("{base}/v1/polls/{id}/open"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(opened.status().is_success());
    id
}

/// Runs `op` from [`CONCURRENCY`] tasks for `seconds`; returns successful ops/s. A failed op
/// aborts the bench: failures must not count as throughput.
async fn hammer<F, Fut>(http: &reqwest::Client, seconds: u64, op: F) -> f64
where
    F: Fn(reqwest::Client, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (stop, done, next, op, http) = (
            stop.clone(),
            done.clone(),
            next.clone(),
            op.clone(),
            http.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                assert!(op(http.clone(), i).await, "a bench request failed");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    count
}

async fn mint_tokens(http: &reqwest::Client, base: &str, poll: &str, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(500) {
        let ids: Vec<String> = (chunk_start..(chunk_start + 500).min(n))
            .map(|i| format!("v{i}"))
            .collect();
        let minted: Value = http
            .post(format!("{base}/v1/polls/{poll}/tokens/batch"))
            .bearer_auth(ADMIN)
            .json(&json!({"voter_ids": ids}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for t in minted["tokens"].as_array().expect("tokens") {
            tokens.push(t["token"].as_str().unwrap().to_owned());
        }
    }
    tokens
}

struct Published {
    started: Instant,
    rate: f64,
    /// When each publish was sent, in order of completion.
    sent: Vec<Instant>,
}

async fn publish_all(
    http: &reqwest::Client,
    base: &str,
    topic: &str,
    poll: &str,
    tokens: &[String],
) -> Published {
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(Mutex::new(Vec::with_capacity(tokens.len())));
    let tokens = Arc::new(tokens.to_vec());
    let body = json!({"poll_id": poll, "choices": ["o2"]}).to_string();
    let url = format!("{base}/topics/pollcast/{topic}");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (next, sent, tokens, http, body, url) = (
            next.clone(),
            sent.clone(),
            tokens.clone(),
            http.clone(),
            body.clone(),
            url.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(token) = tokens.get(i) else { break };
                let at = Instant::now();
                let r = http
                    .post(&url)
                    .header("authorization", token)
                    .header("content-type", "text/plain")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("publish sent");
                assert_eq!(r.status(), 204, "publish refused");
                sent.lock().unwrap().push(at);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    Published {
        started,
        rate: sent.len() as f64 / elapsed,
        sent,
    }
}

struct ResultsWatch {
    arrivals: Arc<Mutex<Vec<(Instant, u64)>>>,
    /// The subscriber's task: ended with the watch, before its server stops (the SDK's
    /// subscription otherwise resubscribes to the stopped server in a loop without a pause,
    /// taking a core from the next phase of the bench).
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResultsWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn subscribe_results(app: &App, poll: &str) -> ResultsWatch {
    let credentials = CredentialProvider::from_api_key_v2(&app.key, "localhost")
        .unwrap()
        .full_endpoint_override(&app.grpc);
    let topics = TopicClient::builder()
        .configuration(configurations::Laptop::latest())
        .credential_provider(credentials)
        .build()
        .unwrap();
    let mut subscription = topics
        .subscribe("pollcast", format!("results.{poll}"))
        .await
        .unwrap();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let a = arrivals.clone();
    let task = tokio::spawn(async move {
        while let Some(item) = subscription.next().await {
            let text: String = item.try_into().unwrap_or_default();
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(ballots) = v["ballots"].as_u64() {
                a.lock().unwrap().push((Instant::now(), ballots));
            }
        }
    });
    ResultsWatch { arrivals, task }
}

impl ResultsWatch {
    async fn wait_for(&self, ballots: u64, limit: Duration) -> Vec<(Instant, u64)> {
        let deadline = Instant::now() + limit;
        loop {
            let done = self
                .arrivals
                .lock()
                .unwrap()
                .last()
                .is_some_and(|(_, n)| *n >= ballots);
            if done || Instant::now() > deadline {
                return self.arrivals.lock().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// p50 and p99 (ms) of publish-to-results: the k-th vote sent counts as shown by the first
/// results message with at least k ballots.
fn latency(sent: &[Instant], arrivals: &[(Instant, u64)]) -> (f64, f64) {
    let mut sent = sent.to_vec();
    sent.sort();
    let mut samples = Vec::with_capacity(sent.len());
    let mut a = 0;
    for (k, at) in sent.iter().enumerate() {
        while a < arrivals.len() && arrivals[a].1 < k as u64 + 1 {
            a += 1;
        }
        if a == arrivals.len() {
            break; // never shown: the count below says so
        }
        samples.push(arrivals[a].0.saturating_duration_since(*at).as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if samples.is_empty() {
            return f64::NAN;
        }
        samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1]
    };
    (q(0.50), q(0.99))
}
