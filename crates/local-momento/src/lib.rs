//! A Momento-compatible server that runs in-process, so the official Momento SDKs (Rust,
//! JavaScript, Python, ...) work against it unchanged but for the endpoint.
//!
//! Layout:
//! - [`config`]: every setting of a server, one typed struct.
//! - [`faults`]: make the next calls of a gRPC method fail or wait, for tests.
//! - [`auth`]: super-user API keys, disposable tokens, permission checks.
//! - `store/`: the cache: sharded concurrent maps with per-item TTL.
//! - `topics/`: per-topic sequence numbers, bounded history, fan-out to subscribers.
//! - `grpc/`: the tonic services (`Scs`, `ScsControl`, `Pubsub`, `Token`) over the above.
//! - `http`: Momento's HTTP topics API, as a poem endpoint to mount anywhere.
//! - `webhooks`: signed POSTs of every message published on a registered topic.
//!
//! [`LocalMomento::start`] binds the gRPC port and starts the background tasks;
//! [`LocalMomento::http_api`] gives the HTTP API to mount on a poem server.

pub mod auth;
pub mod config;
pub mod faults;
mod grpc;
pub mod http;
mod store;
mod topics;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::LocalMomentoConfig;
pub use faults::{Fault, FaultCode, Faults, Remaining};
pub use webhooks::{RetryPolicy, Webhook};

/// The state every front end (gRPC, HTTP) shares.
pub(crate) struct Shared {
    pub(crate) auth: auth::Authenticator,
    pub(crate) store: store::Store,
    pub(crate) topics: topics::Topics,
    /// What tokens report as their endpoint (`GenerateDisposableTokenResponse.endpoint`).
    pub(crate) endpoint: String,
    /// Faults the gRPC server injects before serving calls.
    pub(crate) faults: Faults,
}

/// A running local Momento. Dropping it does not stop it; call [`LocalMomento::shutdown`].
pub struct LocalMomento {
    shared: Arc<Shared>,
    grpc_addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalMomento {
    /// Binds the gRPC listener, registers the configured webhooks and starts serving.
    pub async fn start(config: LocalMomentoConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding the local Momento gRPC port {}", config.grpc_addr))?;
        let grpc_addr = listener
            .local_addr()
            .context("reading the bound gRPC address")?;
        let shutdown = CancellationToken::new();
        let auth = match &config.signing_secret {
            Some(secret) => auth::Authenticator::new(secret),
            None => auth::Authenticator::random(),
        };
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| grpc_addr.to_string());
        let store = store::Store::new();
        let topics = topics::Topics::new(&config, shutdown.clone());
        for webhook in &config.webhooks {
            topics.register_webhook(webhook.clone());
        }
        let shared = Arc::new(Shared {
            auth,
            store,
            topics,
            endpoint,
            faults: Faults::new(),
        });
        let mut tasks = vec![
            tokio::spawn(store::sweep_expired(
                shared.clone(),
                config.sweep_interval,
                shutdown.clone(),
            )),
            tokio::spawn(grpc::serve(listener, shared.clone(), shutdown.clone())),
        ];
        tasks.extend(shared.topics.take_background_task());
        Ok(Self {
            shared,
            grpc_addr,
            shutdown,
            tasks,
        })
    }

    /// The address the gRPC server listens on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The endpoint to give the SDKs' `full_endpoint_override`, e.g. `http://127.0.0.1:9090`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The fault-injection switch: make the next calls of a gRPC method fail or wait, e.g.
    /// `m.faults().fail("Set", 2, FaultCode::Unavailable)`. See [`faults`] for the semantics.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Mints a fresh super-user API key (a v2 key: use the SDKs' `from_api_key_v2`).
    pub fn super_user_key(&self) -> SecretString {
        self.shared.auth.super_user_key()
    }

    /// Registers a webhook: every message published on its topic from now on is POSTed to it.
    pub fn register_webhook(&self, webhook: Webhook) {
        self.shared.topics.register_webhook(webhook);
    }

    /// Momento's HTTP topics API (`/topics/{cache}/{topic}`), to mount on a poem server.
    pub fn http_api(&self) -> poem::Route {
        http::routes(self.shared.clone())
    }

    /// Creates a cache if it does not exist yet (a convenience for embedding programs).
    pub fn ensure_cache(&self, name: &str) {
        let _ = self.shared.store.create_cache(name);
    }

    /// Stops serving, ends open subscriptions and waits for the background tasks.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
