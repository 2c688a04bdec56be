//! The command line: every flag is also an environment variable `POLLCAST_*`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use local_momento::{FsyncPolicy, Persistence, Webhook};
use secrecy::SecretString;

/// pollcast: real-time polls on Momento.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// How logs (on stderr) are written: `text` for people (coloured only on a terminal), or
    /// `json` (one object per line) for log collectors.
    #[arg(
        long,
        global = true,
        env = "POLLCAST_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; ANSI colours only when stderr is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the poll service. Without Momento credentials it starts the local Momento
    /// in-process (nothing else to install); with `MOMENTO_API_KEY` set it uses Momento's
    /// service. Serves until Ctrl-C or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI spec of the REST API as YAML to stdout.
    Openapi,
    /// Run the local Momento on its own: gRPC (cache, topics, tokens), the HTTP topics API and
    /// webhooks, for any Momento SDK to use. Serves until Ctrl-C or SIGTERM.
    LocalMomento(LocalMomentoArgs),
    /// Ask a running server to recount a poll from its stored ballots, report any difference
    /// from the published results, and publish the recount when they differ. Exit status 0
    /// when they matched, 2 when they differed (and were corrected).
    Recount(RecountArgs),
}

/// Flags of `pollcast recount`.
#[derive(Debug, Args)]
pub struct RecountArgs {
    /// The poll to recount.
    pub poll_id: String,
    /// Where the server is.
    #[arg(long, env = "POLLCAST_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The admin key; when absent, the one `pollcast serve` generated and stored in the data dir.
    #[arg(long, env = "POLLCAST_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<SecretString>,
    /// The data dir to read a generated admin key from.
    #[arg(long, env = "POLLCAST_DATA_DIR", default_value = "pollcast-data")]
    pub data_dir: PathBuf,
}

/// Flags of `pollcast serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address the REST API (and, embedded, the Momento HTTP topics API) listens on.
    #[arg(long, env = "POLLCAST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// URL clients reach this server at (tokens carry it as their `http_endpoint`); defaults to
    /// `http://` + the listen address.
    #[arg(long, env = "POLLCAST_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Embedded: where the local Momento serves gRPC for the Momento SDKs (apps using a voter
    /// token with an SDK). Default: the `--listen` address with the next port (8081 beside
    /// 8080); a random port when `--listen` has port 0.
    #[arg(long, env = "POLLCAST_GRPC_LISTEN")]
    pub grpc_listen: Option<SocketAddr>,
    /// Embedded: the gRPC address (`host:port`) voter tokens name as their `endpoint`, for SDK
    /// clients to connect to. Default: the host of `--public-url` (else of the listen address)
    /// with the gRPC port.
    #[arg(long, env = "POLLCAST_PUBLIC_GRPC_ENDPOINT")]
    pub public_grpc_endpoint: Option<String>,
    /// Admin API key (`Authorization: Bearer <key>`). When absent, one is generated on first
    /// start, printed once, and kept in the data directory if one is set.
    #[arg(long, env = "POLLCAST_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<SecretString>,
    /// Momento cache that holds polls, ballots and tallies (created when missing).
    #[arg(long, env = "POLLCAST_CACHE", default_value = "pollcast")]
    pub cache: String,
    /// Lifetime of voter tokens (e.g. `1h`, `90m`); never past a poll's close + 1 minute, never
    /// over 25 h.
    #[arg(long, env = "POLLCAST_TOKEN_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub token_ttl: Duration,
    /// How long poll records, ballots and results live in the cache after their last write.
    /// Default: 7 days with the embedded local Momento, 24 h against Momento's service (its
    /// default cap on item TTLs; raise it only if your account allows more).
    #[arg(long, env = "POLLCAST_RECORD_TTL", value_parser = humantime::parse_duration)]
    pub record_ttl: Option<Duration>,
    /// Which vote ingest paths run: `webhook`, `subscription` or `both` (each ballot still
    /// counts once). Default: `webhook` with the embedded local Momento, `subscription` against
    /// Momento's service.
    #[arg(long, env = "POLLCAST_INGEST", value_enum)]
    pub ingest: Option<IngestMode>,
    /// How many topics votes are spread over (a poll's votes all go to one, chosen from its
    /// id; its voter tokens may publish there only). Replicas share the topics through leases,
    /// each reading only those it holds, so more topics let more replicas ingest. Set once per
    /// cache: a start with another count is refused. Default: 1 with the embedded local
    /// Momento (topic `votes`), 4 against Momento's service (`votes.0` .. `votes.3`).
    #[arg(long, env = "POLLCAST_VOTE_SHARDS", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub vote_shards: Option<u32>,
    /// Signing secret of the Momento webhook that delivers votes. Generated (and registered)
    /// with the embedded local Momento; required for webhook ingest otherwise.
    #[arg(long, env = "POLLCAST_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<SecretString>,
    /// Webhook events whose `publish_timestamp` is older than this are refused (replay
    /// protection, as Momento advises).
    #[arg(long, env = "POLLCAST_WEBHOOK_MAX_AGE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub webhook_max_age: Duration,
    /// How long after a poll closes the votes published while it was open still count: a vote
    /// in flight at the close (in the subscription's queue, a webhook delivery retried) is
    /// judged by when it was published, if it is processed within this window.
    #[arg(long, env = "POLLCAST_CLOSE_GRACE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub close_grace: Duration,
    /// Embedded: a vote published while the pipeline is further behind than this (the oldest
    /// vote not yet taken from the votes webhook's outbox was published longer ago) is refused
    /// with `429` and `Retry-After` before anything is written, so voters are told at once
    /// instead of waiting in a queue. Also refused beyond `--max-ingest-backlog` votes waiting.
    #[arg(long, env = "POLLCAST_MAX_INGEST_LAG", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub max_ingest_lag: Duration,
    /// Embedded: votes waiting for the pipeline (in the votes webhook's outbox) from which
    /// further votes are refused with `429` and `Retry-After` (see `--max-ingest-lag`).
    #[arg(long, env = "POLLCAST_MAX_INGEST_BACKLOG", default_value_t = 16_384)]
    pub max_ingest_backlog: usize,
    /// Most requests on the voter path (taking a token, publishing a vote) in progress at once;
    /// one more is answered `503` with `Retry-After` at once, before any work, so an overload
    /// gets quick refusals (which clients retry) instead of answers seconds late. The limit in
    /// force is lower while voter requests take longer than `--voter-latency-target`, and
    /// voters taking a token get three quarters of it (those with one finish first).
    #[arg(long, env = "POLLCAST_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// The time a voter request should take at most: the in-flight limit shrinks when requests
    /// take longer, and grows back (up to `--max-in-flight`) while they do not.
    #[arg(long, env = "POLLCAST_VOTER_LATENCY_TARGET", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub voter_latency_target: Duration,
    /// At most one results publish per poll per this interval.
    #[arg(long, env = "POLLCAST_RESULTS_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub results_interval: Duration,
    /// Directory for state that must outlive a restart: with the embedded local Momento every
    /// poll, ballot, result, topic and pending webhook event (durable before it is
    /// acknowledged), and the generated admin key. Locked while a server uses it.
    #[arg(long, env = "POLLCAST_DATA_DIR", default_value = "pollcast-data")]
    pub data_dir: PathBuf,
    /// Keep nothing on disk: every poll and vote is gone when the process stops (tests, demos).
    #[arg(long, env = "POLLCAST_IN_MEMORY", conflicts_with = "data_dir")]
    pub in_memory: bool,
    /// When the embedded local Momento flushes its journal to stable storage, as Redis's
    /// `appendfsync`: `always` (before every acknowledgement; concurrent writes share one
    /// fsync), `everysec` (a power loss may lose the last second), `never` (the OS decides).
    /// A crash of the process loses nothing acknowledged under any of them.
    #[arg(long, env = "POLLCAST_FSYNC", default_value = "always")]
    pub fsync: FsyncPolicy,
    /// Momento API key (v2). When set, pollcast uses Momento's service instead of the
    /// embedded local Momento.
    #[arg(long, env = "MOMENTO_API_KEY", hide_env_values = true)]
    pub momento_api_key: Option<SecretString>,
    /// Momento endpoint for the API key (e.g. `cell-4-us-west-2-1.prod.a.momentohq.com`).
    #[arg(long, env = "MOMENTO_ENDPOINT", requires = "momento_api_key")]
    pub momento_endpoint: Option<String>,
    /// Where voter tokens publish votes over Momento's HTTP topics API (their `http_endpoint`)
    /// when it is not where Momento's gRPC is. Default: Momento's own for the key's endpoint;
    /// with `--momento-endpoint-override`, the override's host with the next port (the layout
    /// `pollcast local-momento` uses: gRPC 9090, HTTP 9091).
    #[arg(
        long,
        env = "POLLCAST_MOMENTO_HTTP_ENDPOINT",
        requires = "momento_api_key"
    )]
    pub momento_http_endpoint: Option<String>,
    /// Send every Momento call to this URL instead (`http://` for plaintext), e.g. a
    /// `pollcast local-momento` shared by several pollcast replicas. Needs MOMENTO_API_KEY.
    #[arg(
        long,
        env = "POLLCAST_MOMENTO_ENDPOINT_OVERRIDE",
        requires = "momento_api_key"
    )]
    pub momento_endpoint_override: Option<String>,
    /// Against Momento's service: the namespace's operations a second (its quota: 100 with no
    /// support plan, 1,000 with basic support, 10,000 with pro). Results publishes are spaced so
    /// that they use at most half of it (each costs about 21 operations, the count reading the
    /// poll's ledger, plus one per replica it is delivered to), held back a second at most; a
    /// call Momento refuses over its
    /// rate is retried with backoff. Ignored with the embedded local Momento.
    #[arg(long, env = "POLLCAST_MOMENTO_OPS_BUDGET", default_value_t = 1_000)]
    pub momento_ops_budget: u32,
    /// Origins whose web pages may call the public REST endpoints (a poll's view, voter tokens,
    /// results, ballot status): comma-separated origins (`https://app.example.com`), answered
    /// with credentials allowed, or `*` for any origin, without credentials. Empty: none but
    /// pollcast's own pages. The voter cookie is `SameSite=Lax`: a listed origin on the same
    /// site as pollcast (`app.example.com` beside `polls.example.com`) keeps its voter; a
    /// browser never sends it from another site's page, so there every token is a new voter.
    #[arg(
        long,
        env = "POLLCAST_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_origins: Vec<String>,
    /// Secret that signs the voter cookie (one browser, one voter on open polls). Replicas
    /// must share it. Default: derived from the admin key (so rotating the admin key makes
    /// every browser a new voter).
    #[arg(long, env = "POLLCAST_VOTER_COOKIE_SECRET", hide_env_values = true)]
    pub voter_cookie_secret: Option<SecretString>,
    /// Limits against abuse, per client address and per token (docs/SECURITY.md).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The limits against abuse: each answered `429` with `Retry-After`, counted in
/// `pollcast_limited_total{limit}`. Rates are `COUNT/UNIT[+BURST]` (`1100/min+30`: 1,100 a
/// minute, 30 at once; unit `s`, `min` or `h`), or `off`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Voter tokens an address may take on open polls (anonymous callers; admins are not
    /// limited). The default lets 1,000 voters behind one venue NAT all join within a minute
    /// (the pages retry after `Retry-After`) and holds a script on one address to about 150
    /// tokens in the first five seconds.
    #[arg(long, env = "POLLCAST_LIMIT_TOKENS", default_value = "1100/min+30")]
    pub limit_tokens: RateSetting,
    /// Admin calls with a wrong key an address may make; past it, any admin call from that
    /// address (even with the right key) is refused until the wait is over: a slow brute
    /// force.
    #[arg(
        long,
        env = "POLLCAST_LIMIT_WRONG_ADMIN_KEYS",
        default_value = "10/min+10"
    )]
    pub limit_wrong_admin_keys: RateSetting,
    /// Server-Sent Event streams and long polls (`GET /topics/...`) one address may hold open
    /// at once (a room of phones behind one NAT each holds one; 0: no limit).
    #[arg(long, env = "POLLCAST_MAX_STREAMS_PER_ADDRESS", default_value_t = 2000)]
    pub max_streams_per_address: usize,
    /// Embedded local Momento: publishes one voter token may make (gRPC and the HTTP topics
    /// API), as Momento's service limits its callers. A voter publishes once or twice.
    #[arg(
        long,
        env = "POLLCAST_LIMIT_PUBLISH_PER_TOKEN",
        default_value = "10/s+20"
    )]
    pub limit_publish_per_token: RateSetting,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client (addresses or
    /// CIDR blocks, comma-separated). Default: none, so the client is the connection's peer
    /// and a forged header changes nothing.
    #[arg(long, env = "POLLCAST_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::api::limits::address::Cidr>,
    /// Client addresses the per-address limits do not apply to (addresses or CIDR blocks,
    /// comma-separated): a load generator on the same machine (`scripts/loadtest` passes
    /// 127.0.0.1), a kiosk of your own. Default: none.
    #[arg(long, env = "POLLCAST_UNLIMITED_ADDRESSES", value_delimiter = ',')]
    pub unlimited_addresses: Vec<crate::api::limits::address::Cidr>,
    /// How long a client may take to send one request, head and body, from its first byte
    /// (from the connection's opening, for the first request); a slower one is cut off (a slow
    /// loris). Embedded, a gRPC client has as long to send HTTP/2's preface.
    #[arg(long, env = "POLLCAST_REQUEST_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_read_timeout: Duration,
}

/// A rate limit setting: a [`Rate`](local_momento::limits::Rate) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<local_momento::limits::Rate>);

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "off" => Ok(RateSetting(None)),
            rate => rate.parse().map(|rate| RateSetting(Some(rate))),
        }
    }
}

impl ServeArgs {
    /// Every flag at its documented default, listening on `listen`, **in memory**, whatever the
    /// environment holds: the one constructor of tests and benches, which must not pick up a
    /// `POLLCAST_*` or `MOMENTO_*` variable of the shell they run in, nor write into the working
    /// tree. Set fields on the result to change more (`ServeArgs { admin_key: ...,
    /// ..ServeArgs::new(listen) }`; a test of durability sets `in_memory: false` and a
    /// temporary `data_dir`).
    pub fn new(listen: SocketAddr) -> Self {
        let command = Self::augment_args(clap::Command::new("serve"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let listen = listen.to_string();
        let matches = command
            .try_get_matches_from(["serve", "--listen", listen.as_str(), "--in-memory"])
            .expect("every flag has a valid default");
        Self::from_arg_matches(&matches).expect("the defaults make a ServeArgs")
    }
}

impl ServeArgs {
    /// Refuses settings that cannot work, with a message naming the flag: better at start than
    /// as a misleading error on every request later.
    pub fn check(&self) -> anyhow::Result<()> {
        let second = Duration::from_secs(1);
        let refuse = |flag: &str, rule: &str, value: Duration| {
            Err(anyhow::anyhow!(
                "{flag} {rule} (got {})",
                humantime::format_duration(value)
            ))
        };
        if self.token_ttl < second {
            return refuse(
                "--token-ttl",
                "must be at least 1s: voter tokens live whole seconds",
                self.token_ttl,
            );
        }
        if let Some(ttl) = self.record_ttl.filter(|&ttl| ttl < second) {
            return refuse(
                "--record-ttl",
                "must be at least 1s: Momento's TTLs are whole seconds",
                ttl,
            );
        }
        if self.results_interval.is_zero() {
            return refuse(
                "--results-interval",
                "must be above 0",
                self.results_interval,
            );
        }
        if self.max_ingest_lag.is_zero() {
            return refuse(
                "--max-ingest-lag",
                "must be above 0: every vote would be refused",
                self.max_ingest_lag,
            );
        }
        if self.max_in_flight == 0 || self.max_ingest_backlog == 0 {
            anyhow::bail!(
                "--max-in-flight and --max-ingest-backlog must be above 0: every vote would be refused"
            );
        }
        if self.webhook_max_age.is_zero() {
            return refuse(
                "--webhook-max-age",
                "must be above 0: every webhook call would be refused",
                self.webhook_max_age,
            );
        }
        Ok(())
    }
}

/// Vote ingest paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IngestMode {
    /// The signed webhook `POST /v1/webhooks/momento`.
    Webhook,
    /// A subscription to the votes topic.
    Subscription,
    /// Both (each ballot still counts once).
    Both,
}

impl IngestMode {
    /// Whether the webhook endpoint takes votes.
    pub fn webhook(self) -> bool {
        matches!(self, IngestMode::Webhook | IngestMode::Both)
    }

    /// Whether the subscription runs.
    pub fn subscription(self) -> bool {
        matches!(self, IngestMode::Subscription | IngestMode::Both)
    }
}

/// Flags of `pollcast local-momento`.
#[derive(Debug, Args)]
pub struct LocalMomentoArgs {
    /// Address of the gRPC server (cache, control, topics, tokens).
    #[arg(
        long = "grpc",
        env = "POLLCAST_LM_GRPC",
        default_value = "127.0.0.1:9090"
    )]
    pub grpc: SocketAddr,
    /// Address of Momento's HTTP topics API (`/topics/{cache}/{topic}`).
    #[arg(
        long = "http",
        env = "POLLCAST_LM_HTTP",
        default_value = "127.0.0.1:9091"
    )]
    pub http: SocketAddr,
    /// The gRPC address (`host:port`) disposable tokens name as their `endpoint`, for clients
    /// on other machines. Default: the `--grpc` address.
    #[arg(long, env = "POLLCAST_LM_PUBLIC_GRPC_ENDPOINT")]
    pub public_grpc_endpoint: Option<String>,
    /// File the super-user API key is written to (mode 0600). SDKs load it with
    /// `from_api_key_v2(key, endpoint)`.
    #[arg(long, env = "POLLCAST_LM_API_KEY_FILE")]
    pub api_key_file: PathBuf,
    /// A webhook, as `cache=C,topic=T,url=U,secret=S[,name=N]`; repeat for more. Every message
    /// published on topic T of cache C is POSTed to U, signed with S. N (default: T) names it:
    /// a stored webhook of the same cache and name is replaced, and its waiting events go to U.
    #[arg(long = "webhook", env = "POLLCAST_LM_WEBHOOKS", value_delimiter = ';')]
    pub webhooks: Vec<WebhookArg>,
    /// Attempts per webhook delivery (1 = Momento's behaviour: no retry).
    #[arg(long, env = "POLLCAST_LM_WEBHOOK_ATTEMPTS", default_value_t = 1)]
    pub webhook_attempts: u32,
    /// Caches to create at start (comma-separated).
    #[arg(long, env = "POLLCAST_LM_CACHES", value_delimiter = ',')]
    pub create_cache: Vec<String>,
    /// Directory the state is kept in (caches, items, topics, webhooks and their outbox, the
    /// signing key): durable before acknowledged, locked while in use.
    #[arg(
        long,
        env = "POLLCAST_LM_DATA_DIR",
        default_value = "local-momento-data"
    )]
    pub data_dir: PathBuf,
    /// Keep nothing on disk.
    #[arg(long, env = "POLLCAST_LM_IN_MEMORY", conflicts_with = "data_dir")]
    pub in_memory: bool,
    /// When the journal is flushed: `always`, `everysec` or `never` (see `pollcast serve --help`).
    #[arg(long, env = "POLLCAST_LM_FSYNC", default_value = "always")]
    pub fsync: FsyncPolicy,
    /// Enforce Momento's per-namespace limits of a support tier, as its service does:
    /// `default` (100 operations a second, 100 connections), `basic` (1,000 and 1,000) or `pro`
    /// (10,000 and 10,000). Every call and every message delivered to a subscriber is an
    /// operation; connections are counted as open subscriptions. Over a limit a call is refused
    /// as Momento refuses it (RESOURCE_EXHAUSTED; HTTP 429 with Retry-After). Off by default.
    #[arg(long, env = "POLLCAST_LM_QUOTA")]
    pub quota: Option<local_momento::quota::QuotaTier>,
    /// Publishes one disposable token may make (gRPC and HTTP), `COUNT/UNIT[+BURST]` or
    /// `off`; API keys are never limited. Over it: `RESOURCE_EXHAUSTED` / `429`.
    #[arg(
        long,
        env = "POLLCAST_LM_LIMIT_PUBLISH_PER_TOKEN",
        default_value = "10/s+20"
    )]
    pub limit_publish_per_token: RateSetting,
}

/// Where a local Momento keeps its state, from `--data-dir`, `--in-memory` and `--fsync`.
pub fn persistence(data_dir: &Path, in_memory: bool, fsync: FsyncPolicy) -> Persistence {
    if in_memory {
        Persistence::InMemory
    } else {
        Persistence::Durable {
            dir: data_dir.to_owned(),
            fsync,
        }
    }
}

/// A `--webhook` flag, parsed.
#[derive(Clone, Debug)]
pub struct WebhookArg(pub Webhook);

impl FromStr for WebhookArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (mut cache, mut topic, mut url, mut secret) = (None, None, None, None);
        let mut webhook_name = None;
        for part in s.split(',') {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected name=value, got '{part}'"))?;
            let slot = match name.trim() {
                "cache" => &mut cache,
                "topic" => &mut topic,
                "url" => &mut url,
                "secret" => &mut secret,
                "name" => &mut webhook_name,
                other => return Err(format!("unknown webhook field '{other}'")),
            };
            *slot = Some(value.trim().to_owned());
        }
        let need = |v: Option<String>, name: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("webhook needs a non-empty {name}="))
        };
        let topic = need(topic, "topic")?;
        Ok(WebhookArg(Webhook {
            name: match webhook_name {
                Some(name) => need(Some(name), "name")?,
                None => topic.clone(),
            },
            cache: need(cache, "cache")?,
            topic,
            url: need(url, "url")?,
            secret: SecretString::from(need(secret, "secret")?),
        }))
    }
}
