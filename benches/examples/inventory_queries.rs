//! The example queries of `sql/` over a synthetic inventory of the real collection's size
//! (17,564 granules × 95 arrays, generated directly, not scanned), in memory and persisted as an
//! inventory directory. Prints one line per query: median wall time of 5 runs and rows returned.
//!
//! `cargo run --release -p granary-benches --example inventory_queries [-- GRANULES ARRAYS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use granary_benches::synthetic;
use granary_inventory::{Inventory, InventoryDir, NamePattern};
use granary_sql::{Access, query, session, session_for_dir};

async fn time_queries(label: &str, ctx: &SessionContext) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for f in files {
        let sql = std::fs::read_to_string(&f).unwrap();
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let b = query(ctx, &sql, Access::Any).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            rows = b.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label:<10} {:<24} {:>9.1} ms {:>7} rows",
            f.file_name().unwrap().to_string_lossy(),
            times[2],
            rows
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, arrays) = (
        args.first().copied().unwrap_or(17_564),
        args.get(1).copied().unwrap_or(95),
    );
    let t = Instant::now();
    let manifests = synthetic::collection(n, arrays);
    println!(
        "generate   {n} granules x {arrays} arrays: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let re = NamePattern::preset("swot").unwrap();
    let inv = Inventory::build(&manifests, Some(&re)).unwrap();
    println!(
        "tables     {:.2} s: {} granules, {} variables, {} attributes, {} chunks rows",
        t.elapsed().as_secs_f64(),
        inv.granules.num_rows(),
        inv.variables.num_rows(),
        inv.attributes.num_rows(),
        inv.chunks.num_rows()
    );
    time_queries("memory", &session(&inv).unwrap()).await;

    let tmp = std::env::temp_dir().join(format!("granary-inventory-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let t = Instant::now();
    let mut dir = InventoryDir::create_or_open(&tmp, &["synthetic".to_string()]).unwrap();
    for part in manifests.chunks(2048) {
        dir.append(&Inventory::from_manifests(part).unwrap(), &[])
            .unwrap();
    }
    let bytes: u64 = walk_size(&tmp);
    println!(
        "persist    {:.2} s, {:.1} MB on disk",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    drop(manifests);
    let t = Instant::now();
    let dir = InventoryDir::open(&tmp).unwrap();
    let ctx = session_for_dir(&dir, Some(&re)).unwrap();
    println!("open       {:.2} s", t.elapsed().as_secs_f64());
    time_queries("directory", &ctx).await;
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn walk_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}
