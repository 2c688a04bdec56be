//! A Momento-compatible server that runs in-process, so the official Momento SDKs (Rust,
//! JavaScript, Python, ...) work against it unchanged but for the endpoint.
//!
//! Layout:
//! - [`config`]: every setting of a server, one typed struct.
//! - [`faults`]: make the next calls of a gRPC method fail or wait, for tests.
//! - [`auth`]: super-user API keys, disposable tokens, permission checks.
//! - [`client`]: the server called in process (an embedding program's engine), with the
//!   semantics, durability and faults of the gRPC calls it stands for.
//! - `store/`: the cache: sharded concurrent maps with per-item TTL.
//! - `topics/`: per-topic sequence numbers, bounded history, fan-out to subscribers.
//! - `message`: a published message (shared by topics, webhooks and the journal).
//! - `grpc/`: the tonic services (`Scs`, `ScsControl`, `Pubsub`, `Token`) over the above.
//! - [`http`]: Momento's HTTP topics API, as a poem endpoint to mount anywhere.
//! - [`guard`]: slow clients cut off (a request, or HTTP/2's preface, due within a deadline).
//! - [`limits`]: how many publishes one disposable token may make (both front ends).
//! - [`webhooks`]: signed POSTs of every message published on a registered topic, through an
//!   outbox.
//! - [`persist`]: durability: the data dir, the journal (group commit), recovery, snapshots.
//! - [`quota`]: Momento's per-namespace limits (operations a second, connections), enforced
//!   when configured.
//! - `durability`: what of the state goes into a snapshot, and how records rebuild it.
//! - `clock`: the monotonic clock of expiry and the Unix clock of what leaves the process.
//!
//! [`LocalMomento::start`] recovers the state (with a data dir), binds the gRPC port and starts
//! the background tasks; [`LocalMomento::http_api`] gives the HTTP API to mount on a poem
//! server; [`LocalMomento::shutdown`] stops it and leaves the data dir ready for a fast start.

pub mod auth;
pub mod client;
mod clock;
pub mod config;
mod durability;
pub mod faults;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod grpc;
pub mod guard;
pub mod http;
pub mod limits;
mod message;
pub mod persist;
pub mod quota;
#[cfg(feature = "storage-bench")]
#[doc(hidden)]
pub mod storage_bench;
mod store;
mod topics;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use client::Client;
pub use config::LocalMomentoConfig;
pub use faults::{Fault, FaultCode, Faults, Remaining};
pub use persist::recover::Recovery;
pub use persist::{FsyncPolicy, JournalStats, Persistence};
pub use webhooks::{
    Backpressure, InProcessWebhook, RetryPolicy, Webhook, WebhookEvent, WebhookReceiver,
    WebhookStats,
};

use persist::dir::DataDir;
use persist::Log;

/// The state every front end (gRPC, HTTP) shares.
pub(crate) struct Shared {
    pub(crate) auth: auth::Authenticator,
    pub(crate) store: store::Store,
    pub(crate) topics: topics::Topics,
    /// What tokens report as their endpoint (`GenerateDisposableTokenResponse.endpoint`).
    pub(crate) endpoint: String,
    /// Faults the gRPC server injects before serving calls.
    pub(crate) faults: Faults,
    /// The journal (a no-op in memory).
    pub(crate) log: Log,
    /// Momento's per-namespace limits, when enforced.
    pub(crate) quota: Option<quota::Gate>,
    /// Publishes per token.
    pub(crate) limits: limits::PublishLimits,
}

impl Shared {
    /// A server's state with nothing running (no listener, no tasks), in memory: what
    /// recovery fills in, for the fuzzer.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn for_recovery() -> Self {
        let config = LocalMomentoConfig::default();
        let log = Log::default();
        let webhooks = Arc::new(webhooks::Dispatcher::new(
            config.delivery_settings(),
            log.clone(),
        ));
        Shared {
            auth: auth::Authenticator::random(),
            store: store::Store::new(log.clone()),
            topics: topics::Topics::new(
                config.topic_settings(),
                log.clone(),
                webhooks,
                CancellationToken::new(),
            ),
            endpoint: "localhost".to_owned(),
            faults: Faults::new(),
            log,
            limits: limits::PublishLimits::new(None),
            quota: None,
        }
    }
}

/// A cheap, cloneable view of a running local Momento's counters (for a metrics endpoint).
#[derive(Clone)]
pub struct Observer(Arc<Shared>);

impl Observer {
    /// What webhook delivery has done so far, and what waits in the outbox.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.0.topics.webhooks().stats()
    }

    /// The journal's counters (`None` in memory).
    pub fn journal_stats(&self) -> Option<JournalStats> {
        self.0.log.journal().map(|journal| journal.stats())
    }

    /// What the quota has counted (`None` when no quota is enforced).
    pub fn quota_stats(&self) -> Option<quota::QuotaStats> {
        self.0.quota.as_ref().map(quota::Gate::stats)
    }
}

/// A running local Momento. Dropping it does not stop it; call [`LocalMomento::shutdown`].
pub struct LocalMomento {
    shared: Arc<Shared>,
    grpc_addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    durable: Option<durability::Durable>,
    recovery: Option<Recovery>,
}

impl LocalMomento {
    /// Opens and recovers the data dir (when durable), binds the gRPC listener, registers the
    /// configured webhooks and starts serving. A data dir that is locked by another process,
    /// from a newer version, damaged or not writable is an error naming the path.
    pub async fn start(config: LocalMomentoConfig) -> anyhow::Result<Self> {
        let dir = match &config.persistence {
            Persistence::InMemory => None,
            Persistence::Durable { dir, .. } => {
                let path = dir.clone();
                let dir = tokio::task::spawn_blocking(move || DataDir::open(&path))
                    .await
                    .context("opening the data dir")??;
                Some(dir)
            }
        };
        let auth = match (&config.signing_secret, &dir) {
            (Some(secret), _) => auth::Authenticator::new(secret),
            (None, Some(dir)) => auth::Authenticator::new(&dir.signing_key()?),
            (None, None) => auth::Authenticator::random(),
        };
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding the local Momento gRPC port {}", config.grpc_addr))?;
        let grpc_addr = listener
            .local_addr()
            .context("reading the bound gRPC address")?;
        let shutdown = CancellationToken::new();
        let endpoint = match (&config.endpoint, &config.endpoint_host) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(host)) => format!("{host}:{}", grpc_addr.port()),
            (None, None) => grpc_addr.to_string(),
        };
        let log = Log::default();
        let webhooks = Arc::new(webhooks::Dispatcher::new(
            config.delivery_settings(),
            log.clone(),
        ));
        let shared = Arc::new(Shared {
            auth,
            store: store::Store::new(log.clone()),
            topics: topics::Topics::new(
                config.topic_settings(),
                log.clone(),
                webhooks.clone(),
                shutdown.clone(),
            ),
            endpoint,
            faults: Faults::new(),
            log,
            quota: config.quota.map(quota::Gate::new),
            limits: limits::PublishLimits::new(config.publish_limit_per_token),
        });
        let (durable, recovery) = match (dir, &config.persistence) {
            (Some(dir), Persistence::Durable { fsync, .. }) => {
                let (durable, recovery) =
                    durability::Durable::recover(dir, *fsync, shared.clone()).await?;
                (Some(durable), Some(recovery))
            }
            _ => (None, None),
        };
        for webhook in &config.webhooks {
            shared.topics.register_webhook(webhook.clone())?;
        }
        let mut tasks = vec![
            tokio::spawn(store::sweep_expired(
                shared.clone(),
                config.sweep_interval,
                shutdown.clone(),
            )),
            tokio::spawn(grpc::serve(
                listener,
                shared.clone(),
                config.slow_client_timeout,
                shutdown.clone(),
            )),
            tokio::spawn(webhooks.clone().run(shutdown.clone())),
        ];
        if let Some(durable) = &durable {
            tasks.push(tokio::spawn(
                durable.clone().compact_when_due(shutdown.clone()),
            ));
        }
        Ok(Self {
            shared,
            grpc_addr,
            shutdown,
            tasks,
            durable,
            recovery,
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

    /// What disposable tokens name as their endpoint (`host:port`): where clients elsewhere
    /// reach this server's gRPC.
    pub fn token_endpoint(&self) -> &str {
        &self.shared.endpoint
    }

    /// A client that calls this server in process, as a super user (see [`client`]).
    pub fn client(&self) -> Client {
        Client::new(self.shared.clone())
    }

    /// The fault-injection switch: make the next calls of a gRPC method fail or wait, e.g.
    /// `m.faults().fail("Set", 2, FaultCode::Unavailable)`. See [`faults`] for the semantics.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Mints a fresh super-user API key (a v2 key: use the SDKs' `from_api_key_v2`). With a
    /// data dir, keys stay valid across restarts.
    pub fn super_user_key(&self) -> SecretString {
        self.shared.auth.super_user_key()
    }

    /// Registers a webhook (replacing one of the same cache and name): every message published
    /// on its topic from now on is delivered to it. With a data dir the registration survives
    /// a restart.
    pub fn register_webhook(&self, webhook: Webhook) -> anyhow::Result<()> {
        Ok(self.shared.topics.register_webhook(webhook)?)
    }

    /// What webhook delivery has done so far, and what waits in the outbox.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.observer().webhook_stats()
    }

    /// The journal's counters (`None` in memory).
    pub fn journal_stats(&self) -> Option<JournalStats> {
        self.observer().journal_stats()
    }

    /// A view of the counters that outlives this handle's borrow.
    pub fn observer(&self) -> Observer {
        Observer(self.shared.clone())
    }

    /// What recovery did at start (`None` in memory).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// Writes a snapshot now and retires the journal before it (the server also does this by
    /// itself when the journal outgrows the last snapshot, and at shutdown). `None` in memory.
    pub async fn compact(&self) -> anyhow::Result<Option<persist::Compaction>> {
        match &self.durable {
            Some(durable) => Ok(Some(durable.compact().await?)),
            None => Ok(None),
        }
    }

    /// Momento's HTTP topics API (`/topics/{cache}/{topic}`), to mount on a poem server.
    pub fn http_api(&self) -> poem::Route {
        http::routes(self.shared.clone())
    }

    /// Creates a cache if it does not exist yet (a convenience for embedding programs); waits
    /// until the creation is durable.
    pub async fn ensure_cache(&self, name: &str) -> anyhow::Result<()> {
        match self.shared.store.create_cache(name) {
            Ok(lsn) => Ok(self.shared.log.wait(lsn).await?),
            Err(store::CacheError::AlreadyExists(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits (at most `deadline`) until every event for an in-process webhook receiver has been
    /// delivered; `true` when none is left. For a clean stop of the process that embeds the
    /// receiver: call it before [`LocalMomento::shutdown`], while the receiver still works.
    pub async fn drain_in_process_webhooks(&self, deadline: Duration) -> bool {
        self.shared
            .topics
            .webhooks()
            .drain_in_process(deadline)
            .await
    }

    /// Stops serving, ends open subscriptions, lets webhook deliveries under way finish
    /// (what is left stays in the outbox) and waits for the background tasks; then, with a
    /// data dir, writes a snapshot so the next start has no journal to replay, and releases
    /// the data dir. Bounded by `deadline` for the tasks (the snapshot is written regardless).
    pub async fn shutdown(self) {
        self.shutdown_within(Duration::from_secs(10)).await
    }

    /// Stops as a crash would leave the data dir, for tests of recovery: no final snapshot, so
    /// the next start replays the journal. (Every acknowledged change is in the journal
    /// already; nothing else is written.)
    pub async fn stop_without_snapshot(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            futures::future::join_all(self.tasks),
        )
        .await;
        if let Some(durable) = self.durable {
            durable.abandon().await;
        }
    }

    /// [`LocalMomento::shutdown`] with a bound on how long background tasks may take.
    pub async fn shutdown_within(self, deadline: Duration) {
        self.shutdown.cancel();
        let tasks = futures::future::join_all(self.tasks);
        if tokio::time::timeout(deadline, tasks).await.is_err() {
            tracing::warn!(?deadline, "local Momento tasks did not stop in time");
        }
        if let Some(durable) = self.durable {
            durable.close().await;
        }
    }
}
