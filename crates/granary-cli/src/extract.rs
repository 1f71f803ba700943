//! An extractor for one command: granary-extract's metadata route and concurrency over a
//! fresh store registry.

use std::sync::Arc;

use granary_extract::{ExtractOptions, Extractor, MetadataRoute, SidecarCheck};
use granary_io::{ReadScope, StoreRegistry};

/// How far a granule's sidecar and references are trusted (shared by every command that
/// extracts; `docs/security.md`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TrustArgs {
    /// Also allow references (DMR++ hrefs) to this URL prefix, e.g. `s3://other-bucket/aux/`
    /// (repeatable). By default a granule's references may only name its own bucket or host,
    /// or its own directory for local files.
    #[arg(long = "allow-location", value_name = "URL_PREFIX")]
    pub allow_locations: Vec<String>,
    /// How a DMR++ sidecar is checked against its object before it is used: `sample` reads
    /// the object's size and the first bytes of a few deflate chunks (one round trip), `size`
    /// only the size, `off` trusts it. A sidecar that fails is not used (auto scans the HDF5
    /// file instead).
    #[arg(long, value_enum, default_value_t = SidecarCheck::Sample)]
    pub sidecar_check: SidecarCheck,
}

/// An extractor over a fresh store registry.
pub fn extractor(
    metadata: MetadataRoute,
    concurrency: Option<usize>,
    trust: &TrustArgs,
) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata,
            metadata_only: false,
            concurrency,
            sidecar_check: trust.sidecar_check,
        },
    )
    .with_scope(ReadScope::new(trust.allow_locations.clone()))
}
