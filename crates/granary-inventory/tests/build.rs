//! The inventory without SQL: a build commits the granules that scan and records the others as
//! typed error rows; the in-memory tables equal the persisted ones row for row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::util::pretty::pretty_format_batches;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_inventory::{
    BuildOptions, InventoryDir, NamePattern, TABLES, build_inventory, inventory_in_memory,
};
use granary_io::StoreRegistry;
use granary_test_utils::swot_granules;

fn extractor() -> Extractor {
    Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata: MetadataRoute::Hdf5,
            metadata_only: false,
            concurrency: Some(4),
            ..Default::default()
        },
    )
}

/// Three bundled granules and one that is not HDF5, in a private directory.
fn collection(dir: &std::path::Path) {
    for p in swot_granules().iter().take(3) {
        std::fs::copy(p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("broken.nc"), b"not an HDF5 file at all").unwrap();
}

#[tokio::test]
async fn failed_granules_are_typed_error_rows_and_memory_equals_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    collection(&src);
    let sources = vec![src.display().to_string()];
    let out = tmp.path().join("inv");
    let report = build_inventory(
        &extractor(),
        &sources,
        &out,
        &BuildOptions {
            part_size: 2,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!((report.listed, report.scanned, report.failed), (4, 3, 1));

    let dir = InventoryDir::open(&out).unwrap();
    let errors = dir.errors().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].url.ends_with("/broken.nc"), "{:?}", errors[0]);
    assert_eq!(errors[0].stage, "hdf5");
    assert!(
        errors[0].message.contains("not an HDF5 file"),
        "{:?}",
        errors[0]
    );

    let pattern = NamePattern::preset("swot").unwrap();
    let mem = inventory_in_memory(&extractor(), &sources, Some(&pattern), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(mem.listed, 4);
    assert_eq!(
        mem.errors, errors,
        "the same error rows in memory and on disk"
    );
    // A build records the entity tag its listing saw; granules scanned now have none.
    let without_etag = |b: &arrow::array::RecordBatch| {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|i| b.schema().field(*i).name() != "etag")
            .collect();
        b.project(&keep).unwrap()
    };
    for (table, batch) in mem.inventory.tables() {
        assert!(TABLES.contains(&table));
        let persisted = dir.read_table(table).unwrap();
        let mut persisted = concat_batches(&persisted[0].schema(), &persisted).unwrap();
        let mut batch = batch.clone();
        if table == "granules" {
            persisted =
                without_etag(&granary_inventory::add_captures(&persisted, &pattern).unwrap());
            batch = without_etag(&batch);
        }
        // Parts are committed as they complete: compare the rows, not their order.
        let rows = |b: arrow::array::RecordBatch| {
            let text = pretty_format_batches(&[b]).unwrap().to_string();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(rows(batch), rows(persisted), "table {table}");
    }
}

#[tokio::test]
async fn a_directory_that_is_not_an_inventory_is_refused_by_open() {
    let tmp = tempfile::tempdir().unwrap();
    let e = InventoryDir::open(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("not an inventory directory"), "{e}");
}

/// Parts end at whichever bound comes first: granules or manifest bytes.
#[tokio::test]
async fn parts_are_bounded_by_manifest_bytes_as_well_as_by_granules() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    collection(&src);
    std::fs::remove_file(src.join("broken.nc")).unwrap();
    let sources = vec![src.display().to_string()];
    let parts = |out: &std::path::Path| {
        std::fs::read_dir(out.join("granules"))
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".parquet")
            })
            .count()
    };
    for (part_bytes, expected) in [(usize::MAX, 1), (1, 3)] {
        let out = tmp.path().join(format!("inv-{expected}"));
        let opts = BuildOptions {
            part_size: 512,
            part_bytes,
            ..Default::default()
        };
        let report = build_inventory(&extractor(), &sources, &out, &opts, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(report.scanned, 3);
        assert_eq!(parts(&out), expected, "part_bytes {part_bytes}");
    }
}

/// Yields the extractor's outcomes in the reverse of the order they were asked for.
#[derive(Debug)]
struct Reversed(Extractor);

impl granary_inventory::GranuleScanner for Reversed {
    fn scan(
        &self,
        urls: Vec<url::Url>,
    ) -> futures::stream::BoxStream<
        'static,
        Result<granary_inventory::Scanned, granary_inventory::ScanFailure>,
    > {
        use futures::StreamExt;
        let inner = self.0.scan(urls);
        futures::stream::once(async move {
            let mut all: Vec<_> = inner.collect().await;
            all.reverse();
            futures::stream::iter(all)
        })
        .flatten()
        .boxed()
    }
}

#[tokio::test]
async fn parts_hold_the_same_granules_whatever_order_scans_finish_in() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for p in swot_granules() {
        std::fs::copy(&p, src.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(src.join("broken.nc"), b"not an HDF5 file at all").unwrap();
    let sources = vec![src.display().to_string()];
    let reversed = Reversed(extractor());
    let mut trees = Vec::new();
    for (name, scanner) in [
        ("in-order", None),
        (
            "reversed",
            Some(&reversed as &dyn granary_inventory::GranuleScanner),
        ),
    ] {
        let out = tmp.path().join(name);
        let opts = BuildOptions {
            part_size: 3,
            scanner,
            ..Default::default()
        };
        build_inventory(&extractor(), &sources, &out, &opts, &mut |_, _| {})
            .await
            .unwrap();
        trees.push(granary_test_utils::files_under(&out));
    }
    assert!(trees[0].len() > 6 * 4, "several parts: {}", trees[0].len());
    assert_eq!(
        trees[0].iter().map(|f| &f.0).collect::<Vec<_>>(),
        trees[1].iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (a, b) in trees[0].iter().zip(&trees[1]) {
        assert!(a.1 == b.1, "{} differs", a.0);
    }
}
