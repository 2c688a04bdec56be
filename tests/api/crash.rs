//! Crash test: the real `pollcast serve` binary with a data dir, voters publishing through the
//! HTTP topics API with their own tokens, SIGKILL in the middle of the stream, a restart with
//! the same flags. Every publish answered 204 must be counted exactly once, nothing counted
//! twice; tokens minted before the kill must still publish after it; polls keep their state
//! and their deadlines.
//!
//! `CRASH_VOTERS` (default 400) and `CRASH_KILLS` (default 1) make it longer: `scripts/crash-test`
//! runs it with tens of thousands of votes and many kills on a release build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};

use crate::support::process::{create, get_json, open, token, Poll, Server, ADMIN_KEY};

const OPTIONS: [&str; 3] = ["Tea", "Coffee", "Water"];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a voter's publish came to, as the voter saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    NotYet,
    /// Answered 204.
    Acknowledged,
    /// No answer, or not 204 (the server died under it): counted or not, the voter cannot know.
    Unknown,
}

/// Opens `poll`.
/// An anonymous voter's token for `poll` (open polls give them to anyone).
/// A GET of `path` as JSON.
/// Publishes voter `i`'s vote with its token; records what came of it.
async fn publish(
    http: &reqwest::Client,
    base: &str,
    poll: &Poll,
    token: &Value,
    i: usize,
) -> Outcome {
    let choice = &poll.options[i % poll.options.len()];
    let vote = json!({"poll_id": poll.id, "choices": [choice]}).to_string();
    let url = format!(
        "{base}/topics/{}/{}",
        token["cache"].as_str().unwrap(),
        token["votes_topic"].as_str().unwrap()
    );
    let sent = http
        .post(url)
        .header("Authorization", token["token"].as_str().unwrap())
        .header("Content-Type", "text/plain")
        .body(vote)
        .timeout(Duration::from_secs(20))
        .send()
        .await;
    match sent {
        Ok(response) if response.status() == 204 => Outcome::Acknowledged,
        _ => Outcome::Unknown,
    }
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("pollcast.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_vote_loses_no_acknowledged_vote_and_counts_none_twice() {
    let voters = env_number("CRASH_VOTERS", 400);
    let kills = env_number("CRASH_KILLS", 1);
    let work = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = work.path().join("data");
    let log = work.path().join("pollcast.log");
    let http = reqwest::Client::new();

    let mut server = Server::start("127.0.0.1:0", &data_dir, &log).await;
    let listen = format!("127.0.0.1:{}", server.port());
    let base = server.base.clone();
    let poll = create(&http, &base, json!({"title": "Crash?", "options": OPTIONS})).await;
    open(&http, &base, &poll).await;
    let opens_at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let closes_at = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let scheduled = create(
        &http,
        &base,
        json!({"title": "Later", "options": OPTIONS, "opens_at": opens_at, "closes_at": closes_at}),
    )
    .await;
    // Closes on the clock while the server is down or just back.
    let closing_at = Utc::now() + chrono::Duration::seconds(8);
    let closing = create(
        &http,
        &base,
        json!({"title": "Soon closed", "options": OPTIONS, "closes_at": closing_at.to_rfc3339()}),
    )
    .await;
    open(&http, &base, &closing).await;

    // Every token is minted before the first kill.
    let mut tokens = Vec::with_capacity(voters);
    for chunk in (0..voters).collect::<Vec<_>>().chunks(32) {
        let minted =
            futures::future::join_all(chunk.iter().map(|_| token(&http, &base, &poll))).await;
        tokens.extend(minted);
    }
    let tokens = Arc::new(tokens);
    let outcomes = Arc::new(Mutex::new(vec![Outcome::NotYet; voters]));
    let poll = Arc::new(poll);

    for round in 0..kills {
        // Publish the voters not yet acknowledged; kill once this round's share is in.
        let share = voters / (kills + 1);
        let acked_now = Arc::new(AtomicUsize::new(0));
        let pending: Vec<usize> = {
            let outcomes = outcomes.lock().unwrap();
            (0..voters)
                .filter(|&i| outcomes[i] != Outcome::Acknowledged)
                .collect()
        };
        let next = Arc::new(AtomicUsize::new(0));
        let pending = Arc::new(pending);
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (http, base, poll, tokens, outcomes, acked_now, next, pending) = (
                    http.clone(),
                    server.base.clone(),
                    poll.clone(),
                    tokens.clone(),
                    outcomes.clone(),
                    acked_now.clone(),
                    next.clone(),
                    pending.clone(),
                );
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = pending.get(n) else { return };
                        let outcome = publish(&http, &base, &poll, &tokens[i], i).await;
                        outcomes.lock().unwrap()[i] = outcome;
                        if outcome == Outcome::Acknowledged {
                            acked_now.fetch_add(1, Ordering::SeqCst);
                        } else {
                            return; // the server is gone
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked_now.load(Ordering::SeqCst) < share.max(1) {
            assert!(
                Instant::now() < deadline,
                "round {round}: publishing stalled\n{}",
                log_of(work.path())
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill();
        for worker in workers {
            worker.await.unwrap();
        }
        server = Server::start(&listen, &data_dir, &log).await;
    }

    // After the last restart: everyone not yet acknowledged publishes (again), with the token
    // minted before the kills. A voter whose first publish landed unacknowledged publishes a
    // duplicate, which must not count twice.
    let rest: Vec<usize> = {
        let outcomes = outcomes.lock().unwrap();
        let count = |o: Outcome| outcomes.iter().filter(|&&x| x == o).count();
        eprintln!(
            "crash test: {voters} voters, {kills} SIGKILLs: {} acknowledged before the last restart, \
             {} publishes cut off by a kill (outcome unknown, published again), {} not yet published",
            count(Outcome::Acknowledged),
            count(Outcome::Unknown),
            count(Outcome::NotYet)
        );
        (0..voters)
            .filter(|&i| outcomes[i] != Outcome::Acknowledged)
            .collect()
    };
    for chunk in rest.chunks(32) {
        let published = futures::future::join_all(
            chunk
                .iter()
                .map(|&i| publish(&http, &server.base, &poll, &tokens[i], i)),
        )
        .await;
        for (&i, outcome) in chunk.iter().zip(published) {
            assert_eq!(
                outcome,
                Outcome::Acknowledged,
                "voter {i} after the restart"
            );
        }
    }

    // Every voter is acknowledged once from their side: the counts must be exactly theirs.
    let mut expected: BTreeMap<String, u64> = poll.options.iter().map(|o| (o.clone(), 0)).collect();
    for i in 0..voters {
        *expected
            .get_mut(&poll.options[i % poll.options.len()])
            .unwrap() += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let results = loop {
        let results = get_json(
            &http,
            &server.base,
            &format!("/v1/polls/{}/results", poll.id),
        )
        .await;
        if results["ballots"].as_u64() >= Some(voters as u64) {
            break results;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {voters} ballots counted: {results}\n{}",
            results["ballots"],
            log_of(work.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let counted: BTreeMap<String, u64> = results["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(results["ballots"], voters, "{results}");
    assert_eq!(counted, expected, "{results}");
    // The published results equal a recount of the stored ballots.
    let recount: Value = http
        .post(format!("{}/v1/polls/{}/recount", server.base, poll.id))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recount["recounted"]["ballots"], voters, "{recount}");
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pollcast_webhook_outbox_events 0"),
        "nothing left to deliver: {}",
        metrics
            .lines()
            .filter(|l| l.contains("outbox"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Polls keep their state and deadlines.
    let get = |id: &str| {
        let (http, base, path) = (http.clone(), server.base.clone(), format!("/v1/polls/{id}"));
        async move { get_json(&http, &base, &path).await }
    };
    assert_eq!(get(&poll.id).await["state"], "open");
    let later = get(&scheduled.id).await;
    assert_eq!(later["state"], "scheduled", "{later}");
    assert_eq!(
        later["closes_at"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(closes_at.parse::<chrono::DateTime<Utc>>().unwrap())
    );
    let wait = (closing_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    assert_eq!(get(&closing.id).await["state"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_within_bounds_and_the_next_start_replays_nothing() {
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    let log = work.path().join("pollcast.log");
    let http = reqwest::Client::new();
    let server = Server::start("127.0.0.1:0", &data_dir, &log).await;
    let listen = format!("127.0.0.1:{}", server.port());
    let base = server.base.clone();
    let poll = create(&http, &base, json!({"title": "Stop?", "options": OPTIONS})).await;
    open(&http, &base, &poll).await;
    let mut acknowledged = 0;
    for i in 0..50 {
        let token = token(&http, &base, &poll).await;
        if publish(&http, &base, &poll, &token, i).await == Outcome::Acknowledged {
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, 50);

    // SIGTERM, and the process is gone within the documented bound.
    let mut server = server;
    let pid = server.child.id();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = tokio::task::spawn_blocking(move || {
        let exit = server.child.wait().unwrap();
        std::mem::forget(server); // already reaped
        exit
    })
    .await
    .unwrap();
    assert!(
        exit.success(),
        "a clean stop exits 0: {exit:?}\n{}",
        log_of(work.path())
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    let server = Server::start(&listen, &data_dir, &log).await;
    let results = get_json(
        &http,
        &server.base,
        &format!("/v1/polls/{}/results", poll.id),
    )
    .await;
    assert_eq!(results["ballots"], 50, "{results}");
    let recovered = log_of(work.path())
        .lines()
        .rfind(|l| l.contains("local Momento state recovered"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        recovered.contains("journal_bytes=0") && !recovered.contains("snapshot=None"),
        "after a clean stop the state is one snapshot, nothing to replay: {recovered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_wait_in_the_outbox_while_pollcast_is_killed_and_are_counted_when_it_is_back() {
    use local_momento::{LocalMomento, LocalMomentoConfig, RetryPolicy, Webhook};
    use secrecy::ExposeSecret;

    const SECRET: &str = "outbox-test-webhook-secret";
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("pollcast.log");
    // pollcast's address is fixed before the Momento that delivers to it starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let momento = LocalMomento::start(LocalMomentoConfig {
        webhook_retry: RetryPolicy::until_delivered(),
        webhooks: vec![Webhook {
            name: "pollcast-votes".into(),
            cache: "pollcast".into(),
            topic: "votes".into(),
            url: format!("http://{listen}/v1/webhooks/momento"),
            secret: SECRET.to_owned().into(),
        }],
        ..LocalMomentoConfig::default()
    })
    .await
    .unwrap();
    momento.ensure_cache("pollcast").await.unwrap();
    let key = momento.super_user_key().expose_secret().to_owned();
    let flags = || {
        [
            "--in-memory",
            "--ingest",
            "webhook",
            "--webhook-secret",
            SECRET,
            // One votes topic: the webhook this test registers is on it.
            "--vote-shards",
            "1",
        ]
        .map(std::ffi::OsString::from)
        .to_vec()
    };
    let vars = [
        ("MOMENTO_API_KEY", key.clone()),
        ("MOMENTO_ENDPOINT", "localhost".to_owned()),
        (
            "POLLCAST_MOMENTO_ENDPOINT_OVERRIDE",
            momento.grpc_endpoint(),
        ),
    ];
    let http = reqwest::Client::new();
    let server = Server::start_with(&listen, &log, flags(), &vars).await;
    let base = server.base.clone();
    let poll = create(
        &http,
        &base,
        json!({"title": "Outbox?", "options": OPTIONS}),
    )
    .await;
    open(&http, &base, &poll).await;
    let mut tokens = Vec::new();
    for _ in 0..30 {
        tokens.push(token(&http, &base, &poll).await);
    }

    // pollcast dies; voters keep publishing; the votes wait in the outbox.
    server.kill();
    for (i, token) in tokens.iter().enumerate() {
        let credentials =
            momento::CredentialProvider::from_disposable_token(token["token"].as_str().unwrap())
                .unwrap()
                .full_endpoint_override(&momento.grpc_endpoint());
        let topics = momento::TopicClient::builder()
            .configuration(momento::topics::configurations::Laptop::latest())
            .credential_provider(credentials)
            .build()
            .unwrap();
        let choice = &poll.options[i % poll.options.len()];
        topics
            .publish(
                "pollcast",
                "votes",
                json!({"poll_id": poll.id, "choices": [choice]}).to_string(),
            )
            .await
            .expect("the Momento takes votes while pollcast is down");
    }
    assert_eq!(
        momento.webhook_stats().outbox_depth,
        30,
        "{:?}",
        momento.webhook_stats()
    );

    // pollcast is back (same address): every waiting vote is delivered and counted.
    let server = Server::start_with(&listen, &log, flags(), &vars).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = get_json(
            &http,
            &server.base,
            &format!("/v1/polls/{}/results", poll.id),
        )
        .await;
        if results["ballots"] == 30 {
            for option in &poll.options {
                assert_eq!(results["counts"][option], 10, "{results}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{results}\n{:?}\n{}",
            momento.webhook_stats(),
            log_of(work.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = momento.webhook_stats();
    assert_eq!(stats.outbox_depth, 0, "{stats:?}");
    drop(server);
    momento.shutdown().await;
}

/// SIGTERM with results being watched, and with feeds still lingering after their last watcher
/// went: the process exits (it once spun for ever in the Momento SDK's resubscribe loop, which
/// retries without a pause when the local Momento it lost refuses at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_while_results_are_watched() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("pollcast.log");
    let http = reqwest::Client::new();
    // The race it guards against is between a feed's wake-up and the runtime's end: rounds.
    for round in 0..24 {
        let mut server =
            Server::start_with("127.0.0.1:0", &log, vec!["--in-memory".into()], &[]).await;
        let base = server.base.clone();
        let mut watching = Vec::new();
        for i in 0..6 {
            let poll = create(
                &http,
                &base,
                json!({"title": format!("Watched {i}"), "options": OPTIONS}),
            )
            .await;
            open(&http, &base, &poll).await;
            // One event, then the stream ends: the feed lingers without a watcher.
            let once = http
                .get(format!(
                    "{base}/v1/polls/{}/results/stream?max_events=1",
                    poll.id
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(once.status(), 200);
            once.bytes().await.unwrap();
            // Every other round, one that stays open (an admin's, which also watches the
            // admins' topic).
            if round % 8 != 0 {
                continue;
            }
            let open = http
                .get(format!("{base}/v1/polls/{}/results/stream", poll.id))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap();
            assert_eq!(open.status(), 200);
            watching.push(open);
        }

        let pid = server.child.id();
        assert!(Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = server.child.try_wait().unwrap() {
                break Some(exit);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        drop(watching);
        let Some(exit) = exit else {
            panic!(
                "round {round}: pollcast still runs 30 s after SIGTERM\n{}",
                log_of(work.path())
            );
        };
        assert!(
            exit.success(),
            "round {round}: {exit:?}\n{}",
            log_of(work.path())
        );
        drop(server);
    }
}
