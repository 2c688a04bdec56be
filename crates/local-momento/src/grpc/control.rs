//! `ScsControl`: create, delete, list and flush caches. Every call needs a super-user key
//! (disposable tokens never reach the control plane). Signing keys and vector indexes are not
//! implemented and answer `UNIMPLEMENTED`.
//!
//! Cache names: 1 to 255 characters, ASCII letters, digits, `-`, `_` and `.`. Momento's SDKs
//! only refuse empty names; the local server is stricter so that every cache it creates can
//! be named in `cache` gRPC metadata (ASCII only) and in the HTTP topics API's URL paths
//! (no `/`, no spaces, nothing to escape). A bad name is `INVALID_ARGUMENT`.

use std::sync::Arc;

use momento_protos::control_client::scs_control_server::ScsControl;
use momento_protos::control_client::*;
use tonic::{Request, Response, Status};

use crate::grpc::{denied, principal, unavailable};
use crate::store::{CacheError, MAX_ITEM_BYTES};
use crate::Shared;

/// Longest cache name accepted.
const MAX_CACHE_NAME_CHARS: usize = 255;
/// Momento's topic message limit, reported in ListCaches (the topics service enforces it).
const MAX_TOPIC_MESSAGE_KB: u32 = 4;

/// The `ScsControl` service.
pub(crate) struct ControlService(Arc<Shared>);

impl ControlService {
    /// The service over the shared store.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ScsControl for ControlService {
    #[tracing::instrument(skip_all, fields(cache = %request.get_ref().cache_name))]
    async fn create_cache(
        &self,
        request: Request<CreateCacheRequest>,
    ) -> Answer<CreateCacheResponse> {
        require_super_user(&request, "CreateCache")?;
        let name = valid_cache_name(&request.get_ref().cache_name)?;
        let lsn = self.0.store.create_cache(name).map_err(cache_error)?;
        self.0.log.wait(lsn).await.map_err(unavailable)?;
        tracing::info!("cache created");
        Ok(Response::new(CreateCacheResponse {}))
    }

    #[tracing::instrument(skip_all, fields(cache = %request.get_ref().cache_name))]
    async fn delete_cache(
        &self,
        request: Request<DeleteCacheRequest>,
    ) -> Answer<DeleteCacheResponse> {
        require_super_user(&request, "DeleteCache")?;
        let lsn = self
            .0
            .store
            .delete_cache(&request.get_ref().cache_name)
            .map_err(cache_error)?;
        self.0.log.wait(lsn).await.map_err(unavailable)?;
        tracing::info!("cache deleted");
        Ok(Response::new(DeleteCacheResponse {}))
    }

    /// Every cache in one page (`next_token` is always empty).
    async fn list_caches(&self, request: Request<ListCachesRequest>) -> Answer<ListCachesResponse> {
        require_super_user(&request, "ListCaches")?;
        let cache = self
            .0
            .store
            .list_caches()
            .into_iter()
            .map(|(cache_name, cache_id)| Cache {
                cache_name,
                cache_id,
                cache_limits: Some(CacheLimits {
                    max_item_size_kb: (MAX_ITEM_BYTES / 1024) as u32,
                    // 0: not limited by the local server (no traffic shaping, no TTL cap).
                    max_traffic_rate: 0,
                    max_throughput_kbps: 0,
                    max_ttl_seconds: 0,
                }),
                topic_limits: Some(TopicLimits {
                    max_publish_message_size_kb: MAX_TOPIC_MESSAGE_KB,
                    max_publish_rate: 0,
                    max_subscription_count: 0,
                }),
            })
            .collect();
        Ok(Response::new(ListCachesResponse {
            cache,
            next_token: String::new(),
        }))
    }

    #[tracing::instrument(skip_all, fields(cache = %request.get_ref().cache_name))]
    async fn flush_cache(&self, request: Request<FlushCacheRequest>) -> Answer<FlushCacheResponse> {
        require_super_user(&request, "FlushCache")?;
        let lsn = self
            .0
            .store
            .flush_cache(&request.get_ref().cache_name)
            .map_err(cache_error)?;
        self.0.log.wait(lsn).await.map_err(unavailable)?;
        tracing::info!("cache flushed");
        Ok(Response::new(FlushCacheResponse {}))
    }

    async fn create_signing_key(
        &self,
        _request: Request<CreateSigningKeyRequest>,
    ) -> Answer<CreateSigningKeyResponse> {
        Err(not_implemented("CreateSigningKey"))
    }

    async fn revoke_signing_key(
        &self,
        _request: Request<RevokeSigningKeyRequest>,
    ) -> Answer<RevokeSigningKeyResponse> {
        Err(not_implemented("RevokeSigningKey"))
    }

    async fn list_signing_keys(
        &self,
        _request: Request<ListSigningKeysRequest>,
    ) -> Answer<ListSigningKeysResponse> {
        Err(not_implemented("ListSigningKeys"))
    }

    async fn create_index(
        &self,
        _request: Request<CreateIndexRequest>,
    ) -> Answer<CreateIndexResponse> {
        Err(not_implemented("CreateIndex"))
    }

    async fn delete_index(
        &self,
        _request: Request<DeleteIndexRequest>,
    ) -> Answer<DeleteIndexResponse> {
        Err(not_implemented("DeleteIndex"))
    }

    async fn list_indexes(
        &self,
        _request: Request<ListIndexesRequest>,
    ) -> Answer<ListIndexesResponse> {
        Err(not_implemented("ListIndexes"))
    }
}

/// The status of a refused cache-level call.
fn cache_error(error: CacheError) -> Status {
    match error {
        CacheError::AlreadyExists(_) => Status::already_exists(error.to_string()),
        CacheError::NotFound(_) => Status::not_found(error.to_string()),
        CacheError::Unavailable(error) => unavailable(error),
    }
}

fn require_super_user<T>(request: &Request<T>, rpc: &str) -> Result<(), Status> {
    if principal(request)?.grants().is_super_user() {
        Ok(())
    } else {
        Err(denied(format_args!("{rpc} needs a super-user API key")))
    }
}

/// The name, if it follows the rules in the module docs.
fn valid_cache_name(name: &str) -> Result<&str, Status> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() {
        return Err(Status::invalid_argument("cache name must not be empty"));
    }
    if name.chars().count() > MAX_CACHE_NAME_CHARS {
        return Err(Status::invalid_argument(format!(
            "cache name must be at most {MAX_CACHE_NAME_CHARS} characters"
        )));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(Status::invalid_argument(format!(
            "cache name may contain only ASCII letters, digits, '-', '_' and '.', not {bad:?}"
        )));
    }
    Ok(name)
}

fn not_implemented(rpc: &str) -> Status {
    Status::unimplemented(format!("local Momento does not implement {rpc}"))
}

#[cfg(test)]
mod tests {
    use super::valid_cache_name;

    #[test]
    fn cache_names_follow_the_documented_rules() {
        for good in ["pollcast", "test-cache", "a", "A_b.c-9", &"x".repeat(255)] {
            assert!(
                valid_cache_name(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        for bad in [
            "",
            " ",
            "has space",
            "a/b",
            "café",
            "tab\t",
            &"x".repeat(256),
        ] {
            assert!(valid_cache_name(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
