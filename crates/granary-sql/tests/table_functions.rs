//! `hdf5_scan` / `dmrpp_scan`: on-the-fly tables, projection pushdown (metadata-only scans when
//! no chunk column is needed), the errors table, and argument errors at planning time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use granary_extract::MetadataRoute;
use granary_io::StoreRegistry;
use granary_sql::{Access, Format, ScanFunction, base_session, query, render};

fn swot() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/swot")
        .display()
        .to_string()
}

fn with(metadata: MetadataRoute) -> (SessionContext, Arc<ScanFunction>) {
    let ctx = SessionContext::new();
    let f = Arc::new(ScanFunction::new(
        metadata,
        Arc::new(StoreRegistry::new()),
        Some(4),
    ));
    ctx.register_udtf("scan", f.clone());
    (ctx, f)
}

async fn csv(ctx: &SessionContext, q: &str) -> String {
    render(&query(ctx, q, Access::Any).await.unwrap(), Format::Csv).unwrap()
}

#[tokio::test]
async fn shape_questions_skip_chunk_indexes_and_chunk_questions_read_them() {
    let (ctx, f) = with(MetadataRoute::Hdf5);
    let src = swot();
    let shapes = csv(
        &ctx,
        &format!(
            "SELECT dims['num_lines'] AS n, count(*) AS g FROM scan('{src}') GROUP BY 1 ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(shapes, "n,g\n8,3\n9,1\n10,7\n");
    assert_eq!(f.scans(), vec![(src.clone(), false)]);
    let vars = csv(
        &ctx,
        &format!("SELECT count(*) AS v FROM scan('{src}', 'variables') WHERE name = 'ssha_karin'"),
    )
    .await;
    assert_eq!(vars, "v\n11\n");
    assert_eq!(f.scans(), vec![(src.clone(), false)], "still metadata only");

    let chunks = csv(
        &ctx,
        &format!("SELECT sum(n_chunks) AS c FROM scan('{src}')"),
    )
    .await;
    assert_eq!(f.scans(), vec![(src.clone(), false), (src.clone(), true)]);
    let direct = csv(
        &ctx,
        &format!("SELECT count(*) AS c FROM scan('{src}', 'chunks')"),
    )
    .await;
    assert_eq!(chunks, direct);
    assert_ne!(chunks, "c\n0\n");
}

#[tokio::test]
async fn dmrpp_scan_agrees_with_hdf5_scan_on_shapes_and_attributes() {
    let ctx = base_session();
    let src = swot();
    let q = |f: &str| {
        format!(
            "SELECT name, dims['num_lines'] AS n, CAST(attrs['cycle_number'] AS INT) AS c, pass \
             FROM {f}('{src}', 'granules', 'swot') ORDER BY name"
        )
    };
    let a = csv(&ctx, &q("hdf5_scan")).await;
    let b = csv(&ctx, &q("dmrpp_scan")).await;
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 12);
}

#[tokio::test]
async fn failed_granules_are_in_the_errors_table_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("broken.nc"), b"\x89HDF\r\n\x1a\n truncated").unwrap();
    for e in std::fs::read_dir(swot()).unwrap().take(30) {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "nc") {
            std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
            break;
        }
    }
    let (ctx, _) = with(MetadataRoute::Hdf5);
    let d = tmp.path().display();
    assert_eq!(
        csv(&ctx, &format!("SELECT count(*) AS n FROM scan('{d}')")).await,
        "n\n1\n"
    );
    let errors = csv(
        &ctx,
        &format!("SELECT stage, url LIKE '%broken.nc' AS b FROM scan('{d}', 'errors')"),
    )
    .await;
    assert_eq!(errors, "stage,b\nhdf5,true\n");
}

#[tokio::test]
async fn bad_arguments_are_planning_errors() {
    let (ctx, f) = with(MetadataRoute::Hdf5);
    for (q, want) in [
        ("SELECT * FROM scan()", "expected (source"),
        ("SELECT * FROM scan(3)", "source must be a string literal"),
        ("SELECT * FROM scan('x', 'nope')", "unknown table \"nope\""),
        (
            "SELECT * FROM scan('x', 'granules', '(')",
            "invalid file-name pattern",
        ),
    ] {
        let e = ctx.sql(q).await.unwrap_err().to_string();
        assert!(e.contains(want), "{q}: {e}");
    }
    let e = query(
        &ctx,
        &format!("SELECT nope FROM scan('{}')", swot()),
        Access::Any,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("nope"), "{e}");
    assert!(
        f.scans().is_empty(),
        "nothing scanned for queries that do not plan"
    );
}
