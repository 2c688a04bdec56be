//! Server-Sent Events read event by event, and the streams and exports the tests read.

use reqwest::Method;
use serde_json::Value;

use crate::support::app::{send, status_and_json, within, Caller, TestApp};

/// An SSE response read event by event.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// Reads until the server ends the stream (within 10 s); returns what came until then.
    pub async fn end(mut self) -> String {
        within(10, "the stream to end", async {
            while let Some(chunk) = self.response.chunk().await.expect("the stream reads") {
                self.buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            }
        })
        .await;
        self.buffer
    }

    /// The next event whose data satisfies `done`, skipping the others.
    pub async fn until(&mut self, done: impl Fn(&Value) -> bool) -> (String, u64, Value) {
        loop {
            let event = self.next().await;
            if done(&event.2) {
                return event;
            }
        }
    }

    /// The next event's type, id and data (comments and keep-alives skipped), within 10 s.
    pub async fn next(&mut self) -> (String, u64, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|v| v.trim_start().to_owned())
                };
                if let Some(data) = field("data:") {
                    let kind = field("event:").unwrap_or_default();
                    let id = field("id:").expect("an id").parse().expect("a number");
                    return (kind, id, serde_json::from_str(&data).expect("JSON data"));
                }
                continue;
            }
            let chunk = within(10, "an SSE event", self.response.chunk())
                .await
                .expect("the stream reads")
                .expect("the stream stays open");
            let text = std::str::from_utf8(&chunk).expect("UTF-8");
            self.buffer.push_str(&text.replace("\r\n", "\n"));
        }
    }
}

impl TestApp {
    /// `GET /v1/polls/{id}/results/stream` as `caller`.
    pub async fn results_stream(&self, id: &str, caller: Caller) -> reqwest::Response {
        let path = format!("/v1/polls/{id}/results/stream");
        send(self.request(Method::GET, &path, caller)).await
    }

    /// `GET /v1/polls/{id}/results.csv` as `caller`.
    pub async fn results_csv(&self, id: &str, caller: Caller) -> reqwest::Response {
        let path = format!("/v1/polls/{id}/results.csv");
        send(self.request(Method::GET, &path, caller)).await
    }

    /// The CSV export of `id`, as the admin gets it.
    pub async fn csv_of(&self, id: &str) -> String {
        let response = self.results_csv(id, Caller::Admin).await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("a CSV body")
    }

    /// `method path` as the admin, with no body: the status and the JSON answer.
    pub async fn admin_call(&self, method: Method, path: &str) -> (u16, Value) {
        status_and_json(send(self.request(method, path, Caller::Admin)).await).await
    }
}
