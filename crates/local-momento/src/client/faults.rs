//! The faults of [`crate::faults`] applied to in-process calls, with the semantics the gRPC
//! fault layer gives them: a failure before the call is served touches nothing; an
//! `after_applying` failure serves the call, then reports the failure; a delay waits before
//! serving, or (with `after_applying`) holds the answer back. Shutdown cuts a delay short.

use std::future::Future;

use super::{CallError, CallResult, Client};
use crate::faults::FaultCode;

impl Client {
    /// Runs `serve` as the gRPC method `path` would be served, with its fault if one is
    /// registered.
    pub(super) async fn call<T>(
        &self,
        path: &'static str,
        serve: impl Future<Output = CallResult<T>>,
    ) -> CallResult<T> {
        use crate::quota::MaybeGate;
        self.shared.quota.operation().map_err(super::exceeded)?;
        let Some(injected) = self.shared.faults.take(path) else {
            return serve.await;
        };
        tracing::debug!(path, ?injected, "injecting a fault into an in-process call");
        let failure = injected.code.map(|code| {
            CallError::new(
                code,
                injected
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("injected fault on {path}")),
            )
        });
        let hold_answer = injected.applied && failure.is_none();
        if !hold_answer && !self.wait(injected.delay).await {
            return Err(shutting_down());
        }
        let served = match failure.is_none() || injected.applied {
            true => Some(serve.await),
            false => None,
        };
        if hold_answer && !self.wait(injected.delay).await {
            return Err(shutting_down());
        }
        match (failure, served) {
            (Some(failure), _) => Err(failure),
            (None, Some(answer)) => answer,
            (None, None) => unreachable!("a fault either fails or serves"),
        }
    }

    /// Waits `delay`; `false` when the server shut down first.
    async fn wait(&self, delay: std::time::Duration) -> bool {
        if delay.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.shared.topics.shutdown().cancelled() => false,
        }
    }
}

fn shutting_down() -> CallError {
    CallError::new(FaultCode::Unavailable, "the local Momento is shutting down")
}
