//! Answers, not queues: the voter path (taking a token, publishing a vote) holds at most
//! `--max-in-flight` requests in progress at once. One more is answered at once with `503`,
//! `Retry-After` and the usual `{error, message}` body, before any work is done (nothing is
//! minted, published or counted), so an overloaded server turns away the excess cheaply and
//! keeps serving the rest at full speed instead of making every voter wait seconds. Clients
//! retry after `Retry-After` with jitter (the voter page and `load/k6/vote.js` do).
//!
//! The bound is on concurrency rather than a rate: a request in progress is work the server
//! has not finished, so concurrency over throughput is the time a request waits (Little's law).
//! At the default 256 and the 2-core machine's few thousand voter requests a second, that wait
//! stays around a tenth of a second; `docs/PERFORMANCE.md` has the runs the default comes from.
//!
//! The other refusal on this path is the embedded local Momento's `429` when the pipeline is
//! behind (`--max-ingest-lag`); both are counted in `pollcast_voter_requests_refused_total`.

use std::sync::Arc;

use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tokio::sync::Semaphore;

use crate::api::ErrorBody;
use crate::metrics::Metrics;

/// Seconds a refused client is asked to wait before trying again.
const RETRY_AFTER_SECONDS: u32 = 1;

/// Which voter request a request is, if it is one.
fn voter_request(request: &Request) -> Option<&'static str> {
    if request.method() != Method::POST {
        return None;
    }
    let path = request.uri().path();
    if path.starts_with("/topics/") {
        return Some("publish");
    }
    let is_token = path
        .strip_prefix("/v1/polls/")
        .is_some_and(|rest| rest.ends_with("/tokens") && rest.matches('/').count() == 1);
    is_token.then_some("token")
}

/// The middleware: a semaphore of `--max-in-flight` permits over the voter path.
pub struct VoterLimit {
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl VoterLimit {
    /// At most `max_in_flight` voter requests in progress at once.
    pub fn new(max_in_flight: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            metrics,
        }
    }
}

impl<E: Endpoint> Middleware<E> for VoterLimit {
    type Output = VoterLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        VoterLimitEndpoint {
            inner,
            permits: self.permits.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The endpoint [`VoterLimit`] makes.
pub struct VoterLimitEndpoint<E> {
    inner: E,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
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
        let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
            self.metrics
                .voter_refused
                .with_label_values(&[kind, "busy"])
                .inc();
            return Ok(busy());
        };
        let response = self.inner.call(request).await?.into_response();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            // The local Momento refused a vote: the pipeline is behind.
            self.metrics
                .voter_refused
                .with_label_values(&[kind, "ingest_behind"])
                .inc();
        }
        Ok(response)
    }
}

/// `503` with `Retry-After` and the error body.
fn busy() -> Response {
    let body = ErrorBody::new(
        "overloaded",
        format!(
            "the server is at capacity; try again in {RETRY_AFTER_SECONDS} s (nothing was done)"
        ),
    );
    let mut response = body.into_response();
    response.set_status(StatusCode::SERVICE_UNAVAILABLE);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
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
            Some("publish")
        );
        assert_eq!(voter_request(&post("/v1/polls/p1/tokens")), Some("token"));
        assert_eq!(voter_request(&post("/v1/polls/p1/tokens/batch")), None);
        assert_eq!(voter_request(&post("/v1/polls")), None);
        assert_eq!(voter_request(&post("/v1/polls/p1/open")), None);
        let long_poll = Request::builder()
            .uri_str("/topics/pollcast/results.p1")
            .finish();
        assert_eq!(voter_request(&long_poll), None);
    }
}
