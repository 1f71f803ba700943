//! granary-inventory: the inventory of a granule collection (`docs/inventory.md`).
//!
//! - [`schema`]: the Arrow schemas of the `granules`, `dimensions`, `variables`, `attributes` and
//!   `chunks` tables and their record batches built from manifests; [`zarr_table`]: the `zarr`
//!   table (granary-refs' zarr v2 mapping of every array), what combining reads;
//!   [`errors_table`]: the granules that failed, written and read back as typed rows.
//! - [`Inventory`]: the six tables of a set of granules, plus file-name captures
//!   ([`NamePattern`]: a regex or a named preset such as `swot`).
//! - [`InventoryDir`]: the persisted Parquet directory with atomic part commits;
//!   [`build_inventory`]: its incremental build; [`inventory_in_memory`]: the same tables
//!   for granules scanned now (SQL over files, dry runs); [`GranuleScanner`]: where a build's
//!   granules are scanned (this process's extractor, or a cluster).
//!
//! This crate knows Arrow and Parquet, not DataFusion: `granary-sql` registers these tables
//! in a session.

mod build;
pub mod cmr_table;
mod commit;
mod committer;
mod dir;
mod error;
pub mod errors_table;
mod in_memory;
mod name_pattern;
mod parts;
mod scanner;
pub mod schema;
mod tables;
mod versions;
pub mod zarr_table;

pub use build::{BuildOptions, BuildReport, DEFAULT_PART_MIB, build_inventory, part_bytes_of_mib};
pub use dir::{InventoryDir, KnownGranules, TABLES};
pub use error::InventoryError;
pub use errors_table::{ErrorRow, errors_batch, errors_schema};
pub use in_memory::{InMemory, inventory_in_memory};
pub use name_pattern::NamePattern;
pub use scanner::{GranuleScanner, ScanFailure, Scanned};
pub use tables::{Inventory, add_captures};
pub use zarr_table::{zarr_batch, zarr_schema};
