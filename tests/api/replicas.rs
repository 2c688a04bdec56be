//! Scale-out as Momento's service runs it: three `pollcast serve` replicas (the SDK engine) on
//! one standalone `pollcast local-momento` with a data dir and Momento's basic quota enforced
//! (1,000 operations a second). Voters take tokens from any replica and publish through the
//! HTTP topics API at the token's `http_endpoint`; admins move polls through their states on
//! different replicas; SSE watchers follow results on every replica; one replica is SIGKILLed
//! while votes arrive.
//!
//! What must hold: every acknowledged vote counted exactly once; each poll in one state whatever
//! replica is asked; the killed replica's shards read again within a bound; each vote processed
//! by about one replica (the shards are shared through leases, not read by all); the local
//! Momento's operations within the quota, and no vote lost when it throttles.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::support::process::{
    admin, create, get_json, with_retry, LocalMomentoProcess, Poll, Server,
};
use crate::support::voting::Metrics;

/// Votes shards: two for each replica.
const SHARDS: u64 = 6;
/// Voters before the kill, and while it happens.
const VOTERS: [usize; 2] = [150, 150];
/// Voters publishing at once.
const CONCURRENT: usize = 12;
/// How long the survivors may take to read every shard again after a SIGKILL: the dead
/// replica's leases expire (10 s), then a lease round (2 s) takes them, plus a slow machine's
/// margin.
const TAKEOVER_BOUND: Duration = Duration::from_secs(25);

/// What one voter did: the poll, the option, whether the publish was acknowledged.
struct Cast {
    poll: usize,
    option: String,
    acknowledged: bool,
}

async fn metrics(http: &reqwest::Client, base: &str) -> Metrics {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap();
    Metrics::parse(&text)
}

/// A voter: a token from `base`, a vote for `option` of `poll` published to the token's HTTP
/// endpoint; whether the publish was acknowledged (`None`: no token, nothing published).
async fn vote(http: &reqwest::Client, base: &str, poll: &Poll, option: &str) -> Option<bool> {
    let url = format!("{base}/v1/polls/{}/tokens", poll.id);
    let response = with_retry(|| http.post(&url)).await.ok()?;
    if response.status() != 201 {
        return None;
    }
    let token: Value = response.json().await.ok()?;
    let publish = format!(
        "{}/topics/{}/{}",
        token["http_endpoint"].as_str().unwrap(),
        token["cache"].as_str().unwrap(),
        token["votes_topic"].as_str().unwrap()
    );
    let body = json!({"poll_id": poll.id, "choices": [option]}).to_string();
    let sent = with_retry(|| {
        http.post(&publish)
            .header("Authorization", token["token"].as_str().unwrap())
            .header("Content-Type", "text/plain")
            .body(body.clone())
    })
    .await;
    Some(matches!(sent, Ok(r) if r.status() == 204))
}

/// Casts `count` votes over `polls`, tokens taken from `bases` in turn (skipping a replica once
/// it is gone); runs `midway` once half of them are cast.
async fn cast(
    http: &reqwest::Client,
    bases: Arc<Mutex<Vec<String>>>,
    polls: &[Poll],
    first: usize,
    count: usize,
    midway: impl std::future::Future<Output = ()>,
) -> Vec<Cast> {
    let voters = futures::stream::iter(first..first + count)
        .map(|i| {
            let (http, bases) = (http.clone(), bases.clone());
            let poll = i % polls.len();
            let option = polls[poll].options[(i / polls.len()) % polls[poll].options.len()].clone();
            let target = &polls[poll];
            async move {
                for _ in 0..5 {
                    let base = {
                        let bases = bases.lock().unwrap();
                        bases[i % bases.len()].clone()
                    };
                    if let Some(acknowledged) = vote(&http, &base, target, &option).await {
                        return Cast {
                            poll,
                            option,
                            acknowledged,
                        };
                    }
                    // No token: the replica asked was killed meanwhile; ask another.
                }
                panic!("voter {i} never got a token from a live replica");
            }
        })
        .buffer_unordered(CONCURRENT);
    tokio::pin!(voters);
    let mut casts = Vec::with_capacity(count);
    let mut midway = Some(Box::pin(midway));
    while let Some(cast) = voters.next().await {
        casts.push(cast);
        if casts.len() == count / 2 {
            if let Some(midway) = midway.take() {
                midway.await;
            }
        }
    }
    casts
}

/// Waits until each poll's results (asked of `base`) hold `expected` ballots; the results.
async fn results_reach(
    http: &reqwest::Client,
    base: &str,
    polls: &[Poll],
    expected: &[u64],
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut all = Vec::new();
        for poll in polls {
            all.push(get_json(http, base, &format!("/v1/polls/{}/results", poll.id)).await);
        }
        let ballots: Vec<u64> = all.iter().map(|r| r["ballots"].as_u64().unwrap()).collect();
        if ballots == expected {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "ballots {ballots:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Shards held by each replica, once they add up to [`SHARDS`] with every replica holding its
/// share (polled until `bound`); panics naming what was seen.
async fn shards_settle(http: &reqwest::Client, bases: &[String], bound: Duration) -> Vec<u64> {
    let deadline = Instant::now() + bound;
    let share = SHARDS.div_ceil(bases.len() as u64);
    loop {
        let mut held = Vec::new();
        for base in bases {
            held.push(metrics(http, base).await.get("ingest_shards_held", None));
        }
        if held.iter().sum::<u64>() == SHARDS && held.iter().all(|&h| h > 0 && h <= share) {
            return held;
        }
        assert!(
            Instant::now() < deadline,
            "shards held {held:?} after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Votes the replicas received from their subscriptions, summed.
async fn processed(http: &reqwest::Client, bases: &[String]) -> u64 {
    let mut total = 0;
    for base in bases {
        let m = metrics(http, base).await;
        total += m.get("votes_received_total", Some(("source", "subscription")));
    }
    total
}

/// An SSE watcher of `poll`'s results on `base`: the most ballots it has seen.
fn watch(http: &reqwest::Client, base: &str, poll: &str) -> Arc<Mutex<u64>> {
    let seen = Arc::new(Mutex::new(0));
    let (http, url, out) = (
        http.clone(),
        format!("{base}/v1/polls/{poll}/results/stream"),
        seen.clone(),
    );
    tokio::spawn(async move {
        let Ok(mut response) = http.get(url).send().await else {
            return;
        };
        let mut buffer = String::new();
        // Ends when the stream does (the replica killed, or the test over).
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                for data in block.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(results) = serde_json::from_str::<Value>(data.trim()) {
                        let ballots = results["ballots"].as_u64().unwrap_or(0);
                        let mut seen = out.lock().unwrap();
                        *seen = (*seen).max(ballots);
                    }
                }
            }
        }
    });
    seen
}

/// Moves polls of their own through every state, each step on another replica, while votes
/// arrive; returns the polls it made.
async fn admin_traffic(http: reqwest::Client, bases: Arc<Mutex<Vec<String>>>) -> Vec<String> {
    let mut made = Vec::new();
    for round in 0..4 {
        let base = |step: usize| {
            let bases = bases.lock().unwrap();
            bases[(round + step) % bases.len()].clone()
        };
        let poll = create(
            &http,
            &base(0),
            json!({"title": format!("Side {round}"), "options": ["A", "B"]}),
        )
        .await;
        for (step, event) in ["open", "close", "archive"].iter().enumerate() {
            let url = format!("{}/v1/polls/{}/{event}", base(step + 1), poll.id);
            admin(&http, reqwest::Method::POST, url, None).await;
        }
        made.push(poll.id);
    }
    made
}

fn log(dir: &Path, i: usize) -> std::path::PathBuf {
    dir.join(format!("replica-{i}.log"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_momento_count_each_vote_once_through_a_kill_within_the_quota() {
    // Arrange: the local Momento (durable, basic quota) and three replicas sharing its shards.
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("momento");
    let momento =
        LocalMomentoProcess::start(&["--data-dir", data.to_str().unwrap(), "--quota", "basic"])
            .await;
    let http = reqwest::Client::new();
    let flags = || {
        let shards = SHARDS.to_string();
        [
            "--in-memory",
            "--ingest",
            "subscription",
            "--vote-shards",
            &shards,
            "--momento-http-endpoint",
            &momento.http,
        ]
        .map(std::ffi::OsString::from)
        .to_vec()
    };
    let started = Instant::now();
    let mut servers = Vec::new();
    for i in 0..3 {
        let server = Server::start_with(
            "127.0.0.1:0",
            &log(work.path(), i),
            flags(),
            &momento.serve_env(),
        )
        .await;
        servers.push(server);
    }
    let all: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let held = shards_settle(&http, &all, Duration::from_secs(30)).await;
    assert_eq!(held, [2, 2, 2], "an even share each");

    // Three polls, each created on one replica and opened on another.
    let mut polls = Vec::new();
    for i in 0..3 {
        let poll = create(
            &http,
            &all[i],
            json!({"title": format!("Poll {i}"), "options": ["Tea", "Coffee", "Water"]}),
        )
        .await;
        let url = format!("{}/v1/polls/{}/open", all[(i + 1) % 3], poll.id);
        admin(&http, reqwest::Method::POST, url, None).await;
        polls.push(poll);
    }
    // Watchers of every poll on every replica.
    let watchers: Vec<(usize, usize, Arc<Mutex<u64>>)> = (0..3)
        .flat_map(|r| (0..3).map(move |p| (r, p)))
        .flat_map(|(r, p)| (0..3).map(move |_| (r, p)))
        .map(|(r, p)| (r, p, watch(&http, &all[r], &polls[p].id)))
        .collect();
    let bases = Arc::new(Mutex::new(all.clone()));
    let side = tokio::spawn(admin_traffic(http.clone(), bases.clone()));

    // Act 1: votes through every replica, all alive.
    let first = cast(&http, bases.clone(), &polls, 0, VOTERS[0], async {}).await;
    let expected = |casts: &[&Cast]| {
        let mut ballots = [0u64; 3];
        let mut counts: BTreeMap<(usize, String), u64> = BTreeMap::new();
        for cast in casts.iter().filter(|c| c.acknowledged) {
            ballots[cast.poll] += 1;
            *counts.entry((cast.poll, cast.option.clone())).or_default() += 1;
        }
        (ballots, counts)
    };
    let (ballots, _) = expected(&first.iter().collect::<Vec<_>>());
    results_reach(&http, &all[0], &polls, &ballots).await;
    let processed_before = processed(&http, &all).await;
    let survivors_before = processed(&http, &all[..2]).await;

    // Act 2: more votes; halfway through, one replica is SIGKILLed.
    let victim = servers.pop().unwrap();
    let victim_base = victim.base.clone();
    let survivors: Vec<String> = all[..2].to_vec();
    let killed_at = Arc::new(Mutex::new(None));
    let kill = {
        let (bases, killed_at) = (bases.clone(), killed_at.clone());
        async move {
            bases.lock().unwrap().retain(|b| *b != victim_base);
            victim.kill();
            *killed_at.lock().unwrap() = Some(Instant::now());
        }
    };
    let second = cast(&http, bases.clone(), &polls, VOTERS[0], VOTERS[1], kill).await;
    let killed_at = killed_at.lock().unwrap().expect("the kill happened");
    let held = shards_settle(&http, &survivors, TAKEOVER_BOUND).await;
    let takeover = killed_at.elapsed();
    let side_polls = side.await.unwrap();

    // Assert: every acknowledged vote counted once, on every replica alike.
    let casts: Vec<&Cast> = first.iter().chain(second.iter()).collect();
    let unacknowledged = casts.iter().filter(|c| !c.acknowledged).count();
    assert_eq!(unacknowledged, 0, "every voter was answered 204 in the end");
    let (ballots, counts) = expected(&casts);
    for base in &survivors {
        let results = results_reach(&http, base, &polls, &ballots).await;
        for ((poll, option), count) in &counts {
            assert_eq!(
                results[*poll]["counts"][option].as_u64(),
                Some(*count),
                "{base} poll {poll}: {}",
                results[*poll]
            );
        }
    }
    // One state per poll, whichever replica answers.
    for id in polls.iter().map(|p| &p.id).chain(side_polls.iter()) {
        let views: Vec<Value> = {
            let mut views = Vec::new();
            for base in &survivors {
                views.push(get_json(&http, base, &format!("/v1/polls/{id}")).await);
            }
            views
        };
        assert_eq!(views[0]["state"], views[1]["state"], "{views:?}");
        assert_eq!(views[0]["version"], views[1]["version"], "{views:?}");
    }
    for id in &side_polls {
        let view = get_json(&http, &survivors[0], &format!("/v1/polls/{id}")).await;
        assert_eq!(view["state"], "archived", "{view}");
    }
    // The dead replica's shards are read again within the bound.
    assert_eq!(held.iter().sum::<u64>(), SHARDS);
    assert!(takeover < TAKEOVER_BOUND, "{takeover:?}");
    // Each vote processed by about one replica: before the kill exactly once in sum (three
    // replicas each reading every vote would make it three times); after it, a shard's new
    // holder may read again what the dead one read but had not yet saved as read.
    let total = (VOTERS[0] + VOTERS[1]) as u64;
    // (A subscription that resumes after a refusal re-reads from its saved position: a few
    // more, which count once.)
    assert!(
        (VOTERS[0] as u64..=VOTERS[0] as u64 * 5 / 4).contains(&processed_before),
        "{processed_before} processings of {} votes by three replicas",
        VOTERS[0]
    );
    let survivors_after = processed(&http, &survivors).await - survivors_before;
    assert!(
        survivors_after <= VOTERS[1] as u64 * 3 / 2,
        "{survivors_after} processings of at most {} votes by two replicas",
        VOTERS[1]
    );
    // Watchers on the survivors saw the final results.
    let deadline = Instant::now() + Duration::from_secs(10);
    for (replica, poll, seen) in watchers.iter().filter(|(r, _, _)| *r < 2) {
        while *seen.lock().unwrap() < ballots[*poll] {
            assert!(
                Instant::now() < deadline,
                "a watcher on replica {replica} of poll {poll} saw {} of {}",
                seen.lock().unwrap(),
                ballots[*poll]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The quota held, and throttling lost nothing (the tallies above are exact).
    let stats = get_json(&http, &momento.http, "/_local/stats").await;
    let operations = stats["quota"]["operations"].as_u64().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        operations as f64 <= 1_000.0 * (seconds + 1.0),
        "{operations} operations in {seconds:.1} s: {stats}"
    );
    println!(
        "replicas: {total} votes; processed {processed_before} times before the kill (3 \
         replicas), {survivors_after} after it (2); shards re-owned {takeover:?} after \
         the kill; Momento {operations} operations in {seconds:.1} s ({:.0}/s), {:.1} per vote, \
         throttled {}, peak subscriptions {}",
        operations as f64 / seconds,
        operations as f64 / total as f64,
        stats["quota"]["throttled"],
        stats["quota"]["subscriptions_peak"],
    );
}
