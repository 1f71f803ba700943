//! The async, wave-batched scan through an object store must produce exactly the manifest of the
//! in-memory scan, in a number of sequential round trips that follows the file's depth.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use granary_extract::hdf5_waves::scan;
use granary_hdf5::{ScanOptions, scan_bytes};
use granary_io::ObjectSource;
use granary_test_utils::{assert_same_text, data, swot_granule};
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
    for rel in [
        "hdf5gen/matrix_earliest.h5",
        "hdf5gen/matrix_latest.h5",
        "hdf5gen/netcdf4.nc",
    ] {
        let bytes = data(rel);
        let expected = scan_bytes("memory:///g.nc", bytes.clone().into()).unwrap();
        // Tiny reads force many waves; the result must not depend on the read policy.
        for (initial, min) in [(512, 64), (4096, 1024), (65536, 16384)] {
            let mut opts = ScanOptions::default();
            opts.read.initial_read = initial;
            opts.read.min_read = min;
            opts.read.coalesce_gap = min;
            let (m, stats) = via_store(bytes.clone(), &opts).await;
            assert_same_text(
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
    let bytes = std::fs::read(swot_granule()).unwrap();
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

#[tokio::test]
async fn metadata_only_scan_skips_chunk_indexes_and_keeps_metadata() {
    let bytes = std::fs::read(swot_granule()).unwrap();
    let mut full = ScanOptions::default();
    full.read.initial_read = 4096;
    full.read.min_read = 1024;
    full.read.coalesce_gap = 1024;
    full.read.chain_read = 0; // small reads show what the chunk indexes cost
    let meta = ScanOptions {
        metadata_only: true,
        ..full
    };
    let (m_full, s_full) = via_store(bytes.clone(), &full).await;
    let (m_meta, s_meta) = via_store(bytes, &meta).await;
    // Same groups, dims, dtypes, shapes, codecs, fills and attributes.
    let strip = |m: &granary_core::GranuleManifest| {
        m.arrays()
            .map(|a| {
                format!(
                    "{} {:?} {:?} {:?} {:?} {:?} {:?}",
                    a.path, a.dims, a.shape, a.dtype, a.codecs, a.chunk_shape, a.attrs
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&m_full), strip(&m_meta));
    assert_eq!(
        format!("{:?}", m_full.root.dims),
        format!("{:?}", m_meta.root.dims)
    );
    assert_eq!(
        format!("{:?}", m_full.root.attrs),
        format!("{:?}", m_meta.root.attrs)
    );
    let chunked = m_meta
        .arrays()
        .filter(|a| a.layout == granary_core::StorageLayout::Chunked)
        .count();
    assert!(chunked > 10);
    for a in m_meta.arrays() {
        if a.layout == granary_core::StorageLayout::Chunked {
            assert_eq!(a.data, granary_core::ArrayData::Unread, "{}", a.path);
        }
    }
    assert!(
        s_meta.bytes < s_full.bytes && s_meta.round_trips <= s_full.round_trips,
        "metadata-only {s_meta:?} vs full {s_full:?}"
    );
    eprintln!("full: {s_full:?}\nmetadata only: {s_meta:?}");
}
