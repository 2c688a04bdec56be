//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use crate::api::errors::ApiError;
use crate::api::tags::ApiTags;
use crate::state::AppState;

/// Operations endpoints.
pub struct HealthApi;

/// Answer of `/healthz`.
#[derive(ApiResponse)]
pub enum Healthy {
    /// The process is up.
    #[oai(status = 200)]
    Ok(PlainText<&'static str>),
}

/// Answer of `/metrics`.
#[derive(ApiResponse)]
pub enum Metrics {
    /// Every metric, Prometheus text format.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Ok(PlainText<String>),
}

/// Answer of `/readyz`.
#[derive(ApiResponse)]
pub enum Ready {
    /// Momento answers: the service can take traffic.
    #[oai(status = 200)]
    Ok(PlainText<&'static str>),
}

#[OpenApi(tag = "ApiTags::Ops")]
impl HealthApi {
    /// Liveness: answers 200 while the process runs.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Healthy {
        Healthy::Ok(PlainText("ok"))
    }

    /// Prometheus metrics (text exposition format).
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&Arc<AppState>>) -> Metrics {
        if let Some(embedded) = &state.embedded {
            state.metrics.observe(embedded);
        }
        state
            .metrics
            .results_subscriptions
            .set(state.feeds.upstreams() as i64);
        Metrics::Ok(PlainText(state.metrics.render()))
    }

    /// Readiness: 200 only when Momento answers a read within 2 s and, when subscription ingest
    /// runs, the votes-topic subscription is live; else 503.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> Result<Ready, ApiError> {
        if state.ingest.subscription()
            && !state.subscribed.load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(ApiError::unavailable(&anyhow::anyhow!(
                "the votes-topic subscription is not live yet"
            )));
        }
        match tokio::time::timeout(Duration::from_secs(2), state.momento.ping()).await {
            Ok(Ok(())) => Ok(Ready::Ok(PlainText("ready"))),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ApiError::unavailable(&anyhow::anyhow!(
                "Momento did not answer within 2 s"
            ))),
        }
    }
}
