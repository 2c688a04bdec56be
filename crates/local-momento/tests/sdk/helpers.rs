//! Starting a local Momento and connecting the official SDK to it.

use std::time::Duration;

use local_momento::{LocalMomento, LocalMomentoConfig};
use momento::auth::{AuthClient, GenerateDisposableTokenRequest};
use momento::auth::{DisposableTokenScope, ExpiresIn};
use momento::cache::configurations;
use momento::topics::configurations as topic_configurations;
use momento::{CacheClient, CredentialProvider, TopicClient};
use secrecy::ExposeSecret;

/// The cache every test server starts with.
pub const CACHE: &str = "test-cache";

/// A running local Momento and a super-user key for it.
pub struct TestMomento {
    pub server: LocalMomento,
    pub key: String,
}

impl TestMomento {
    /// A server on a random port with the cache [`CACHE`].
    pub async fn start() -> Self {
        Self::start_with(LocalMomentoConfig::default()).await
    }

    /// A server with the given settings and the cache [`CACHE`].
    pub async fn start_with(config: LocalMomentoConfig) -> Self {
        init_test_logging();
        let server = LocalMomento::start(config)
            .await
            .expect("local Momento starts");
        server.ensure_cache(CACHE).await.unwrap();
        let key = server.super_user_key().expose_secret().to_owned();
        Self { server, key }
    }

    /// Credentials of the super-user key, pointed at this server.
    pub fn super_user(&self) -> CredentialProvider {
        CredentialProvider::from_api_key_v2(&self.key, "localhost")
            .expect("the super-user key is a v2 API key")
            .full_endpoint_override(&self.server.grpc_endpoint())
    }

    /// Credentials of an `auth_token` as the SDK hands it out, pointed at this server.
    pub fn token(&self, auth_token: &str) -> CredentialProvider {
        CredentialProvider::from_disposable_token(auth_token)
            .expect("a disposable token parses")
            .full_endpoint_override(&self.server.grpc_endpoint())
    }

    /// Credentials of a raw key (any string), pointed at this server.
    pub fn raw_v2_key(&self, key: &str) -> CredentialProvider {
        CredentialProvider::from_api_key_v2(key, "localhost")
            .expect("a JWT-shaped key")
            .full_endpoint_override(&self.server.grpc_endpoint())
    }

    /// A cache client with the given credentials.
    pub fn cache_client(&self, credentials: CredentialProvider) -> CacheClient {
        CacheClient::builder()
            .default_ttl(Duration::from_secs(60))
            .configuration(configurations::Laptop::latest())
            .credential_provider(credentials)
            .build()
            .expect("cache client builds")
    }

    /// A topic client with the given credentials.
    pub fn topic_client(&self, credentials: CredentialProvider) -> TopicClient {
        TopicClient::builder()
            .configuration(topic_configurations::Laptop::latest())
            .credential_provider(credentials)
            .build()
            .expect("topic client builds")
    }

    /// An auth client with the super-user key.
    pub fn auth_client(&self) -> AuthClient {
        AuthClient::builder()
            .credential_provider(self.super_user())
            .build()
            .expect("auth client builds")
    }

    /// Mints a disposable token through the SDK; returns its `auth_token`.
    pub async fn mint(
        &self,
        scope: impl Into<DisposableTokenScope>,
        expires_in: ExpiresIn,
        token_id: &str,
    ) -> String {
        let request =
            GenerateDisposableTokenRequest::new(scope.into(), expires_in).token_id(token_id.into());
        self.auth_client()
            .send_request(request)
            .await
            .expect("token is minted")
            .auth_token()
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

/// The gRPC status message behind an SDK error ("" if the error came from the client itself).
pub fn status_message(error: &momento::MomentoError) -> String {
    match &error.inner_error {
        Some(momento::ErrorSource::TonicStatus(status)) => status.message().to_owned(),
        _ => String::new(),
    }
}

impl TestMomento {
    /// The value at `key` in [`CACHE`] as text (super-user), `None` on a miss.
    pub async fn get_text(&self, key: &str) -> Option<String> {
        let client = self.cache_client(self.super_user());
        match client.get(CACHE, key).await.expect("super-user get") {
            momento::cache::GetResponse::Hit { value } => {
                Some(String::try_from(value).expect("a UTF-8 value"))
            }
            momento::cache::GetResponse::Miss => None,
        }
    }

    /// A raw `Scs` client over tonic, for calls the SDK does not make.
    pub async fn raw_cache_client(
        &self,
    ) -> momento_protos::cache_client::scs_client::ScsClient<tonic::transport::Channel> {
        momento_protos::cache_client::scs_client::ScsClient::connect(self.server.grpc_endpoint())
            .await
            .expect("raw cache client connects")
    }

    /// A raw request to [`CACHE`] with the super-user key, as the SDKs send it.
    pub fn raw_request<T>(&self, body: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(body);
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.key.parse().expect("ASCII key"));
        metadata.insert("cache", CACHE.parse().expect("ASCII cache name"));
        request
    }
}

/// A raw `Pubsub` gRPC client, for what the SDK hides (heartbeats, discontinuities).
pub async fn raw_pubsub(
    m: &TestMomento,
) -> momento_protos::cache_client::pubsub::pubsub_client::PubsubClient<tonic::transport::Channel> {
    momento_protos::cache_client::pubsub::pubsub_client::PubsubClient::connect(
        m.server.grpc_endpoint(),
    )
    .await
    .expect("raw pubsub client connects")
}

/// `message` with the `authorization` metadata set to `key`.
pub fn authorized<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", key.parse().expect("an ASCII key"));
    request
}

/// The raw key (JWT) inside an SDK `auth_token`.
pub fn raw_key(auth_token: &str) -> String {
    use base64::Engine;
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(auth_token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(auth_token))
        .expect("an auth_token is base64");
    let value: serde_json::Value = serde_json::from_slice(&json).expect("an auth_token is JSON");
    value["api_key"]
        .as_str()
        .expect("an auth_token has an api_key")
        .to_owned()
}

/// Serves `endpoint` over HTTP on a free loopback port until the test ends; returns its base
/// URL (`http://127.0.0.1:PORT`).
pub async fn serve_http<E>(endpoint: E) -> String
where
    E: poem::IntoEndpoint + Send + 'static,
    E::Endpoint: 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("an acceptor");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    format!("http://{addr}")
}

impl TestMomento {
    /// This server's HTTP topics API, served on a free port; returns its base URL.
    pub async fn serve_http_api(&self) -> String {
        serve_http(self.server.http_api()).await
    }
}

/// Waits at most `seconds` for `future`, failing the test with `what` instead of hanging.
pub async fn within<F: std::future::Future>(seconds: u64, what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
