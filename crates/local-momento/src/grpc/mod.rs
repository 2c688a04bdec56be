//! The gRPC front end: tonic services over the store, the topics and the authenticator.
//!
//! Every service sits behind [`Authenticate`], which checks the `authorization` metadata and
//! hands the handler a [`Principal`]; each handler then checks its own permission. In front of
//! them all, [`fault_layer::FaultLayer`] applies the injected [`crate::Faults`].

mod cache;
mod control;
mod fault_layer;
mod pubsub;
mod token;

use std::sync::Arc;

use momento_protos::cache_client::pubsub::pubsub_server::PubsubServer;
use momento_protos::cache_client::scs_server::ScsServer;
use momento_protos::control_client::scs_control_server::ScsControlServer;
use momento_protos::token::token_server::TokenServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};

use crate::auth::Principal;
use crate::guard::{Mode, SlowGuard};
use crate::quota::MaybeGate;
use crate::Shared;
use futures::StreamExt;

/// Largest gRPC message accepted: a 5 MB item plus its key and framing. Larger items are
/// refused by the store with Momento's own error, not by the transport.
pub(crate) const MAX_GRPC_MESSAGE: usize = 8 * 1024 * 1024;

/// Largest list of headers (metadata) a call may send: hyper's default, pinned here.
pub(crate) const MAX_HEADER_LIST: u32 = 16 * 1024;

/// Serves every gRPC service on `listener` until `shutdown` fires; a client that does not send
/// HTTP/2's preface within `slow_client` is cut off (`crate::guard`).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    slow_client: std::time::Duration,
    shutdown: CancellationToken,
) {
    let auth = Authenticate(shared.clone());
    let token = TokenServer::new(token::TokenService::new(shared.clone()))
        .max_decoding_message_size(MAX_GRPC_MESSAGE);
    let cache = ScsServer::new(cache::CacheService::new(shared.clone()))
        .max_decoding_message_size(MAX_GRPC_MESSAGE);
    let control = ScsControlServer::new(control::ControlService::new(shared.clone()))
        .max_decoding_message_size(MAX_GRPC_MESSAGE);
    let pubsub = PubsubServer::new(pubsub::PubsubService::new(shared.clone()))
        .max_decoding_message_size(MAX_GRPC_MESSAGE);
    let faults = fault_layer::FaultLayer::new(shared.faults.clone(), shutdown.clone());
    // `Server::tcp_nodelay` is ignored by `serve_with_incoming*`: set it on the incoming
    // stream, or every response larger than a segment waits ~40 ms for a delayed ACK.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |accepted| {
            accepted.map(|stream| SlowGuard::new(stream, Mode::Http2Preface, slow_client))
        });
    let result = tonic::transport::Server::builder()
        .http2_max_header_list_size(MAX_HEADER_LIST)
        .layer(faults)
        // Not behind `Authenticate`: the JavaScript SDK sends the key in the request body.
        .add_service(token)
        .add_service(InterceptedService::new(cache, auth.clone()))
        .add_service(InterceptedService::new(control, auth.clone()))
        .add_service(InterceptedService::new(pubsub, auth.clone()))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled())
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "local Momento gRPC server stopped");
    }
}

/// Checks the `authorization` metadata of every call and attaches the caller's [`Principal`].
#[derive(Clone)]
pub(crate) struct Authenticate(Arc<Shared>);

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let key = match request.metadata().get("authorization") {
            Some(value) => value
                .to_str()
                .map_err(|_| Status::unauthenticated("authorization metadata is not ASCII"))?,
            None => "",
        };
        let principal = authenticate(&self.0, key)?;
        self.0.quota.operation().map_err(exceeded)?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

/// Checks `key` (raw or in the SDKs' base64 form); `UNAUTHENTICATED` when it is not good.
pub(crate) fn authenticate(shared: &Shared, key: &str) -> Result<Principal, Status> {
    shared
        .auth
        .authenticate(key)
        .map_err(|error| Status::unauthenticated(error.to_string()))
}

/// The caller of a request that passed [`Authenticate`].
pub(crate) fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("the call was not authenticated"))
}

/// The `cache` metadata the SDKs send with every data-plane cache call.
pub(crate) fn cache_name<T>(request: &Request<T>) -> Result<String, Status> {
    let value = request
        .metadata()
        .get("cache")
        .ok_or_else(|| Status::invalid_argument("missing 'cache' metadata naming the cache"))?;
    let name = value
        .to_str()
        .map_err(|_| Status::invalid_argument("'cache' metadata is not ASCII"))?;
    if name.trim().is_empty() {
        return Err(Status::invalid_argument("'cache' metadata is empty"));
    }
    Ok(name.to_owned())
}

/// `RESOURCE_EXHAUSTED` with the `err` metadata the SDKs read to name the limit.
pub(crate) fn exceeded(limit: crate::quota::Exceeded) -> Status {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert(
        "err",
        tonic::metadata::MetadataValue::from_static(limit.err()),
    );
    Status::with_metadata(tonic::Code::ResourceExhausted, limit.message(), metadata)
}

/// `UNAVAILABLE` for a change that could not be made durable (the SDKs retry those).
pub(crate) fn unavailable(error: crate::persist::Unavailable) -> Status {
    Status::unavailable(error.to_string())
}

/// `PERMISSION_DENIED` with a message that names what was refused.
pub(crate) fn denied(what: impl std::fmt::Display) -> Status {
    Status::permission_denied(format!("insufficient permissions: {what}"))
}
