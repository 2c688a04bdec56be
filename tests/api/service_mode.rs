//! The SDK engine end to end: the `pollcast serve` binary against a standalone
//! `pollcast local-momento` process (Momento's service mode, with the official SDK), voters
//! publishing through that Momento's HTTP topics API with the tokens pollcast minted.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::process::{create, get_json, open, token, LocalMomentoProcess, Server};

#[tokio::test]
async fn a_serve_on_a_standalone_local_momento_counts_every_vote_through_the_sdk_engine() {
    let momento = LocalMomentoProcess::start(&["--in-memory"]).await;
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("serve.log");
    let flags = vec!["--in-memory".into()];
    let server = Server::start_with("127.0.0.1:0", &log, flags, &momento.serve_env()).await;
    let (http, base) = (reqwest::Client::new(), server.base.as_str());
    let poll = create(
        &http,
        base,
        json!({"title": "Engine?", "options": ["SDK", "Local"]}),
    )
    .await;
    open(&http, base, &poll).await;

    for i in 0..20 {
        let token = token(&http, base, &poll).await;
        let choice = &poll.options[i % 2];
        let published = http
            .post(format!(
                "{}/topics/pollcast/{}",
                momento.http,
                token["votes_topic"].as_str().unwrap()
            ))
            .header("Authorization", token["token"].as_str().unwrap())
            .header("Content-Type", "text/plain")
            .body(json!({"poll_id": poll.id, "choices": [choice]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), 204);
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let results = loop {
        let results = get_json(&http, base, &format!("/v1/polls/{}/results", poll.id)).await;
        if results["ballots"] == 20 {
            break results;
        }
        assert!(
            Instant::now() < deadline,
            "not every vote counted: {results}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(results["counts"], json!({"o1": 10, "o2": 10}), "{results}");
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("pollcast_votes_received_total{source=\"subscription\"} 20"),
        "service mode ingests by subscription: {metrics}"
    );
}
