//! Fills a poll with ballots before a load test: `scripts/loadtest --preload N` runs it to
//! measure a poll that already holds a million ballots.
//!
//! It sends N signed webhook events (Momento's documented payload, `momento-signature` over
//! the body) to `POST /v1/webhooks/momento`, one per voter `pre{i}`, so every ballot goes
//! through the real pipeline (ballot key, ledger, results) without minting N tokens. The server
//! must run with webhook ingest and the same `--webhook-secret`. Voter `i` chooses option
//! `o{i % OPTIONS + 1}`.
//!
//! ```sh
//! cargo run --release --example preload -- --url http://127.0.0.1:8080 --secret S \
//!     --poll POLL_ID --ballots 1000000 --options 4
//! ```
//!
//! Prints one JSON line: `{"ballots": N, "counts": {"o1": .., ...}, "seconds": ..}`. Bounded:
//! 64 requests at a time, each with a 30 s timeout; any answer other than `accepted` stops it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

const CONCURRENCY: usize = 64;

struct Args {
    url: String,
    secret: String,
    poll: String,
    ballots: u64,
    options: u64,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut url, mut secret, mut poll, mut ballots, mut options) =
        (None, None, None, None, Some(4));
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = Some(value),
            "--secret" => secret = Some(value),
            "--poll" => poll = Some(value),
            "--ballots" => ballots = Some(value.parse().expect("--ballots is a number")),
            "--options" => options = Some(value.parse().expect("--options is a number")),
            other => panic!("unknown flag {other}"),
        }
    }
    Args {
        url: url.expect("--url"),
        secret: secret.expect("--secret"),
        poll: poll.expect("--poll"),
        ballots: ballots.expect("--ballots"),
        options: options.expect("--options").max(1),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn main() {
    let args = Arc::new(args());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(CONCURRENCY)
            .build()
            .expect("an HTTP client");
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (http, next, args) = (http.clone(), next.clone(), args.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= args.ballots {
                            return;
                        }
                        let option = format!("o{}", i % args.options + 1);
                        let text = json!({"poll_id": args.poll, "choices": [option]}).to_string();
                        let at = now_ms();
                        let body = json!({
                            "cache": "pollcast", "topic": "votes",
                            "event_timestamp": at, "publish_timestamp": at,
                            "topic_sequence_number": i + 1,
                            "token_id": format!("{}:pre{i}", args.poll),
                            "text": text,
                        })
                        .to_string();
                        let signature =
                            pollcast::ingest::webhook::sign(&args.secret, body.as_bytes());
                        let answer = http
                            .post(format!("{}/v1/webhooks/momento", args.url))
                            .header("content-type", "application/json")
                            .header("momento-signature", signature)
                            .body(body)
                            .send()
                            .await
                            .and_then(|r| r.error_for_status());
                        let outcome = match answer {
                            Ok(response) => response
                                .json::<serde_json::Value>()
                                .await
                                .map(|v| v["outcome"].as_str().unwrap_or("").to_owned())
                                .unwrap_or_default(),
                            Err(error) => format!("{error}"),
                        };
                        assert_eq!(outcome, "accepted", "preloaded ballot {i}");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a preload worker");
        }
        let counts: serde_json::Map<String, serde_json::Value> = (0..args.options)
            .map(|o| {
                let n = args.ballots / args.options + u64::from(o < args.ballots % args.options);
                (format!("o{}", o + 1), json!(n))
            })
            .collect();
        println!(
            "{}",
            json!({"ballots": args.ballots, "counts": counts,
                   "seconds": started.elapsed().as_secs_f64()})
        );
    });
}
