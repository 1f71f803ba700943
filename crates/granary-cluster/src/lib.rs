//! granary-cluster: granary's scan on Apache DataFusion Ballista (`docs/scale-out.md`).
//!
//! The expensive stage of a build, extracting each granule's manifest, becomes a DataFusion
//! plan: a [`GranuleScanTable`] in the client's logical plan, planned by the scheduler into a
//! [`GranuleScanExec`] whose partitions are lists of granule URLs, run by executors as tasks.
//! Each granule comes back as one Arrow row ([`wire`]): its manifest, or its error row. The
//! client ([`ClusterScanner`]) plugs into the inventory build, which lists, compares and
//! commits exactly as an embedded build does.
//!
//! - [`codec`]: the logical and physical extension codecs that carry the scan through
//!   Ballista; [`recipe`]: the scan's settings as they travel (no secrets) and the factory
//!   that turns them into an extractor on an executor.
//! - [`processes`]: granary's scheduler and executor (Ballista's, with granary's codecs).

mod client;
pub mod codec;
mod error;
pub mod processes;
pub mod recipe;
mod scan_exec;
mod scan_table;
pub mod wire;

pub use client::{ClusterOptions, ClusterScanner, remote_context, split_host_port};
pub use error::ClusterError;
pub use recipe::{EnvironmentStores, ExtractorFactory, ScanRecipe};
pub use scan_exec::GranuleScanExec;
pub use scan_table::GranuleScanTable;
