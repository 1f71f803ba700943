//! `GranuleScanExec`: the scan as a DataFusion operator over a table of granule URLs (one
//! text column `url`). Executing partition `i` reads partition `i` of its input and extracts
//! those granules (`concurrency` at a time, one failure never stopping the others), yielding
//! one [`wire`](crate::wire) row per granule. Ballista runs partitions as tasks on executors
//! and reruns a lost executor's tasks elsewhere: scanning is read-only, so a rerun yields the
//! same rows. The URLs are an input (an in-memory source), not fields of this node, because
//! Ballista hands each task its slice of partitions by restricting the plan's leaves, which it
//! knows how to do for in-memory sources.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};
use granary_inventory::{GranuleScanner, ScanFailure};
use url::Url;

use crate::recipe::{ExtractorFactory, ScanRecipe};
use crate::wire::{scanned_batch, scanned_schema};

/// Granules per output batch of a partition.
const ROWS_PER_BATCH: usize = 64;

/// The scan of the granule URLs its input yields, partition by partition.
#[derive(Debug)]
pub struct GranuleScanExec {
    recipe: ScanRecipe,
    input: Arc<dyn ExecutionPlan>,
    /// Builds the extractor where the plan runs (an executor); `None` where it is only
    /// planned (the scheduler, the client).
    factory: Option<Arc<dyn ExtractorFactory>>,
    properties: Arc<PlanProperties>,
}

impl GranuleScanExec {
    pub fn new(
        recipe: ScanRecipe,
        input: Arc<dyn ExecutionPlan>,
        factory: Option<Arc<dyn ExtractorFactory>>,
    ) -> Self {
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(scanned_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            recipe,
            input,
            factory,
            properties: Arc::new(properties),
        }
    }

    pub fn recipe(&self) -> &ScanRecipe {
        &self.recipe
    }
}

/// The URLs of a batch's `url` column.
fn urls_of(batch: &RecordBatch) -> DfResult<Vec<Url>> {
    let column = batch
        .column_by_name("url")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| {
            DataFusionError::Execution("a granule scan's input has no text column `url`".into())
        })?;
    column
        .iter()
        .flatten()
        .map(|u| Url::parse(u).map_err(|e| DataFusionError::Execution(format!("granule {u}: {e}"))))
        .collect()
}

impl DisplayAs for GranuleScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "GranuleScanExec: partitions={}, metadata={:?}",
            self.properties.output_partitioning().partition_count(),
            self.recipe.metadata
        )
    }
}

impl ExecutionPlan for GranuleScanExec {
    fn name(&self) -> &'static str {
        "GranuleScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(Self::new(
                self.recipe.clone(),
                input,
                self.factory.clone(),
            ))),
            Err(_) => Err(DataFusionError::Internal(
                "GranuleScanExec has one input".to_string(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let factory = self.factory.clone().ok_or_else(|| {
            DataFusionError::Execution(
                "GranuleScanExec runs on granary executors only (`granary cluster executor`)"
                    .to_string(),
            )
        })?;
        let recipe = self.recipe.clone();
        let input = self.input.execute(partition, context)?;
        let failure = |e: DataFusionError| Box::new(e) as ScanFailure;
        let batches = futures::stream::once(async move {
            let ex = factory.extractor(&recipe).await?;
            let batches: Vec<RecordBatch> = input.try_collect().await.map_err(failure)?;
            let mut urls = Vec::new();
            for b in &batches {
                urls.extend(urls_of(b).map_err(failure)?);
            }
            Ok::<_, ScanFailure>(ex.scan(urls))
        })
        .try_flatten()
        .ready_chunks(ROWS_PER_BATCH)
        .map(|rows| {
            let rows = rows
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(DataFusionError::External)?;
            scanned_batch(&rows).map_err(|e| DataFusionError::External(Box::new(e)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            scanned_schema(),
            batches,
        )))
    }
}
