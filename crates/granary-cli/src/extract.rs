//! Command-line face of `granary-extract`: the `--metadata` choice and an extractor built from it.

use std::sync::Arc;

use granary_extract::{ExtractOptions, Extractor};
use granary_io::StoreRegistry;

/// Where metadata comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Metadata {
    /// The `<granule>.dmrpp` sidecar when it exists and parses, else the HDF5 file.
    Auto,
    /// Only the DMR++ sidecar (an error when there is none).
    Dmrpp,
    /// Only the HDF5 file.
    Hdf5,
}

impl From<Metadata> for granary_extract::Metadata {
    fn from(m: Metadata) -> Self {
        match m {
            Metadata::Auto => Self::Auto,
            Metadata::Dmrpp => Self::Dmrpp,
            Metadata::Hdf5 => Self::Hdf5,
        }
    }
}

/// An extractor over a fresh store registry.
pub fn extractor(metadata: Metadata, concurrency: Option<usize>) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata: metadata.into(),
            metadata_only: false,
            concurrency,
        },
    )
}
