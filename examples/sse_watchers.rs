//! Holds thousands of Server-Sent Events streams of one poll's results open, as a room of phones
//! and screens does, and measures how late each change reaches them: `scripts/loadtest
//! --sse-watchers N` runs it beside k6.
//!
//! k6 reads a response whole, so its watch.js opens windows of two events and reconnects: a
//! storm of connections, not a room. Here each watcher connects once (the connections ramp up
//! over `--ramp` seconds, as people arrive), then reads events as they come; every event after
//! the first (the snapshot) is timed from the results' `at` (when they were counted) to its
//! arrival. Only events that arrive once every watcher is connected are counted.
//!
//! ```sh
//! cargo run --release --example sse_watchers -- --urls http://127.0.0.1:8080,http://127.0.0.1:8082 \
//!     --poll POLL_ID --watchers 5000 --seconds 30 --ramp 10
//! ```
//!
//! Prints one JSON line: `{"watchers", "connected", "failed", "events", "lateness_ms":
//! {"p50", "p95", "p99", "max"}, "ended_early"}`. Bounded: every watcher stops at the deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

struct Args {
    urls: Vec<String>,
    poll: String,
    watchers: usize,
    seconds: u64,
    ramp: u64,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut urls, mut poll, mut watchers, mut seconds, mut ramp) = (None, None, 1000, 30, 10);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--urls" => {
                urls = Some(
                    value
                        .split(',')
                        .map(|u| u.trim().trim_end_matches('/').to_owned())
                        .collect(),
                )
            }
            "--poll" => poll = Some(value),
            "--watchers" => watchers = value.parse().expect("--watchers N"),
            "--seconds" => seconds = value.parse().expect("--seconds S"),
            "--ramp" => ramp = value.parse().expect("--ramp S"),
            other => panic!("unknown flag {other}"),
        }
    }
    let urls: Vec<String> = urls.expect("--urls");
    for url in &urls {
        assert!(
            url.starts_with("http://127.") || url.starts_with("http://localhost"),
            "loopback only: {url}"
        );
    }
    Args {
        urls,
        poll: poll.expect("--poll"),
        watchers,
        seconds,
        ramp,
    }
}

/// What every watcher adds to.
#[derive(Default)]
struct Tally {
    connected: AtomicU64,
    failed: AtomicU64,
    ended_early: AtomicU64,
    lateness_ms: Mutex<Vec<u32>>,
}

#[tokio::main]
async fn main() {
    let args = args();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    let tally = Arc::new(Tally::default());
    let measuring = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.ramp + args.seconds);
    let gap = Duration::from_secs_f64(args.ramp as f64 / args.watchers.max(1) as f64);
    let mut tasks = Vec::with_capacity(args.watchers);
    for i in 0..args.watchers {
        let url = format!(
            "{}/v1/polls/{}/results/stream",
            args.urls[i % args.urls.len()],
            args.poll
        );
        let (client, tally, measuring) = (client.clone(), tally.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let watch = watch(client, url, &tally, &measuring);
            let _ = tokio::time::timeout_at(deadline.into(), watch).await;
        }));
        tokio::time::sleep(gap).await;
    }
    // Every watcher has had its turn to connect: from now on events count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(true, Ordering::Release);
    for task in tasks {
        let _ = task.await;
    }
    let mut lateness = std::mem::take(&mut *tally.lateness_ms.lock().unwrap());
    lateness.sort_unstable();
    let at = |q: f64| -> Value {
        if lateness.is_empty() {
            return Value::Null;
        }
        let i = ((lateness.len() as f64 - 1.0) * q).round() as usize;
        json!(lateness[i])
    };
    println!(
        "{}",
        json!({
            "watchers": args.watchers,
            "connected": tally.connected.load(Ordering::Relaxed),
            "failed": tally.failed.load(Ordering::Relaxed),
            "ended_early": tally.ended_early.load(Ordering::Relaxed),
            "events": lateness.len(),
            "lateness_ms": {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)},
        })
    );
}

/// One watcher: connects, then times every event after the snapshot until the stream ends.
async fn watch(client: reqwest::Client, url: String, tally: &Tally, measuring: &AtomicBool) {
    let mut response = match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => response,
        _ => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    tally.connected.fetch_add(1, Ordering::Relaxed);
    let mut buffer = String::new();
    let mut first = true;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            _ => {
                tally.ended_early.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let arrived = Utc::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue; // a keep-alive comment
            };
            if std::mem::take(&mut first) || !measuring.load(Ordering::Acquire) {
                continue;
            }
            let at = serde_json::from_str::<Value>(data.trim())
                .ok()
                .and_then(|v| v["at"].as_str()?.parse::<DateTime<Utc>>().ok());
            if let Some(at) = at {
                let late = (arrived - at).num_milliseconds().max(0) as u32;
                tally.lateness_ms.lock().unwrap().push(late);
            }
        }
    }
}
