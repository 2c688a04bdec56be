//! `spawn_app()` and typed request helpers.

use std::net::SocketAddr;
use std::time::Duration;

use pollcast::config::ServeArgs;
use pollcast::startup::Application;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

/// The admin key test apps run with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The embedded local Momento's gRPC endpoint.
    #[allow(dead_code)] // for the voter-token tests
    pub momento_grpc: String,
    /// A super-user key of the embedded local Momento.
    #[allow(dead_code)] // for the voter-token tests
    pub momento_key: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Default settings of a test app: port 0, the embedded local Momento, a known admin key.
pub fn test_settings() -> ServeArgs {
    ServeArgs {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_url: None,
        admin_key: Some(SecretString::from(ADMIN_KEY)),
        cache: "pollcast".into(),
        token_ttl: Duration::from_secs(3600),
        record_ttl: Duration::from_secs(7 * 24 * 3600),
        ingest: None,
        webhook_secret: None,
        webhook_max_age: Duration::from_secs(60),
        results_interval: Duration::from_millis(100),
        data_dir: None,
        momento_api_key: None,
        momento_endpoint: None,
        momento_endpoint_override: None,
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
    let address = format!("http://127.0.0.1:{}", app.port());
    let momento_grpc = app.local_momento_grpc().expect("embedded local Momento");
    let momento_key = app
        .local_momento_key()
        .expect("embedded local Momento")
        .expose_secret()
        .to_owned();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        app.run_until_stopped(async move { stop.cancelled().await })
            .await
            .expect("application runs");
    });
    TestApp {
        address,
        momento_grpc,
        momento_key,
        http: reqwest::Client::new(),
        shutdown,
    }
}

impl TestApp {
    /// GET `path` (relative to the app).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }
}

fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
