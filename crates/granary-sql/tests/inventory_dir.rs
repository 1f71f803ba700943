//! The persisted inventory: incremental builds, the errors table, retirement of changed and
//! vanished granules, recovery from a killed build, and agreement with the in-memory tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_inventory::{BuildOptions, BuildReport, InventoryDir, NamePattern, build_inventory};
use granary_io::StoreRegistry;
use granary_sql::{Access, Format, query, render, session_for_dir};

fn swot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/swot")
}

/// A private copy of the bundled granules (data files only: HDF5 route).
fn copy_granules(dst: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(swot_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "nc") {
            let to = dst.join(p.file_name().unwrap());
            std::fs::copy(&p, &to).unwrap();
            out.push(to);
        }
    }
    out.sort();
    out
}

async fn build(src: &Path, out: &Path, part_size: usize) -> BuildReport {
    let ex = Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata: MetadataRoute::Hdf5,
            metadata_only: false,
            concurrency: Some(4),
            ..Default::default()
        },
    );
    build_inventory(
        &ex,
        &[src.display().to_string()],
        out,
        &BuildOptions {
            part_size,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .await
    .unwrap()
}

async fn sql(dir: &Path, q: &str) -> String {
    let d = InventoryDir::open(dir).unwrap();
    let ctx = session_for_dir(&d, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    render(&query(&ctx, q, Access::Any).await.unwrap(), Format::Csv).unwrap()
}

#[tokio::test]
async fn incremental_build_skips_unchanged_and_retires_changed_granules() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, inv) = (tmp.path().join("src"), tmp.path().join("inv"));
    std::fs::create_dir(&src).unwrap();
    let files = copy_granules(&src);

    let r = build(&src, &inv, 3).await;
    assert_eq!((r.listed, r.scanned, r.unchanged, r.failed), (11, 11, 0, 0));
    assert_eq!(InventoryDir::open(&inv).unwrap().files("chunks").len(), 4);
    let all_chunks = sql(&inv, "SELECT count(*) AS n FROM chunks").await;

    let r = build(&src, &inv, 3).await;
    assert_eq!((r.scanned, r.unchanged, r.retired), (0, 11, 0));

    // A corrupt granule lands in the errors table; the others are untouched.
    std::fs::write(src.join("bad.nc"), b"not an HDF5 file at all").unwrap();
    let r = build(&src, &inv, 3).await;
    assert_eq!((r.listed, r.scanned, r.failed, r.unchanged), (12, 0, 1, 11));
    let errors = sql(&inv, "SELECT stage, url LIKE '%/bad.nc' AS bad FROM errors").await;
    assert_eq!(errors, "stage,bad\nhdf5,true\n");

    // Repaired: scanned, and the old error row is gone.
    std::fs::copy(&files[0], src.join("bad.nc")).unwrap();
    let r = build(&src, &inv, 3).await;
    assert_eq!((r.scanned, r.failed), (1, 0));
    assert_eq!(
        sql(&inv, "SELECT count(*) AS n FROM errors").await,
        "n\n0\n"
    );
    assert_eq!(
        sql(&inv, "SELECT count(*) AS n FROM granules").await,
        "n\n12\n"
    );

    // Changed object (other content, other size): retired and scanned again, no duplicate.
    std::fs::copy(&files[1], src.join("bad.nc")).unwrap();
    let r = build(&src, &inv, 3).await;
    assert_eq!((r.retired, r.scanned, r.unchanged), (1, 1, 11));
    assert_eq!(
        sql(
            &inv,
            "SELECT count(*) AS n, count(DISTINCT url) AS d FROM granules"
        )
        .await,
        "n,d\n12,12\n"
    );

    // Vanished object: retired with its rows in every table.
    std::fs::remove_file(src.join("bad.nc")).unwrap();
    let r = build(&src, &inv, 3).await;
    assert_eq!((r.retired, r.scanned), (1, 0));
    assert_eq!(
        sql(&inv, "SELECT count(*) AS n FROM chunks").await,
        all_chunks
    );
    assert_eq!(
        sql(&inv, "SELECT count(DISTINCT url) AS n FROM variables").await,
        "n\n11\n"
    );
}

#[tokio::test]
async fn files_left_by_a_killed_build_are_ignored_then_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, inv) = (tmp.path().join("src"), tmp.path().join("inv"));
    std::fs::create_dir(&src).unwrap();
    copy_granules(&src);
    build(&src, &inv, 4).await;
    let before = sql(&inv, "SELECT count(*) AS n FROM chunks").await;
    // What a build killed between its renames and its commit leaves behind.
    let committed = InventoryDir::open(&inv).unwrap().files("chunks")[0].clone();
    let orphan = inv.join("chunks/part-000099.parquet");
    std::fs::copy(&committed, &orphan).unwrap();
    std::fs::write(inv.join("granules/part-000099.parquet.tmp"), b"partial").unwrap();
    assert_eq!(sql(&inv, "SELECT count(*) AS n FROM chunks").await, before);
    let r = build(&src, &inv, 4).await;
    assert_eq!((r.scanned, r.unchanged), (0, 11));
    assert!(!orphan.exists());
    assert!(!inv.join("granules/part-000099.parquet.tmp").exists());
}

#[tokio::test]
async fn a_directory_built_from_other_sources_or_malformed_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, inv) = (tmp.path().join("src"), tmp.path().join("inv"));
    std::fs::create_dir(&src).unwrap();
    copy_granules(&src);
    build(&src, &inv, 100).await;
    let other = InventoryDir::create_or_open(&inv, &["/elsewhere".to_string()]);
    assert!(other.unwrap_err().to_string().contains("was built from"));
    std::fs::write(inv.join("_inventory.json"), "{\"format\": 3").unwrap();
    let e = InventoryDir::open(&inv).unwrap_err().to_string();
    assert!(
        e.contains("_inventory.json") && e.contains("malformed"),
        "{e}"
    );
    let e = InventoryDir::open(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("not an inventory directory"), "{e}");
}

#[tokio::test]
async fn persisted_tables_answer_like_the_in_memory_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("inv");
    build(&swot_dir(), &inv, 5).await;
    let manifests: Vec<_> = {
        granary_test_utils::swot_granules()
            .iter()
            .map(|p| {
                let url = url_of(p);
                granary_hdf5::scan_bytes(&url, std::fs::read(p).unwrap().into()).unwrap()
            })
            .collect()
    };
    let mem = granary_inventory::Inventory::build(
        &manifests,
        Some(&NamePattern::preset("swot").unwrap()),
    )
    .unwrap();
    let mem_ctx = granary_sql::session(&mem).unwrap();
    let dir = InventoryDir::open(&inv).unwrap();
    let dir_ctx = session_for_dir(&dir, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let sql_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql");
    let mut n = 0;
    for e in std::fs::read_dir(sql_dir).unwrap() {
        let p = e.unwrap().path();
        // cmr_*.sql need a CMR source's `cmr_granules` table (tests/interop/test_remote.py).
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if p.extension().is_none_or(|x| x != "sql") || name.is_some_and(|n| n.starts_with("cmr_")) {
            continue;
        }
        let q = std::fs::read_to_string(&p).unwrap();
        let a = render(
            &query(&mem_ctx, &q, Access::Any).await.unwrap(),
            Format::Csv,
        )
        .unwrap();
        let b = render(
            &query(&dir_ctx, &q, Access::Any).await.unwrap(),
            Format::Csv,
        )
        .unwrap();
        assert_eq!(a, b, "{}", p.display());
        n += 1;
    }
    assert_eq!(n, 8);
    for t in ["dimensions", "variables", "attributes", "chunks"] {
        let q = format!("SELECT * FROM {t} ORDER BY ALL");
        let q = q.replace(" ORDER BY ALL", "");
        let a = render(
            &query(&mem_ctx, &q, Access::Any).await.unwrap(),
            Format::Csv,
        )
        .unwrap();
        let b = render(
            &query(&dir_ctx, &q, Access::Any).await.unwrap(),
            Format::Csv,
        )
        .unwrap();
        let (mut a, mut b): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "table {t}");
    }
}

fn url_of(p: &Path) -> String {
    StoreRegistry::normalize(&p.display().to_string())
        .unwrap()
        .to_string()
}
