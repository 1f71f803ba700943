//! Measures what a read policy costs per granule: sequential round trips (waves), requests and
//! bytes, for every HDF5 file in a directory, through an in-memory object store.
//!
//!   cargo run --release -p granary-benches --example read_policy -- DIR \
//!       [initial_read] [min_read] [coalesce_gap] [lookbehind] [chain_read]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use granary_extract::hdf5_waves::scan;
use granary_hdf5::ScanOptions;
use granary_io::{IoStats, ObjectSource};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .expect("usage: read_policy DIR [initial min gap behind]");
    let num = |i: usize, d: u64| args.get(i).map_or(d, |s| s.parse().unwrap());
    let mut opts = ScanOptions::default();
    opts.read.initial_read = num(2, opts.read.initial_read);
    opts.read.min_read = num(3, opts.read.min_read);
    opts.read.coalesce_gap = num(4, opts.read.coalesce_gap);
    opts.read.lookbehind = num(5, opts.read.lookbehind);
    opts.read.chain_read = num(6, opts.read.chain_read);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "nc" || x == "h5") {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            store
                .put(&StorePath::from(name.as_str()), PutPayload::from(bytes))
                .await
                .unwrap();
            names.push(name);
        }
    }
    names.sort();
    let (mut waves, mut requests, mut bytes, mut size, mut max_waves) = (0, 0, 0, 0, 0);
    for name in &names {
        let path = StorePath::from(name.as_str());
        let src = ObjectSource::open(store.clone(), path, format!("memory:///{name}"))
            .await
            .unwrap();
        let stats = Arc::new(IoStats::default());
        let src = src.with_stats(stats.clone());
        scan(&src, &opts).await.unwrap();
        let s = stats.snapshot();
        waves += s.round_trips;
        max_waves = max_waves.max(s.round_trips);
        requests += s.requests;
        bytes += s.bytes;
        size += src.size();
    }
    let n = names.len() as f64;
    println!(
        "{:?}: {} granules, round trips {:.2} (max {max_waves}), requests {:.1}, bytes {:.0} ({:.1}% of the file)",
        opts.read,
        names.len(),
        waves as f64 / n,
        requests as f64 / n,
        bytes as f64 / n,
        100.0 * bytes as f64 / size as f64
    );
}
