//! A lease stolen by a clock-skewed replica. A lease's expiry is Momento's TTL, so no replica's
//! clock takes part in it: one whose clock runs ahead cannot take a held lease early (taking is
//! a compare-and-set on a free lease, which Momento refuses), and one whose clock runs behind
//! cannot keep a lease past its TTL (renewing is a compare-and-set on its own id, gone once the
//! TTL has run). The test plays the skewed replica through the cache: refused when it tries to
//! take a shard's lease as pollcast does, it writes its own id anyway, the worst a replica
//! with a wrong idea of time could do.

use std::time::{Duration, Instant};

use local_momento::LocalMomentoConfig;
use momento::cache::{SetIfAbsentOrEqualResponse, SetIfEqualResponse, SetRequest};
use momento::CacheClient;
use pollcast::ingest::shards::{LEASE_TTL, ROUND_EVERY};
use pollcast::momento::keys::ingest_lease;

use super::{
    admin_of, assert_counted_once, names, operator_cache, replica, shard_of, shared_momento,
    stop_all, tally, until, votes_topic, VoteStream,
};
use crate::support::app::{a_poll, TestApp};

/// The id the skewed replica writes into the lease.
const THIEF: &str = "r-skewed-clock";
/// How long the stolen lease lives: the thief never renews it.
const STOLEN_FOR: Duration = Duration::from_secs(5);

/// Shards a replica reads now.
async fn held(app: &TestApp) -> u64 {
    app.metrics().await.get("ingest_shards_held", None)
}

/// A replica's lease changes of one kind (`acquired`, `released`, `lost`) so far.
async fn changes(app: &TestApp, change: &str) -> u64 {
    let metrics = app.metrics().await;
    metrics.get("ingest_lease_changes_total", Some(("change", change)))
}

/// Who holds the lease of `shard` (`None`: free or expired).
async fn holder(cache: &CacheClient, shard: u32) -> Option<String> {
    let value = cache
        .get("pollcast", ingest_lease(shard))
        .await
        .expect("a lease read");
    match value {
        momento::cache::GetResponse::Hit { value } => {
            Some(String::try_from(value).expect("UTF-8")).filter(|id| id != "-")
        }
        momento::cache::GetResponse::Miss => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_stolen_by_a_skewed_replica_is_given_up_and_taken_back_without_losing_a_vote() {
    // Arrange: two replicas share 4 shards; votes on one poll (one shard) stream in.
    let momento = shared_momento(LocalMomentoConfig::default()).await;
    let (a, b) = (replica(&momento, 4).await, replica(&momento, 4).await);
    until(30, "the shards to be shared", || async {
        let (on_a, on_b) = (held(&a).await, held(&b).await);
        on_a + on_b == 4 && on_a > 0 && on_b > 0
    })
    .await;
    let poll = a.open_poll(&a_poll()).await;
    let tokens = a.tokens_for(&poll, &names("v", 500)).await;
    let shard = shard_of(&votes_topic(&tokens[0]));
    let stream = VoteStream::start(momento.grpc_endpoint(), &tokens, Duration::from_millis(20));
    stream.until_more(20).await;
    let cache = operator_cache(&momento);
    let owner = holder(&cache, shard).await.expect("the shard is held");

    // Act: the skewed replica tries to take the lease as pollcast does (refused: it is held,
    // whatever the thief's clock says), then writes its own id anyway.
    let taken = cache
        .set_if_absent_or_equal("pollcast", ingest_lease(shard), THIEF, "-")
        .await
        .expect("a compare-and-set");
    assert_eq!(
        taken,
        SetIfAbsentOrEqualResponse::NotStored,
        "held by {owner}"
    );
    let steal = SetRequest::new("pollcast", ingest_lease(shard), THIEF).ttl(STOLEN_FOR);
    let stolen_at = Instant::now();
    cache.send_request(steal).await.expect("a plain write");
    let published_at_theft = stream.published();

    // Assert: the holder finds out at its next renewal and stops that shard's reader; nobody
    // reads the shard while the thief holds it.
    until(10, "the holder to find its lease lost", || async {
        changes(&a, "lost").await + changes(&b, "lost").await == 1
    })
    .await;
    let noticed = stolen_at.elapsed();
    assert!(
        noticed <= ROUND_EVERY + Duration::from_secs(2),
        "{noticed:?}"
    );
    until(5, "the holder to count one shard fewer", || async {
        held(&a).await + held(&b).await == 3
    })
    .await;
    assert_eq!(holder(&cache, shard).await.as_deref(), Some(THIEF));

    // ... and when Momento expires the thief's lease (it never renews), a replica takes the
    // shard back, resuming where the stopped reader left off; the thief cannot renew it then.
    until(20, "a replica to take the shard back", || async {
        let back = holder(&cache, shard).await.is_some_and(|id| id != THIEF);
        back && held(&a).await + held(&b).await == 4
    })
    .await;
    let taken_back = stolen_at.elapsed();
    let unread_while_stolen = stream.published() - published_at_theft;
    let renewed = cache
        .set_if_equal("pollcast", ingest_lease(shard), THIEF, THIEF)
        .await
        .expect("a compare-and-set");
    assert_eq!(
        renewed,
        SetIfEqualResponse::NotStored,
        "expired with its TTL"
    );
    assert!(taken_back >= STOLEN_FOR, "{taken_back:?}");
    assert!(taken_back < STOLEN_FOR + LEASE_TTL, "{taken_back:?}");
    assert!(unread_while_stolen > 0, "votes were published meanwhile");
    stream.until_more(20).await;
    let acknowledged = stream.finish().await;

    // Every acknowledged vote counts once, on both replicas.
    let (counts, voters) = tally(&acknowledged, &poll);
    assert_eq!(voters.len(), acknowledged.len());
    let replicas = [admin_of(&a), admin_of(&b)];
    assert_counted_once(&replicas, &cache, &poll, &voters, &counts).await;
    println!(
        "lease stolen: the holder let go after {noticed:?}; taken back after {taken_back:?} \
         ({STOLEN_FOR:?} stolen lease); {unread_while_stolen} of {} votes published meanwhile",
        voters.len()
    );
    stop_all([a, b]).await;
    momento.shutdown().await;
}
