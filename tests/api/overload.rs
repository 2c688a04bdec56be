//! Answers, not queues: past its bounds the voter path refuses at once, with `Retry-After`,
//! before anything is done; nothing refused is counted and nothing acknowledged is lost.

use std::time::Duration;

use local_momento::{Fault, Remaining};
use reqwest::Response;
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, spawn_app_with, status_and_json, test_settings, within, Caller, TestApp,
};

/// How many voter requests were refused for `reason` (`busy`, `ingest_behind`), by request.
async fn refused(app: &TestApp, request: &str, reason: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let series = format!(
        "pollcast_voter_requests_refused_total{{reason=\"{reason}\",request=\"{request}\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// A refusal's `Retry-After`, in seconds, and its error code.
async fn retry_after(response: Response) -> (u16, u64, String) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    let (status, body) = status_and_json(response).await;
    (
        status,
        retry_after,
        body["error"].as_str().unwrap().to_owned(),
    )
}

fn vote_for(poll: &str, option: &str) -> String {
    json!({"poll_id": poll, "choices": [option]}).to_string()
}

#[tokio::test]
async fn past_max_in_flight_a_voter_request_gets_503_with_retry_after_and_nothing_is_done() {
    // Arrange: four voter requests at most, three of them token requests (voters starting);
    // three token requests held up in minting.
    let app = spawn_app_with(pollcast::config::ServeArgs {
        max_in_flight: 4,
        ..test_settings()
    })
    .await;
    let poll = app.open_poll(&a_poll()).await;
    let (voter, other) = (app.minted_token(&poll).await, app.minted_token(&poll).await);
    let faults = app.faults.clone().expect("the embedded local Momento");
    let slow_mint = Fault::delay(Duration::from_millis(800)).times(3);
    faults.inject("GenerateDisposableToken", slow_mint);
    let held: Vec<_> = (0..3)
        .map(|_| {
            let url = format!("{}/v1/polls/{poll}/tokens", app.address);
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    within(10, "the three mints to be held up", async {
        while faults.remaining("GenerateDisposableToken") != Remaining::Calls(0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // Act and assert: a fourth voter starting is refused; a voter with a token is not...
    let token = app.mint_token(&poll, None, Caller::Anonymous);
    let (status, wait, error) = retry_after(token.await).await;
    assert_eq!((status, wait, error.as_str()), (503, 1, "overloaded"));
    let slow = SlowPublish::start(&other, &vote_for(&poll, "o2")).await;
    app.metric_reaches(
        "voter_requests_in_flight",
        4,
        "the slow publish to take its place",
    )
    .await;
    // ...until all four places are taken: then a publish is refused too.
    let publish = publish_raw(&app, &voter, &vote_for(&poll, "o1")).await;
    let (status, wait, error) = retry_after(publish).await;
    assert_eq!((status, wait, error.as_str()), (503, 1, "overloaded"));
    assert_eq!(refused(&app, "token", "busy").await, 1);
    assert_eq!(refused(&app, "publish", "busy").await, 1);
    assert_eq!(
        slow.finish().await,
        204,
        "the requests in progress are served"
    );
    for held in held {
        assert_eq!(held.await.unwrap(), 201);
    }
    // Nothing of the refused publish was done: the voter's ballot is still to be cast...
    assert_eq!(app.ballot(&poll, &voter).await["status"], "pending");
    // ...and casting it again, once there is room, counts it once.
    assert_eq!(app.publish_http(&voter, &vote_for(&poll, "o1")).await, 204);
    app.ballot_once(&poll, &voter, "counted").await;
    let results = app.results_with(&poll, 2).await;
    assert_eq!(results["counts"], json!({"o1": 1, "o2": 1}), "{results}");
}

/// A publish whose headers arrive at once and whose body waits: it holds its place on the
/// voter path until [`SlowPublish::finish`].
struct SlowPublish {
    stream: tokio::net::TcpStream,
    body: Vec<u8>,
}

impl SlowPublish {
    async fn start(token: &Value, text: &str) -> Self {
        use tokio::io::AsyncWriteExt;
        let endpoint = token["http_endpoint"].as_str().unwrap();
        let host = endpoint.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!(
            "POST /topics/{}/{} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            token["cache"].as_str().unwrap(),
            token["votes_topic"].as_str().unwrap(),
            token["token"].as_str().unwrap(),
            text.len(),
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        Self {
            stream,
            body: text.as_bytes().to_vec(),
        }
    }

    /// Sends the body; the answer's status.
    async fn finish(mut self) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.body).await.unwrap();
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).await.unwrap();
        answer.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

/// Publishes `text` with `token` through the HTTP topics API; the whole answer.
async fn publish_raw(app: &TestApp, token: &Value, text: &str) -> Response {
    let url = format!(
        "{}/topics/{}/{}",
        token["http_endpoint"].as_str().unwrap(),
        token["cache"].as_str().unwrap(),
        token["votes_topic"].as_str().unwrap(),
    );
    app.http
        .post(url)
        .header("Authorization", token["token"].as_str().unwrap())
        .header("Content-Type", "text/plain")
        .body(text.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn while_the_pipeline_is_behind_votes_get_429_none_refused_is_counted_none_acknowledged_lost()
{
    // Arrange: at most 10 votes waiting for the pipeline; 30 voters with their tokens; then
    // every claim of the pipeline held up, so the votes published wait in the outbox.
    let app = spawn_app_with(pollcast::config::ServeArgs {
        max_ingest_backlog: 10,
        ..test_settings()
    })
    .await;
    let poll = app.open_poll(&a_poll()).await;
    let mut voters = Vec::new();
    for _ in 0..30 {
        voters.push(app.minted_token(&poll).await);
    }
    let faults = app.faults.clone().expect("the embedded local Momento");
    faults.inject("SetIf", Fault::delay(Duration::from_millis(1500)).always());

    // Act: every voter publishes, one after the other.
    let mut acknowledged = Vec::new();
    let mut turned_away = Vec::new();
    for (i, voter) in voters.iter().enumerate() {
        let option = ["o1", "o2"][i % 2];
        let response = publish_raw(&app, voter, &vote_for(&poll, option)).await;
        match response.status().as_u16() {
            204 => acknowledged.push((voter, option)),
            429 => {
                let (_, wait, error) = retry_after(response).await;
                assert!((1..=10).contains(&wait), "Retry-After {wait}");
                assert_eq!(error, "limit_exceeded");
                turned_away.push((voter, option));
            }
            other => panic!("a publish answered {other}"),
        }
    }
    faults.clear();

    // Assert: the first ten were taken, the rest refused; exactly the ten are counted.
    assert_eq!((acknowledged.len(), turned_away.len()), (10, 20));
    assert_eq!(refused(&app, "publish", "ingest_behind").await, 20);
    let results = app.results_with(&poll, 10).await;
    assert_eq!(results["counts"], json!({"o1": 5, "o2": 5}), "{results}");
    for (voter, _) in &acknowledged {
        app.ballot_once(&poll, voter, "counted").await;
    }
    for (voter, _) in &turned_away {
        assert_eq!(app.ballot(&poll, voter).await["status"], "pending");
    }

    // The refused voters try again, as told: each is counted once.
    for (voter, option) in &turned_away {
        assert_eq!(app.publish_http(voter, &vote_for(&poll, option)).await, 204);
    }
    let results = app.results_with(&poll, 30).await;
    assert_eq!(results["counts"], json!({"o1": 15, "o2": 15}), "{results}");
    for (voter, _) in &turned_away {
        app.ballot_once(&poll, voter, "counted").await;
    }
}
