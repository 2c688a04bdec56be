//! Admin authentication, the one place the admin rule lives: `Authorization: Bearer <admin
//! key>`, compared in constant time. Two extractors, so a handler states who may call it and
//! cannot forget a check:
//! - [`AdminAuth`]: admins only; a missing or wrong key is 401.
//! - [`MaybeAdmin`]: anyone, and admins may do more; no `Authorization` header is anonymous,
//!   a wrong key is 401 (it never passes as anonymous).
//!
//! Wrong keys are limited per client address (`--limit-wrong-admin-keys`, `api/limits`):
//! past the allowance every admin call from that address is `429` until the wait is over.
//!
//! Voters authenticate with their own voter token: [`VoterAuth`] (`Authorization: <token>`)
//! accepts a token pollcast minted that has not expired, and yields its `token_id`.

use std::sync::Arc;

use poem::http::header::AUTHORIZATION;
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::api::errors::ApiError;
use crate::domain::TokenId;
use crate::state::AppState;

/// What a wrong key is told.
const WRONG_KEY: &str = "the admin key is wrong";

/// An admin, proven by the admin key.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "AdminKey", checker = "check_admin_key")]
pub struct AdminAuth(());

async fn check_admin_key(request: &Request, bearer: Bearer) -> poem::Result<()> {
    let state = request
        .data::<Arc<AppState>>()
        .expect("AppState is attached to every route");
    // An address that sent too many wrong keys is refused before its key is looked at, so a
    // right guess among them cannot be told apart (`api/limits`).
    let client = state.limits.client(request);
    state
        .limits
        .admin_allowed(client)
        .map_err(|refused| poem::Error::from_response(*refused))?;
    let expected = state.admin_key.expose_secret().as_bytes();
    if bool::from(bearer.token.as_bytes().ct_eq(expected)) {
        return Ok(());
    }
    match state.limits.wrong_admin_key(client) {
        Some(refused) => Err(poem::Error::from_response(*refused)),
        None => Err(ApiError::unauthorized(WRONG_KEY).into()),
    }
}

/// Either the admin or nobody in particular: for operations anyone may call but admins may do
/// more with (voter tokens: anyone for open polls, admins for invite polls; results: admins
/// see them whatever the poll's visibility). In the spec: the `AdminKey` scheme, optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaybeAdmin {
    /// The admin key was given and is right.
    Admin,
    /// No `Authorization` header.
    Anonymous,
}

impl MaybeAdmin {
    /// Whether the caller is the admin.
    pub fn is_admin(self) -> bool {
        self == MaybeAdmin::Admin
    }
}

impl<'a> ApiExtractor<'a> for MaybeAdmin {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        AdminAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        AdminAuth::security_schemes()
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        if !request.headers().contains_key(AUTHORIZATION) {
            return Ok(MaybeAdmin::Anonymous);
        }
        match AdminAuth::from_request(request, body, options).await {
            Ok(_) => Ok(MaybeAdmin::Admin),
            // Too many wrong keys from this address: that answer (429), as is.
            Err(error) if error.status() == poem::http::StatusCode::TOO_MANY_REQUESTS => Err(error),
            // Not a bearer token at all, or the wrong one: the same answer.
            Err(_) => Err(ApiError::unauthorized(WRONG_KEY).into()),
        }
    }
}

/// A voter, proven by a voter token pollcast minted (`Authorization: <token>`, the token as
/// minted or its raw key, `Bearer ` optional): the token's `token_id`. An unknown or expired
/// token is 401. The registry of minted tokens is in `momento/status.rs`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "Authorization",
    key_in = "header",
    rename = "VoterToken",
    checker = "check_voter_token"
)]
pub struct VoterAuth(pub TokenId);

async fn check_voter_token(request: &Request, key: ApiKey) -> poem::Result<TokenId> {
    let state = request
        .data::<Arc<AppState>>()
        .expect("AppState is attached to every route");
    match state.voter_tokens.owner(&key.key).await {
        Ok(Some(token_id)) => Ok(token_id),
        Ok(None) => Err(ApiError::unauthorized(
            "the voter token is unknown or has expired: take a new one",
        )
        .into()),
        Err(error) => Err(ApiError::from(error).into()),
    }
}
