//! `Scs`: the cache data plane over the store.
//!
//! Every call goes the same way: the `cache` metadata names the cache; the caller's grants
//! must allow the access the call needs on the key (for dictionaries: the dictionary name),
//! checked before the cache is looked up so a token learns nothing about caches outside its
//! scope; an unknown cache is `NOT_FOUND` (the SDKs' CacheNotFoundError). Store refusals map
//! as Momento's: size limits are `RESOURCE_EXHAUSTED` with `err` metadata
//! (`item_size_limit_exceeded`, `element_size_limit_exceeded`); a type mismatch, a
//! non-integer counter and an overflowing increment are `FAILED_PRECONDITION`.
//!
//! TTLs: every write carries one (the Rust SDK sends its default TTL when a call names none).
//! A TTL of 0 is refused as `INVALID_ARGUMENT` rather than stored as an item that is gone at
//! once. No upper bound is enforced: the local server has no account limits (ListCaches
//! reports `max_ttl_seconds` 0).
//!
//! The calls pollcast and the SDKs' common paths need are implemented; every other RPC
//! answers `UNIMPLEMENTED` naming itself.

mod dictionary;
mod scalar;

use std::sync::Arc;

use momento_protos::cache_client::scs_server::Scs;
use momento_protos::cache_client::*;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::auth::CacheAccess;
use crate::grpc::{cache_name, denied, principal, unavailable};
use crate::persist::Lsn;
use crate::store::{Cache, StoreError};
use crate::Shared;

/// The `Scs` service.
pub(crate) struct CacheService(Arc<Shared>);

impl CacheService {
    /// The service over the shared store and authenticator.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// Checks that the caller may `access` every one of `keys` in the cache the request names,
    /// then finds that cache. Records the cache name on the current span.
    fn open<'k, T>(
        &self,
        request: &Request<T>,
        keys: impl IntoIterator<Item = &'k [u8]>,
        access: CacheAccess,
    ) -> Result<Arc<Cache>, Status> {
        let name = cache_name(request)?;
        tracing::Span::current().record("cache", name.as_str());
        let caller = principal(request)?;
        let grants = caller.grants();
        if let Some(key) = keys
            .into_iter()
            .find(|key| !grants.allows_cache(&name, key, access))
        {
            return Err(denied(format_args!(
                "{access:?} access to key '{}' in cache '{name}'",
                printable(key)
            )));
        }
        self.0
            .store
            .cache(&name)
            .map_err(|error| Status::not_found(error.to_string()))
    }

    /// Waits until `lsn` is durable: what the call wrote, or the last change it observed.
    async fn durable(&self, lsn: Lsn) -> Result<(), Status> {
        self.0.log.wait(lsn).await.map_err(unavailable)
    }
}

/// A key as text for a message: lossy UTF-8, cut at 64 characters (keys may be megabytes).
fn printable(key: &[u8]) -> String {
    const SHOWN: usize = 64;
    let text = String::from_utf8_lossy(key);
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

/// The status Momento answers a store refusal with; `rpc` names the call in the message.
fn store_error(rpc: &str, error: StoreError) -> Status {
    let message = format!("{rpc}: {error}");
    match error {
        StoreError::ItemTooLarge { .. } => limit_exceeded(message, "item_size_limit_exceeded"),
        StoreError::ElementTooLarge { .. } => {
            limit_exceeded(message, "element_size_limit_exceeded")
        }
        StoreError::WrongType { .. } | StoreError::NotAnInteger | StoreError::Overflow { .. } => {
            Status::failed_precondition(message)
        }
        StoreError::Unavailable(_) => Status::unavailable(message),
    }
}

/// `RESOURCE_EXHAUSTED` with the `err` metadata the SDKs read to name the limit.
fn limit_exceeded(message: String, err: &'static str) -> Status {
    let mut metadata = MetadataMap::new();
    metadata.insert("err", tonic::metadata::MetadataValue::from_static(err));
    Status::with_metadata(tonic::Code::ResourceExhausted, message, metadata)
}

/// A write's TTL: Momento requires one on every item, so 0 is refused.
fn ttl(rpc: &str, ttl_milliseconds: u64) -> Result<u64, Status> {
    if ttl_milliseconds == 0 {
        return Err(Status::invalid_argument(format!(
            "{rpc}: ttl_milliseconds must be greater than 0 (every item needs a TTL)"
        )));
    }
    Ok(ttl_milliseconds)
}

fn not_implemented(request_type: &str) -> Status {
    let rpc = request_type.trim_end_matches("Request");
    Status::unimplemented(format!("local Momento does not implement {rpc}"))
}

/// Writes the `Scs` impl: the implemented calls as given, every other one `UNIMPLEMENTED`.
/// A macro around the whole impl (rather than one per method) so `async_trait` sees the
/// expanded methods.
macro_rules! scs_impl {
    (
        implemented { $($implemented:tt)* }
        unimplemented { $($method:ident($request:ident) -> $response:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl Scs for CacheService {
            $($implemented)*
            $(
                async fn $method(
                    &self,
                    _request: Request<$request>,
                ) -> Result<Response<$response>, Status> {
                    Err(not_implemented(stringify!($request)))
                }
            )*
        }
    };
}

type Answer<T> = Result<Response<T>, Status>;
type NoStream<T> = tokio_stream::Empty<Result<T, Status>>;

scs_impl! {
    implemented {
        async fn get(&self, request: Request<GetRequest>) -> Answer<GetResponse> {
            scalar::get(self, request).await
        }
        async fn set(&self, request: Request<SetRequest>) -> Answer<SetResponse> {
            scalar::set(self, request).await
        }
        async fn set_if(&self, request: Request<SetIfRequest>) -> Answer<SetIfResponse> {
            scalar::set_if(self, request).await
        }
        async fn set_if_not_exists(
            &self,
            request: Request<SetIfNotExistsRequest>,
        ) -> Answer<SetIfNotExistsResponse> {
            scalar::set_if_not_exists(self, request).await
        }
        async fn delete(&self, request: Request<DeleteRequest>) -> Answer<DeleteResponse> {
            scalar::delete(self, request).await
        }
        async fn keys_exist(
            &self,
            request: Request<KeysExistRequest>,
        ) -> Answer<KeysExistResponse> {
            scalar::keys_exist(self, request).await
        }
        async fn increment(
            &self,
            request: Request<IncrementRequest>,
        ) -> Answer<IncrementResponse> {
            scalar::increment(self, request).await
        }
        async fn update_ttl(
            &self,
            request: Request<UpdateTtlRequest>,
        ) -> Answer<UpdateTtlResponse> {
            scalar::update_ttl(self, request).await
        }
        async fn item_get_ttl(
            &self,
            request: Request<ItemGetTtlRequest>,
        ) -> Answer<ItemGetTtlResponse> {
            scalar::item_get_ttl(self, request).await
        }
        async fn dictionary_get(
            &self,
            request: Request<DictionaryGetRequest>,
        ) -> Answer<DictionaryGetResponse> {
            dictionary::get(self, request).await
        }
        async fn dictionary_fetch(
            &self,
            request: Request<DictionaryFetchRequest>,
        ) -> Answer<DictionaryFetchResponse> {
            dictionary::fetch(self, request).await
        }
        async fn dictionary_set(
            &self,
            request: Request<DictionarySetRequest>,
        ) -> Answer<DictionarySetResponse> {
            dictionary::set(self, request).await
        }
        async fn dictionary_increment(
            &self,
            request: Request<DictionaryIncrementRequest>,
        ) -> Answer<DictionaryIncrementResponse> {
            dictionary::increment(self, request).await
        }
        async fn dictionary_delete(
            &self,
            request: Request<DictionaryDeleteRequest>,
        ) -> Answer<DictionaryDeleteResponse> {
            dictionary::delete(self, request).await
        }
        async fn dictionary_length(
            &self,
            request: Request<DictionaryLengthRequest>,
        ) -> Answer<DictionaryLengthResponse> {
            dictionary::length(self, request).await
        }

        type GetBatchStream = NoStream<GetResponse>;
        async fn get_batch(
            &self,
            _request: Request<GetBatchRequest>,
        ) -> Answer<Self::GetBatchStream> {
            Err(not_implemented("GetBatchRequest"))
        }
        type SetBatchStream = NoStream<SetResponse>;
        async fn set_batch(
            &self,
            _request: Request<SetBatchRequest>,
        ) -> Answer<Self::SetBatchStream> {
            Err(not_implemented("SetBatchRequest"))
        }
    }
    unimplemented {
        get_with_hash(GetWithHashRequest) -> GetWithHashResponse;
        set_if_hash(SetIfHashRequest) -> SetIfHashResponse;
        item_get_type(ItemGetTypeRequest) -> ItemGetTypeResponse;
        set_fetch(SetFetchRequest) -> SetFetchResponse;
        set_sample(SetSampleRequest) -> SetSampleResponse;
        set_union(SetUnionRequest) -> SetUnionResponse;
        set_difference(SetDifferenceRequest) -> SetDifferenceResponse;
        set_contains(SetContainsRequest) -> SetContainsResponse;
        set_length(SetLengthRequest) -> SetLengthResponse;
        set_pop(SetPopRequest) -> SetPopResponse;
        list_push_front(ListPushFrontRequest) -> ListPushFrontResponse;
        list_push_back(ListPushBackRequest) -> ListPushBackResponse;
        list_pop_front(ListPopFrontRequest) -> ListPopFrontResponse;
        list_pop_back(ListPopBackRequest) -> ListPopBackResponse;
        list_erase(ListEraseRequest) -> ListEraseResponse;
        list_remove(ListRemoveRequest) -> ListRemoveResponse;
        list_fetch(ListFetchRequest) -> ListFetchResponse;
        list_length(ListLengthRequest) -> ListLengthResponse;
        list_concatenate_front(ListConcatenateFrontRequest) -> ListConcatenateFrontResponse;
        list_concatenate_back(ListConcatenateBackRequest) -> ListConcatenateBackResponse;
        list_retain(ListRetainRequest) -> ListRetainResponse;
        sorted_set_put(SortedSetPutRequest) -> SortedSetPutResponse;
        sorted_set_fetch(SortedSetFetchRequest) -> SortedSetFetchResponse;
        sorted_set_get_score(SortedSetGetScoreRequest) -> SortedSetGetScoreResponse;
        sorted_set_remove(SortedSetRemoveRequest) -> SortedSetRemoveResponse;
        sorted_set_increment(SortedSetIncrementRequest) -> SortedSetIncrementResponse;
        sorted_set_get_rank(SortedSetGetRankRequest) -> SortedSetGetRankResponse;
        sorted_set_length(SortedSetLengthRequest) -> SortedSetLengthResponse;
        sorted_set_length_by_score(SortedSetLengthByScoreRequest) -> SortedSetLengthByScoreResponse;
        sorted_set_union_store(SortedSetUnionStoreRequest) -> SortedSetUnionStoreResponse;
    }
}
