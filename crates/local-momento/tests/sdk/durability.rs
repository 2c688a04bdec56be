//! A local Momento with a data dir: what it held survives a restart (with a final snapshot, and
//! without one, replaying the journal), its data dir is locked, and a damaged or foreign data
//! dir is refused with an error rather than started empty.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use local_momento::{
    FsyncPolicy, LocalMomento, LocalMomentoConfig, Persistence, RetryPolicy, Webhook,
};
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::cache::{
    CollectionTtl, DictionaryFetchResponse, DictionaryIncrementRequest, IncrementRequest,
    ItemGetTtlResponse, SetRequest,
};
use momento::topics::SubscribeRequest;
use poem::http::StatusCode;

use crate::helpers::{serve_http, within, TestMomento, CACHE};

fn durable(dir: &Path) -> LocalMomentoConfig {
    durable_with(dir, FsyncPolicy::Always)
}

fn durable_with(dir: &Path, fsync: FsyncPolicy) -> LocalMomentoConfig {
    LocalMomentoConfig {
        persistence: Persistence::Durable {
            dir: dir.to_owned(),
            fsync,
        },
        ..LocalMomentoConfig::default()
    }
}

/// A restarted server with the old super-user key (which must still work).
async fn restart(key: &str, config: LocalMomentoConfig) -> TestMomento {
    let mut m = TestMomento::start_with(config).await;
    m.key = key.to_owned();
    m
}

/// What a test wrote before the restart, checked after it.
async fn write_state(m: &TestMomento) {
    let cache = m.cache_client(m.super_user());
    cache
        .send_request(SetRequest::new(CACHE, "scalar", "value").ttl(Duration::from_secs(600)))
        .await
        .unwrap();
    cache
        .send_request(IncrementRequest::new(CACHE, "counter", 41).ttl(Duration::from_secs(600)))
        .await
        .unwrap();
    cache
        .dictionary_set_field(CACHE, "dict", "f1", "v1")
        .await
        .unwrap();
    cache
        .send_request(
            DictionaryIncrementRequest::new(CACHE, "dict", "hits", 6)
                .ttl(CollectionTtl::refresh_on_update(Duration::from_secs(600))),
        )
        .await
        .unwrap();
    cache.set(CACHE, "to-delete", "x").await.unwrap();
    cache.delete(CACHE, "to-delete").await.unwrap();
    let topics = m.topic_client(m.super_user());
    for n in 1..=5 {
        topics
            .publish(CACHE, "events", format!("m{n}"))
            .await
            .unwrap();
    }
}

async fn check_state(m: &TestMomento) {
    let cache = m.cache_client(m.super_user());
    assert_eq!(m.get_text("scalar").await.as_deref(), Some("value"));
    assert_eq!(m.get_text("to-delete").await, None, "a delete survives too");
    match cache.item_get_ttl(CACHE, "scalar").await.unwrap() {
        ItemGetTtlResponse::Hit { remaining_ttl } => assert!(
            remaining_ttl > Duration::from_secs(500) && remaining_ttl <= Duration::from_secs(600),
            "the remaining TTL is kept: {remaining_ttl:?}"
        ),
        ItemGetTtlResponse::Miss => panic!("the scalar lost its TTL"),
    }
    let counter = cache
        .send_request(IncrementRequest::new(CACHE, "counter", 1))
        .await
        .unwrap();
    assert_eq!(counter.value, 42, "a counter continues where it was");
    match cache.dictionary_fetch(CACHE, "dict").await.unwrap() {
        DictionaryFetchResponse::Hit { value } => {
            let fields: std::collections::HashMap<String, String> = value.try_into().unwrap();
            assert_eq!(fields.get("f1").map(String::as_str), Some("v1"));
            assert_eq!(fields.get("hits").map(String::as_str), Some("6"));
        }
        DictionaryFetchResponse::Miss => panic!("the dictionary is gone"),
    }
}

/// The texts a subscription resuming at `resume_at` on `page` gets, up to `count` items.
async fn resumed_texts(m: &TestMomento, resume_at: u64, page: u64, count: usize) -> Vec<String> {
    let topics = m.topic_client(m.super_user());
    let subscription = topics
        .send_request(SubscribeRequest::new(
            CACHE.to_owned(),
            "events".to_owned(),
            Some(resume_at),
            Some(page),
        ))
        .await
        .unwrap();
    let items: Vec<_> = within(10, "the resumed items", subscription.take(count).collect()).await;
    items
        .into_iter()
        .map(|item| {
            format!(
                "{}@{}:{}",
                String::try_from(item.clone()).unwrap(),
                item.topic_sequence_page,
                item.topic_sequence_number
            )
        })
        .collect()
}

/// The page of the `events` topic, from the first message a fresh subscription replays.
async fn page_of_events(m: &TestMomento) -> u64 {
    let topics = m.topic_client(m.super_user());
    let mut subscription = topics
        .send_request(SubscribeRequest::new(
            CACHE.to_owned(),
            "events".to_owned(),
            None,
            None,
        ))
        .await
        .unwrap();
    topics.publish(CACHE, "events", "probe").await.unwrap();
    within(10, "the probe", subscription.next())
        .await
        .unwrap()
        .topic_sequence_page
}

#[tokio::test]
async fn caches_items_ttls_counters_dictionaries_and_topics_survive_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    write_state(&m).await;
    let page = page_of_events(&m).await; // message 6: "probe"
    let token = m
        .mint(
            PermissionScopes::topic_publish_subscribe(CACHE, "events"),
            ExpiresIn::minutes(10),
            "voter-1",
        )
        .await;
    let key = m.key.clone();
    m.server.shutdown().await;

    let m = restart(&key, durable(dir.path())).await;
    check_state(&m).await;
    assert_eq!(
        resumed_texts(&m, 4, page, 3).await,
        [
            format!("m4@{page}:4"),
            format!("m5@{page}:5"),
            format!("probe@{page}:6")
        ],
        "the page, the numbering and the history survive"
    );
    // A token minted before the restart still works, and numbering continues.
    let voter = m.topic_client(m.token(&token));
    let mut subscription = voter
        .send_request(SubscribeRequest::new(
            CACHE.to_owned(),
            "events".to_owned(),
            None,
            None,
        ))
        .await
        .unwrap();
    voter.publish(CACHE, "events", "after").await.unwrap();
    let item = within(10, "the new message", subscription.next())
        .await
        .unwrap();
    assert_eq!(
        (item.topic_sequence_page, item.topic_sequence_number),
        (page, 7)
    );
    assert_eq!(item.publisher_id, "voter-1");
    let recovery = m.server.recovery().unwrap();
    assert_eq!(
        recovery.journal_bytes, 0,
        "a clean stop leaves a snapshot and nothing to replay: {recovery:?}"
    );
}

#[tokio::test]
async fn without_a_final_snapshot_the_journal_is_replayed_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    write_state(&m).await;
    let key = m.key.clone();
    m.server.stop_without_snapshot().await;

    let m = restart(&key, durable(dir.path())).await;
    check_state(&m).await;
    let recovery = m.server.recovery().unwrap();
    assert!(recovery.journal_bytes > 0, "{recovery:?}");
    assert_eq!(recovery.snapshot, None, "{recovery:?}");
}

#[tokio::test]
async fn a_snapshot_taken_while_writes_go_on_plus_the_journal_gives_the_exact_state() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    let cache = m.cache_client(m.super_user());
    let topics = m.topic_client(m.super_user());
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (cache, topics) = (cache.clone(), topics.clone());
            tokio::spawn(async move {
                for n in 0..200 {
                    cache
                        .set(CACHE, format!("k{w}-{}", n % 50), format!("{w}-{n}"))
                        .await
                        .unwrap();
                    cache
                        .dictionary_set_field(
                            CACHE,
                            format!("d{}", n % 5),
                            format!("w{w}"),
                            n.to_string(),
                        )
                        .await
                        .unwrap();
                    topics
                        .publish(CACHE, format!("t{w}"), format!("{n}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for _ in 0..5 {
        m.server.compact().await.unwrap();
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let before = observe(&m, &cache).await;
    let key = m.key.clone();
    m.server.stop_without_snapshot().await;

    let m = restart(&key, durable(dir.path())).await;
    let cache = m.cache_client(m.super_user());
    assert_eq!(observe(&m, &cache).await, before);
    assert!(m.server.recovery().unwrap().snapshot.is_some());
}

/// Every key, dictionary and topic the concurrent-writes test touched, as text.
async fn observe(m: &TestMomento, cache: &momento::CacheClient) -> Vec<String> {
    let mut seen = Vec::new();
    for w in 0..8 {
        for k in 0..50 {
            seen.push(format!(
                "k{w}-{k}={:?}",
                m.get_text(&format!("k{w}-{k}")).await
            ));
        }
        seen.push(last_message(m, &format!("t{w}")).await);
    }
    for d in 0..5 {
        match cache
            .dictionary_fetch(CACHE, format!("d{d}"))
            .await
            .unwrap()
        {
            DictionaryFetchResponse::Hit { value } => {
                let fields: std::collections::HashMap<String, String> = value.try_into().unwrap();
                let fields: std::collections::BTreeMap<_, _> = fields.into_iter().collect();
                seen.push(format!("d{d}={fields:?}"));
            }
            DictionaryFetchResponse::Miss => seen.push(format!("d{d}=missing")),
        }
    }
    seen
}

/// A topic's page, next sequence number and every message it holds, read over the HTTP
/// topics API without publishing: a resume on page 0 answers a discontinuity naming the page
/// and the next number; resuming at 1 on that page replays the history in order.
async fn last_message(m: &TestMomento, topic: &str) -> String {
    let base = m.serve_http_api().await;
    let http = reqwest::Client::new();
    let poll = |number: u64, page: u64| {
        let request = http
            .get(format!("{base}/topics/{CACHE}/{topic}"))
            .query(&[("sequence_number", number), ("sequence_page", page)])
            .header("Authorization", m.key.clone());
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["items"].as_array().unwrap().clone()
        }
    };
    let gap = poll(1, 0).await;
    let page = gap[0]["discontinuity"]["new_sequence_page"]
        .as_u64()
        .unwrap();
    let next = gap[0]["discontinuity"]["new_topic_sequence"]
        .as_u64()
        .unwrap();
    let mut history = Vec::new();
    let mut at = 1;
    while at < next {
        for element in poll(at, page).await {
            let item = &element["item"];
            assert_eq!(
                item["topic_sequence_number"].as_u64(),
                Some(at),
                "{element}"
            );
            history.push(item["value"]["text"].as_str().unwrap().to_owned());
            at += 1;
        }
    }
    format!("{topic}: page {page}, next {next}, history {history:?}")
}

#[tokio::test]
async fn the_webhook_outbox_survives_a_restart_and_is_delivered_afterwards() {
    // Down: every delivery fails.
    let down = serve_http(poem::endpoint::make(|_| async {
        StatusCode::SERVICE_UNAVAILABLE
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = |url: &str| LocalMomentoConfig {
        webhook_retry: RetryPolicy::until_delivered(),
        webhooks: vec![Webhook {
            name: "hook".into(),
            cache: CACHE.into(),
            topic: "votes".into(),
            url: format!("{url}/hook"),
            secret: "s3cret".to_owned().into(),
        }],
        ..durable(dir.path())
    };
    let m = TestMomento::start_with(config(&down)).await;
    let publisher = m.topic_client(m.super_user());
    for n in 1..=20 {
        publisher
            .publish(CACHE, "votes", format!("v{n}"))
            .await
            .unwrap();
    }
    assert_eq!(m.server.webhook_stats().outbox_depth, 20);
    let key = m.key.clone();
    m.server.shutdown().await;

    // Up: the same webhook (cache and name) now points at a receiver that answers.
    let received = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let seen = received.clone();
    let up = serve_http(poem::endpoint::make(move |mut request: poem::Request| {
        let seen = seen.clone();
        async move {
            let body: serde_json::Value =
                serde_json::from_slice(&request.take_body().into_vec().await.unwrap()).unwrap();
            seen.lock()
                .unwrap()
                .push(body["topic_sequence_number"].as_u64().unwrap());
            StatusCode::OK
        }
    }))
    .await;
    let m = restart(&key, config(&up)).await;
    assert!(m.server.recovery().unwrap().records > 0);
    within(30, "every event to be delivered", async {
        while m.server.webhook_stats().outbox_depth > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let mut got = received.lock().unwrap().clone();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (1..=20).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalMomento::start(durable(dir.path())).await.unwrap();
    let error = LocalMomento::start(durable(dir.path()))
        .await
        .err()
        .expect("the second start fails");
    let message = format!("{error:#}");
    assert!(
        message.contains("in use by another process")
            && message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    first.shutdown().await;
    // Released at shutdown.
    LocalMomento::start(durable(dir.path()))
        .await
        .unwrap()
        .shutdown()
        .await;
}

#[tokio::test]
async fn a_data_dir_from_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("FORMAT"), "local-momento 999\n").unwrap();
    let error = LocalMomento::start(durable(dir.path()))
        .await
        .err()
        .unwrap();
    let message = format!("{error:#}");
    assert!(message.contains("newer version"), "{message}");
}

/// The files of a data dir whose names start with `prefix`.
fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    files.sort();
    files
}

/// Flips one bit in the middle of `path`.
fn flip_a_bit_in_the_middle(path: &Path, bit: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    // The middle of what was written (a journal segment's reserved space is zeros after it).
    let written = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    let middle = written / 2;
    bytes[middle] ^= bit;
    std::fs::write(path, bytes).unwrap();
}

/// The error of a start on `dir`, as text.
async fn start_error(dir: &Path) -> String {
    let error = LocalMomento::start(durable(dir)).await.err().unwrap();
    format!("{error:#}")
}

#[tokio::test]
async fn a_damaged_snapshot_stops_the_start_instead_of_an_empty_start() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    write_state(&m).await;
    m.server.shutdown().await;
    let snapshot = files(dir.path(), "snapshot-").pop().expect("a snapshot");
    flip_a_bit_in_the_middle(&snapshot, 0x40);

    let message = start_error(dir.path()).await;
    assert!(
        message.contains("damaged") && message.contains(&snapshot.display().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_every_acknowledged_write_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    let cache = m.cache_client(m.super_user());
    for n in 0..100 {
        cache
            .set(CACHE, format!("k{n}"), format!("v{n}"))
            .await
            .unwrap();
    }
    let key = m.key.clone();
    m.server.stop_without_snapshot().await;
    // A crash in the middle of writing the next batch: part of a frame after the last record
    // (in the space the segment reserved ahead, which reads as zeros).
    let segment = files(dir.path(), "journal-").pop().unwrap();
    let end = records_end(&segment);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[57, 0, 0, 0, 1, 2, 3, 4, 5, 6], end).unwrap();
    drop(file);

    let m = restart(&key, durable(dir.path())).await;
    let cut = m.server.recovery().unwrap().torn_tail_bytes;
    let size = std::fs::metadata(&segment).map_or(0, |m| m.len());
    assert!(
        cut.is_some_and(|cut| cut >= 10) && size == end,
        "the torn frame and what followed it are cut off, back to the last record: cut {cut:?}, \
         the segment now {size} bytes, its records end at {end}"
    );
    for n in 0..100 {
        assert_eq!(m.get_text(&format!("k{n}")).await, Some(format!("v{n}")));
    }
}

/// Where the records of a journal segment end: after its 12-byte header, frames of
/// `[payload length: u32 LE][crc32: u32 LE][payload]`, until the end or reserved space (zeros).
fn records_end(segment: &std::path::Path) -> u64 {
    let bytes = std::fs::read(segment).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 8 + len;
    }
    at as u64
}

#[tokio::test]
async fn damage_in_the_middle_of_the_journal_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    let cache = m.cache_client(m.super_user());
    for n in 0..100 {
        cache.set(CACHE, format!("k{n}"), "v").await.unwrap();
    }
    m.server.stop_without_snapshot().await;
    let segment = files(dir.path(), "journal-")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    flip_a_bit_in_the_middle(&segment, 0x01);

    let message = start_error(dir.path()).await;
    assert!(
        message.contains("damaged") && message.contains("truncate"),
        "{message}"
    );
}

#[tokio::test]
async fn every_fsync_policy_keeps_what_was_written_across_a_restart() {
    for fsync in [
        FsyncPolicy::Always,
        FsyncPolicy::EverySec,
        FsyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let m = TestMomento::start_with(durable_with(dir.path(), fsync)).await;
        write_state(&m).await;
        let key = m.key.clone();
        m.server.stop_without_snapshot().await;
        let m = restart(&key, durable_with(dir.path(), fsync)).await;
        check_state(&m).await;
        m.server.shutdown().await;
    }
}

#[tokio::test]
async fn concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let m = TestMomento::start_with(durable(dir.path())).await;
    let cache = m.cache_client(m.super_user());
    let done = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let (cache, done) = (cache.clone(), done.clone());
            tokio::spawn(async move {
                for n in 0..20 {
                    cache.set(CACHE, format!("w{w}-{n}"), "v").await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let stats = m.server.journal_stats().unwrap();
    assert_eq!(done.load(Ordering::Relaxed), 1280);
    assert!(
        stats.commits < stats.records,
        "64 concurrent writers must share fsyncs: {stats:?}"
    );
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    for unusable in [file.join("data"), file.clone()] {
        let error = LocalMomento::start(durable(&unusable)).await.err().unwrap();
        let message = format!("{error:#}");
        assert!(
            message.contains(&unusable.display().to_string()),
            "the error names the path: {message}"
        );
    }
}
