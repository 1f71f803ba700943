//! granary-io: how granary reads bytes.
//!
//! - [`StoreRegistry`] turns a URL or local path into an `object_store` store plus object path.
//! - [`ObjectSource`] is one object opened for range reads, counting requests and bytes in
//!   [`IoStats`].
//! - [`EarthdataCredentials`]: temporary S3 keys from a NASA Earthdata endpoint.
//! - [`ReadScope`]: where a granule's references may point (its own store, or allowed).
//! - [`StoreSettings`]: remote store settings as data (no secrets), connected with each
//!   process's own credentials.
//!
//! Format parsers never see this crate: they are sans-IO (granary-hdf5, granary-dmrpp), and
//! granary-extract drives them with the reads made here.

pub mod cmr;
mod earthdata;
mod error;
#[cfg(unix)]
mod local_file;
pub mod login_token;
mod registry;
mod remote;
mod scope;
mod source;
mod stats;
pub mod store_settings;
pub mod urs_login;

pub use earthdata::EarthdataCredentials;
pub use error::IoError;
pub use registry::StoreRegistry;
pub use remote::RemoteOptions;
pub use scope::ReadScope;
pub use source::ObjectSource;
pub use stats::{IoStats, IoStatsSnapshot};
pub use store_settings::StoreSettings;
