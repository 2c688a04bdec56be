//! `spawn_app()`, the [`TestApp`] and its typed request helpers, and the tests' assertions.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pollcast::config::ServeArgs;
use pollcast::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The admin key test apps run with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The gRPC endpoint of the Momento the app talks to, when it is a local one (embedded, or
    /// shared through `momento_endpoint_override`); `None` against Momento's service.
    pub momento_grpc: Option<String>,
    /// A super-user key of that Momento (the embedded one's, or `momento_api_key`).
    pub momento_key: Option<String>,
    /// The fault switch of the embedded local Momento (`None` when the app uses another).
    pub faults: Option<local_momento::Faults>,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// How many votes topics the app's votes are spread over.
    pub vote_shards: u32,
    shutdown: CancellationToken,
    running: Option<JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `Authorization: Bearer <the admin key>`.
    Admin,
    /// No `Authorization` header.
    Anonymous,
    /// `Authorization: Bearer <a wrong key>`.
    WrongKey,
}

/// Every caller that is not the admin.
pub const NOT_ADMIN: [Caller; 2] = [Caller::Anonymous, Caller::WrongKey];

/// Default settings of a test app: port 0, the embedded local Momento, a known admin key.
pub fn test_settings() -> ServeArgs {
    ServeArgs {
        admin_key: Some(SecretString::from(ADMIN_KEY)),
        ..ServeArgs::new(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// Starts the application with [`test_settings`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

/// Starts the application with the given settings.
pub async fn spawn_app_with(settings: ServeArgs) -> TestApp {
    init_test_logging();
    let app = Application::build(settings)
        .await
        .expect("application builds");
    serve(app)
}

/// Runs a built application until the returned [`TestApp`] is dropped.
pub fn serve(app: Application) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    let settings = &app.state().settings;
    let (momento_grpc, momento_key) = match app.local_momento_grpc() {
        Some(grpc) => (
            Some(grpc),
            app.local_momento_key()
                .map(|k| k.expose_secret().to_owned()),
        ),
        // Momento's service, or a shared local Momento through the endpoint override.
        None => (
            settings.momento_endpoint_override.clone(),
            settings
                .momento_api_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
        ),
    };
    let faults = app.local_momento_faults();
    let vote_shards = app.state().vote_shards.count();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let running = tokio::spawn(async move {
        app.run_until_stopped(async move { stop.cancelled().await })
            .await
            .expect("application runs");
    });
    TestApp {
        address,
        momento_grpc,
        momento_key,
        faults,
        http: reqwest::Client::new(),
        vote_shards,
        shutdown,
        running: Some(running),
    }
}

impl TestApp {
    /// Stops the application (its HTTP server and background tasks) and waits until it has.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let running = self.running.take().expect("the app runs until stopped");
        drop(self); // closes the client's connections, so the server need not wait for them
        within(10, "the app to stop", running)
            .await
            .expect("the app stops cleanly");
    }

    /// A request to `path` (relative to the app) made by `caller`.
    pub fn request(&self, method: Method, path: &str, caller: Caller) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.address));
        match caller {
            Caller::Admin => request.bearer_auth(ADMIN_KEY),
            Caller::Anonymous => request,
            Caller::WrongKey => request.bearer_auth("not-the-admin-key-at-all"),
        }
    }

    /// GET `path` (relative to the app).
    pub async fn get(&self, path: &str) -> Response {
        send(self.request(Method::GET, path, Caller::Anonymous)).await
    }

    /// `POST /v1/polls` as the admin.
    pub async fn create_poll(&self, body: &Value) -> Response {
        self.create_poll_as(body, Caller::Admin).await
    }

    /// `POST /v1/polls` as `caller`.
    pub async fn create_poll_as(&self, body: &Value, caller: Caller) -> Response {
        send(self.request(Method::POST, "/v1/polls", caller).json(body)).await
    }

    /// Creates a poll as the admin and returns it, failing the test unless it answers 201.
    pub async fn created_poll(&self, body: &Value) -> Value {
        let (status, poll) = status_and_json(self.create_poll(body).await).await;
        assert_eq!(status, 201, "creating {body}: {poll}");
        poll
    }

    /// A new poll (from `body`), opened by the admin; returns its id.
    pub async fn open_poll(&self, body: &Value) -> String {
        let id = id_of(&self.created_poll(body).await);
        let (status, poll) = status_and_json(self.transition(&id, "open").await).await;
        assert_eq!(status, 200, "opening {id}: {poll}");
        id
    }

    /// `GET /v1/polls/{id}` (anyone).
    pub async fn get_poll(&self, id: &str) -> Response {
        self.get(&format!("/v1/polls/{id}")).await
    }

    /// `GET /v1/polls{query}` as `caller`, e.g. `query = "?limit=2"`.
    pub async fn list_polls_as(&self, query: &str, caller: Caller) -> Response {
        send(self.request(Method::GET, &format!("/v1/polls{query}"), caller)).await
    }

    /// `GET /v1/polls{query}` as the admin.
    pub async fn list_polls(&self, query: &str) -> Response {
        self.list_polls_as(query, Caller::Admin).await
    }

    /// Every poll, as the admin list shows them, newest first (follows `next_cursor`).
    pub async fn all_polls(&self) -> Vec<Value> {
        let mut polls = Vec::new();
        let mut query = "?limit=200".to_owned();
        loop {
            let (status, page) = status_and_json(self.list_polls(&query).await).await;
            assert_eq!(status, 200, "listing polls: {page}");
            polls.extend(page["polls"].as_array().expect("polls is a list").clone());
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit=200&cursor={cursor}"),
                None => return polls,
            }
        }
    }

    /// The poll `id` as the admin list shows it (stored fields: `version`, `max_voters`, ...).
    pub async fn listed_poll(&self, id: &str) -> Value {
        self.all_polls()
            .await
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("poll {id} is not listed"))
    }

    /// `POST /v1/polls/{id}/{event}` as the admin (`schedule` needs [`TestApp::schedule`]).
    pub async fn transition(&self, id: &str, event: &str) -> Response {
        self.transition_as(id, event, Caller::Admin).await
    }

    /// `POST /v1/polls/{id}/{event}` as `caller`.
    pub async fn transition_as(&self, id: &str, event: &str, caller: Caller) -> Response {
        let path = format!("/v1/polls/{id}/{event}");
        let request = self.request(Method::POST, &path, caller);
        let request = if event == "schedule" {
            request.json(&json!({ "opens_at": in_seconds(3600) }))
        } else {
            request
        };
        send(request).await
    }

    /// `POST /v1/polls/{id}/schedule` with `body`, as the admin.
    pub async fn schedule(&self, id: &str, body: &Value) -> Response {
        let path = format!("/v1/polls/{id}/schedule");
        send(self.request(Method::POST, &path, Caller::Admin).json(body)).await
    }

    /// `POST /v1/polls/{id}/tokens` as `caller`, with `body` as JSON or no body at all.
    pub async fn mint_token(&self, id: &str, body: Option<&Value>, caller: Caller) -> Response {
        let request = self.request(Method::POST, &format!("/v1/polls/{id}/tokens"), caller);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        send(request).await
    }

    /// A token for the open poll `id`, as anyone gets it; fails the test unless 201.
    pub async fn minted_token(&self, id: &str) -> Value {
        let (status, token) =
            status_and_json(self.mint_token(id, None, Caller::Anonymous).await).await;
        assert_eq!(status, 201, "minting a token for {id}: {token}");
        token
    }

    /// `POST /v1/polls/{id}/tokens/batch` as `caller`.
    pub async fn mint_tokens(&self, id: &str, body: &Value, caller: Caller) -> Response {
        let path = format!("/v1/polls/{id}/tokens/batch");
        send(self.request(Method::POST, &path, caller).json(body)).await
    }
}

/// Sends `request`, failing the test if it cannot be sent.
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request sent")
}

/// The status and the JSON body of `response` (`Null` when the body is empty).
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Asserts `response` is the error `status` with the code `error` in the one error shape;
/// returns the body.
pub async fn assert_error(response: Response, status: u16, error: &str) -> Value {
    let (actual, body) = status_and_json(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

/// Asserts `response` is a 400 whose message names `field` and says `rule` (in words).
pub async fn assert_invalid(response: Response, field: &str, rule: &str) -> Value {
    let body = assert_error(response, 400, "invalid_request").await;
    let message = body["message"].as_str().expect("a message");
    assert!(
        message.contains(field) && message.contains(rule),
        "expected the message to name `{field}` and say `{rule}`: {message}"
    );
    body
}

/// The `id` of a poll.
pub fn id_of(poll: &Value) -> String {
    poll["id"].as_str().expect("a poll has an id").to_owned()
}

/// A valid poll: a title and two options, everything else defaulted.
pub fn a_poll() -> Value {
    json!({ "title": "Lunch?", "options": ["Pizza", "Sushi"] })
}

/// [`a_poll`] with the fields of `extra` set (a `null` in `extra` removes the field).
pub fn a_poll_with(extra: Value) -> Value {
    let mut poll = a_poll();
    let fields = poll.as_object_mut().expect("an object");
    for (name, value) in extra.as_object().expect("an object of fields") {
        if value.is_null() {
            fields.remove(name);
        } else {
            fields.insert(name.clone(), value.clone());
        }
    }
    poll
}

/// Now plus `seconds` (negative: the past), as RFC 3339.
pub fn in_seconds(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// A time in a response.
pub fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
        .with_timezone(&Utc)
}

/// Waits at most `seconds` for `future`, failing the test with `what` instead of hanging.
pub async fn within<F: std::future::Future>(seconds: u64, what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Logs to the test output, only when `TEST_LOG` is set.
pub fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
