//! A DataFusion session with the inventory tables registered, and result formatting.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::{Inventory, SqlError};

/// A session in which `granules`, `dimensions`, `variables`, `attributes` and `chunks` exist.
pub fn session(inv: &Inventory) -> Result<SessionContext, SqlError> {
    let ctx = SessionContext::new();
    for (name, batch) in inv.tables() {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]])?;
        ctx.register_table(name, Arc::new(table))?;
    }
    Ok(ctx)
}

/// Runs one SQL statement and collects its result.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, SqlError> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    NdJson,
}

/// Renders batches in `format`.
pub fn render(batches: &[RecordBatch], format: Format) -> Result<String, SqlError> {
    use datafusion::arrow::{csv, json, util::pretty};
    Ok(match format {
        Format::Table => pretty::pretty_format_batches(batches)?.to_string() + "\n",
        Format::Csv => {
            let mut out = Vec::new();
            {
                let mut w = csv::Writer::new(&mut out);
                for b in batches {
                    w.write(b)?;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        Format::Json => {
            let mut w = json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            String::from_utf8_lossy(&w.into_inner()).into_owned() + "\n"
        }
        Format::NdJson => {
            let mut w = json::LineDelimitedWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            String::from_utf8_lossy(&w.into_inner()).into_owned()
        }
    })
}
