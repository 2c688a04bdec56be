//! Authentication and authorization: the super-user API key, disposable tokens, and the
//! permission checks every call goes through.
//!
//! Both kinds of key are HS256 JWTs signed with the server's secret (via `jsonwebtoken`):
//! - the **super-user API key** carries `"t":"g"`, which is what the SDKs'
//!   `from_api_key_v2` looks for, and may do anything;
//! - a **disposable token** carries `"t":"d"`, its `token_id` (`tid`), its permissions (`p`,
//!   the protobuf `Permissions` message, base64) and an expiry (`exp`). It is self-contained:
//!   the server keeps no record of the tokens it minted.
//!
//! Keys arrive either raw (the JWT, as the SDKs send it in `authorization` metadata) or as the
//! base64 JSON `{"api_key": ..., "endpoint": ...}` that the SDKs hand out as `auth_token`; the
//! HTTP API accepts both, so [`Authenticator::authenticate`] does too.

mod permissions;

pub use permissions::{CacheAccess, Grants, TopicAccess};

use std::sync::Arc;
use std::time::Duration;

use crate::clock::unix_ms;

use dashmap::DashMap;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use momento_protos::permission_messages::Permissions;
use prost::Message;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};

/// Longest `token_id` a disposable token may carry (Momento's limit).
pub const MAX_TOKEN_ID_CHARS: usize = 64;
/// Longest lifetime of a disposable token (Momento's limit since 2026-02).
pub const MAX_DISPOSABLE_TOKEN_LIFETIME: Duration = Duration::from_secs(25 * 60 * 60);

/// Why a key was refused. Every variant maps to `UNAUTHENTICATED` (HTTP 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No key was given at all.
    #[error("no auth token was given")]
    Missing,
    /// The key is not a JWT this server signed (bad shape, bad signature, unknown kind).
    #[error("the auth token is invalid")]
    Invalid,
    /// The key was valid but its expiry has passed.
    #[error("the auth token has expired")]
    Expired,
}

/// Why a disposable token could not be minted. Maps to `INVALID_ARGUMENT` (or
/// `PERMISSION_DENIED` for [`MintError::NotAllowed`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MintError {
    /// `token_id` longer than [`MAX_TOKEN_ID_CHARS`].
    #[error("token_id must be at most {MAX_TOKEN_ID_CHARS} characters, got {0}")]
    TokenIdTooLong(usize),
    /// Expiry of zero or over [`MAX_DISPOSABLE_TOKEN_LIFETIME`].
    #[error("expiry must be between 1 second and 25 hours, got {0} seconds")]
    BadExpiry(u64),
    /// No permissions, or an empty explicit list.
    #[error("permissions must be given")]
    MissingPermissions,
    /// Only super-user keys may mint disposable tokens.
    #[error("only a super-user API key may generate disposable tokens")]
    NotAllowed,
}

/// A disposable token as minted: the raw key and when it stops working.
pub struct MintedToken {
    /// The raw key (a JWT); what travels in `authorization`.
    pub api_key: SecretString,
    /// Expiry, seconds since the Unix epoch.
    pub valid_until: u64,
}

/// Who is calling, once their key has been checked. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Principal(Arc<PrincipalInner>);

#[derive(Debug)]
struct PrincipalInner {
    token_id: String,
    grants: Grants,
    /// Expiry in ms since the epoch (disposable tokens only).
    expires_at_ms: Option<u64>,
}

impl Principal {
    /// The `token_id` of a disposable token; `""` for an API key (as Momento reports it).
    pub fn token_id(&self) -> &str {
        &self.0.token_id
    }

    /// What this principal may do.
    pub fn grants(&self) -> &Grants {
        &self.0.grants
    }

    /// A principal that may do anything (used for in-process calls).
    pub fn super_user() -> Self {
        Self(Arc::new(PrincipalInner {
            token_id: String::new(),
            grants: Grants::SuperUser,
            expires_at_ms: None,
        }))
    }

    fn expired(&self, now_ms: u64) -> bool {
        self.0.expires_at_ms.is_some_and(|exp| now_ms >= exp)
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Key kind: `g` for an API key, `d` for a disposable token.
    t: String,
    /// Unique id of this key.
    jti: String,
    /// Issued at, seconds since the epoch.
    iat: u64,
    /// Expiry, seconds since the epoch (disposable tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    /// Disposable tokens: the token_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    /// Disposable tokens: the protobuf `Permissions`, base64 (standard, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
}

/// How many verified keys [`Authenticator`] remembers; past that the memory is cleared.
const VERIFIED_CACHE_CAPACITY: usize = 16_384;

/// Signs and checks keys with one secret.
pub struct Authenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Keys already verified, by the exact string presented. Verifying a JWT (base64, HMAC,
    /// JSON) was the largest cost of our own code per call; a key's verdict cannot change
    /// before its expiry (keys are not revocable), and expiry is checked on every hit.
    verified: DashMap<Box<str>, Principal>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator { secret: <redacted> }")
    }
}

impl Authenticator {
    /// An authenticator with a fresh random 256-bit secret.
    pub fn random() -> Self {
        let mut secret = vec![0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::new(&SecretBox::new(secret.into_boxed_slice()))
    }

    /// An authenticator with the given secret (keys survive a restart with the same secret).
    pub fn new(secret: &SecretBox<[u8]>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false; // checked by hand: API keys carry no exp
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.expose_secret()),
            decoding: DecodingKey::from_secret(secret.expose_secret()),
            validation,
            verified: DashMap::new(),
        }
    }

    /// Mints a new super-user API key (v2 format: a JWT with `"t":"g"`).
    pub fn super_user_key(&self) -> SecretString {
        let claims = Claims {
            t: "g".into(),
            jti: random_id(),
            iat: unix_ms() / 1000,
            exp: None,
            tid: None,
            p: None,
        };
        self.sign(&claims)
    }

    /// Mints a disposable token for `permissions`, valid for `valid_for`, carrying `token_id`.
    pub fn mint_disposable(
        &self,
        caller: &Principal,
        permissions: &Permissions,
        valid_for: Duration,
        token_id: &str,
    ) -> Result<MintedToken, MintError> {
        if !caller.grants().is_super_user() {
            return Err(MintError::NotAllowed);
        }
        let chars = token_id.chars().count();
        if chars > MAX_TOKEN_ID_CHARS {
            return Err(MintError::TokenIdTooLong(chars));
        }
        if valid_for.is_zero() || valid_for > MAX_DISPOSABLE_TOKEN_LIFETIME {
            return Err(MintError::BadExpiry(valid_for.as_secs()));
        }
        // Validate now so a token that could never be used is refused at mint time.
        Grants::from_proto(permissions).map_err(|_| MintError::MissingPermissions)?;
        // Round the expiry up to a whole second, so a token never lives shorter than asked.
        let now_ms = unix_ms();
        let valid_until = (now_ms + valid_for.as_millis() as u64).div_ceil(1000);
        let claims = Claims {
            t: "d".into(),
            jti: random_id(),
            iat: now_ms / 1000,
            exp: Some(valid_until),
            tid: Some(token_id.to_owned()),
            p: Some(base64::engine::general_purpose::STANDARD.encode(permissions.encode_to_vec())),
        };
        Ok(MintedToken {
            api_key: self.sign(&claims),
            valid_until,
        })
    }

    /// Checks a key, raw or wrapped in the SDKs' base64 `auth_token` form.
    pub fn authenticate(&self, presented: &str) -> Result<Principal, AuthError> {
        let now_ms = unix_ms();
        if let Some(known) = self.verified.get(presented) {
            if !known.expired(now_ms) {
                return Ok(known.clone());
            }
        }
        let principal = self.verify(presented, now_ms);
        match &principal {
            Ok(principal) => {
                if self.verified.len() >= VERIFIED_CACHE_CAPACITY {
                    self.verified.clear();
                }
                self.verified.insert(presented.into(), principal.clone());
            }
            Err(AuthError::Expired) => {
                self.verified.remove(presented);
            }
            Err(_) => {}
        }
        principal
    }

    fn verify(&self, presented: &str, now_ms: u64) -> Result<Principal, AuthError> {
        let presented = presented.trim();
        let presented = presented.strip_prefix("Bearer ").unwrap_or(presented);
        if presented.is_empty() {
            return Err(AuthError::Missing);
        }
        let raw = unwrap_auth_token(presented);
        let raw = raw.as_deref().unwrap_or(presented);
        let data = jsonwebtoken::decode::<Claims>(raw, &self.decoding, &self.validation)
            .map_err(|_| AuthError::Invalid)?;
        let claims = data.claims;
        match claims.t.as_str() {
            "g" => Ok(Principal::super_user()),
            "d" => {
                let exp = claims.exp.ok_or(AuthError::Invalid)?;
                let expires_at_ms = exp.saturating_mul(1000);
                if now_ms >= expires_at_ms {
                    return Err(AuthError::Expired);
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(claims.p.ok_or(AuthError::Invalid)?)
                    .map_err(|_| AuthError::Invalid)?;
                let permissions =
                    Permissions::decode(bytes.as_slice()).map_err(|_| AuthError::Invalid)?;
                let grants = Grants::from_proto(&permissions).map_err(|_| AuthError::Invalid)?;
                Ok(Principal(Arc::new(PrincipalInner {
                    token_id: claims.tid.unwrap_or_default(),
                    grants,
                    expires_at_ms: Some(expires_at_ms),
                })))
            }
            _ => Err(AuthError::Invalid),
        }
    }

    fn sign(&self, claims: &Claims) -> SecretString {
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serializable claims cannot fail");
        SecretString::from(jwt)
    }
}

/// Wraps a raw key in the base64 JSON form the SDKs hand out as `auth_token`.
pub fn wrap_auth_token(api_key: &str, endpoint: &str) -> String {
    let json = serde_json::json!({ "api_key": api_key, "endpoint": endpoint });
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

/// The raw key inside an SDK `auth_token`, if `presented` is one.
fn unwrap_auth_token(presented: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Wrapped {
        api_key: String,
    }
    if presented.contains('.') {
        return None; // a JWT, not base64 JSON
    }
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD,
    ];
    engines.iter().find_map(|engine| {
        let bytes = engine.decode(presented).ok()?;
        serde_json::from_slice::<Wrapped>(&bytes)
            .ok()
            .map(|w| w.api_key)
    })
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests;
