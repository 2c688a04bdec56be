//! Read-modify-write calls racing on one key from many tasks and connections: each is atomic.

use futures::future::join_all;
use momento::cache::SetIfAbsentResponse;

use crate::helpers::{TestMomento, CACHE};

const TASKS: usize = 8;
const CALLS_PER_TASK: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_set_if_absent_on_one_key_store_exactly_once() {
    let m = TestMomento::start().await;
    let racers = (0..TASKS).map(|task| {
        // One client per task: separate connections, so the calls truly race on the server.
        let cache = m.cache_client(m.super_user());
        tokio::spawn(async move {
            let mut stored = Vec::new();
            for call in 0..CALLS_PER_TASK {
                let value = format!("{task}-{call}");
                let response = cache.set_if_absent(CACHE, "ballot", value.as_str()).await;
                if response.expect("set_if_absent") == SetIfAbsentResponse::Stored {
                    stored.push(value);
                }
            }
            stored
        })
    });
    let stored: Vec<String> = join_all(racers)
        .await
        .into_iter()
        .flat_map(|task| task.expect("task completes"))
        .collect();
    assert_eq!(stored.len(), 1, "exactly one Stored: {stored:?}");
    assert_eq!(m.get_text("ballot").await, Some(stored[0].clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_increments_add_up_exactly() {
    let m = TestMomento::start().await;
    let racers = (0..TASKS).map(|task| {
        let cache = m.cache_client(m.super_user());
        tokio::spawn(async move {
            for _ in 0..CALLS_PER_TASK {
                cache
                    .increment(CACHE, "n", task as i64 + 1)
                    .await
                    .expect("increment");
            }
        })
    });
    for task in join_all(racers).await {
        task.expect("task completes");
    }
    let expected: usize = (1..=TASKS).sum::<usize>() * CALLS_PER_TASK;
    assert_eq!(m.get_text("n").await, Some(expected.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_dictionary_increments_add_up_exactly_per_field() {
    let m = TestMomento::start().await;
    let racers = (0..TASKS).map(|task| {
        let cache = m.cache_client(m.super_user());
        tokio::spawn(async move {
            for call in 0..CALLS_PER_TASK {
                let field = if (task + call) % 2 == 0 {
                    "even"
                } else {
                    "odd"
                };
                cache
                    .dictionary_increment(CACHE, "tally", field, 1)
                    .await
                    .expect("dictionary_increment");
                cache
                    .dictionary_increment(CACHE, "tally", "_ballots", 1)
                    .await
                    .expect("dictionary_increment");
            }
        })
    });
    for task in join_all(racers).await {
        task.expect("task completes");
    }
    let cache = m.cache_client(m.super_user());
    let momento::cache::DictionaryFetchResponse::Hit { value } =
        cache.dictionary_fetch(CACHE, "tally").await.unwrap()
    else {
        panic!("the tally exists");
    };
    let tally: std::collections::HashMap<String, String> = value.try_into().unwrap();
    let count = |field: &str| tally[field].parse::<usize>().unwrap();
    assert_eq!(count("_ballots"), TASKS * CALLS_PER_TASK);
    assert_eq!(count("even") + count("odd"), TASKS * CALLS_PER_TASK);
    assert_eq!(count("even"), TASKS * CALLS_PER_TASK / 2);
}
