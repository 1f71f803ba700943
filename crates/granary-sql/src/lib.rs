//! granary-sql: the granule inventory as DataFusion tables (`granules`, `dimensions`,
//! `variables`, `attributes`, `chunks`, `zarr`; `docs/inventory.md` and `docs/sql.md`), so that users
//! choose the granules of a reference set by asking questions in SQL.

mod build;
mod combine;
mod error;
mod errors_table;
mod scan_fn;
mod session;
mod store;
mod tables;
mod zarr_table;

pub use build::{BuildOptions, BuildReport, build_inventory};
pub use combine::{CombineOptions, Partition, combine};
pub use error::SqlError;
pub use errors_table::{ErrorRow, errors_batch, errors_schema};
pub use scan_fn::ScanFunction;
pub use session::{Format, base_session, query, render, session, session_for_dir};
pub use store::{InventoryDir, KnownGranules, TABLES};
pub use tables::{Inventory, add_captures, pattern};
pub use zarr_table::{zarr_batch, zarr_schema};

/// The file-name pattern of SWOT L2 LR SSH granules: `cycle`, `pass`, `start` and `end`.
pub const SWOT_NAME_PATTERN: &str = r"^SWOT_L2_LR_SSH_(?P<product>[A-Za-z]+)_(?P<cycle>\d{3})_(?P<pass>\d{3})_(?P<start>\d{8}T\d{6})_(?P<end>\d{8}T\d{6})_";
