//! Building the application (binding, wiring) and running it until it is told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use local_momento::{LocalMomento, LocalMomentoConfig, RetryPolicy, Webhook};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::Tracing;
use poem::{EndpointExt, Route};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::api;
use crate::config::{IngestMode, ServeArgs};
use crate::ingest::pipeline::Pipeline;
use crate::ingest::webhook::Verifier;
use crate::metrics::Metrics;
use crate::momento::ballots::BallotStore;
use crate::momento::keys::VOTES_TOPIC;
use crate::momento::polls::PollStore;
use crate::momento::results::ResultsStore;
use crate::momento::{Location, Momento};
use crate::results::Publisher;
use crate::scheduler::Scheduler;
use tokio_util::sync::CancellationToken;

/// What every request handler shares.
pub struct AppState {
    /// The SDK clients.
    pub momento: Momento,
    /// Poll records and the poll index.
    pub polls: PollStore,
    /// Ballot keys and the ballot ledger.
    pub ballots: BallotStore,
    /// Results seq, snapshots and topics.
    pub results: ResultsStore,
    /// Deadlines of the lifecycle clock.
    pub scheduler: Arc<Scheduler>,
    /// The vote pipeline both ingest paths feed.
    pub pipeline: Arc<Pipeline>,
    /// Counts and publishes results.
    pub publisher: Arc<Publisher>,
    /// Verifies webhook calls; `None` when webhook ingest is off.
    pub webhook: Option<Verifier>,
    /// Which ingest paths run.
    pub ingest: IngestMode,
    /// Set once the votes-topic subscription is live (readiness waits for it when it runs:
    /// votes published before it would be missed).
    pub subscribed: Arc<std::sync::atomic::AtomicBool>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The admin key admin operations must present.
    pub admin_key: SecretString,
    /// Where clients reach this server.
    pub public_url: String,
    /// Base URL of the HTTP topics API voter tokens work with: pollcast's own URL when the
    /// local Momento is embedded (it is mounted there), Momento's otherwise.
    pub http_endpoint: String,
    /// Settings of the run.
    pub settings: ServeArgs,
}

/// How the admin key of this run was obtained (for the banner).
enum AdminKeySource {
    Configured,
    Generated {
        stored_in: Option<std::path::PathBuf>,
    },
    Stored(std::path::PathBuf),
}

/// A built, bound application, ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    app: poem::endpoint::BoxEndpoint<'static>,
    state: Arc<AppState>,
    local: Option<LocalMomento>,
    key_source: AdminKeySource,
}

impl Application {
    /// Binds the listener, starts the embedded local Momento unless Momento credentials are
    /// given, connects the SDK clients and wires the routes.
    pub async fn build(settings: ServeArgs) -> anyhow::Result<Self> {
        let acceptor = TcpListener::bind(settings.listen)
            .into_acceptor()
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("reading the bound address")?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();

        let (location, local) = match (&settings.momento_api_key, &settings.momento_endpoint) {
            (Some(api_key), Some(endpoint)) => (
                Location::Service {
                    api_key: api_key.clone(),
                    endpoint: endpoint.clone(),
                    endpoint_override: settings.momento_endpoint_override.clone(),
                },
                None,
            ),
            (Some(_), None) => anyhow::bail!("MOMENTO_API_KEY needs MOMENTO_ENDPOINT too"),
            (None, _) => {
                let local = LocalMomento::start(LocalMomentoConfig {
                    // The local server controls both ends, so it may retry a failed delivery.
                    webhook_retry: RetryPolicy {
                        max_attempts: 3,
                        ..RetryPolicy::default()
                    },
                    // ...and slow publishers down rather than drop votes when ingest lags.
                    webhook_backpressure: true,
                    // A subscriber (the subscription ingest) may fall this far behind before
                    // the topic drops messages for it.
                    subscriber_buffer: 65_536,
                    ..LocalMomentoConfig::default()
                })
                .await
                .context("starting the embedded local Momento")?;
                let location = Location::Embedded {
                    grpc_endpoint: local.grpc_endpoint(),
                    api_key: local.super_user_key(),
                };
                (location, Some(local))
            }
        };
        let momento = Momento::connect(&location, &settings.cache)?;
        momento.ensure_cache().await?;

        let (admin_key, key_source) = admin_key(&settings)?;
        let record_ttl = settings.record_ttl.unwrap_or(match &local {
            Some(_) => Duration::from_secs(7 * 24 * 60 * 60),
            None => Duration::from_secs(24 * 60 * 60),
        });
        let polls = PollStore::new(momento.clone(), record_ttl);
        let ballots = BallotStore::new(momento.clone(), record_ttl);
        let results = ResultsStore::new(momento.clone(), record_ttl);
        let metrics = Arc::new(Metrics::new());
        let publisher = Arc::new(Publisher::new(
            results.clone(),
            polls.clone(),
            ballots.clone(),
            metrics.clone(),
        ));
        let dirty = {
            let publisher = publisher.clone();
            Arc::new(move |id: &crate::domain::PollId| publisher.mark(id))
        };
        let pipeline = Arc::new(Pipeline::new(
            polls.clone(),
            ballots.clone(),
            metrics.clone(),
            dirty,
        ));
        let ingest = settings.ingest.unwrap_or(match &local {
            Some(_) => IngestMode::Webhook,
            None => IngestMode::Subscription,
        });
        let webhook = if ingest.webhook() {
            let secret = match (&settings.webhook_secret, &local) {
                (Some(secret), _) => secret.clone(),
                (None, Some(_)) => random_secret("whsec_"),
                (None, None) => {
                    anyhow::bail!("webhook ingest against Momento's service needs --webhook-secret")
                }
            };
            if let Some(local) = &local {
                local.register_webhook(Webhook {
                    cache: settings.cache.clone(),
                    topic: VOTES_TOPIC.to_owned(),
                    url: format!("http://{}/v1/webhooks/momento", loopback(addr)),
                    secret: secret.clone(),
                });
            }
            Some(Verifier::new(
                secret,
                settings.webhook_max_age,
                Duration::from_secs(5),
            ))
        } else {
            None
        };
        let http_endpoint = match &local {
            Some(_) => public_url.clone(),
            None => momento.http_endpoint().to_owned(),
        };
        let state = Arc::new(AppState {
            momento,
            polls,
            ballots,
            results,
            scheduler: Arc::new(Scheduler::default()),
            pipeline,
            publisher,
            webhook,
            ingest,
            subscribed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            metrics,
            admin_key,
            public_url,
            http_endpoint,
            settings,
        });
        let app = routes(&state, local.as_ref());
        Ok(Self {
            acceptor,
            addr,
            app,
            state,
            local,
            key_source,
        })
    }

    /// The bound port (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The shared state (tests read the admin key from it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The gRPC endpoint of the embedded local Momento, if it runs.
    pub fn local_momento_grpc(&self) -> Option<String> {
        self.local.as_ref().map(|l| l.grpc_endpoint())
    }

    /// The fault-injection switch of the embedded local Momento, if it runs (tests use it).
    pub fn local_momento_faults(&self) -> Option<local_momento::Faults> {
        self.local.as_ref().map(|l| l.faults().clone())
    }

    /// A super-user key of the embedded local Momento, if it runs (tests use it).
    pub fn local_momento_key(&self) -> Option<SecretString> {
        self.local.as_ref().map(|l| l.super_user_key())
    }

    /// What to print at start: the URLs, and the admin key when it was just generated.
    pub fn banner(&self) -> String {
        let url = &self.state.public_url;
        let mut out = String::new();
        out.push_str(&format!("pollcast is serving on {url}\n"));
        out.push_str(&format!("  REST API:   {url}/v1\n"));
        out.push_str(&format!("  Swagger UI: {url}/docs\n"));
        out.push_str(&format!(
            "  OpenAPI:    {url}/openapi.json, {url}/openapi.yaml\n"
        ));
        match &self.local {
            Some(local) => out.push_str(&format!(
                "  Momento:    embedded local Momento (gRPC {}, HTTP topics API {url}/topics)\n",
                local.grpc_endpoint()
            )),
            None => out.push_str(&format!(
                "  Momento:    {} (MOMENTO_API_KEY)\n",
                self.state
                    .settings
                    .momento_endpoint_override
                    .as_deref()
                    .unwrap_or("Momento's service")
            )),
        }
        match &self.key_source {
            AdminKeySource::Configured => {
                out.push_str("  admin key:  from --admin-key / POLLCAST_ADMIN_KEY\n")
            }
            AdminKeySource::Stored(path) => {
                out.push_str(&format!("  admin key:  stored in {}\n", path.display()))
            }
            AdminKeySource::Generated { stored_in } => {
                out.push_str(&format!(
                    "  admin key:  {}   (generated; shown only now",
                    self.state.admin_key.expose_secret()
                ));
                match stored_in {
                    Some(path) => out.push_str(&format!(", kept in {})\n", path.display())),
                    None => {
                        out.push_str("; set --data-dir to keep it, or --admin-key to choose one)\n")
                    }
                }
            }
        }
        out
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (5 s at most) and stops
    /// the background tasks and the embedded local Momento.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let background = CancellationToken::new();
        let state = self.state.clone();
        let scheduler = tokio::spawn(self.state.scheduler.clone().run(
            self.state.polls.clone(),
            self.state.momento.clone(),
            move |poll| {
                state.pipeline.forget(poll.id());
                state.publisher.mark(poll.id());
            },
            background.clone(),
        ));
        let publisher = tokio::spawn(
            self.state
                .publisher
                .clone()
                .run(self.state.settings.results_interval, background.clone()),
        );
        let subscription = self.state.ingest.subscription().then(|| {
            tokio::spawn(crate::ingest::subscription::run(
                self.state.momento.clone(),
                self.state.pipeline.clone(),
                self.state.metrics.clone(),
                self.state.subscribed.clone(),
                background.clone(),
            ))
        });
        let served = poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.app, shutdown, Some(Duration::from_secs(5)))
            .await
            .context("serving HTTP");
        background.cancel();
        let _ = scheduler.await;
        if let Some(subscription) = subscription {
            let _ = subscription.await;
        }
        let _ = publisher.await;
        served?;
        if let Some(local) = self.local {
            local.shutdown().await;
        }
        Ok(())
    }
}

fn routes(
    state: &Arc<AppState>,
    local: Option<&LocalMomento>,
) -> poem::endpoint::BoxEndpoint<'static> {
    let service = api::service();
    let ui = service.swagger_ui();
    let spec_json = service.spec_endpoint();
    let spec_yaml = service.spec_endpoint_yaml();
    let mut route = Route::new()
        .nest("/", service)
        .nest("/docs", ui)
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml);
    if let Some(local) = local {
        // Embedded: Momento's HTTP topics API on pollcast's own port, so a voter token's
        // `http_endpoint` is pollcast's public URL.
        route = route.nest_no_strip("/topics", local.http_api());
    }
    route
        .around(api::json_errors)
        .data(state.clone())
        .with(Tracing)
        .boxed()
}

/// Shortest admin key accepted, configured or stored.
const MIN_ADMIN_KEY_LEN: usize = 16;

/// The admin key: configured, stored in the data dir, or generated (and stored when a data dir
/// is set).
fn admin_key(settings: &ServeArgs) -> anyhow::Result<(SecretString, AdminKeySource)> {
    if let Some(key) = &settings.admin_key {
        anyhow::ensure!(
            key.expose_secret().len() >= MIN_ADMIN_KEY_LEN,
            "--admin-key must be at least {MIN_ADMIN_KEY_LEN} characters"
        );
        return Ok((key.clone(), AdminKeySource::Configured));
    }
    let generated = || random_secret("pca_");
    let Some(dir) = &settings.data_dir else {
        return Ok((generated(), AdminKeySource::Generated { stored_in: None }));
    };
    let path = dir.join("admin-key");
    if path.exists() {
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let key = key.trim();
        // The same rule as --admin-key: an edited or truncated file must not weaken the key.
        anyhow::ensure!(
            key.len() >= MIN_ADMIN_KEY_LEN,
            "{} must hold an admin key of at least {MIN_ADMIN_KEY_LEN} characters; \
             delete it to have a new one generated",
            path.display()
        );
        return Ok((
            SecretString::from(key.to_owned()),
            AdminKeySource::Stored(path),
        ));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = generated();
    write_private(&path, key.expose_secret())?;
    Ok((
        key,
        AdminKeySource::Generated {
            stored_in: Some(path),
        },
    ))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

fn random_secret(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", hex::encode(bytes)))
}

/// Where this process reaches its own listener (a wildcard bind is reached on loopback).
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
