//! The delivery machinery: registrations, the bounded queue and the task that POSTs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{payload, sign, RetryPolicy, Webhook, SIGNATURE_HEADER, USER_AGENT};
use crate::config::LocalMomentoConfig;
use crate::topics::{now_millis, Message};

/// Events waiting for delivery; beyond this, new ones are dropped (and counted).
const QUEUE_CAPACITY: usize = 1024;
/// Deliveries in flight at once, so a slow receiver cannot make the server open unbounded
/// connections; the queue absorbs bursts meanwhile.
const MAX_IN_FLIGHT: usize = 64;

/// What became of webhook deliveries so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WebhookStats {
    /// HTTP requests made (retries included).
    pub(crate) attempts: u64,
    /// Events a receiver accepted with a 2xx.
    pub(crate) delivered: u64,
    /// Events given up on after the last attempt (or at shutdown).
    pub(crate) failed: u64,
    /// Events dropped because the queue was full.
    pub(crate) dropped: u64,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

struct Job {
    webhook: Arc<Webhook>,
    message: Arc<Message>,
}

/// Registered webhooks and the queue to their delivery task.
pub(crate) struct Dispatcher {
    hooks: DashMap<(String, String), Vec<Arc<Webhook>>>,
    /// Wait for queue room instead of dropping (`LocalMomentoConfig::webhook_backpressure`).
    backpressure: bool,
    queue: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    /// The delivery task, until [`Dispatcher::take_task`] hands it to whoever waits for it.
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts the delivery task (inside the current Tokio runtime); it stops taking events when
    /// `shutdown` fires and lets the deliveries already under way finish.
    pub(crate) fn start(config: &LocalMomentoConfig, shutdown: CancellationToken) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        let deliverer = Deliverer {
            client: http_client(config),
            policy: config.webhook_retry.clone(),
            counters: counters.clone(),
            shutdown: shutdown.clone(),
        };
        let task = tokio::spawn(deliverer.run(jobs));
        Self {
            hooks: DashMap::new(),
            backpressure: config.webhook_backpressure,
            queue,
            counters,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// The delivery task, for a shutdown that waits for it (once; `None` afterwards).
    pub(crate) fn take_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        // A plain mutex: taken once at start-up, never across an await.
        self.task.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Adds a webhook on its topic (a topic may have several).
    pub(crate) fn register(&self, webhook: Webhook) {
        tracing::info!(cache = %webhook.cache, topic = %webhook.topic, url = %webhook.url, "webhook registered");
        self.hooks
            .entry((webhook.cache.clone(), webhook.topic.clone()))
            .or_default()
            .push(Arc::new(webhook));
    }

    /// Queues `message` for every webhook on `cache`/`topic`, without waiting.
    pub(crate) fn notify(&self, cache: &str, topic: &str, message: &Arc<Message>) {
        if self.hooks.is_empty() {
            return; // the common case: spare the key allocation below
        }
        let Some(hooks) = self.hooks.get(&(cache.to_owned(), topic.to_owned())) else {
            return;
        };
        for webhook in hooks.iter() {
            let job = Job {
                webhook: webhook.clone(),
                message: message.clone(),
            };
            match self.queue.try_send(job) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        cache, topic, url = %webhook.url,
                        sequence_number = message.sequence_number,
                        "webhook queue full: event dropped"
                    );
                }
                // The server is shutting down.
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Queues `message` for every webhook on `cache`/`topic`: without waiting (dropping on a
    /// full queue), or, with backpressure, waiting for room.
    pub(crate) async fn deliver(&self, cache: &str, topic: &str, message: &Arc<Message>) {
        if !self.backpressure {
            return self.notify(cache, topic, message);
        }
        if self.hooks.is_empty() {
            return;
        }
        let hooks: Vec<Arc<Webhook>> = match self.hooks.get(&(cache.to_owned(), topic.to_owned())) {
            Some(hooks) => hooks.clone(), // not held across the await below
            None => return,
        };
        for webhook in hooks {
            let job = Job {
                webhook,
                message: message.clone(),
            };
            if self.queue.send(job).await.is_err() {
                // The server is shutting down.
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> WebhookStats {
        let c = &self.counters;
        WebhookStats {
            attempts: c.attempts.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

fn http_client(config: &LocalMomentoConfig) -> Option<reqwest::Client> {
    let builder = || {
        reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .user_agent(USER_AGENT)
            // A redirect is a non-2xx answer, as with Momento; following it would turn the POST
            // into a GET somewhere else.
            .redirect(reqwest::redirect::Policy::none())
    };
    match builder().build() {
        Ok(client) => Some(client),
        Err(error) => {
            // Only TLS root loading can fail; plain-HTTP receivers work without roots.
            tracing::warn!(%error, "webhook HTTP client without native TLS roots");
            builder()
                .tls_built_in_native_certs(false)
                .build()
                .inspect_err(|error| tracing::error!(%error, "no webhook HTTP client"))
                .ok()
        }
    }
}

#[derive(Clone)]
struct Deliverer {
    client: Option<reqwest::Client>,
    policy: RetryPolicy,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
}

impl Deliverer {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut in_flight = JoinSet::new();
        loop {
            let job = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
            };
            let permit = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // never closed
                },
            };
            while in_flight.try_join_next().is_some() {}
            let deliverer = self.clone();
            in_flight.spawn(async move {
                deliverer.deliver(&job).await;
                drop(permit);
            });
        }
        // Deliveries under way finish (each is bounded by timeout x attempts; backoffs end at
        // shutdown); queued ones are abandoned, as a stopping server would.
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(&self, job: &Job) {
        let attempts = self.policy.max_attempts.max(1);
        let webhook = &job.webhook;
        let sequence_number = job.message.sequence_number;
        for attempt in 1..=attempts {
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            match self.attempt(job).await {
                Ok(()) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(url = %webhook.url, sequence_number, attempt, "webhook delivered");
                    return;
                }
                Err(reason) => tracing::warn!(
                    cache = %webhook.cache, topic = %webhook.topic, url = %webhook.url,
                    sequence_number, attempt, attempts, %reason,
                    "webhook delivery failed"
                ),
            }
            if attempt < attempts {
                tokio::select! {
                    _ = tokio::time::sleep(self.policy.backoff(attempt)) => {}
                    _ = self.shutdown.cancelled() => break,
                }
            }
        }
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(&self, job: &Job) -> Result<(), String> {
        let client = self
            .client
            .as_ref()
            .ok_or("no HTTP client could be built")?;
        let webhook = &job.webhook;
        let body = payload(&webhook.cache, &webhook.topic, &job.message, now_millis());
        let signature = sign(webhook.secret.expose_secret().as_bytes(), &body);
        let response = client
            .post(&webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}
