//! Dictionary calls: DictionaryGet, DictionaryFetch, DictionarySet, DictionaryIncrement,
//! DictionaryDelete, DictionaryLength. Permissions apply to the dictionary name as the key.

use momento_protos::cache_client::dictionary_delete_request::Delete;
use momento_protos::cache_client::{
    dictionary_fetch_response, dictionary_get_response, dictionary_length_response,
    DictionaryDeleteRequest, DictionaryDeleteResponse, DictionaryFetchRequest,
    DictionaryFetchResponse, DictionaryFieldValuePair, DictionaryGetRequest, DictionaryGetResponse,
    DictionaryIncrementRequest, DictionaryIncrementResponse, DictionaryLengthRequest,
    DictionaryLengthResponse, DictionarySetRequest, DictionarySetResponse, ECacheResult,
};
use tonic::{Request, Response, Status};

use super::{store_error, ttl, Answer, CacheService};
use crate::auth::CacheAccess;
use crate::store::{monotonic_ms, CollectionTtl, FieldsToDelete};

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn get(
    service: &CacheService,
    request: Request<DictionaryGetRequest>,
) -> Answer<DictionaryGetResponse> {
    let body = request.get_ref();
    let cache = service.open(
        &request,
        [body.dictionary_name.as_slice()],
        CacheAccess::Read,
    )?;
    let (found, lsn) = cache
        .dictionary_get(&body.dictionary_name, &body.fields, monotonic_ms())
        .map_err(|error| store_error("DictionaryGet", error))?;
    service.durable(lsn).await?;
    use dictionary_get_response::{Dictionary, DictionaryGetResponsePart, Found, Missing};
    let dictionary = match found {
        Some(values) => Dictionary::Found(Found {
            items: values
                .into_iter()
                .map(|value| match value {
                    Some(cache_body) => DictionaryGetResponsePart {
                        result: ECacheResult::Hit.into(),
                        cache_body,
                    },
                    None => DictionaryGetResponsePart {
                        result: ECacheResult::Miss.into(),
                        cache_body: Vec::new(),
                    },
                })
                .collect(),
        }),
        None => Dictionary::Missing(Missing {}),
    };
    Ok(Response::new(DictionaryGetResponse {
        dictionary: Some(dictionary),
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn fetch(
    service: &CacheService,
    request: Request<DictionaryFetchRequest>,
) -> Answer<DictionaryFetchResponse> {
    let name = request.get_ref().dictionary_name.as_slice();
    let cache = service.open(&request, [name], CacheAccess::Read)?;
    let (found, lsn) = cache
        .dictionary_fetch(name, monotonic_ms())
        .map_err(|error| store_error("DictionaryFetch", error))?;
    service.durable(lsn).await?;
    use dictionary_fetch_response::{Dictionary, Found, Missing};
    let dictionary = match found {
        Some(elements) => Dictionary::Found(Found {
            items: elements
                .into_iter()
                .map(|(field, value)| DictionaryFieldValuePair { field, value })
                .collect(),
        }),
        None => Dictionary::Missing(Missing {}),
    };
    Ok(Response::new(DictionaryFetchResponse {
        dictionary: Some(dictionary),
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn set(
    service: &CacheService,
    request: Request<DictionarySetRequest>,
) -> Answer<DictionarySetResponse> {
    let name = request.get_ref().dictionary_name.as_slice();
    let cache = service.open(&request, [name], CacheAccess::Write)?;
    let DictionarySetRequest {
        dictionary_name,
        items,
        ttl_milliseconds,
        refresh_ttl,
    } = request.into_inner();
    let ttl = CollectionTtl {
        ttl_ms: ttl("DictionarySet", ttl_milliseconds)?,
        refresh: refresh_ttl,
    };
    let elements = items
        .into_iter()
        .map(|pair| (pair.field, pair.value))
        .collect();
    let lsn = cache
        .dictionary_set(dictionary_name, elements, ttl, monotonic_ms())
        .map_err(|error| store_error("DictionarySet", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(DictionarySetResponse {}))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn increment(
    service: &CacheService,
    request: Request<DictionaryIncrementRequest>,
) -> Answer<DictionaryIncrementResponse> {
    let name = request.get_ref().dictionary_name.as_slice();
    let access = CacheAccess::ReadWrite; // returns the stored value
    let cache = service.open(&request, [name], access)?;
    let DictionaryIncrementRequest {
        dictionary_name,
        field,
        amount,
        ttl_milliseconds,
        refresh_ttl,
    } = request.into_inner();
    let ttl = CollectionTtl {
        ttl_ms: ttl("DictionaryIncrement", ttl_milliseconds)?,
        refresh: refresh_ttl,
    };
    let (value, lsn) = cache
        .dictionary_increment(dictionary_name, field, amount, ttl, monotonic_ms())
        .map_err(|error| store_error("DictionaryIncrement", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(DictionaryIncrementResponse { value }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn delete(
    service: &CacheService,
    request: Request<DictionaryDeleteRequest>,
) -> Answer<DictionaryDeleteResponse> {
    let name = request.get_ref().dictionary_name.as_slice();
    let cache = service.open(&request, [name], CacheAccess::Write)?;
    let DictionaryDeleteRequest {
        dictionary_name,
        delete,
    } = request.into_inner();
    let fields = match delete {
        Some(Delete::Some(some)) => FieldsToDelete::Some(some.fields),
        Some(Delete::All(_)) => FieldsToDelete::All,
        None => {
            return Err(Status::invalid_argument(
                "DictionaryDelete: the fields to delete (some or all) must be given",
            ))
        }
    };
    let lsn = cache
        .dictionary_delete(dictionary_name, fields, monotonic_ms())
        .map_err(|error| store_error("DictionaryDelete", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(DictionaryDeleteResponse {}))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn length(
    service: &CacheService,
    request: Request<DictionaryLengthRequest>,
) -> Answer<DictionaryLengthResponse> {
    let name = request.get_ref().dictionary_name.as_slice();
    let cache = service.open(&request, [name], CacheAccess::Read)?;
    let (found, lsn) = cache
        .dictionary_length(name, monotonic_ms())
        .map_err(|error| store_error("DictionaryLength", error))?;
    service.durable(lsn).await?;
    use dictionary_length_response::{Dictionary, Found, Missing};
    let dictionary = match found {
        Some(length) => Dictionary::Found(Found {
            length: u32::try_from(length).unwrap_or(u32::MAX),
        }),
        None => Dictionary::Missing(Missing {}),
    };
    Ok(Response::new(DictionaryLengthResponse {
        dictionary: Some(dictionary),
    }))
}
