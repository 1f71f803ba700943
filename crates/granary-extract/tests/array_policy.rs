//! The per-array policy at extraction: arrays the route cannot express are listed in
//! `skipped` (policy `skip`) or fail the granule (`error`); under `auto`, a sidecar that leaves
//! out arrays the HDF5 scan can read gives way to the HDF5 scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use granary_core::ArrayPolicy;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_io::StoreRegistry;
use granary_test_utils::data_dir;
use url::Url;

/// A DAP4 Structure in the sidecar; a compound with an array member in the file, which
/// zarr-python 3 cannot read (no zarr v2 spelling it accepts): left out by both routes.
const COMPOUND: &str = "corpus/dmrpp/bes_dmrpp_module/data/fill_value/compound_filled_chunk.h5";

fn extractor(metadata: MetadataRoute, arrays: ArrayPolicy) -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata,
            arrays,
            ..Default::default()
        },
    )
}

fn url() -> Url {
    Url::from_file_path(data_dir().join(COMPOUND)).unwrap()
}

#[tokio::test]
async fn a_sidecar_that_skips_a_structure_lists_it_or_fails() {
    let m = extractor(MetadataRoute::Dmrpp, ArrayPolicy::Skip)
        .extract(&url())
        .await
        .unwrap();
    assert_eq!(m.skipped.len(), 1, "{:?}", m.skipped);
    assert!(m.skipped[0].reason.contains("Structure"), "{:?}", m.skipped);
    assert!(m.array(&m.skipped[0].path).is_none());
    let e = extractor(MetadataRoute::Dmrpp, ArrayPolicy::Error)
        .extract(&url())
        .await
        .unwrap_err();
    assert_eq!(e.stage(), "array");
    assert!(e.to_string().contains(&m.skipped[0].path), "{e}");
}

#[tokio::test]
async fn auto_keeps_the_sidecar_when_the_hdf5_scan_cannot_do_better() {
    let m = extractor(MetadataRoute::Auto, ArrayPolicy::Skip)
        .extract(&url())
        .await
        .unwrap();
    assert_eq!(m.skipped.len(), 1, "{:?}", m.skipped);
    assert!(m.skipped[0].reason.contains("Structure"), "{:?}", m.skipped);
}
