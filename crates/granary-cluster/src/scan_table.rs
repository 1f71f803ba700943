//! `GranuleScanTable`: the table a cluster scan reads from, what the client's logical plan
//! names. The scheduler plans it into a [`GranuleScanExec`] over an in-memory source holding
//! one batch of URLs per partition.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result as DfResult, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::recipe::ScanRecipe;
use crate::scan_exec::GranuleScanExec;
use crate::wire::scanned_schema;

/// Granule URLs to scan, split into partitions (one task each), and how to scan them.
#[derive(Debug, Clone, PartialEq)]
pub struct GranuleScanTable {
    pub recipe: ScanRecipe,
    pub partitions: Vec<Vec<String>>,
}

fn url_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("url", DataType::Utf8, false)]))
}

/// One partition's URLs as a batch of the scan's input.
fn url_batch(urls: &[String]) -> DfResult<RecordBatch> {
    let column = StringArray::from_iter_values(urls);
    Ok(RecordBatch::try_new(url_schema(), vec![Arc::new(column)])?)
}

#[async_trait]
impl TableProvider for GranuleScanTable {
    fn schema(&self) -> SchemaRef {
        scanned_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let all = scanned_schema().fields().len();
        if projection.is_some_and(|p| !p.iter().copied().eq(0..all)) {
            return plan_err!("a granule scan yields all of its columns");
        }
        let urls = self
            .partitions
            .iter()
            .map(|p| url_batch(p).map(|b| vec![b]))
            .collect::<Result<Vec<_>, _>>()?;
        let input = MemorySourceConfig::try_new_exec(&urls, url_schema(), None)?;
        Ok(Arc::new(GranuleScanExec::new(
            self.recipe.clone(),
            input,
            None,
        )))
    }
}
