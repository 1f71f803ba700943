//! Remote-latency benchmark: scan many SWOT-like granules through an object store that adds a
//! fixed latency to every GET (object_store's `ThrottledStore` over `InMemory`), with a given
//! concurrency, and compare the wall time with the physical limit
//! `granules × round trips per granule × latency / concurrency`.
//!
//!   cargo run --release -p granary-benches --example latency -- DIR [granules] [concurrency] [latency_ms]
//!
//! `ThrottledStore` sleeps once per `get_ranges` call (one batched wave), not once per range, so
//! the parallel requests of a wave cost one latency, as they would over HTTP/2 or parallel
//! connections. DMR++ route: one GET of the sidecar per granule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use granary_dmrpp::DmrppOptions;
use granary_extract::hdf5_waves::scan;
use granary_hdf5::ScanOptions;
use granary_io::{IoStats, ObjectSource};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .expect("usage: latency DIR [granules] [concurrency] [latency_ms]");
    let n: usize = args.get(2).map_or(1000, |s| s.parse().unwrap());
    let conc: usize = args.get(3).map_or(64, |s| s.parse().unwrap());
    let latency = Duration::from_millis(args.get(4).map_or(30, |s| s.parse().unwrap()));
    let mem = InMemory::new();
    let mut originals = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "nc") {
            // Bytes: the replicas below share one buffer per distinct granule.
            let data = bytes::Bytes::from(std::fs::read(&p).unwrap());
            let sidecar = bytes::Bytes::from(std::fs::read(p.with_extension("nc.dmrpp")).unwrap());
            originals.push((data, sidecar));
        }
    }
    assert!(!originals.is_empty(), "no .nc granules in {dir}");
    // Replicate the distinct granules under n keys.
    let mut sizes = Vec::with_capacity(n);
    for i in 0..n {
        let (data, sidecar) = &originals[i % originals.len()];
        mem.put(
            &StorePath::from(format!("g{i:05}.nc")),
            PutPayload::from(data.clone()),
        )
        .await
        .unwrap();
        mem.put(
            &StorePath::from(format!("g{i:05}.nc.dmrpp")),
            PutPayload::from(sidecar.clone()),
        )
        .await
        .unwrap();
        sizes.push((data.len() as u64, sidecar.len() as u64));
    }
    let cfg = ThrottleConfig {
        wait_get_per_call: latency,
        ..Default::default()
    };
    let store: Arc<dyn ObjectStore> = Arc::new(ThrottledStore::new(mem, cfg));
    let ms = latency.as_secs_f64() * 1000.0;

    // HDF5 route.
    let stats = Arc::new(IoStats::default());
    let t = Instant::now();
    let results: Vec<usize> = futures::stream::iter((0..n).map(|i| {
        let (store, stats) = (store.clone(), stats.clone());
        let size = sizes[i].0;
        async move {
            tokio::spawn(async move {
                let src = ObjectSource::with_size(
                    store,
                    StorePath::from(format!("g{i:05}.nc")),
                    format!("memory:///g{i:05}.nc"),
                    size,
                )
                .with_stats(stats);
                scan(&src, &ScanOptions::default())
                    .await
                    .unwrap()
                    .arrays()
                    .count()
            })
            .await
            .unwrap()
        }
    }))
    .buffer_unordered(conc)
    .collect()
    .await;
    let wall = t.elapsed().as_secs_f64();
    assert!(results.iter().all(|c| *c == 95));
    let s = stats.snapshot();
    let rt = s.round_trips as f64 / n as f64;
    let limit = n as f64 * rt * latency.as_secs_f64() / conc as f64;
    println!(
        "hdf5 route:  {n} granules, concurrency {conc}, latency {ms:.0} ms: wall {wall:.2} s ({:.1} granules/s); \
         {rt:.2} round trips, {:.1} requests, {:.0} bytes per granule; physical limit {limit:.2} s ({:.0}% of it)",
        n as f64 / wall,
        s.requests as f64 / n as f64,
        s.bytes as f64 / n as f64,
        100.0 * limit / wall
    );

    // DMR++ route.
    let stats = Arc::new(IoStats::default());
    let t = Instant::now();
    let results: Vec<usize> = futures::stream::iter((0..n).map(|i| {
        let (store, stats) = (store.clone(), stats.clone());
        let size = sizes[i].1;
        async move {
            tokio::spawn(async move {
                let url = format!("memory:///g{i:05}.nc.dmrpp");
                let src = ObjectSource::with_size(
                    store,
                    StorePath::from(format!("g{i:05}.nc.dmrpp")),
                    url.clone(),
                    size,
                )
                .with_stats(stats);
                let bytes = src.read_range(0..size).await.unwrap();
                let opts = DmrppOptions {
                    dmrpp_url: url,
                    ..Default::default()
                };
                granary_dmrpp::parse(&bytes, &opts)
                    .unwrap()
                    .0
                    .arrays()
                    .count()
            })
            .await
            .unwrap()
        }
    }))
    .buffer_unordered(conc)
    .collect()
    .await;
    let wall = t.elapsed().as_secs_f64();
    assert!(results.iter().all(|c| *c == 95));
    let s = stats.snapshot();
    let limit = n as f64 * latency.as_secs_f64() / conc as f64;
    println!(
        "dmrpp route: {n} granules, concurrency {conc}, latency {ms:.0} ms: wall {wall:.2} s ({:.1} granules/s); \
         {:.1} requests, {:.0} bytes per granule; physical limit {limit:.2} s ({:.0}% of it)",
        n as f64 / wall,
        s.requests as f64 / n as f64,
        s.bytes as f64 / n as f64,
        100.0 * limit / wall
    );
}
