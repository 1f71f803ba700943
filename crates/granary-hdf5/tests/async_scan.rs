//! The async, wave-batched scan through an object store must produce exactly the manifest of the
//! in-memory scan, in a number of sequential round trips that follows the file's depth.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;

use granary_hdf5::{ScanOptions, scan, scan_bytes};
use granary_io::ObjectSource;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

async fn via_store(
    bytes: Vec<u8>,
    opts: &ScanOptions,
) -> (granary_core::GranuleManifest, granary_io::IoStatsSnapshot) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let path = StorePath::from("g.nc");
    store.put(&path, PutPayload::from(bytes)).await.unwrap();
    let source = ObjectSource::open(store, path, "memory:///g.nc".into())
        .await
        .unwrap();
    let m = scan(&source, opts).await.unwrap();
    (m, source.stats().snapshot())
}

#[tokio::test]
async fn async_scan_equals_in_memory_scan() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    for rel in [
        "hdf5gen/matrix_earliest.h5",
        "hdf5gen/matrix_latest.h5",
        "hdf5gen/netcdf4.nc",
    ] {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let expected = scan_bytes("memory:///g.nc", bytes.clone().into()).unwrap();
        // Tiny reads force many waves; the result must not depend on the read policy.
        for (initial, min) in [(512, 64), (4096, 1024), (65536, 16384)] {
            let mut opts = ScanOptions::default();
            opts.read.initial_read = initial;
            opts.read.min_read = min;
            opts.read.coalesce_gap = min;
            let (m, stats) = via_store(bytes.clone(), &opts).await;
            common::assert_same_debug(
                &format!("{m:?}"),
                &format!("{expected:?}"),
                &format!("{rel} with initial read {initial}: wave scan vs in memory"),
            );
            assert!(stats.round_trips >= 1 && stats.requests >= stats.round_trips);
        }
    }
}

#[tokio::test]
async fn swot_granule_round_trips_are_bounded_by_depth() {
    let bytes = std::fs::read(common::swot_granule()).unwrap();
    let size = bytes.len() as u64;
    let (m, stats) = via_store(bytes, &ScanOptions::default()).await;
    assert_eq!(m.arrays().count(), 95);
    // 95 variables with dense attributes: round trips follow the structure depth (superblock,
    // root header, link storage, variable headers, attribute heaps, chunk B-trees, global heap),
    // not the variable count.
    assert!(stats.round_trips <= 10, "{} round trips", stats.round_trips);
    println!(
        "swot-like granule: {} round trips, {} requests, {} of {size} bytes",
        stats.round_trips, stats.requests, stats.bytes
    );
}
