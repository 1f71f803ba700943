//! granary-dmrpp: DMR++ sidecars (OPeNDAP `.dmrpp`) as granary manifests.
//!
//! A DMR++ describes a NetCDF-4/HDF5 granule's dimensions, variables, attributes, codecs and
//! every chunk's byte range in one XML document, so one small GET replaces the walk through the
//! HDF5 file. [`parse`] streams the document with quick-xml (docs/dmrpp-format.md sections
//! 2-3), resolves data URLs (section 5) and produces the same manifest model as the HDF5
//! scanner, with the same netCDF semantics.

mod document;
mod error;
mod filters;
pub mod href;
mod inline;
mod manifest;
mod parser;
mod types;

use granary_core::GranuleManifest;

pub use error::DmrppError;
pub use href::{DmrppOptions, HrefRule};
pub use manifest::Report;

/// Parses a DMR++ document. `opts.dmrpp_url` names the document (errors and href resolution).
pub fn parse(xml: &[u8], opts: &DmrppOptions) -> Result<(GranuleManifest, Report), DmrppError> {
    let doc = parser::read(xml, &opts.dmrpp_url)?;
    manifest::build(doc, &opts.dmrpp_url, opts)
}
