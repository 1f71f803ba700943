//! granary-core: the granule manifest model shared by every extractor and sink.
//!
//! A [`GranuleManifest`] describes one NetCDF-4/HDF5 granule as groups of arrays, each with its
//! dimensions, dtype, storage layout, codec pipeline, fill value, attributes and chunk
//! references. Extractors (HDF5 scanner, DMR++ parser) produce it; the reference writers and the
//! inventory tables (`granary-inventory`) consume it. This crate does no I/O and knows no Arrow.

pub mod attr;
mod attr_serde;
pub mod chunk_bytes;
pub mod codec;
pub mod dtype;
pub mod heap_size;
pub mod manifest;
pub mod path;
pub mod phony;

pub use attr::{AttrValue, Attribute, BOOKKEEPING_ATTRIBUTES, is_bookkeeping};
pub use codec::Codec;
pub use dtype::{ByteOrder, DType, Field};
pub use heap_size::HeapSize;
pub use manifest::{
    ArrayData, ArrayMeta, ArrayPolicy, ChunkRef, Dimension, GranuleManifest, Group, SkippedArray,
    StorageLayout,
};
pub use phony::PhonyDims;
