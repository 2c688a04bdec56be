//! The tower layer that applies [`Faults`] to every gRPC call, in front of every service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::Either;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

use crate::faults::{FaultCode, Faults};

/// Wraps the gRPC router so each call first consumes its fault, if one is registered.
#[derive(Clone)]
pub(crate) struct FaultLayer {
    faults: Faults,
    /// Cuts injected delays short, so a long delay cannot hold up shutdown.
    shutdown: CancellationToken,
}

impl FaultLayer {
    pub(crate) fn new(faults: Faults, shutdown: CancellationToken) -> Self {
        Self { faults, shutdown }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> FaultService<S> {
        FaultService {
            inner,
            faults: self.faults.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

/// The service [`FaultLayer`] builds.
#[derive(Clone)]
pub(crate) struct FaultService<S> {
    inner: S,
    faults: Faults,
    shutdown: CancellationToken,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for FaultService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    /// Unboxed when no fault applies: the common path costs nothing but an atomic load.
    type Future = Either<S::Future, BoxFuture<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        let Some(injected) = self.faults.take(path) else {
            return Either::Left(self.inner.call(request));
        };
        tracing::debug!(path, ?injected, "injecting a fault");
        // After the delay: fail with a status, serve with the service polled ready (leaving a
        // fresh clone in its place), or both: serve, then fail.
        let failure = injected.code.map(|code| {
            Status::new(
                grpc_code(code),
                injected
                    .message
                    .unwrap_or_else(|| format!("injected fault on {path}")),
            )
        });
        let serve = failure.is_none() || injected.applied;
        let inner = serve.then(|| {
            let fresh = self.inner.clone();
            std::mem::replace(&mut self.inner, fresh)
        });
        let delay = injected.delay;
        // A delay with `after_applying` and no failure holds the answer of a served call back.
        let hold_answer = injected.applied && failure.is_none();
        let shutdown = self.shutdown.clone();
        let wait = move || {
            let shutdown = shutdown.clone();
            async move {
                if delay.is_zero() {
                    return true;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => true,
                    () = shutdown.cancelled() => false,
                }
            }
        };
        let shutting_down =
            || Ok(Status::unavailable("the local Momento is shutting down").into_http());
        Either::Right(Box::pin(async move {
            if !hold_answer && !wait().await {
                return shutting_down();
            }
            let served = match inner {
                Some(mut inner) => Some(inner.call(request).await?),
                None => None,
            };
            if hold_answer && !wait().await {
                return shutting_down();
            }
            match (failure, served) {
                (Some(status), _) => Ok(status.into_http()),
                (None, Some(response)) => Ok(response),
                (None, None) => unreachable!("a fault either fails or serves"),
            }
        }))
    }
}

fn grpc_code(code: FaultCode) -> Code {
    match code {
        FaultCode::Cancelled => Code::Cancelled,
        FaultCode::Unknown => Code::Unknown,
        FaultCode::InvalidArgument => Code::InvalidArgument,
        FaultCode::DeadlineExceeded => Code::DeadlineExceeded,
        FaultCode::NotFound => Code::NotFound,
        FaultCode::AlreadyExists => Code::AlreadyExists,
        FaultCode::PermissionDenied => Code::PermissionDenied,
        FaultCode::ResourceExhausted => Code::ResourceExhausted,
        FaultCode::FailedPrecondition => Code::FailedPrecondition,
        FaultCode::Aborted => Code::Aborted,
        FaultCode::OutOfRange => Code::OutOfRange,
        FaultCode::Unimplemented => Code::Unimplemented,
        FaultCode::Internal => Code::Internal,
        FaultCode::Unavailable => Code::Unavailable,
        FaultCode::DataLoss => Code::DataLoss,
        FaultCode::Unauthenticated => Code::Unauthenticated,
    }
}
