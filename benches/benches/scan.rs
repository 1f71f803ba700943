//! Scan benchmark: full-size SWOT-like granules (docs/python-baseline.md: kerchunk needs
//! 0.61 s per granule). Measures CPU cost per granule (in-memory scan, one core) and the full
//! async path through an object store (waves of batched range reads), and prints requests, round
//! trips and bytes per granule. Data: `benches/make_bench_data.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use granary_extract::hdf5_waves::scan;
use granary_hdf5::{ScanOptions, scan_bytes};
use granary_io::{IoStats, ObjectSource};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn granules() -> Vec<(String, Bytes)> {
    let dir = std::env::var("GRANARY_BENCH_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data/swot"),
        PathBuf::from,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|_| {
            panic!(
                "no benchmark data in {}: run benches/make_bench_data.sh",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nc"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(&p).unwrap()),
            )
        })
        .collect()
}

fn bench_scan(c: &mut Criterion) {
    let data = granules();
    let n = data.len() as u64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    rt.block_on(async {
        for (name, b) in &data {
            store
                .put(&StorePath::from(name.as_str()), PutPayload::from(b.clone()))
                .await
                .unwrap();
        }
    });
    let opts = ScanOptions::default();
    let scan_all = |stats: &Arc<IoStats>| {
        rt.block_on(async {
            for (name, b) in &data {
                let src = ObjectSource::with_size(
                    store.clone(),
                    StorePath::from(name.as_str()),
                    format!("memory:///{name}"),
                    b.len() as u64,
                )
                .with_stats(stats.clone());
                let m = scan(&src, &opts).await.unwrap();
                assert_eq!(m.arrays().count(), 95);
            }
        })
    };
    let stats = Arc::new(IoStats::default());
    scan_all(&stats);
    let s = stats.snapshot();
    let size: u64 = data.iter().map(|(_, b)| b.len() as u64).sum();
    eprintln!(
        "per granule: {:.1} round trips, {:.1} requests, {:.0} bytes read of {:.0} ({:.2}%)",
        s.round_trips as f64 / n as f64,
        s.requests as f64 / n as f64,
        s.bytes as f64 / n as f64,
        size as f64 / n as f64,
        100.0 * s.bytes as f64 / size as f64
    );

    let mut g = c.benchmark_group("scan_swot_full_size");
    g.throughput(Throughput::Elements(n));
    g.bench_function("in_memory_1_core", |b| {
        b.iter(|| {
            for (name, bytes) in &data {
                let m = scan_bytes(name, bytes.clone()).unwrap();
                assert_eq!(m.arrays().count(), 95);
            }
        })
    });
    g.bench_function("object_store_waves_1_core", |b| {
        b.iter(|| scan_all(&Arc::new(IoStats::default())))
    });
    g.bench_function("scan_and_kerchunk_json_1_core", |b| {
        b.iter(|| {
            for (name, bytes) in &data {
                let m = scan_bytes(name, bytes.clone()).unwrap();
                let refs = granary_refs::single_granule_refs(&m).unwrap();
                let mut out = Vec::with_capacity(200_000);
                refs.write_json(&mut out).unwrap();
                assert!(out.len() > 1000);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
