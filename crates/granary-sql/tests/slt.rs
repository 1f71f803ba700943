//! Runs the sqllogictest files in `tests/slt/` (DataFusion's conventions: `query <types>` with
//! `I` integer, `R` float, `T` everything else; NULL as `NULL`, empty strings as `(empty)`).
//! Each file gets a fresh session over an inventory directory built from the bundled SWOT-like
//! granules (`tests/data/swot`, DMR++ route), with `hdf5_scan`/`dmrpp_scan` registered; paths in
//! the files are relative to the repository root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use granary_extract::{ExtractOptions, Extractor};
use granary_inventory::{BuildOptions, InventoryDir, NamePattern, build_inventory};
use granary_io::StoreRegistry;
use granary_sql::session_for_dir;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Granary(SessionContext);

fn column_type(t: &DataType) -> DefaultColumnType {
    if t.is_integer() {
        DefaultColumnType::Integer
    } else if t.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let opts = FormatOptions::default();
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .zip(&fmts)
                    .map(|(c, f)| {
                        if c.is_null(i) {
                            "NULL".to_string()
                        } else {
                            let s = f.value(i).to_string();
                            if s.is_empty() {
                                "(empty)".to_string()
                            } else {
                                s
                            }
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

#[async_trait]
impl sqllogictest::AsyncDB for Granary {
    type Error = datafusion::error::DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let df = self.0.sql(sql).await?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema
                .fields()
                .iter()
                .map(|f| column_type(f.data_type()))
                .collect(),
            rows: rows(&batches),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "granary"
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    std::env::set_current_dir(repo()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("inventory");
    let ex = Extractor::new(Arc::new(StoreRegistry::new()), ExtractOptions::default());
    let report = build_inventory(
        &ex,
        &["tests/data/swot".to_string()],
        &inv,
        &BuildOptions {
            part_size: 4,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.scanned, 11);
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("crates/granary-sql/tests/slt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let inv = inv.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let inv = inv.clone();
            async move {
                let dir = InventoryDir::open(&inv).unwrap();
                let re = NamePattern::preset("swot").unwrap();
                Ok(Granary(session_for_dir(&dir, Some(&re)).unwrap()))
            }
        });
        if let Err(e) = runner.run_file_async(f).await {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
