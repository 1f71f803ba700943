//! granary-sql: the granule inventory (`granary-inventory`) as DataFusion tables (`granules`,
//! `dimensions`, `variables`, `attributes`, `chunks`, `zarr`, `errors`; `docs/inventory.md` and
//! `docs/sql.md`), the table functions `hdf5_scan`/`dmrpp_scan`, and the combine driver: a
//! selection query whose rows drive granary-refs' combiner.

mod array_selection;
mod cmr_fn;
mod combine;
mod combine_feed;
mod coordinate_values;
mod error;
mod guard;
mod scan_fn;
mod session;

pub use array_selection::ArraySelection;
pub use combine::{CombineOptions, Partition, combine};
pub use error::SqlError;
pub use guard::{Access, MAX_EXPR_DEPTH, check_sql};
pub use scan_fn::ScanFunction;
pub use session::{
    Format, base_session, in_memory_session, query, register_dir, render, session, session_for_dir,
};
