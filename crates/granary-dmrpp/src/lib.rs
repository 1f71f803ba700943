//! granary-dmrpp: DMR++ sidecars (OPeNDAP `.dmrpp`) as granary manifests.
//!
//! A DMR++ describes a NetCDF-4/HDF5 granule's dimensions, variables, attributes, codecs and
//! every chunk's byte range in one XML document, so one small GET replaces the walk through the
//! HDF5 file. [`parse`] streams the document with quick-xml (docs/dmrpp-reference.md sections
//! 2-3), resolves data URLs (section 5) and produces the same manifest model as the HDF5
//! scanner, with the same netCDF semantics.

mod document;
mod error;
mod filters;
pub mod href;
mod inline;
mod manifest;
mod parser;
mod storage_fill;
mod tag_attrs;
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

/// Whether `head` (the first bytes of an object) is a DMR++ document, whatever the object's
/// name (archives hold `.dmrpp.old`, `.xml`, ...): XML whose first element is a DAP4 `Dataset`
/// (optionally after a byte-order mark, whitespace, the declaration and comments), in the first
/// 4 KiB.
pub fn looks_like_dmrpp(head: &[u8]) -> bool {
    let head = &head[..head.len().min(4096)];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    if head[start] != b'<' {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    let dataset = text.find("<Dataset").or_else(|| text.find(":Dataset"));
    dataset.is_some() && (text.contains("opendap") || text.contains("dmrpp"))
}

#[cfg(test)]
mod content_tests {
    use super::looks_like_dmrpp;

    #[test]
    fn dmrpp_documents_are_recognised_by_content() {
        let doc = br#"<?xml version="1.0" encoding="ISO-8859-1"?>
<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#" name="x.nc">"#;
        assert!(looks_like_dmrpp(doc));
        assert!(looks_like_dmrpp(
            &[b"\xef\xbb\xbf  ".as_slice(), doc].concat()
        ));
        assert!(!looks_like_dmrpp(b"\x89HDF\r\n\x1a\n"));
        assert!(!looks_like_dmrpp(b"<?xml version=\"1.0\"?><html/>"));
        assert!(!looks_like_dmrpp(b""));
    }
}
