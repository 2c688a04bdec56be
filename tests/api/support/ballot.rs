//! Helpers for what a voter sees of their vote: `GET /v1/polls/{id}/ballot` with the voter's
//! token, waited on until it says what a test expects.

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::support::app::{send, status_and_json, within, Caller, TestApp};

impl TestApp {
    /// `GET /v1/polls/{id}/ballot` with `Authorization: <authorization>`.
    pub async fn ballot_as(&self, id: &str, authorization: &str) -> Response {
        let path = format!("/v1/polls/{id}/ballot");
        send(
            self.request(Method::GET, &path, Caller::Anonymous)
                .header(AUTHORIZATION, authorization),
        )
        .await
    }

    /// The ballot status of the holder of `token` (a token response) on `id`; fails unless 200.
    pub async fn ballot(&self, id: &str, token: &Value) -> Value {
        let raw = token["token"].as_str().expect("a token");
        let (status, body) = status_and_json(self.ballot_as(id, raw).await).await;
        assert_eq!(status, 200, "ballot status of {id}: {body}");
        body
    }

    /// The ballot status once the voter's last attempt is `result` (`counted` or `rejected`;
    /// waits for the vote to be processed, at most 10 s).
    pub async fn ballot_once(&self, id: &str, token: &Value, result: &str) -> Value {
        within(10, &format!("the last attempt to be {result}"), async {
            loop {
                let ballot = self.ballot(id, token).await;
                if ballot["last_attempt"]["result"] == result {
                    return ballot;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

/// A vote message with a client `ref`.
pub fn vote_with_ref(poll: &str, choices: &[&str], vote_ref: &str) -> String {
    json!({ "poll_id": poll, "choices": choices, "ref": vote_ref }).to_string()
}
