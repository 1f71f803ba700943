//! An extractor for one command: granary-extract's metadata route and concurrency over a
//! fresh store registry.

use std::sync::Arc;

use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_io::{ReadScope, StoreRegistry};

/// Where references may point besides each granule's own store (shared by every command that
/// extracts).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ScopeArgs {
    /// Also allow references (DMR++ hrefs) to this URL prefix, e.g. `s3://other-bucket/aux/`
    /// (repeatable). By default a granule's references may only name its own bucket or host,
    /// or its own directory for local files.
    #[arg(long = "allow-location", value_name = "URL_PREFIX")]
    pub allow_locations: Vec<String>,
}

/// An extractor over a fresh store registry.
pub fn extractor(
    metadata: MetadataRoute,
    concurrency: Option<usize>,
    scope: &ScopeArgs,
) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata,
            metadata_only: false,
            concurrency,
        },
    )
    .with_scope(ReadScope::new(scope.allow_locations.clone()))
}
