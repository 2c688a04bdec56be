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
use local_momento::{FsyncPolicy, LocalMomento, LocalMomentoConfig, Persistence};
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--recover") {
        let dir = std::path::PathBuf::from(&args[at + 1]);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        return runtime.block_on(recover(dir));
    }
    let quick = args.iter().any(|a| a == "--quick");
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

/// A server and SDK clients for it.
struct Target {
    server: LocalMomento,
    cache: CacheClient,
    topics: TopicClient,
}

impl Target {
    async fn start(persistence: Persistence) -> Self {
        let server = LocalMomento::start(LocalMomentoConfig {
            persistence,
            ..LocalMomentoConfig::default()
        })
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
        Self {
            server,
            cache,
            topics,
        }
    }
}

/// The unary figures of one target: baseline Get, SetIf Absent, DictionaryIncrement.
async fn unary_figures(cache: &CacheClient, seconds: u64, tag: &str) -> [f64; 3] {
    let baseline = unary(seconds, {
        let cache = cache.clone();
        move |i| {
            let cache = cache.clone();
            async move { cache.get(CACHE, format!("missing-{i}")).await.map(|_| ()) }
        }
    })
    .await;
    let tag = tag.to_owned();
    let set_if_absent = unary(seconds, {
        let (cache, tag) = (cache.clone(), tag.clone());
        move |i| {
            let (cache, tag) = (cache.clone(), tag.clone());
            async move {
                cache
                    .set_if_absent(CACHE, format!("sia-{tag}-{i}"), "v")
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
    [baseline, set_if_absent, dict_incr]
}

async fn run(settings: Settings) {
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let memory = Target::start(Persistence::InMemory).await;
    let durable = Target::start(Persistence::Durable {
        dir: dir.path().join("durable"),
        fsync: FsyncPolicy::Always,
    })
    .await;

    println!(
        "# local-momento bench ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "## Unary calls, {CONCURRENCY} concurrent, {} s each: in memory and durable (fsync always), interleaved",
        settings.unary_seconds
    );
    let seconds = settings.unary_seconds;
    let in_memory = unary_figures(&memory.cache, seconds, "m").await;
    let on_disk = unary_figures(&durable.cache, seconds, "d").await;
    let journal = durable.server.journal_stats().expect("a journal");
    println!("| call | in memory ops/s | vs Get | durable ops/s | vs Get | durable / in memory |");
    println!("|---|---:|---:|---:|---:|---:|");
    let names = [
        "Get, missing key (baseline)",
        "SetIf Absent, unique keys",
        "DictionaryIncrement, 8 dictionaries x 5 fields",
    ];
    for (n, name) in names.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} |",
            in_memory[n],
            in_memory[n] / in_memory[0],
            on_disk[n],
            on_disk[n] / on_disk[0],
            on_disk[n] / in_memory[n]
        );
    }
    println!(
        "\nDurable writes: {} records in {} commits ({:.1} per fsync).",
        journal.records,
        journal.commits,
        journal.records as f64 / journal.commits.max(1) as f64
    );
    println!();

    println!(
        "## Publish to receive, {} subscribers, {} msgs/s for {} s",
        settings.subscribers, settings.rate_per_second, settings.pubsub_seconds
    );
    let bare = broadcast_latency(&settings).await;
    let topic = pubsub_latency(&memory.topics, &settings).await;
    let durable_topic = pubsub_latency(&durable.topics, &settings).await;
    println!("| path | p50 ms | p99 ms | max ms | received |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| tokio broadcast, in-process (baseline) | {:.3} | {:.3} | {:.3} | {} |",
        bare.p50, bare.p99, bare.max, bare.count
    );
    println!(
        "| SDK publish -> SDK subscribers, in memory | {:.3} | {:.3} | {:.3} | {} |",
        topic.p50, topic.p99, topic.max, topic.count
    );
    println!(
        "| SDK publish -> SDK subscribers, durable | {:.3} | {:.3} | {:.3} | {} |",
        durable_topic.p50, durable_topic.p99, durable_topic.max, durable_topic.count
    );
    println!();
    memory.server.shutdown().await;
    durable.server.shutdown().await;

    println!(
        "## Memory and recovery: {} small keys (~10-byte keys, 8-byte values), durable",
        settings.memory_keys
    );
    let data = dir.path().join("keys");
    let loaded = Target::start(Persistence::Durable {
        dir: data.clone(),
        fsync: FsyncPolicy::Always,
    })
    .await;
    let before = rss_mb();
    load_keys(&loaded.cache, settings.memory_keys).await;
    let after = rss_mb();
    let stop = Instant::now();
    loaded.server.shutdown().await;
    let stopped = stop.elapsed();
    let on_disk = dir_bytes(&data);
    println!("| RSS before MB | RSS after MB | delta MB | bytes/key in memory | bytes/key on disk | clean stop (snapshot) s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {before:.1} | {after:.1} | {:.1} | {:.0} | {:.0} | {:.2} |",
        after - before,
        (after - before) * 1024.0 * 1024.0 / settings.memory_keys as f64,
        on_disk as f64 / settings.memory_keys as f64,
        stopped.as_secs_f64()
    );
    println!();
    // Recovery, in a fresh process so its memory is its own.
    let recovered = recover_in_child(&data);
    println!(
        "| recovery of {} keys, fresh process | {recovered} |",
        settings.memory_keys
    );
}

/// Runs this bench binary again with `--recover DIR`; returns what it printed.
fn recover_in_child(dir: &std::path::Path) -> String {
    let output = std::process::Command::new(std::env::current_exe().expect("the bench binary"))
        .arg("--recover")
        .arg(dir)
        .output()
        .expect("the recovery child runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The child of [`recover_in_child`]: starts a server on `dir`, prints how long it took, how
/// many records it replayed and the process's RSS.
async fn recover(dir: std::path::PathBuf) {
    let started = Instant::now();
    let server = LocalMomento::start(LocalMomentoConfig {
        persistence: Persistence::Durable {
            dir,
            fsync: FsyncPolicy::Always,
        },
        ..LocalMomentoConfig::default()
    })
    .await
    .expect("recovery");
    let elapsed = started.elapsed();
    let recovery = server.recovery().cloned().expect("a recovery");
    println!(
        "start {:.2} s (recovery {:.2} s, {} records, journal {} bytes), RSS after {:.1} MB",
        elapsed.as_secs_f64(),
        recovery.elapsed.as_secs_f64(),
        recovery.records,
        recovery.journal_bytes,
        rss_mb()
    );
    server.stop_without_snapshot().await;
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
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
