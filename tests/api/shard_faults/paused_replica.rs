//! A replica paused past its lease (a stop-the-world pause: a long GC, a VM migration, a
//! SIGSTOP). Two `pollcast serve` processes share 4 votes shards on one local Momento; one is
//! stopped with SIGSTOP for longer than a lease lives while votes keep arriving on every shard.
//! Its leases expire (Momento counts their TTL), the other replica takes its shards and resumes
//! them where it stopped; woken with SIGCONT, the paused one finds its leases taken at its next
//! renewal, stops those readers (a vote it read before it noticed is a duplicate, counted once),
//! and the shares even out again.

use std::time::{Duration, Instant};

use local_momento::LocalMomentoConfig;
use pollcast::ingest::shards::LEASE_TTL;
use serde_json::{json, Value};

use super::{
    assert_counted_once, names, operator_cache, serve_flags, serve_vars, shard_of, shared_momento,
    signal, tally, until, votes_topic, VoteStream,
};
use crate::support::process::{admin, create, open, token, Poll, Server, ADMIN_KEY};

/// One series of a replica's `/metrics` (`pollcast_...{label="value"}`), 0 when absent.
async fn metric(http: &reqwest::Client, server: &Server, series: &str) -> u64 {
    let text = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("the replica answers")
        .text()
        .await
        .expect("a metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0) as u64
}

/// Shards a replica reads now.
async fn held(http: &reqwest::Client, server: &Server) -> u64 {
    metric(http, server, "pollcast_ingest_shards_held").await
}

/// Leases a replica found taken by another at a renewal, so far.
async fn lost(http: &reqwest::Client, server: &Server) -> u64 {
    let series = "pollcast_ingest_lease_changes_total{change=\"lost\"}";
    metric(http, server, series).await
}

/// Open polls on `base` until there is one on each of the 4 votes shards.
async fn a_poll_on_every_shard(http: &reqwest::Client, base: &str) -> Vec<Poll> {
    let mut polls: Vec<Option<Poll>> = (0..4).map(|_| None).collect();
    for _ in 0..64 {
        let poll = create(
            http,
            base,
            json!({ "title": "Paused?", "options": ["A", "B"] }),
        )
        .await;
        open(http, base, &poll).await;
        let shard = shard_of(&votes_topic(&token(http, base, &poll).await)) as usize;
        polls[shard].get_or_insert(poll);
        if polls.iter().all(Option::is_some) {
            return polls.into_iter().flatten().collect();
        }
    }
    panic!("64 polls did not cover 4 shards");
}

/// Tokens of `voters` in `poll`, minted by the admin.
async fn tokens(http: &reqwest::Client, base: &str, poll: &Poll, voters: &[String]) -> Vec<Value> {
    let url = format!("{base}/v1/polls/{}/tokens/batch", poll.id);
    let body = json!({ "voter_ids": voters });
    let batch = admin(http, reqwest::Method::POST, url, Some(body)).await;
    batch["tokens"].as_array().expect("tokens").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_paused_past_its_lease_gives_its_shards_up_and_no_vote_is_lost_or_doubled() {
    // Arrange: two replicas (processes) share 4 shards of one local Momento.
    let momento = shared_momento(LocalMomentoConfig::default()).await;
    let logs = tempfile::tempdir().unwrap();
    let vars = serve_vars(&momento);
    let start = |log: &str| {
        let (log, vars) = (logs.path().join(log), &vars);
        async move { Server::start_with("127.0.0.1:0", &log, serve_flags(4), vars).await }
    };
    let (a, b) = (start("a.log").await, start("b.log").await);
    // A paused replica does not answer: every request is bounded.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    until(30, "the shards to be shared", || async {
        held(&http, &a).await == 2 && held(&http, &b).await == 2
    })
    .await;
    // Votes on every shard, round robin over one poll per shard, 150 voters each.
    let polls = a_poll_on_every_shard(&http, &b.base).await;
    let mut per_poll = Vec::new();
    for (k, poll) in polls.iter().enumerate() {
        let voters = names(&format!("p{k}v"), 150);
        per_poll.push(tokens(&http, &b.base, poll, &voters).await);
    }
    let round_robin: Vec<Value> = (0..150)
        .flat_map(|i| per_poll.iter().map(move |tokens| tokens[i].clone()))
        .collect();
    let stream = VoteStream::start(
        momento.grpc_endpoint(),
        &round_robin,
        Duration::from_millis(25),
    );
    stream.until_more(20).await;

    // Act: replica a stops the world for longer than a lease lives, while votes arrive.
    signal(&a, "STOP");
    let paused = Instant::now();
    until(30, "b to take a's shards", || async {
        held(&http, &b).await == 4
    })
    .await;
    let taken_over = paused.elapsed();
    stream.until_more(40).await;
    // The pause outlasts a lease by a second whenever b took over.
    tokio::time::sleep_until((paused + LEASE_TTL + Duration::from_secs(1)).into()).await;
    signal(&a, "CONT");
    let paused_for = paused.elapsed();
    let woke = Instant::now();

    // Assert: a finds both its leases taken at its next renewal, and the shares even out.
    until(20, "a to find its leases lost", || async {
        lost(&http, &a).await == 2
    })
    .await;
    let noticed = woke.elapsed();
    until(30, "the shares to even out", || async {
        held(&http, &a).await == 2 && held(&http, &b).await == 2
    })
    .await;
    let evened = woke.elapsed();
    stream.until_more(40).await;
    let acknowledged = stream.finish().await;

    // Every acknowledged vote counts once, on each poll, as each replica shows.
    let cache = operator_cache(&momento);
    let replicas = [(a.base.as_str(), ADMIN_KEY), (b.base.as_str(), ADMIN_KEY)];
    for poll in &polls {
        let (counts, voters) = tally(&acknowledged, &poll.id);
        assert!(!voters.is_empty());
        assert_counted_once(&replicas, &cache, &poll.id, &voters, &counts).await;
    }
    println!(
        "paused for {paused_for:?}: b read a's shards {taken_over:?} after the pause; a let \
         go {noticed:?} after waking, shares even {evened:?} after; {} votes",
        acknowledged.len()
    );
    drop((a, b));
    momento.shutdown().await;
}
