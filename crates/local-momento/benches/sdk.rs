//! Throughput, latency and memory of the local Momento, driven through the official `momento`
//! SDK over loopback gRPC, in one process (as pollcast embeds it).
//!
//! Run: `cargo bench -p local-momento --bench sdk` (add `-- --quick` for a short run).
//! Figures are reported next to a baseline measured in the same run, because these machines
//! are shared and noisy: unary calls against `Get` of a missing key (the cheapest call through
//! the same SDK, transport and auth path), topic latency against a bare in-process
//! `tokio::sync::broadcast` channel at the same rate. See docs/PERFORMANCE.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use local_momento::{LocalMomento, LocalMomentoConfig};
use momento::cache::configurations;
use momento::topics::configurations as topic_configurations;
use momento::{CacheClient, CredentialProvider, TopicClient};
use secrecy::ExposeSecret;

const CACHE: &str = "bench";
const CONCURRENCY: usize = 64;

struct Settings {
    unary_seconds: u64,
    pubsub_seconds: u64,
    rate_per_second: u64,
    subscribers: usize,
    memory_keys: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let settings = if quick {
        Settings {
            unary_seconds: 2,
            pubsub_seconds: 2,
            rate_per_second: 1000,
            subscribers: 10,
            memory_keys: 100_000,
        }
    } else {
        Settings {
            unary_seconds: 10,
            pubsub_seconds: 10,
            rate_per_second: 1000,
            subscribers: 10,
            memory_keys: 1_000_000,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(settings));
}

async fn run(settings: Settings) {
    let server = LocalMomento::start(LocalMomentoConfig::default())
        .await
        .expect("server starts");
    server.ensure_cache(CACHE).await.expect("cache");
    let credentials = CredentialProvider::from_api_key_v2(
        server.super_user_key().expose_secret().to_owned(),
        "localhost",
    )
    .expect("v2 key")
    .full_endpoint_override(&server.grpc_endpoint());
    let cache = CacheClient::builder()
        .default_ttl(Duration::from_secs(3600))
        .configuration(configurations::Laptop::latest())
        .credential_provider(credentials.clone())
        .build()
        .expect("cache client");
    let topics = TopicClient::builder()
        .configuration(topic_configurations::Laptop::latest())
        .credential_provider(credentials)
        .build()
        .expect("topic client");

    println!(
        "# local-momento bench ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "## Unary calls, {CONCURRENCY} concurrent, {} s each",
        settings.unary_seconds
    );
    let seconds = settings.unary_seconds;
    let baseline = unary(seconds, {
        let cache = cache.clone();
        move |i| {
            let cache = cache.clone();
            async move { cache.get(CACHE, format!("missing-{i}")).await.map(|_| ()) }
        }
    })
    .await;
    let set_if_absent = unary(seconds, {
        let cache = cache.clone();
        move |i| {
            let cache = cache.clone();
            async move {
                cache
                    .set_if_absent(CACHE, format!("sia-{i}"), "v")
                    .await
                    .map(|_| ())
            }
        }
    })
    .await;
    let dict_incr = unary(seconds, {
        let cache = cache.clone();
        move |i| {
            let cache = cache.clone();
            async move {
                cache
                    .dictionary_increment(
                        CACHE,
                        format!("tally-{}", i % 8),
                        format!("o{}", i % 5),
                        1,
                    )
                    .await
                    .map(|_| ())
            }
        }
    })
    .await;
    println!("| call | ops/s | vs baseline |");
    println!("|---|---:|---:|");
    println!("| Get, missing key (baseline) | {baseline:.0} | 1.00 |");
    println!(
        "| SetIf Absent, unique keys | {set_if_absent:.0} | {:.2} |",
        set_if_absent / baseline
    );
    println!(
        "| DictionaryIncrement, 8 dictionaries x 5 fields | {dict_incr:.0} | {:.2} |",
        dict_incr / baseline
    );
    println!();

    println!(
        "## Publish to receive, {} subscribers, {} msgs/s for {} s",
        settings.subscribers, settings.rate_per_second, settings.pubsub_seconds
    );
    let topic = pubsub_latency(&topics, &settings).await;
    let bare = broadcast_latency(&settings).await;
    println!("| path | p50 ms | p99 ms | max ms | received |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| tokio broadcast, in-process (baseline) | {:.3} | {:.3} | {:.3} | {} |",
        bare.p50, bare.p99, bare.max, bare.count
    );
    println!(
        "| SDK publish -> SDK subscribers | {:.3} | {:.3} | {:.3} | {} |",
        topic.p50, topic.p99, topic.max, topic.count
    );
    println!();

    println!(
        "## Memory: {} small keys (~10-byte keys, 8-byte values)",
        settings.memory_keys
    );
    let before = rss_mb();
    load_keys(&cache, settings.memory_keys).await;
    let after = rss_mb();
    println!("| RSS before MB | RSS after MB | delta MB | bytes/key |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {before:.1} | {after:.1} | {:.1} | {:.0} |",
        after - before,
        (after - before) * 1024.0 * 1024.0 / settings.memory_keys as f64
    );
    server.shutdown().await;
}

/// Runs `op` from [`CONCURRENCY`] tasks for `seconds`; returns successful ops/s. Errors abort:
/// a benchmark that counts failures as throughput would lie.
async fn unary<F, Fut>(seconds: u64, op: F) -> f64
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = momento::MomentoResult<()>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (stop, done, next, op) = (stop.clone(), done.clone(), next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                op(i).await.expect("bench call failed");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for task in tasks {
        task.await.expect("bench task");
    }
    count as f64 / elapsed
}

struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
    count: usize,
}

fn clock() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    clock().elapsed().as_nanos() as u64
}

async fn pubsub_latency(topics: &TopicClient, s: &Settings) -> Latency {
    let topic = "latency";
    let mut receivers = Vec::new();
    let expected = (s.rate_per_second * s.pubsub_seconds) as usize;
    for _ in 0..s.subscribers {
        let mut subscription = topics.subscribe(CACHE, topic).await.expect("subscribe");
        receivers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(expected);
            while samples.len() < expected {
                let item = tokio::time::timeout(Duration::from_secs(10), subscription.next()).await;
                let Ok(Some(item)) = item else { break };
                let text: String = item.try_into().expect("text item");
                let sent: u64 = text.parse().expect("timestamp");
                samples.push(now_nanos().saturating_sub(sent));
            }
            samples
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let the subscriptions settle
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / s.rate_per_second));
    for _ in 0..expected {
        ticker.tick().await;
        topics
            .publish(CACHE, topic, now_nanos().to_string())
            .await
            .expect("publish");
    }
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.await.expect("receiver"));
    }
    summarize(all)
}

async fn broadcast_latency(s: &Settings) -> Latency {
    let (tx, _) = tokio::sync::broadcast::channel::<u64>(4096);
    let expected = (s.rate_per_second * s.pubsub_seconds) as usize;
    let mut receivers = Vec::new();
    for _ in 0..s.subscribers {
        let mut rx = tx.subscribe();
        receivers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(expected);
            while samples.len() < expected {
                match rx.recv().await {
                    Ok(sent) => samples.push(now_nanos().saturating_sub(sent)),
                    Err(_) => break,
                }
            }
            samples
        }));
    }
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / s.rate_per_second));
    for _ in 0..expected {
        ticker.tick().await;
        let _ = tx.send(now_nanos());
    }
    drop(tx);
    let mut all = Vec::new();
    for r in receivers {
        all.extend(r.await.expect("receiver"));
    }
    summarize(all)
}

fn summarize(mut nanos: Vec<u64>) -> Latency {
    nanos.sort_unstable();
    let at = |q: f64| {
        if nanos.is_empty() {
            return f64::NAN;
        }
        let i = ((nanos.len() as f64 * q).ceil() as usize).clamp(1, nanos.len()) - 1;
        nanos[i] as f64 / 1e6
    };
    Latency {
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
        count: nanos.len(),
    }
}

async fn load_keys(cache: &CacheClient, keys: usize) {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (cache, next) = (cache.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= keys as u64 {
                    break;
                }
                cache
                    .set(CACHE, format!("key{i:07}"), format!("{i:08}"))
                    .await
                    .expect("set");
            }
        }));
    }
    for task in tasks {
        task.await.expect("loader");
    }
}

/// Resident set size of this process, from /proc (Linux).
fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    pages * 4096.0 / (1024.0 * 1024.0)
}
