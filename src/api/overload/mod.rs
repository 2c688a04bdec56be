//! Answers, not queues: the voter path (taking a token, publishing a vote) admits only the
//! requests it can finish soon. One more is answered at once with `503`, `Retry-After` and the
//! usual `{error, message}` body, before any work is done (nothing is minted, published or
//! counted), so an overloaded server turns away the excess cheaply and keeps serving the rest
//! at full speed instead of making every voter wait seconds. Clients retry after `Retry-After`
//! with jitter (the voter page and `load/k6/vote.js` do).
//!
//! The bound is on concurrency rather than a rate, and it is found, not set ([`admission`]): a
//! limit on the requests in progress that shrinks when they take longer than
//! `--voter-latency-target` and grows back while they do not, capped by `--max-in-flight`;
//! token requests (voters starting) get only part of it, so the voters already in finish
//! first; `Retry-After` grows with the excess. `docs/PERFORMANCE.md` has the runs behind the
//! defaults.
//!
//! The other refusal on this path is the embedded local Momento's `429` when the pipeline is
//! behind (`--max-ingest-lag`); both are counted in `pollcast_voter_requests_refused_total`.

pub mod admission;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::api::ErrorBody;
use crate::metrics::Metrics;
use admission::{Admission, Request as Kind};

/// Which voter request a request is, if it is one.
fn voter_request(request: &Request) -> Option<Kind> {
    if request.method() != Method::POST {
        return None;
    }
    let path = request.uri().path();
    if path.starts_with("/topics/") {
        return Some(Kind::Publish);
    }
    // A poll's tokens, and an event's (which takes the active poll's).
    let is_token = ["/v1/polls/", "/v1/events/"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.ends_with("/tokens") && rest.matches('/').count() == 1)
    });
    is_token.then_some(Kind::Token)
}

/// The metrics label of a voter request.
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Token => "token",
        Kind::Publish => "publish",
    }
}

/// The middleware: the voter path's [`Admission`].
pub struct VoterLimit {
    admission: Arc<Mutex<Admission>>,
    metrics: Arc<Metrics>,
}

impl VoterLimit {
    /// At most `max_in_flight` voter requests in progress at once, fewer while they take
    /// longer than `target`.
    pub fn new(max_in_flight: usize, target: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            admission: Arc::new(Mutex::new(Admission::new(max_in_flight, target))),
            metrics,
        }
    }
}

/// The admission, locked. A std mutex: a few arithmetic steps, never held across an await.
fn lock(admission: &Mutex<Admission>) -> MutexGuard<'_, Admission> {
    admission.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<E: Endpoint> Middleware<E> for VoterLimit {
    type Output = VoterLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        VoterLimitEndpoint {
            inner,
            admission: self.admission.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The endpoint [`VoterLimit`] makes.
pub struct VoterLimitEndpoint<E> {
    inner: E,
    admission: Arc<Mutex<Admission>>,
    metrics: Arc<Metrics>,
}

/// An admitted request: reports how long it took when it ends (answered, or dropped by a
/// client that went away).
struct Admitted<'a> {
    admission: &'a Mutex<Admission>,
    metrics: &'a Metrics,
    started: Instant,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut admission = lock(self.admission);
        admission.done(now.duration_since(self.started), now);
        observe(&admission, self.metrics);
    }
}

/// The admission's state, in the gauges.
fn observe(admission: &Admission, metrics: &Metrics) {
    metrics.voter_in_flight.set(admission.in_flight() as i64);
    metrics.voter_limit.set(admission.limit() as i64);
}

impl<E: Endpoint> Endpoint for VoterLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Self::Output> {
        let Some(kind) = voter_request(&request) else {
            return self
                .inner
                .call(request)
                .await
                .map(IntoResponse::into_response);
        };
        let started = Instant::now();
        let admitted = {
            let mut admission = lock(&self.admission);
            let admitted = admission.admit(kind, started);
            observe(&admission, &self.metrics);
            admitted
        };
        if let Err(retry_after) = admitted {
            self.metrics
                .voter_refused
                .with_label_values(&[label(kind), "busy"])
                .inc();
            return Ok(busy(retry_after));
        }
        let _admitted = Admitted {
            admission: &self.admission,
            metrics: &self.metrics,
            started,
        };
        let response = self.inner.call(request).await?.into_response();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let token_rate = response
                .extensions()
                .get::<local_momento::http::TokenRateLimited>()
                .is_some();
            if token_rate {
                // The local Momento refused a vote: its token publishes too often.
                self.metrics
                    .limited
                    .with_label_values(&["publish_per_token"])
                    .inc();
            } else if kind == Kind::Publish {
                // The local Momento refused a vote: the pipeline is behind.
                self.metrics
                    .voter_refused
                    .with_label_values(&[label(kind), "ingest_behind"])
                    .inc();
            }
        }
        Ok(response)
    }
}

/// `503` with `Retry-After` (seconds) and the error body.
fn busy(retry_after: u64) -> Response {
    let body = ErrorBody::new(
        "overloaded",
        format!("the server is at capacity; try again in {retry_after} s (nothing was done)"),
    );
    let mut response = body.into_response();
    response.set_status(StatusCode::SERVICE_UNAVAILABLE);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after.into());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> Request {
        Request::builder()
            .method(Method::POST)
            .uri_str(path)
            .finish()
    }

    #[test]
    fn only_token_and_publish_calls_are_voter_requests() {
        assert_eq!(
            voter_request(&post("/topics/pollcast/votes")),
            Some(Kind::Publish)
        );
        assert_eq!(
            voter_request(&post("/v1/polls/p1/tokens")),
            Some(Kind::Token)
        );
        assert_eq!(
            voter_request(&post("/v1/events/e1/tokens")),
            Some(Kind::Token),
            "an event's tokens are a voter's too"
        );
        assert_eq!(voter_request(&post("/v1/polls/p1/tokens/batch")), None);
        assert_eq!(voter_request(&post("/v1/events/e1/activate")), None);
        assert_eq!(voter_request(&post("/v1/polls")), None);
        assert_eq!(voter_request(&post("/v1/polls/p1/open")), None);
        let long_poll = Request::builder()
            .uri_str("/topics/pollcast/results.p1")
            .finish();
        assert_eq!(voter_request(&long_poll), None);
    }
}
