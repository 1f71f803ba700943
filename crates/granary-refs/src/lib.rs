//! granary-refs: from manifests to kerchunk reference sets.
//!
//! [`zarr`] maps each array to zarr v2 metadata (`.zarray`, `.zattrs`) and chunk keys exactly
//! as `research/kerchunk-formats.md` sections 1-2 prescribe; [`json`] writes kerchunk JSON
//! version 1 with a consolidated `.zmetadata`.

pub mod error;
pub mod json;
pub mod jsontext;
pub mod zarr;

pub use error::RefsError;
pub use json::{InlineChunks, JsonOptions, RefSet, single_granule_refs};
pub use zarr::{ArrayRefs, ChunkValue, map_array};
