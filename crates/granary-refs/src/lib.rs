//! granary-refs: from manifests to kerchunk reference sets.
//!
//! [`zarr`] maps each array to zarr v2 metadata (`.zarray`, `.zattrs`) and chunk keys as
//! `docs/kerchunk-reference.md` sections 1-2 describe; [`json`] writes kerchunk JSON version 1
//! with a consolidated `.zmetadata`; [`combine`] concatenates granules; [`mod@publish`] is the one
//! way any output reaches its path (temporary name, rename, overwrite policy).

pub mod combine;
pub mod combined_json;
pub mod error;
pub mod json;
pub mod jsontext;
pub mod node_path;
pub mod parquet_refs;
pub mod publish;
mod publish_batch;
pub mod referenceable;
pub mod unwritten;
pub mod url_map;
pub mod zarr;

pub use combine::{
    AttrPolicy, CombineError, CombineSpec, Combined, Combiner, ConcatDim, Coord, OnDuplicate,
    SelectedGranule,
};
pub use combined_json::write_combined_json;
pub use error::RefsError;
pub use json::{InlineChunks, JsonOptions, RefSet, single_granule_refs};
pub use parquet_refs::{DEFAULT_RECORD_SIZE, ParquetStats, write_parquet};
pub use publish::{
    OUTPUT_MARKER, Overwrite, PublishError, RefFormat, Staged, check_output_path,
    check_replaceable, is_granary_output, output_path, publish, publish_with, stage,
};
pub use publish_batch::BatchPublisher;
pub use referenceable::apply_array_policy;
pub use url_map::UrlMap;
pub use zarr::{ArrayRefs, ChunkValue, ZarrArray, map_array, zarr_array};
