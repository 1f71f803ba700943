//! An extractor for one command: granary-extract's metadata route and concurrency over a
//! fresh store registry.

use std::sync::Arc;

use granary_core::ArrayPolicy;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute, SidecarCheck};
use granary_io::{ReadScope, StoreRegistry};

/// How granules are extracted, shared by every command that extracts: how far a granule's
/// sidecar and references are trusted (`docs/security.md`), and what happens to arrays granary
/// cannot reference (`docs/formats.md`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ExtractArgs {
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
    /// An array granary cannot reference (an unsupported type, a filter no zarr reader
    /// decodes, ...): `skip` leaves it out and lists it (granule, array, reason) in the summary
    /// and the errors table, the granule's other arrays are referenced and the exit code is 1;
    /// `error` fails the granule (and refuses a combine that selects such an array).
    #[arg(long, value_enum, default_value_t = ArrayPolicy::Skip)]
    pub unreferenceable: ArrayPolicy,
}

/// An extractor over a fresh store registry.
pub fn extractor(
    metadata: MetadataRoute,
    concurrency: Option<usize>,
    trust: &ExtractArgs,
) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata,
            metadata_only: false,
            concurrency,
            sidecar_check: trust.sidecar_check,
            arrays: trust.unreferenceable,
        },
    )
    .with_scope(ReadScope::new(trust.allow_locations.clone()))
}
