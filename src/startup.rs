//! Building the application (binding, wiring) and running it until it is told to stop.
//!
//! [`Application::build`] reads as its steps: the [`Mode`] (embedded or Momento's service,
//! and every default that differs with it), the admin key ([`admin_key`]), the listener, the
//! Momento (started or connected), the webhook verifier, the shared [`AppState`], the routes.

pub mod admin_key;
pub mod mode;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use local_momento::guard::GuardedAcceptor;
use local_momento::{LocalMomento, Webhook};
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::Tracing;
use poem::{EndpointExt, Route};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::config::ServeArgs;
use crate::ingest::in_process::InProcessIngest;
use crate::ingest::pipeline::Pipeline;
use crate::ingest::webhook::Verifier;
use crate::metrics::Metrics;
use crate::momento::ballots::BallotStore;
use crate::momento::events::EventStore;
use crate::momento::keys::VoteShards;
use crate::momento::leases::LeaseStore;
use crate::momento::moderation::ModerationStore;
use crate::momento::polls::PollStore;
use crate::momento::results::ResultsStore;
use crate::momento::status::{VoteStatusStore, VoterTokenRegistry};
use crate::momento::{Location, Momento};
use crate::results::running::Tallies;
use crate::results::Publisher;
use crate::scheduler::Scheduler;
use crate::state::AppState;
use admin_key::AdminKey;
use mode::Mode;

/// How long in-flight requests may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(5);
/// The name of pollcast's webhook in the embedded local Momento.
const VOTES_WEBHOOK: &str = "pollcast-votes";
/// How far ahead of this server's clock a webhook event may be (clock skew).
const WEBHOOK_FUTURE_TOLERANCE: Duration = Duration::from_secs(5);

/// A built, bound application, ready to run.
pub struct Application {
    acceptor: GuardedAcceptor<TcpAcceptor>,
    addr: SocketAddr,
    app: BoxEndpoint<'static>,
    state: Arc<AppState>,
    local: Option<LocalMomento>,
    admin_key: AdminKey,
}

impl Application {
    /// Binds the listener, starts the embedded local Momento unless Momento credentials are
    /// given, connects the SDK clients and wires the routes.
    pub async fn build(settings: ServeArgs) -> anyhow::Result<Self> {
        settings.check()?;
        let mode = Mode::of(&settings)?;
        let admin_key = AdminKey::load(&settings)?;
        let webhook_secret = match mode.ingest(&settings).webhook() {
            true => Some(mode.webhook_secret(&settings)?),
            false => None,
        };
        let (acceptor, addr) = bind(settings.listen).await?;
        // A client sends each request within the deadline, or is cut off (a slow loris).
        let acceptor = GuardedAcceptor::new(acceptor, settings.limits.request_read_timeout);
        // With the embedded local Momento, its votes webhook is delivered to the pipeline in
        // process; the pipeline is connected to the receiver once it is built.
        let in_process = InProcessIngest::new(&settings.cache);
        let receiver: Arc<dyn local_momento::WebhookReceiver> = in_process.clone();
        let votes_webhooks = match &webhook_secret {
            Some(secret) => votes_webhooks(secret, &settings, mode.vote_shards(&settings), addr)
                .into_iter()
                .map(|webhook| (webhook, receiver.clone()))
                .collect(),
            None => Vec::new(),
        };
        let (momento, local) = start_or_connect_momento(&mode, &settings, votes_webhooks).await?;
        let webhook = webhook_secret.map(|secret| {
            Verifier::new(secret, settings.webhook_max_age, WEBHOOK_FUTURE_TOLERANCE)
        });
        let state = Arc::new(app_state(
            momento,
            &mode,
            settings,
            addr,
            webhook,
            admin_key.key.clone(),
            local.as_ref().map(LocalMomento::observer),
        ));
        in_process.connect(state.pipeline.clone());
        let app = routes(&state, local.as_ref());
        Ok(Self {
            acceptor,
            addr,
            app,
            state,
            local,
            admin_key,
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
        let momento = match &self.local {
            Some(local) => format!(
                "embedded local Momento, called in process (gRPC for SDKs {} on {}, HTTP topics API {url}/topics)",
                local.token_endpoint(),
                local.grpc_addr()
            ),
            None => {
                let endpoint = self.state.settings.momento_endpoint_override.as_deref();
                format!(
                    "{} (MOMENTO_API_KEY)",
                    endpoint.unwrap_or("Momento's service")
                )
            }
        };
        let settings = &self.state.settings;
        let state = match (&self.local, settings.in_memory) {
            (_, true) => "in memory (--in-memory): nothing survives a restart".to_owned(),
            (Some(_), false) => format!(
                "{} (durable, --fsync {}; the local Momento's in {}/)",
                settings.data_dir.display(),
                settings.fsync,
                mode::LOCAL_MOMENTO_DIR
            ),
            (None, false) => format!(
                "in Momento; {} keeps the admin key",
                settings.data_dir.display()
            ),
        };
        format!(
            "pollcast is serving on {url}\n  \
             REST API:   {url}/v1\n  \
             Swagger UI: {url}/docs\n  \
             OpenAPI:    {url}/openapi.json, {url}/openapi.yaml\n  \
             Momento:    {momento}\n  \
             State:      {state}\n{}",
            self.admin_key.banner_line()
        )
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (5 s at most) and stops
    /// the background tasks, the live results feeds and the embedded local Momento (whether
    /// serving succeeded or not).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let background = CancellationToken::new();
        let tasks = spawn_background(&self.state, &background);
        let served = poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.app, shutdown, Some(DRAIN))
            .await
            .context("serving HTTP");
        // What this process acknowledged is counted before it stops: the in-process outbox
        // drains while the pipeline and its background tasks still run (what is left after the
        // bound stays in the outbox for the next start).
        if let Some(local) = &self.local {
            if !local.drain_in_process_webhooks(DRAIN).await {
                tracing::warn!(bound = ?DRAIN, "votes left in the outbox for the next start");
            }
        }
        background.cancel();
        // In spawn order: the publisher last, so it publishes what the others left dirty.
        for task in tasks {
            let _ = task.await;
        }
        // Before the local Momento stops: see `Feeds::close`.
        self.state.feeds.close().await;
        if let Some(local) = self.local {
            local.shutdown().await;
        }
        served
    }
}

/// Binds `listen`; returns the acceptor and the address it is bound to (port 0 resolved).
async fn bind(listen: SocketAddr) -> anyhow::Result<(TcpAcceptor, SocketAddr)> {
    let acceptor = TcpListener::bind(listen)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("reading the bound address")?;
    Ok((acceptor, addr))
}

/// Starts the embedded local Momento ([`mode::local_momento_config`]) or takes Momento's
/// service, connects the SDK clients and makes sure the cache exists. A local Momento that was
/// started is stopped again when the rest fails.
async fn start_or_connect_momento(
    mode: &Mode,
    settings: &ServeArgs,
    votes_webhooks: Vec<(Webhook, Arc<dyn local_momento::WebhookReceiver>)>,
) -> anyhow::Result<(Momento, Option<LocalMomento>)> {
    let (location, local) = match mode {
        Mode::Service(location) => (location.clone(), None),
        Mode::Embedded => {
            let local = LocalMomento::start(mode::local_momento_config(settings, votes_webhooks))
                .await
                .context("starting the embedded local Momento")?;
            (Location::Embedded(local.client()), Some(local))
        }
    };
    let connected = async {
        let momento = Momento::connect(&location, &settings.cache)?;
        momento.ensure_cache().await?;
        check_vote_shards(&momento, mode, settings).await?;
        anyhow::Ok(momento)
    };
    match connected.await {
        Ok(momento) => Ok((momento, local)),
        Err(error) => {
            if let Some(local) = local {
                local.shutdown().await;
            }
            Err(error)
        }
    }
}

/// Refuses to start with a votes shard count other than the one the cache's votes already use:
/// the votes of the topics one count has and the other has not would never be read.
async fn check_vote_shards(
    momento: &Momento,
    mode: &Mode,
    settings: &ServeArgs,
) -> anyhow::Result<()> {
    let wanted = mode.vote_shards(settings).count();
    let leases = LeaseStore::new(momento.clone(), crate::ingest::shards::LEASE_TTL);
    let recorded = leases
        .shard_count(wanted, mode.record_ttl(settings))
        .await
        .context("reading the votes shard count of the cache")?;
    if recorded != wanted {
        anyhow::bail!(
            "the votes of cache '{cache}' are spread over {recorded} topic(s), and this start \
             asks for {wanted} (--vote-shards): votes on the topics one count has and the other \
             has not would never be read. Start every replica with --vote-shards {recorded}, \
             or use a new cache (--cache) for another count",
            cache = settings.cache
        );
    }
    Ok(())
}

/// Pollcast's own webhooks on the votes topics, one per shard, for the embedded local Momento
/// to register: always under the same names (`pollcast-votes`, then `pollcast-votes.{shard}`
/// with several shards), so a restart (on any port, with a new secret) takes over the events
/// still waiting in their outbox.
fn votes_webhooks(
    secret: &SecretString,
    settings: &ServeArgs,
    shards: VoteShards,
    addr: SocketAddr,
) -> Vec<Webhook> {
    shards
        .all()
        .map(|shard| {
            let topic = shards.topic(shard);
            Webhook {
                name: match shards.count() {
                    1 => VOTES_WEBHOOK.to_owned(),
                    _ => format!("{VOTES_WEBHOOK}.{shard}"),
                },
                cache: settings.cache.clone(),
                topic,
                url: format!("http://{}/v1/webhooks/momento", loopback(addr)),
                secret: secret.clone(),
            }
        })
        .collect()
}

/// The shared state: the stores over `momento`, and the publisher and pipeline wired to them.
fn app_state(
    momento: Momento,
    mode: &Mode,
    settings: ServeArgs,
    addr: SocketAddr,
    webhook: Option<Verifier>,
    admin_key: SecretString,
    embedded: Option<local_momento::Observer>,
) -> AppState {
    let record_ttl = mode.record_ttl(&settings);
    // Before any store takes a clone: every store's calls are counted.
    let metrics = Arc::new(Metrics::new());
    let momento = momento.with_call_metrics(metrics.momento_calls.clone());
    let polls = PollStore::new(momento.clone(), record_ttl);
    let ballots = BallotStore::new(momento.clone(), record_ttl);
    let results = ResultsStore::new(momento.clone(), record_ttl);
    // Running counts only where this process writes every ballot (see `results/running.rs`).
    let tallies = mode
        .counts_incrementally()
        .then(|| Arc::new(Tallies::default()));
    let feeds = Arc::new(crate::results::feed::Feeds::new(results.clone()));
    let watchers: crate::results::WatcherCount = {
        let (feeds, results) = (feeds.clone(), results.clone());
        // Long polls and streams on the results topics (the SSE feeds' own subscriptions
        // among them, so an SSE stream counts a little: a write, not a request), where the
        // engine can count them; the SSE streams otherwise.
        Arc::new(move |poll| {
            results
                .subscribers(poll)
                .unwrap_or_else(|| feeds.watchers(poll))
        })
    };
    let replicas_alive = Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let mut publisher = Publisher::new(
        results.clone(),
        polls.clone(),
        ballots.clone(),
        metrics.clone(),
    )
    .with_watchers(watchers);
    if let Mode::Service(_) = mode {
        publisher = publisher.with_budget(crate::results::OpsBudget {
            ops_per_second: settings.momento_ops_budget,
            replicas: replicas_alive.clone(),
        });
    }
    if let Some(tallies) = &tallies {
        publisher = publisher.with_tallies(tallies.clone());
    }
    let moderation = ModerationStore::new(momento.clone(), record_ttl);
    publisher = publisher.with_moderation(
        moderation.clone(),
        crate::results::open_text::entry_key(&admin_key),
    );
    let events = EventStore::new(momento.clone(), record_ttl);
    let publisher = Arc::new(publisher);
    let dirty = {
        let publisher = publisher.clone();
        Arc::new(move |id: &crate::domain::PollId| publisher.mark(id))
    };
    let status = VoteStatusStore::new(momento.clone(), ballots.clone(), record_ttl);
    let mut pipeline = Pipeline::new(
        polls.clone(),
        ballots.clone(),
        metrics.clone(),
        dirty,
        settings.close_grace,
    )
    .with_status(status.clone());
    if let Some(tallies) = tallies {
        pipeline = pipeline.with_tallies(tallies);
    }
    let pipeline = Arc::new(pipeline);
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let cookie_key = api::voter_cookie::key(settings.voter_cookie_secret.as_ref(), &admin_key);
    let limits = Arc::new(api::limits::Limits::new(&settings.limits, metrics.clone()));
    AppState {
        limits,
        challenge_key: api::challenge::key(settings.voter_cookie_secret.as_ref(), &admin_key),
        challenges: crate::momento::challenges::ChallengeStore::new(momento.clone()),
        http_endpoint: mode.http_endpoint(&settings, &public_url, &momento),
        voter_tokens: VoterTokenRegistry::new(momento.clone(), record_ttl),
        status,
        cookie_key,
        record_ttl,
        ingest: mode.ingest(&settings),
        vote_shards: mode.vote_shards(&settings),
        replicas_alive,
        momento,
        polls,
        ballots,
        feeds,
        results,
        scheduler: Arc::new(Scheduler::new(
            metrics.scheduler_rescans.clone(),
            metrics.keep_alive_refreshes.clone(),
        )),
        pipeline,
        publisher,
        webhook,
        subscribed: Arc::new(AtomicBool::new(false)),
        metrics,
        admin_key,
        public_url,
        settings,
        embedded,
        event_watch: Arc::new(crate::api::event_watch::EventWatch::new(events.clone())),
        events,
        moderation,
    }
}

/// The REST API (CORS on its public endpoints), Swagger UI and the spec, the voter and
/// presenter pages; with the embedded local Momento, Momento's HTTP topics API too (on
/// pollcast's own port, so a voter token's `http_endpoint` is pollcast's public URL).
fn routes(state: &Arc<AppState>, local: Option<&LocalMomento>) -> BoxEndpoint<'static> {
    let service = api::service();
    let ui_html = service.swagger_ui_html();
    let spec_json = service.spec_endpoint();
    let spec_yaml = service.spec_endpoint_yaml();
    let origins = api::cors::AllowedOrigins::parse(&state.settings.cors_origins);
    let rest = api::cors::public_cors(poem::IntoEndpoint::into_endpoint(service), origins);
    let mut route = crate::pages::mount(Route::new())
        .nest("/", rest)
        .at("/docs", api::docs::swagger_ui(ui_html.clone()))
        .at("/docs/", api::docs::swagger_ui(ui_html))
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml);
    if let Some(local) = local {
        route = route.nest_no_strip("/topics", local.http_api());
    }
    api::docs::nosniff(route)
        .around(api::json_errors)
        .with(api::overload::VoterLimit::new(
            state.settings.max_in_flight,
            state.settings.voter_latency_target,
            state.metrics.clone(),
        ))
        .with(api::limits::AddressLimits(state.limits.clone()))
        .data(state.clone())
        .with(Tracing)
        .boxed()
}

/// The background tasks, each stopped by `stop`: the scheduler, the sweep of ballots in doubt,
/// the subscription ingest when it runs, and the results publisher (last).
fn spawn_background(state: &Arc<AppState>, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
    let on_change = {
        let state = state.clone();
        move |poll: &crate::domain::Poll| {
            state.pipeline.forget(poll.id());
            state.publisher.mark(poll.id());
        }
    };
    let mut tasks = vec![tokio::spawn(state.scheduler.clone().run(
        state.polls.clone(),
        state.ballots.clone(),
        state.momento.clone(),
        on_change,
        stop.clone(),
    ))];
    tasks.push(tokio::spawn(crate::ingest::pipeline::reconcile::run(
        state.pipeline.clone(),
        stop.clone(),
    )));
    if state.ingest.subscription() {
        let shards = crate::ingest::shards::ShardIngest {
            replica: crate::ingest::shards::replica_id(),
            leases: LeaseStore::new(state.momento.clone(), crate::ingest::shards::LEASE_TTL),
            momento: state.momento.clone(),
            pipeline: state.pipeline.clone(),
            metrics: state.metrics.clone(),
            shards: state.vote_shards,
            record_ttl: state.record_ttl,
            live: state.subscribed.clone(),
            replicas_alive: state.replicas_alive.clone(),
        };
        tasks.push(tokio::spawn(shards.run(stop.clone())));
    }
    let interval = state.settings.results_interval;
    tasks.push(tokio::spawn(
        state.publisher.clone().run(interval, stop.clone()),
    ));
    tasks
}

/// Where this process reaches its own listener (a wildcard bind is reached on loopback).
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
