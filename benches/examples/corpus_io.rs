//! Per-file I/O report: every HDF5 file under a directory scanned through an in-memory object
//! store with the default read policy; prints a markdown table of sequential round trips,
//! requests and bytes read per file (or the typed error).
//!
//!   cargo run --release -p granary-benches --example corpus_io -- tests/data > docs/hdf5-io.md
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use granary_extract::hdf5_waves::scan;
use granary_hdf5::ScanOptions;
use granary_io::{IoStats, ObjectSource};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            [".h5", ".nc", ".nc4", ".hdf5"]
                .iter()
                .any(|s| n.ends_with(s))
        }) {
            out.push(p);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: corpus_io DIR"));
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    println!("| file | bytes | round trips | requests | bytes read | result |");
    println!("|---|---|---|---|---|---|");
    let (mut ok, mut n) = (0, 0);
    for p in &all {
        let rel = p.strip_prefix(&root).unwrap().display().to_string();
        let data = std::fs::read(p).unwrap();
        let size = data.len();
        let key = StorePath::from(format!("f{n}"));
        n += 1;
        store.put(&key, PutPayload::from(data)).await.unwrap();
        let stats = Arc::new(IoStats::default());
        let src = ObjectSource::open(store.clone(), key, format!("memory:///{rel}"))
            .await
            .unwrap()
            .with_stats(stats.clone());
        let result = match scan(&src, &ScanOptions::default()).await {
            Ok(m) => {
                ok += 1;
                format!("{} arrays", m.arrays().count())
            }
            Err(e) => {
                let msg = e.to_string();
                let short = msg.split(": ").skip(1).collect::<Vec<_>>().join(": ");
                format!("error: {}", short.replace('|', "/"))
            }
        };
        let s = stats.snapshot();
        println!(
            "| {rel} | {size} | {} | {} | {} | {result} |",
            s.round_trips, s.requests, s.bytes
        );
    }
    eprintln!("{ok} of {} files scanned", all.len());
}
