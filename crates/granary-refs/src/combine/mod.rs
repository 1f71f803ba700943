//! Combining granules into one reference set along concat dimensions: the equivalent of
//! kerchunk's `MultiZarrToZarr` (docs/kerchunk-reference.md section 4) without its silent failures
//! (section 4.6).
//!
//! The input is a selection (one row per granule: its URL and one coordinate value per concat
//! dimension) and, per selected granule, the zarr v2 fields of its groups and arrays
//! ([`Combiner::add_group`], [`Combiner::add_array`]) followed by its chunk references
//! ([`Combiner::add_chunk`]). Rows of unselected granules are ignored, so a whole inventory
//! table can be streamed through.
//!
//! - **New dimensions** (e.g. `cycle_num`, `pass_num`) are prepended to every array with chunk
//!   length 1; their sorted values become inline 1-D coordinate arrays. Missing cells of a
//!   sparse grid have no keys and read as the array's fill value; an array without a fill value
//!   gets NaN (floats) or the netCDF default fill (integers), reported.
//! - **An existing dimension** (e.g. `time`) is concatenated in coordinate order when every
//!   granule but the last holds a whole number of chunks along it; arrays without it must be
//!   identical in all granules and are copied once.
//! - Duplicate cells, and arrays whose dtype, shape, chunks, codecs or fill value differ between
//!   granules, are errors naming the granules, with a SQL filter that would resolve them.
//! - Group attributes equal in all granules are kept; varying ones are dropped or become arrays
//!   over the new dimensions ([`AttrPolicy`]). Array attributes that decide decoded values
//!   ([`DECODING_ATTRIBUTES`]: packing, masks, flags; `units`/`calendar` of time variables) must
//!   be equal in every granule, else the combine is refused like a dtype mismatch; other varying
//!   array attributes are dropped. Dropped attributes are listed in the [`CombineReport`].

use granary_core::ArrayPolicy;

mod accumulate;
mod attr_arrays;
mod coords;
mod decoding;
mod error;
mod existing_coord;
mod finish;
mod manifest_input;
mod output;
pub mod time_units;

pub use accumulate::Combiner;
pub use coords::{Coord, SelectedGranule};
pub use decoding::DECODING_ATTRIBUTES;
pub use error::CombineError;
pub use existing_coord::{CoordinateChunks, decode_chunk};
pub use output::{CombineReport, Combined, OutArray, OutGroup, OutRef, SkippedInCombine};

/// What to do when two granules fall on the same cell (the same coordinates). The one
/// definition: pipeline files read it by serde (`on_duplicate = "first"`), the CLI by clap
/// (`--on-duplicate first`, feature `clap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OnDuplicate {
    /// Refuse, naming the granules.
    #[default]
    Error,
    /// Keep the first granule of the cell in the selection's row order (use ORDER BY).
    First,
    /// Keep the last granule of the cell in the selection's row order (use ORDER BY).
    Last,
}

/// What to do with group attributes whose values differ between granules (pipeline files:
/// `attrs = "array"`; CLI: `--attrs array`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum AttrPolicy {
    /// Drop group attributes whose values differ between granules (listed in the summary).
    #[default]
    Drop,
    /// Turn them into arrays over the new dimensions, named after the attribute.
    Array,
}

/// One concat dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcatDim {
    pub name: String,
    /// Whether the granules' arrays already have this dimension (concatenation along it) or it
    /// is new (stacking).
    pub existing: bool,
}

/// How to combine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CombineSpec {
    /// Concat dimensions, in output order; one coordinate value per granule each.
    pub dims: Vec<ConcatDim>,
    /// Array paths copied once (after checking that they are identical in every granule).
    pub identical: Vec<String>,
    pub on_duplicate: OnDuplicate,
    pub attrs: AttrPolicy,
    /// Arrays some selected granule cannot reference: refuse (`error`) or leave them out of
    /// the whole set (`skip`, listed in the report).
    pub unreferenceable: ArrayPolicy,
}
