//! Injected faults (`LocalMomento::faults`), as the official SDK sees them.

use std::time::{Duration, Instant};

use futures::future::join_all;
use local_momento::{Fault, FaultCode, Remaining};
use momento::MomentoErrorCode;

use crate::helpers::{status_message, TestMomento, CACHE};
use crate::topics::next_value;

#[tokio::test]
async fn the_next_two_sets_fail_as_server_unavailable_and_write_nothing_then_the_third_succeeds() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    m.server.faults().fail("Set", 2, FaultCode::Unavailable);

    for attempt in 1..=2 {
        let err = cache
            .set(CACHE, "k", format!("v{attempt}"))
            .await
            .expect_err("an injected failure");
        assert_eq!(
            err.error_code,
            MomentoErrorCode::ServerUnavailable,
            "{err:?}"
        );
        assert_eq!(
            status_message(&err),
            "injected fault on /cache_client.Scs/Set"
        );
        assert_eq!(m.get_text("k").await, None, "a failed Set wrote nothing");
    }
    cache.set(CACHE, "k", "v3").await.expect("the third Set");

    assert_eq!(m.get_text("k").await.as_deref(), Some("v3"));
    assert_eq!(m.server.faults().remaining("Set"), Remaining::Calls(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_faults_fail_exactly_three_of_ten_concurrent_sets() {
    let m = TestMomento::start().await;
    m.server.faults().fail("Set", 3, FaultCode::Unavailable);

    let calls = (0..10).map(|i| {
        // One client per call: separate connections, so the calls truly race on the server.
        let cache = m.cache_client(m.super_user());
        tokio::spawn(async move { cache.set(CACHE, format!("k{i}"), "v").await })
    });
    let results: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|call| call.expect("the task completes"))
        .collect();

    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 3, "{results:?}");
    assert!(failed
        .iter()
        .all(|err| err.error_code == MomentoErrorCode::ServerUnavailable));
    let mut written = 0;
    for i in 0..10 {
        written += usize::from(m.get_text(&format!("k{i}")).await.is_some());
    }
    assert_eq!(written, 7, "exactly the calls that succeeded wrote");
}

#[tokio::test]
async fn a_delayed_set_takes_at_least_the_delay_then_succeeds() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let delay = Duration::from_millis(300);
    m.server.faults().delay("Set", 1, delay);

    let started = Instant::now();
    cache.set(CACHE, "k", "v").await.expect("a delayed Set");

    assert!(started.elapsed() >= delay, "took {:?}", started.elapsed());
    assert_eq!(m.get_text("k").await.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_delayed_failure_waits_then_fails_with_its_own_message() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let delay = Duration::from_millis(200);
    m.server.faults().inject(
        "Increment",
        Fault::fail(FaultCode::Internal)
            .after(delay)
            .message("disk on fire"),
    );

    let started = Instant::now();
    let err = cache
        .increment(CACHE, "n", 1)
        .await
        .expect_err("an injected failure");

    assert!(started.elapsed() >= delay, "took {:?}", started.elapsed());
    assert_eq!(
        err.error_code,
        MomentoErrorCode::InternalServerError,
        "{err:?}"
    );
    assert_eq!(status_message(&err), "disk on fire");
    assert_eq!(
        m.get_text("n").await,
        None,
        "the failed increment applied nothing"
    );
}

#[tokio::test]
async fn a_fault_on_one_rpc_leaves_the_others_untouched() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "k", "before").await.expect("set");
    m.server
        .faults()
        .fail_always("DictionarySet", FaultCode::Unavailable);

    cache
        .set(CACHE, "k", "after")
        .await
        .expect("Set is untouched");
    cache.increment(CACHE, "n", 2).await.expect("Increment too");
    let err = cache
        .dictionary_set_field(CACHE, "d", "f", "v")
        .await
        .expect_err("DictionarySet fails");

    assert_eq!(
        err.error_code,
        MomentoErrorCode::ServerUnavailable,
        "{err:?}"
    );
    assert_eq!(m.get_text("k").await.as_deref(), Some("after"));
    assert_eq!(m.get_text("n").await.as_deref(), Some("2"));
    assert_eq!(
        m.server.faults().remaining("DictionarySet"),
        Remaining::Always
    );
}

#[tokio::test]
async fn clear_removes_pending_and_always_faults() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    m.server.faults().fail("Set", 5, FaultCode::Unavailable);
    m.server.faults().fail_always("Get", FaultCode::Internal);
    cache
        .set(CACHE, "k", "v")
        .await
        .expect_err("a pending fault");

    m.server.faults().clear();

    cache
        .set(CACHE, "k", "v")
        .await
        .expect("no fault left on Set");
    assert_eq!(m.get_text("k").await.as_deref(), Some("v"), "nor on Get");
    assert_eq!(m.server.faults().remaining("Set"), Remaining::Calls(0));
    assert_eq!(m.server.faults().remaining("Get"), Remaining::Calls(0));
}

#[tokio::test]
async fn a_subscribe_fault_fails_the_subscription_when_it_opens_and_the_next_one_works() {
    let m = TestMomento::start().await;
    let topics = m.topic_client(m.super_user());
    m.server
        .faults()
        .fail("Subscribe", 1, FaultCode::Unavailable);

    let err = topics
        .subscribe(CACHE, "t")
        .await
        .err()
        .expect("an injected failure");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::ServerUnavailable,
        "{err:?}"
    );

    let mut subscription = topics.subscribe(CACHE, "t").await.expect("subscribes");
    topics.publish(CACHE, "t", "hello").await.expect("publish");
    let value = next_value(&mut subscription).await;
    assert_eq!(value.topic_sequence_number, 1);
}

#[tokio::test]
async fn a_fault_targeted_by_full_path_hits_only_that_service_method() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let topics = m.topic_client(m.super_user());
    m.server
        .faults()
        .fail("/cache_client.Scs/Set", 1, FaultCode::Internal);
    m.server
        .faults()
        .fail("/some.Other/Publish", 1, FaultCode::Internal);

    topics
        .publish(CACHE, "t", "x")
        .await
        .expect("another service's path is untouched");
    let err = cache
        .set(CACHE, "k", "v")
        .await
        .expect_err("an injected failure");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::InternalServerError,
        "{err:?}"
    );
    cache
        .set(CACHE, "k", "v")
        .await
        .expect("the fault is used up");

    assert_eq!(m.get_text("k").await.as_deref(), Some("v"));
    assert_eq!(
        m.server.faults().remaining("/some.Other/Publish"),
        Remaining::Calls(1)
    );
}

#[tokio::test]
async fn a_write_that_lands_but_reports_failure_is_applied_and_answered_with_the_error() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    m.server
        .faults()
        .fail_after_applying("DictionarySet", 1, FaultCode::Unavailable);

    let err = cache
        .dictionary_set_fields(CACHE, "ledger", vec![("voter-1", "o2")])
        .await
        .expect_err("the answer is replaced by the failure");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::ServerUnavailable,
        "{err:?}"
    );
    // ...but the write landed.
    match cache
        .dictionary_get_field(CACHE, "ledger", "voter-1")
        .await
        .unwrap()
    {
        momento::cache::DictionaryGetFieldResponse::Hit { value } => {
            assert_eq!(String::try_from(value).unwrap(), "o2")
        }
        other => panic!("the write should have landed: {other:?}"),
    }
    assert_eq!(
        m.server.faults().remaining("DictionarySet"),
        Remaining::Calls(0)
    );
    // The next call is served and answered normally.
    cache
        .dictionary_set_fields(CACHE, "ledger", vec![("voter-2", "o1")])
        .await
        .expect("the next write");
}

#[tokio::test]
async fn a_read_whose_answer_is_held_back_returns_what_was_there_when_it_arrived() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "k", "before").await.expect("a Set");
    m.server
        .faults()
        .delay_answer("Get", 1, Duration::from_millis(300));

    // The read is served at once; a write lands while its answer is held back.
    let started = Instant::now();
    let read = cache.get(CACHE, "k");
    let write = async {
        // The fault is taken as the read arrives, and the read served right then.
        while m.server.faults().remaining("Get") != Remaining::Calls(0) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        cache.set(CACHE, "k", "after").await.expect("a Set")
    };
    let (read, _) = tokio::join!(read, write);

    assert!(started.elapsed() >= Duration::from_millis(300));
    match read.expect("the held-back read") {
        momento::cache::GetResponse::Hit { value } => {
            assert_eq!(String::try_from(value).unwrap(), "before")
        }
        other => panic!("expected a hit: {other:?}"),
    }
    assert_eq!(m.get_text("k").await.as_deref(), Some("after"));
}
