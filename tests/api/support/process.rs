//! The binaries as processes: `pollcast serve` and `pollcast local-momento`, started on free
//! loopback ports and SIGKILLed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The admin key the `serve` processes run with.
pub const ADMIN_KEY: &str = "crash-test-admin-key-0123456789";

/// A `pollcast serve` process, SIGKILLed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `pollcast serve` on `listen` with `data_dir`; returns once it answers `/readyz`.
    pub async fn start(listen: &str, data_dir: &Path, log: &Path) -> Self {
        let flags = vec!["--data-dir".into(), data_dir.as_os_str().to_owned()];
        Self::start_with(listen, log, flags, &[]).await
    }

    /// Starts `pollcast serve` on `listen` with more `flags` and environment `vars` (`RUST_LOG`
    /// is `info` unless `vars` sets it).
    pub async fn start_with(
        listen: &str,
        log: &Path,
        flags: Vec<std::ffi::OsString>,
        vars: &[(&str, String)],
    ) -> Self {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        // A restart keeps its HTTP port; the SDKs' gRPC port beside it could be anyone's.
        let grpc_given = flags.iter().any(|f| f == "--grpc-listen");
        let grpc: &[&str] = if grpc_given {
            &[]
        } else {
            &["--grpc-listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_pollcast"))
            .args(["serve", "--listen", listen, "--admin-key", ADMIN_KEY])
            .args(grpc)
            // The crash tests are a load generator on this machine: thousands of voters from
            // one address, let through as `scripts/loadtest` lets its own.
            .arg("--unlimited-addresses=127.0.0.1")
            .args(flags)
            .env("RUST_LOG", "info")
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("pollcast starts");
        let stdout = child.stdout.take().unwrap();
        // The first line of the banner names the address.
        let base = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().expect("a banner").expect("readable stdout");
            // Keep draining, so the process never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            first
                .strip_prefix("pollcast is serving on ")
                .unwrap_or_else(|| panic!("unexpected banner: {first}"))
                .trim()
                .to_owned()
        })
        .await
        .unwrap();
        let server = Self { child, base };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return server;
            }
            assert!(Instant::now() < deadline, "pollcast never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

/// A `pollcast local-momento` process (in memory, cache `pollcast`), SIGKILLed when dropped.
pub struct LocalMomentoProcess {
    child: Child,
    /// `http://127.0.0.1:PORT` of its gRPC server.
    pub grpc: String,
    /// `http://127.0.0.1:PORT` of its HTTP topics API.
    pub http: String,
    /// Its super-user API key.
    pub key: String,
    _dir: tempfile::TempDir,
}

impl Drop for LocalMomentoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalMomentoProcess {
    /// Starts it on free ports with `flags` added; returns once its banner is out (it serves
    /// by then).
    pub async fn start(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        let mut child = Command::new(env!("CARGO_BIN_EXE_pollcast"))
            .args([
                "local-momento",
                "--grpc",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
            ])
            .args(["--create-cache", "pollcast", "--api-key-file"])
            .arg(&key_file)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pollcast local-momento starts");
        let stdout = child.stdout.take().unwrap();
        let (grpc, http) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut endpoint = |label: &str| loop {
                let line = lines.next().expect("a banner").expect("readable stdout");
                if let Some((_, rest)) = line.split_once(label) {
                    let url = rest.trim().trim_end_matches("/topics/{cache}/{topic}");
                    return url.to_owned();
                }
            };
            let grpc = endpoint("gRPC (cache, control, topics, tokens):");
            let http = endpoint("HTTP topics API:");
            std::thread::spawn(move || for _ in lines {});
            (grpc, http)
        })
        .await
        .unwrap();
        let key = std::fs::read_to_string(&key_file)
            .unwrap()
            .trim()
            .to_owned();
        Self {
            child,
            grpc,
            http,
            key,
            _dir: dir,
        }
    }

    /// The environment that points a `pollcast serve` at it (the SDK engine).
    pub fn serve_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MOMENTO_API_KEY", self.key.clone()),
            ("MOMENTO_ENDPOINT", "localhost".to_owned()),
            ("POLLCAST_MOMENTO_ENDPOINT_OVERRIDE", self.grpc.clone()),
        ]
    }
}

/// A poll as the admin API created it: its id and option ids.
pub struct Poll {
    /// Its id.
    pub id: String,
    /// Its option ids, in order.
    pub options: Vec<String>,
}

/// Sends a request again while it is answered 429 or 503 (an admission refusal, a throttled
/// Momento), after its `Retry-After`, at most 30 times; the last answer, or why there was none.
pub async fn with_retry(
    send: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, String> {
    let mut last = String::new();
    for _ in 0..30 {
        match send().timeout(Duration::from_secs(20)).send().await {
            Ok(r) if r.status() == 429 || r.status() == 503 => {
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(2);
                last = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
                tokio::time::sleep(Duration::from_millis(wait * 1000 / 2 + 100)).await;
            }
            Ok(r) => return Ok(r),
            Err(error) => return Err(error.to_string()),
        }
    }
    Err(format!("still refused after 30 tries: {last}"))
}

/// An admin call that must succeed (retried while refused: [`with_retry`]); its JSON answer.
pub async fn admin(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let response = with_retry(|| {
        let request = http.request(method.clone(), &url).bearer_auth(ADMIN_KEY);
        match &body {
            Some(body) => request.json(body),
            None => request,
        }
    })
    .await
    .expect("the server answers");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Creates a poll from `body`.
pub async fn create(http: &reqwest::Client, base: &str, body: Value) -> Poll {
    let poll = admin(
        http,
        reqwest::Method::POST,
        format!("{base}/v1/polls"),
        Some(body),
    )
    .await;
    Poll {
        id: poll["id"].as_str().unwrap().to_owned(),
        options: poll["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect(),
    }
}

/// Opens `poll`.
pub async fn open(http: &reqwest::Client, base: &str, poll: &Poll) {
    let url = format!("{base}/v1/polls/{}/open", poll.id);
    admin(http, reqwest::Method::POST, url, None).await;
}

/// Takes an anonymous voter token of `poll` (the token response).
pub async fn token(http: &reqwest::Client, base: &str, poll: &Poll) -> Value {
    let response = http
        .post(format!("{base}/v1/polls/{}/tokens", poll.id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A GET answered with JSON.
pub async fn get_json(http: &reqwest::Client, base: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
