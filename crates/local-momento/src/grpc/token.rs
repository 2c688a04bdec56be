//! `Token`: GenerateDisposableToken.

use std::sync::Arc;
use std::time::Duration;

use momento_protos::token::token_server::Token;
use momento_protos::token::{GenerateDisposableTokenRequest, GenerateDisposableTokenResponse};
use secrecy::ExposeSecret;
use tonic::{Request, Response, Status};

use crate::auth::MintError;
use crate::grpc::authenticate;
use crate::quota::MaybeGate;
use crate::Shared;

pub(crate) struct TokenService(Arc<Shared>);

impl TokenService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }
}

#[tonic::async_trait]
impl Token for TokenService {
    async fn generate_disposable_token(
        &self,
        request: Request<GenerateDisposableTokenRequest>,
    ) -> Result<Response<GenerateDisposableTokenResponse>, Status> {
        // The Rust SDK sends the key as `authorization` metadata, the JavaScript SDK in the
        // body's `auth_token`; Momento accepts either, and so do we.
        let metadata_key = match request.metadata().get("authorization") {
            Some(value) => value
                .to_str()
                .map_err(|_| Status::unauthenticated("authorization metadata is not ASCII"))?
                .to_owned(),
            None => String::new(),
        };
        let request = request.into_inner();
        let key = if metadata_key.trim().is_empty() {
            request.auth_token.as_str()
        } else {
            metadata_key.as_str()
        };
        let caller = authenticate(&self.0, key)?;
        self.0.quota.operation().map_err(crate::grpc::exceeded)?;
        let permissions = request
            .permissions
            .ok_or_else(|| Status::invalid_argument("permissions must be given"))?;
        let valid_for = request
            .expires
            .map(|e| Duration::from_secs(e.valid_for_seconds.into()))
            .ok_or_else(|| Status::invalid_argument("expires must be given"))?;
        let minted = self
            .0
            .auth
            .mint_disposable(&caller, &permissions, valid_for, &request.token_id)
            .map_err(|error| match error {
                MintError::NotAllowed => Status::permission_denied(error.to_string()),
                MintError::TokenIdTooLong(_)
                | MintError::BadExpiry(_)
                | MintError::MissingPermissions => Status::invalid_argument(error.to_string()),
            })?;
        Ok(Response::new(GenerateDisposableTokenResponse {
            api_key: minted.api_key.expose_secret().to_owned(),
            endpoint: self.0.endpoint.clone(),
            valid_until: minted.valid_until,
        }))
    }
}
