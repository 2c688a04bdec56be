//! Scalar calls: Get, Set, SetIf, SetIfNotExists, Delete, KeysExist, Increment, UpdateTtl,
//! ItemGetTtl.

use momento_protos::cache_client::set_if_request::Condition as Wanted;
use momento_protos::cache_client::update_ttl_request::UpdateTtl;
use momento_protos::cache_client::{
    item_get_ttl_response, set_if_not_exists_response, set_if_response, update_ttl_response,
    DeleteRequest, DeleteResponse, ECacheResult, GetRequest, GetResponse, IncrementRequest,
    IncrementResponse, ItemGetTtlRequest, ItemGetTtlResponse, KeysExistRequest, KeysExistResponse,
    SetIfNotExistsRequest, SetIfNotExistsResponse, SetIfRequest, SetIfResponse, SetRequest,
    SetResponse, UpdateTtlRequest, UpdateTtlResponse,
};
use tonic::{Request, Response, Status};

use super::{store_error, ttl, Answer, CacheService};
use crate::auth::CacheAccess;
use crate::store::{monotonic_ms, Condition, TtlUpdate, TtlUpdated};

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn get(
    service: &CacheService,
    request: Request<GetRequest>,
) -> Answer<GetResponse> {
    let cache = service.open(
        &request,
        [request.get_ref().cache_key.as_slice()],
        CacheAccess::Read,
    )?;
    let (found, lsn) = cache
        .get(&request.get_ref().cache_key, monotonic_ms())
        .map_err(|error| store_error("Get", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(match found {
        Some(body) => GetResponse {
            result: ECacheResult::Hit.into(),
            cache_body: body,
            message: String::new(),
        },
        None => GetResponse {
            result: ECacheResult::Miss.into(),
            ..Default::default()
        },
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn set(
    service: &CacheService,
    request: Request<SetRequest>,
) -> Answer<SetResponse> {
    let cache = service.open(
        &request,
        [request.get_ref().cache_key.as_slice()],
        CacheAccess::Write,
    )?;
    let SetRequest {
        cache_key,
        cache_body,
        ttl_milliseconds,
    } = request.into_inner();
    let ttl_ms = ttl("Set", ttl_milliseconds)?;
    let lsn = cache
        .set(cache_key, cache_body, ttl_ms, monotonic_ms())
        .map_err(|error| store_error("Set", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(SetResponse {
        result: ECacheResult::Ok.into(),
        message: String::new(),
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn set_if(
    service: &CacheService,
    request: Request<SetIfRequest>,
) -> Answer<SetIfResponse> {
    let access = CacheAccess::ReadWrite; // the outcome reveals the stored value
    let cache = service.open(&request, [request.get_ref().cache_key.as_slice()], access)?;
    let SetIfRequest {
        cache_key,
        cache_body,
        ttl_milliseconds,
        condition,
    } = request.into_inner();
    let ttl_ms = ttl("SetIf", ttl_milliseconds)?;
    let condition = match &condition {
        Some(Wanted::Absent(_)) => Condition::Absent,
        Some(Wanted::Present(_)) => Condition::Present,
        Some(Wanted::Equal(c)) => Condition::Equal(&c.value_to_check),
        Some(Wanted::NotEqual(c)) => Condition::NotEqual(&c.value_to_check),
        Some(Wanted::PresentAndNotEqual(c)) => Condition::PresentAndNotEqual(&c.value_to_check),
        Some(Wanted::AbsentOrEqual(c)) => Condition::AbsentOrEqual(&c.value_to_check),
        None => return Err(Status::invalid_argument("SetIf: a condition must be given")),
    };
    let (stored, lsn) = cache
        .set_if(cache_key, cache_body, ttl_ms, condition, monotonic_ms())
        .map_err(|error| store_error("SetIf", error))?;
    service.durable(lsn).await?;
    let result = if stored {
        set_if_response::Result::Stored(set_if_response::Stored {})
    } else {
        set_if_response::Result::NotStored(set_if_response::NotStored {})
    };
    Ok(Response::new(SetIfResponse {
        result: Some(result),
    }))
}

/// The older form of SetIf Absent, which the Python SDK still uses.
#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn set_if_not_exists(
    service: &CacheService,
    request: Request<SetIfNotExistsRequest>,
) -> Answer<SetIfNotExistsResponse> {
    let access = CacheAccess::ReadWrite;
    let cache = service.open(&request, [request.get_ref().cache_key.as_slice()], access)?;
    let SetIfNotExistsRequest {
        cache_key,
        cache_body,
        ttl_milliseconds,
    } = request.into_inner();
    let ttl_ms = ttl("SetIfNotExists", ttl_milliseconds)?;
    let (stored, lsn) = cache
        .set_if(
            cache_key,
            cache_body,
            ttl_ms,
            Condition::Absent,
            monotonic_ms(),
        )
        .map_err(|error| store_error("SetIfNotExists", error))?;
    service.durable(lsn).await?;
    let result = if stored {
        set_if_not_exists_response::Result::Stored(set_if_not_exists_response::Stored {})
    } else {
        set_if_not_exists_response::Result::NotStored(set_if_not_exists_response::NotStored {})
    };
    Ok(Response::new(SetIfNotExistsResponse {
        result: Some(result),
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn delete(
    service: &CacheService,
    request: Request<DeleteRequest>,
) -> Answer<DeleteResponse> {
    let cache = service.open(
        &request,
        [request.get_ref().cache_key.as_slice()],
        CacheAccess::Write,
    )?;
    let lsn = cache
        .delete(request.into_inner().cache_key, monotonic_ms())
        .map_err(|error| store_error("Delete", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(DeleteResponse {}))
}

/// Every key must be readable: a token scoped to one key cannot probe others.
#[tracing::instrument(level = "debug", skip_all, fields(cache, keys = request.get_ref().cache_keys.len()))]
pub(super) async fn keys_exist(
    service: &CacheService,
    request: Request<KeysExistRequest>,
) -> Answer<KeysExistResponse> {
    let keys = &request.get_ref().cache_keys;
    let cache = service.open(&request, keys.iter().map(Vec::as_slice), CacheAccess::Read)?;
    let (exists, lsn) = cache.keys_exist(keys, monotonic_ms());
    service.durable(lsn).await?;
    Ok(Response::new(KeysExistResponse { exists }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn increment(
    service: &CacheService,
    request: Request<IncrementRequest>,
) -> Answer<IncrementResponse> {
    let access = CacheAccess::ReadWrite; // returns the stored value
    let cache = service.open(&request, [request.get_ref().cache_key.as_slice()], access)?;
    let IncrementRequest {
        cache_key,
        amount,
        ttl_milliseconds,
    } = request.into_inner();
    let ttl_ms = ttl("Increment", ttl_milliseconds)?;
    let (value, lsn) = cache
        .increment(cache_key, amount, ttl_ms, monotonic_ms())
        .map_err(|error| store_error("Increment", error))?;
    service.durable(lsn).await?;
    Ok(Response::new(IncrementResponse { value }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn update_ttl(
    service: &CacheService,
    request: Request<UpdateTtlRequest>,
) -> Answer<UpdateTtlResponse> {
    let cache = service.open(
        &request,
        [request.get_ref().cache_key.as_slice()],
        CacheAccess::Write,
    )?;
    let UpdateTtlRequest {
        cache_key,
        update_ttl,
    } = request.into_inner();
    let update = match update_ttl {
        Some(UpdateTtl::IncreaseToMilliseconds(ms)) => TtlUpdate::Increase(ttl("UpdateTtl", ms)?),
        Some(UpdateTtl::DecreaseToMilliseconds(ms)) => TtlUpdate::Decrease(ttl("UpdateTtl", ms)?),
        Some(UpdateTtl::OverwriteToMilliseconds(ms)) => TtlUpdate::Overwrite(ttl("UpdateTtl", ms)?),
        None => {
            return Err(Status::invalid_argument(
                "UpdateTtl: an update must be given",
            ))
        }
    };
    let (updated, lsn) = cache
        .update_ttl(cache_key, update, monotonic_ms())
        .map_err(|error| store_error("UpdateTtl", error))?;
    service.durable(lsn).await?;
    let result = match updated {
        TtlUpdated::Set => update_ttl_response::Result::Set(update_ttl_response::Set {}),
        TtlUpdated::NotSet => update_ttl_response::Result::NotSet(update_ttl_response::NotSet {}),
        TtlUpdated::Missing => {
            update_ttl_response::Result::Missing(update_ttl_response::Missing {})
        }
    };
    Ok(Response::new(UpdateTtlResponse {
        result: Some(result),
    }))
}

#[tracing::instrument(level = "debug", skip_all, fields(cache))]
pub(super) async fn item_get_ttl(
    service: &CacheService,
    request: Request<ItemGetTtlRequest>,
) -> Answer<ItemGetTtlResponse> {
    let cache = service.open(
        &request,
        [request.get_ref().cache_key.as_slice()],
        CacheAccess::Read,
    )?;
    let (remaining, lsn) = cache.remaining_ttl(&request.get_ref().cache_key, monotonic_ms());
    service.durable(lsn).await?;
    let result = match remaining {
        Some(remaining_ttl_millis) => {
            item_get_ttl_response::Result::Found(item_get_ttl_response::Found {
                remaining_ttl_millis,
            })
        }
        None => item_get_ttl_response::Result::Missing(item_get_ttl_response::Missing {}),
    };
    Ok(Response::new(ItemGetTtlResponse {
        result: Some(result),
    }))
}
