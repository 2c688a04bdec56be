//! The cache service (`Scs`) through the official SDK's CacheClient (and the raw protocol for
//! the one call the Rust SDK does not make).

mod concurrency;
mod dictionary;
mod limits_and_errors;
mod permissions;
mod scalar;
