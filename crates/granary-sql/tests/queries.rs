//! Every query in `sql/` runs on the bundled SWOT-like granules, and its answer equals what the
//! manifests say directly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, UInt64Type};
use granary_core::GranuleManifest;
use granary_inventory::{Inventory, NamePattern};
use granary_sql::{Access, Format, query, render, session};

use granary_test_utils::repo_root as root;

fn manifests() -> Vec<GranuleManifest> {
    granary_test_utils::swot_granules()
        .iter()
        .map(|p| {
            let url = format!("file://{}", p.display());
            granary_hdf5::scan_bytes(&url, std::fs::read(p).unwrap().into()).unwrap()
        })
        .collect()
}

async fn run(inv: &Inventory, file: &str) -> Vec<RecordBatch> {
    let sql = std::fs::read_to_string(root().join("sql").join(file)).unwrap();
    let ctx = session(inv).unwrap();
    query(&ctx, &sql, Access::Any).await.unwrap()
}

fn num_lines(m: &GranuleManifest) -> u64 {
    m.root
        .dims
        .iter()
        .find(|d| d.name == "num_lines")
        .unwrap()
        .size
}

fn attr_i64(m: &GranuleManifest, name: &str) -> i64 {
    m.root
        .attrs
        .iter()
        .find(|a| a.name == name)
        .unwrap()
        .value
        .as_i64()
        .unwrap()
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[tokio::test]
async fn example_queries_answer_what_the_manifests_say() {
    let ms = manifests();
    assert_eq!(ms.len(), 11);
    let inv = Inventory::build(&ms, Some(&NamePattern::preset("swot").unwrap())).unwrap();

    // Shape histogram: counts per num_lines.
    let mut want: BTreeMap<u64, i64> = BTreeMap::new();
    for m in &ms {
        *want.entry(num_lines(m)).or_default() += 1;
    }
    let got: BTreeMap<u64, i64> = run(&inv, "shape_histogram.sql")
        .await
        .iter()
        .flat_map(|b| {
            let lines = b.column(0).as_primitive::<UInt64Type>().clone();
            let count = b.column(2).as_primitive::<Int64Type>().clone();
            (0..b.num_rows()).map(move |i| (lines.value(i), count.value(i)))
        })
        .collect();
    assert_eq!(got, want);

    // Main shape: the most common num_lines (ties: the larger).
    let main = want
        .iter()
        .max_by_key(|(lines, n)| (**n, **lines))
        .map(|(l, _)| *l)
        .unwrap();
    let selected = run(&inv, "main_shape.sql").await;
    assert_eq!(
        rows(&selected) as u64,
        ms.iter().filter(|m| num_lines(m) == main).count() as u64
    );
    let cycles: Vec<i32> = selected
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Int32Type>().values().to_vec())
        .collect();
    assert!(cycles.windows(2).all(|w| w[0] <= w[1]), "ordered by cycle");

    // Granules per cycle.
    let mut want: BTreeMap<i32, i64> = BTreeMap::new();
    for m in &ms {
        *want.entry(attr_i64(m, "cycle_number") as i32).or_default() += 1;
    }
    let got: BTreeMap<i32, i64> = run(&inv, "granules_per_cycle.sql")
        .await
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_primitive::<Int32Type>().clone();
            let n = b.column(1).as_primitive::<Int64Type>().clone();
            (0..b.num_rows()).map(move |i| (c.value(i), n.value(i)))
        })
        .collect();
    assert_eq!(got, want);

    // Missing passes: the fixture grid is 2 cycles x 6 passes with 11 granules.
    let present: std::collections::BTreeSet<(i64, i64)> = ms
        .iter()
        .map(|m| (attr_i64(m, "cycle_number"), attr_i64(m, "pass_number")))
        .collect();
    let missing = run(&inv, "missing_passes.sql").await;
    assert_eq!(rows(&missing), 12 - present.len());
    for b in &missing {
        let c = b.column(0).as_primitive::<Int32Type>();
        let p = b.column(1).as_primitive::<Int32Type>();
        for i in 0..b.num_rows() {
            assert!(!present.contains(&(i64::from(c.value(i)), i64::from(p.value(i)))));
        }
    }

    // No duplicate (cycle, pass) in the fixtures; a duplicated granule shows up.
    assert_eq!(rows(&run(&inv, "duplicate_pairs.sql").await), 0);
    let mut twice = ms.clone();
    twice.push(ms[0].clone());
    let inv2 = Inventory::build(&twice, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let dup = run(&inv2, "duplicate_pairs.sql").await;
    assert_eq!(rows(&dup), 1);

    // The latest processing per (cycle, pass): a reprocessed PGC0 granule beats the forward
    // PIC0 one, product counter 02 beats 01.
    let mut versions = ms.clone();
    let renamed = |m: &GranuleManifest, from: &str, to: &str| {
        let mut m = m.clone();
        m.url = m.url.replace(from, to);
        m
    };
    versions.push(renamed(&ms[0], "DG10_01", "PIC0_01"));
    versions.push(renamed(&ms[0], "DG10_01", "PGC0_01"));
    versions.push(renamed(&ms[1], "DG10_01", "DG10_02"));
    let inv3 = Inventory::build(&versions, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let latest = run(&inv3, "latest_reprocessing.sql").await;
    assert_eq!(rows(&latest), 11);
    let urls: Vec<String> = latest
        .iter()
        .flat_map(|b| {
            let u = b.column(0).as_string::<i32>();
            (0..b.num_rows())
                .map(|i| u.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(urls.contains(&versions[ms.len() + 1].url), "{urls:?}");
    assert!(urls.contains(&versions[ms.len() + 2].url), "{urls:?}");
    assert!(!urls.contains(&ms[0].url) && !urls.contains(&ms[1].url));

    // Stored bytes per variable.
    let daily = run(&inv, "daily_time.sql").await;
    assert_eq!(rows(&daily), 11);
    assert!(matches!(
        daily[0].schema().field(1).data_type(),
        DataType::Timestamp(..)
    ));
    let per_var = run(&inv, "bytes_per_variable.sql").await;
    assert_eq!(rows(&per_var), 95);
    let total: u64 = per_var
        .iter()
        .map(|b| {
            b.column(2)
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .sum::<u64>()
        })
        .sum();
    let want: u64 = ms
        .iter()
        .flat_map(|m| m.arrays())
        .map(granary_core::ArrayMeta::stored_bytes)
        .sum();
    assert_eq!(total, want);
}

#[tokio::test]
async fn typed_attribute_access_and_captures() {
    let ms = manifests();
    let inv = Inventory::build(&ms, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let ctx = session(&inv).unwrap();
    // The capture and the global attribute agree for every granule.
    let b = query(&ctx, "SELECT count(*) FROM granules WHERE CAST(cycle AS INT) = CAST(attrs['cycle_number'] AS INT) AND CAST(pass AS INT) = CAST(attrs['pass_number'] AS INT)", Access::Any).await.unwrap();
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 11);
    // A missing map key is NULL, not an error.
    let b = query(
        &ctx,
        "SELECT count(*) FROM granules WHERE dims['no_such_dim'] IS NULL",
        Access::Any,
    )
    .await
    .unwrap();
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 11);
    // Output formats.
    let b = query(
        &ctx,
        "SELECT name FROM granules ORDER BY name LIMIT 2",
        Access::Any,
    )
    .await
    .unwrap();
    assert!(render(&b, Format::Table).unwrap().contains("| name"));
    assert_eq!(render(&b, Format::Csv).unwrap().lines().count(), 3);
    assert!(render(&b, Format::Json).unwrap().starts_with("[{\"name\":"));
    assert_eq!(render(&b, Format::NdJson).unwrap().lines().count(), 2);
    // A missing column is DataFusion's error, with the column named.
    let err = query(&ctx, "SELECT no_such_column FROM granules", Access::Any)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_column"), "{err}");
    let _ = b[0].column(0).len();
}
