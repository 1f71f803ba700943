//! An extractor for one command: granary-extract's metadata route and concurrency over a
//! fresh store registry.

use std::sync::Arc;

use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_io::StoreRegistry;

/// An extractor over a fresh store registry.
pub fn extractor(metadata: MetadataRoute, concurrency: Option<usize>) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata,
            metadata_only: false,
            concurrency,
        },
    )
}
