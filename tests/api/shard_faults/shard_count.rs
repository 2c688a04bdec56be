//! A shard count changed between restarts is refused, not migrated: the votes of a cache are
//! spread over as many topics as its first replica said (recorded in the cache), and a start
//! asking for another count exits with an error naming both, since the votes on the topics one
//! count has and the other has not would never be read. Moving to another count takes a new
//! cache (`--cache`).

use std::process::{Command, Stdio};
use std::time::Duration;

use local_momento::LocalMomentoConfig;

use super::{serve_flags, serve_vars, shared_momento, signal, until};
use crate::support::process::{Server, ADMIN_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_shard_count_exits_naming_both_and_the_same_count_starts() {
    // Arrange: a replica with 4 shards records the count in the cache, then stops cleanly.
    let momento = shared_momento(LocalMomentoConfig::default()).await;
    let logs = tempfile::tempdir().unwrap();
    let vars = serve_vars(&momento);
    let log = logs.path().join("serve.log");
    let mut first = Server::start_with("127.0.0.1:0", &log, serve_flags(4), &vars).await;
    signal(&first, "TERM");
    until(30, "the first replica to stop", || {
        let exited = first.child.try_wait().expect("a status").is_some();
        async move { exited }
    })
    .await;

    // Act: a start on the same Momento and cache asks for 8.
    let mut refused = Command::new(env!("CARGO_BIN_EXE_pollcast"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY])
        .args(["--grpc-listen", "127.0.0.1:0"])
        .args(serve_flags(8))
        .env("RUST_LOG", "warn")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pollcast starts");
    let mut status = None;
    until(30, "the start with 8 shards to exit", || {
        status = refused.try_wait().expect("a status");
        let exited = status.is_some();
        async move { exited }
    })
    .await;

    // Assert: it exits non-zero, saying which count the cache has and which it asked for.
    let stderr = std::io::read_to_string(refused.stderr.take().unwrap()).unwrap();
    assert!(!status.unwrap().success(), "{stderr}");
    assert!(
        stderr.contains("spread over 4 topic(s), and this start asks for 8 (--vote-shards)"),
        "{stderr}"
    );
    assert!(stderr.contains("--vote-shards 4"), "{stderr}");
    // ... and a start with the count the cache has is served.
    let same = Server::start_with("127.0.0.1:0", &log, serve_flags(4), &vars).await;
    let ready = reqwest::Client::new()
        .get(format!("{}/readyz", same.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the replica answers");
    assert_eq!(ready.status(), 200);
    drop((first, same));
    momento.shutdown().await;
}
