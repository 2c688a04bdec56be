//! Where the Momento pollcast talks to lives, and every default that differs with it.
//!
//! | | embedded (no `MOMENTO_API_KEY`) | service (`MOMENTO_API_KEY` set) |
//! |---|---|---|
//! | Momento | the local Momento, started in-process ([`local_momento_config`]) | Momento's service, or `--momento-endpoint-override` |
//! | `--record-ttl` | 7 days | 24 h (the service's default cap on item TTLs) |
//! | `--vote-shards` | 1 (topic `votes`) | 4 (`votes.0` .. `votes.3`, shared by replicas through leases) |
//! | engine | in process (`momento/engine/in_process.rs`) | the `momento` SDK |
//! | `--ingest` | `webhook` (registered with the local Momento at start, delivered in process) | `subscription` |
//! | `--webhook-secret` | generated | required for webhook ingest |
//! | voter tokens' `http_endpoint` | pollcast's public URL (the HTTP topics API is mounted there) | `--momento-http-endpoint`, else beside the override (next port), else Momento's |
//! | voter tokens' gRPC `endpoint` | `--public-grpc-endpoint`, else the public URL's host and `--grpc-listen`'s port (default: the listen port + 1) | Momento's |
//! | results | counted as ballots are recorded (this process writes every one) | counted from the ledger at each publish (replicas each write some) |
//! | state | the local Momento's, durable in `--data-dir` (`--fsync`), or `--in-memory` | Momento's (a cache: TTLs, eviction); `--data-dir` keeps only the admin key |

use std::time::Duration;

use std::sync::Arc;

use local_momento::{Backpressure, InProcessWebhook, LocalMomentoConfig, RetryPolicy, Webhook};
use secrecy::SecretString;

use crate::config::{persistence, IngestMode, ServeArgs};
use crate::momento::keys::VoteShards;
use crate::momento::{Location, Momento};
use crate::startup::admin_key::random_secret;

/// Where in the data dir the embedded local Momento keeps its state.
pub const LOCAL_MOMENTO_DIR: &str = "momento";
/// How far the subscription ingest may fall behind the embedded votes topic before the topic
/// drops messages for it.
const EMBEDDED_SUBSCRIBER_BUFFER: usize = 65_536;
/// Votes handed to the pipeline at once from the embedded outbox. Each waits for two or three
/// durable writes (the claim, the ledger; group commit shares their syncs), so throughput is
/// concurrency over sync latency: 64 (an HTTP receiver's bound) left the pipeline idle between
/// syncs; see `docs/PERFORMANCE.md` for the measurement behind this figure.
const EMBEDDED_DELIVERIES_IN_FLIGHT: usize = 256;

/// Where the Momento pollcast talks to lives.
pub enum Mode {
    /// No Momento credentials: the local Momento, started in-process on loopback.
    Embedded,
    /// `MOMENTO_API_KEY` set: Momento's service (or another Momento-compatible server), at a
    /// [`Location::Service`].
    Service(Location),
}

impl Mode {
    /// The mode `settings` ask for: embedded unless `MOMENTO_API_KEY` is set.
    pub fn of(settings: &ServeArgs) -> anyhow::Result<Self> {
        match (&settings.momento_api_key, &settings.momento_endpoint) {
            (Some(api_key), Some(endpoint)) => Ok(Mode::Service(Location::Service {
                api_key: api_key.clone(),
                endpoint: endpoint.clone(),
                endpoint_override: settings.momento_endpoint_override.clone(),
            })),
            (Some(_), None) => anyhow::bail!("MOMENTO_API_KEY needs MOMENTO_ENDPOINT too"),
            (None, _) => Ok(Mode::Embedded),
        }
    }

    /// `--record-ttl`, else 7 days embedded and 24 h against Momento's service.
    pub fn record_ttl(&self, settings: &ServeArgs) -> Duration {
        settings.record_ttl.unwrap_or(match self {
            Mode::Embedded => Duration::from_secs(7 * 24 * 60 * 60),
            Mode::Service(_) => Duration::from_secs(24 * 60 * 60),
        })
    }

    /// `--vote-shards`, else one topic embedded (one process ingests everything) and four
    /// against Momento's service (room for four replicas to share the subscription ingest).
    pub fn vote_shards(&self, settings: &ServeArgs) -> VoteShards {
        VoteShards::new(settings.vote_shards.unwrap_or(match self {
            Mode::Embedded => 1,
            Mode::Service(_) => 4,
        }))
    }

    /// `--ingest`, else the webhook embedded and the subscription against Momento's service.
    pub fn ingest(&self, settings: &ServeArgs) -> IngestMode {
        settings.ingest.unwrap_or(match self {
            Mode::Embedded => IngestMode::Webhook,
            Mode::Service(_) => IngestMode::Subscription,
        })
    }

    /// `--webhook-secret`, else a generated one embedded (pollcast registers the webhook
    /// itself); against Momento's service webhook ingest cannot start without one.
    pub fn webhook_secret(&self, settings: &ServeArgs) -> anyhow::Result<SecretString> {
        match (&settings.webhook_secret, self) {
            (Some(secret), _) => Ok(secret.clone()),
            (None, Mode::Embedded) => Ok(random_secret("whsec_")),
            (None, Mode::Service(_)) => {
                anyhow::bail!("webhook ingest against Momento's service needs --webhook-secret")
            }
        }
    }

    /// Whether results are counted as ballots are recorded (`results/running.rs`): only when
    /// this process writes every ballot of the ledger, i.e. with the embedded local Momento.
    pub fn counts_incrementally(&self) -> bool {
        matches!(self, Mode::Embedded)
    }

    /// Base URL of the HTTP topics API voter tokens use: pollcast's `public_url` embedded (the
    /// local Momento's HTTP API is mounted on pollcast's port); against another Momento
    /// `--momento-http-endpoint`, else beside `--momento-endpoint-override` (the next port,
    /// as `pollcast local-momento` lays them out), else Momento's own.
    pub fn http_endpoint(
        &self,
        settings: &ServeArgs,
        public_url: &str,
        momento: &Momento,
    ) -> String {
        match self {
            Mode::Embedded => public_url.to_owned(),
            Mode::Service(_) => {
                let beside_override = || {
                    let url = settings.momento_endpoint_override.as_deref()?;
                    next_port(url)
                };
                (settings.momento_http_endpoint.clone())
                    .or_else(beside_override)
                    .or_else(|| momento.http_endpoint().map(str::to_owned))
                    .unwrap_or_else(|| public_url.to_owned())
                    .trim_end_matches('/')
                    .to_owned()
            }
        }
    }

    /// Embedded: where the local Momento's gRPC listens: `--grpc-listen`, else the listen
    /// address with the next port (a random one when `--listen` has port 0).
    pub fn grpc_listen(settings: &ServeArgs) -> std::net::SocketAddr {
        settings.grpc_listen.unwrap_or_else(|| {
            let mut addr = settings.listen;
            if addr.port() != 0 {
                addr.set_port(addr.port().saturating_add(1));
            }
            addr
        })
    }
}

/// `url` (`scheme://host:port[/...]`) with the next port, without a path; `None` without a port.
fn next_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    Some(format!("{scheme}://{host}:{}", port.checked_add(1)?))
}

/// The host of `url` (`scheme://host[:port][/...]`).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// The embedded local Momento's settings: whatever the embedded mode sets in the local
/// Momento, from its own defaults or from `settings`, is decided here and nowhere else.
/// `votes_webhooks` are pollcast's own webhooks, one per votes topic (when webhook ingest
/// runs), registered before any event waiting in a durable outbox is delivered, and delivered
/// in process to their receiver.
pub fn local_momento_config(
    settings: &ServeArgs,
    votes_webhooks: Vec<(Webhook, Arc<dyn local_momento::WebhookReceiver>)>,
) -> LocalMomentoConfig {
    let in_process = votes_webhooks
        .iter()
        .map(|(webhook, receiver)| InProcessWebhook {
            cache: webhook.cache.clone(),
            name: webhook.name.clone(),
            receiver: receiver.clone(),
        });
    // Tokens name the gRPC address clients can reach: as given, else the public URL's host
    // (or the listen address's, a wildcard one read as loopback) with the bound port.
    let grpc_addr = Mode::grpc_listen(settings);
    let endpoint_host = settings
        .public_url
        .as_deref()
        .and_then(host_of)
        .unwrap_or_else(|| match grpc_addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            ip => ip.to_string(),
        });
    LocalMomentoConfig {
        grpc_addr,
        endpoint: settings.public_grpc_endpoint.clone(),
        endpoint_host: Some(endpoint_host),
        // The local Momento's own files go in a directory of their own, beside the admin key.
        persistence: persistence(
            &settings.data_dir.join(LOCAL_MOMENTO_DIR),
            settings.in_memory,
            settings.fsync,
        ),
        in_process_webhooks: in_process.collect(),
        webhooks: votes_webhooks
            .into_iter()
            .map(|(webhook, _)| webhook)
            .collect(),
        webhook_max_in_flight: EMBEDDED_DELIVERIES_IN_FLIGHT,
        // The local server controls both ends, so it keeps every vote in its outbox until
        // pollcast has taken it...
        webhook_retry: RetryPolicy::until_delivered(),
        // ...and, when ingest falls behind, refuses new votes at once (429, Retry-After)
        // rather than keep voters waiting or let the backlog grow.
        webhook_backpressure: Backpressure::Refuse {
            max_waiting: settings.max_ingest_backlog,
            max_delay: settings.max_ingest_lag,
        },
        subscriber_buffer: EMBEDDED_SUBSCRIBER_BUFFER,
        publish_limit_per_token: settings.limits.limit_publish_per_token.0,
        slow_client_timeout: settings.limits.request_read_timeout,
        ..LocalMomentoConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_api_is_found_beside_a_local_momento_override() {
        assert_eq!(
            next_port("http://127.0.0.1:9090").as_deref(),
            Some("http://127.0.0.1:9091")
        );
        assert_eq!(
            next_port("http://momento.internal:19090/").as_deref(),
            Some("http://momento.internal:19091")
        );
        assert_eq!(next_port("https://cache.example.com"), None);
    }

    #[test]
    fn tokens_name_the_public_host() {
        assert_eq!(
            host_of("https://polls.example.com").as_deref(),
            Some("polls.example.com")
        );
        assert_eq!(
            host_of("http://10.0.0.5:8080/x").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(host_of("http://[::1]:8080").as_deref(), Some("[::1]"));
    }

    #[test]
    fn grpc_listens_beside_the_http_port_or_at_random_beside_port_0() {
        let mut settings = ServeArgs::new("127.0.0.1:8080".parse().unwrap());
        settings.grpc_listen = None;
        assert_eq!(Mode::grpc_listen(&settings).port(), 8081);
        settings.listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(Mode::grpc_listen(&settings).port(), 0);
    }
}
