//! Recount: `POST /v1/polls/{id}/recount` and `pollcast recount POLL_ID` rebuild a poll's
//! counts from its stored ballots, report any difference from the published results, and
//! publish the recount when they differ.

use std::time::Duration;

use momento::cache::{configurations, SetRequest};
use momento::{CacheClient, CredentialProvider};
use serde_json::{json, Value};

use crate::support::app::{a_poll, spawn_app, status_and_json, Caller, TestApp, ADMIN_KEY};
use crate::support::voting::vote;

/// A poll with three counted ballots (o1, o1, o2); returns its id.
async fn poll_with_three_ballots(app: &TestApp) -> String {
    let id = app.open_poll(&a_poll()).await;
    let names: Vec<String> = (0..3).map(|i| format!("v{i}")).collect();
    let tokens = app.tokens_for(&id, &names).await;
    for (token, choice) in tokens.iter().zip(["o1", "o1", "o2"]) {
        assert_eq!(app.publish_http(token, &vote(&id, &[choice])).await, 204);
    }
    // Published, not only counted on the fly: the snapshot holds the three ballots.
    app.results_when(&id, |r| r["ballots"] == 3 && r["seq"].as_u64() > Some(0))
        .await;
    id
}

async fn recount(app: &TestApp, id: &str, caller: Caller) -> (u16, Value) {
    let request = app.request(
        reqwest::Method::POST,
        &format!("/v1/polls/{id}/recount"),
        caller,
    );
    status_and_json(request.send().await.unwrap()).await
}

/// Overwrites the published snapshot with a stale one (what a lost publish leaves behind).
async fn stale_snapshot(app: &TestApp, id: &str) {
    let key = app.momento_key.as_deref().unwrap();
    let credentials = CredentialProvider::from_api_key_v2(key, "localhost")
        .unwrap()
        .full_endpoint_override(app.momento_grpc.as_deref().unwrap());
    let cache = CacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(configurations::Laptop::latest())
        .credential_provider(credentials)
        .build()
        .unwrap();
    let stale = json!({
        "poll_id": id, "state": "open", "seq": 1, "ballots": 1,
        "counts": {"o1": 1, "o2": 0}, "at": "2026-01-01T00:00:00Z"
    });
    cache
        .send_request(SetRequest::new(
            "pollcast",
            format!("results:{id}"),
            stale.to_string(),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_recount_of_results_that_match_the_ballots_reports_a_match_and_publishes_nothing() {
    let app = spawn_app().await;
    let id = poll_with_three_ballots(&app).await;
    let before = app.results(&id).await;

    let (status, report) = recount(&app, &id, Caller::Admin).await;

    assert_eq!(status, 200, "{report}");
    assert_eq!(report["matched"], true, "{report}");
    assert_eq!(report["republished"], false);
    assert_eq!(report["differences"], json!([]));
    assert_eq!(report["recounted"]["ballots"], 3);
    assert_eq!(report["recounted"]["seq"], before["seq"]);
    assert_eq!(
        app.results(&id).await["seq"],
        before["seq"],
        "nothing new was published"
    );
}

#[tokio::test]
async fn a_recount_finds_results_that_lag_the_ballots_reports_each_difference_and_publishes_the_count(
) {
    let app = spawn_app().await;
    let id = poll_with_three_ballots(&app).await;
    stale_snapshot(&app, &id).await;
    assert_eq!(
        app.results(&id).await["ballots"],
        1,
        "the stale snapshot is served"
    );

    let (status, report) = recount(&app, &id, Caller::Admin).await;

    assert_eq!(status, 200, "{report}");
    assert_eq!(report["matched"], false, "{report}");
    assert_eq!(report["republished"], true);
    assert_eq!(report["published"]["ballots"], 1);
    assert_eq!(report["recounted"]["ballots"], 3);
    assert_eq!(
        report["differences"],
        json!([
            {"option_id": "o1", "published": 1, "recounted": 2},
            {"option_id": "o2", "published": 0, "recounted": 1}
        ])
    );
    let served = app.results(&id).await;
    assert_eq!(served["ballots"], 3, "{served}");
    assert!(served["seq"].as_u64() > Some(1), "{served}");
}

#[tokio::test]
async fn only_admins_may_recount_and_an_unknown_poll_is_404() {
    let app = spawn_app().await;
    let id = poll_with_three_ballots(&app).await;
    for caller in [Caller::Anonymous, Caller::WrongKey] {
        let (status, body) = recount(&app, &id, caller).await;
        assert_eq!(status, 401, "{caller:?}: {body}");
    }
    let (status, body) = recount(&app, "nope1", Caller::Admin).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pollcast_recount_prints_the_differences_and_exits_2_then_0_once_corrected() {
    let app = spawn_app().await;
    let id = poll_with_three_ballots(&app).await;
    stale_snapshot(&app, &id).await;
    let run = || {
        let (url, id) = (app.address.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_pollcast"))
                .args(["recount", &id, "--url", &url, "--admin-key", ADMIN_KEY])
                .env_remove("POLLCAST_DATA_DIR")
                .output()
                .expect("pollcast recount runs")
        })
    };

    let first = run().await.unwrap();
    let printed = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("option o1: published 1, recounted 2"),
        "{printed}"
    );
    assert!(printed.contains("3 ballots"), "{printed}");

    let second = run().await.unwrap();
    let printed = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{printed}");
    assert!(printed.contains("match"), "{printed}");
}
