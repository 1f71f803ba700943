//! granary-io: how granary reads bytes.
//!
//! - [`StoreRegistry`] turns a URL or local path into an `object_store` store plus object path.
//! - [`ObjectSource`] is one object opened for range reads, counting requests and bytes in
//!   [`IoStats`].
//! - [`RangeCache`] is a sparse per-object cache: format parsers ask it for byte ranges; misses
//!   are collected, widened by readahead, coalesced, and fetched in one batched request per wave
//!   ([`RangeCache::fetch`]), so metadata parsing makes few large reads instead of many tiny ones.

mod cache;
mod earthdata;
mod error;
mod registry;
mod remote;
mod source;
mod stats;

pub use cache::{RangeCache, ReadOptions};
pub use earthdata::EarthdataCredentials;
pub use error::IoError;
pub use registry::StoreRegistry;
pub use remote::RemoteOptions;
pub use source::ObjectSource;
pub use stats::{IoStats, IoStatsSnapshot};
