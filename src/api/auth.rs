//! Admin authentication: `Authorization: Bearer <admin key>`, compared in constant time.

use std::sync::Arc;

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::api::errors::ApiError;
use crate::state::AppState;

/// An admin, proven by the admin key.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "AdminKey", checker = "check_admin_key")]
pub struct AdminAuth(());

/// Either an admin or nobody in particular: for operations anyone may call but admins may do
/// more with (voter tokens: anyone for open polls, admins for invite polls).
#[derive(SecurityScheme)]
pub enum MaybeAdmin {
    /// The admin key was given and is right.
    Admin(AdminAuth),
    /// No (valid) admin key.
    #[oai(fallback)]
    Anonymous,
}

async fn check_admin_key(request: &Request, bearer: Bearer) -> poem::Result<()> {
    let state = request
        .data::<Arc<AppState>>()
        .expect("AppState is attached to every route");
    let expected = state.admin_key.expose_secret().as_bytes();
    if bool::from(bearer.token.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("the admin key is wrong").into())
    }
}

impl MaybeAdmin {
    /// Whether the caller is the admin; a wrong key is 401 (it must not pass as anonymous).
    pub fn is_admin(&self, request: &Request) -> Result<bool, ApiError> {
        match self {
            MaybeAdmin::Admin(_) => Ok(true),
            MaybeAdmin::Anonymous
                if request
                    .headers()
                    .contains_key(poem::http::header::AUTHORIZATION) =>
            {
                Err(ApiError::unauthorized("the admin key is wrong"))
            }
            MaybeAdmin::Anonymous => Ok(false),
        }
    }
}
