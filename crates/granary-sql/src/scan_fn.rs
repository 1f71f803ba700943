//! Table functions that scan granules on the fly:
//! `hdf5_scan(source [, table [, pattern]])` and `dmrpp_scan(source [, table [, pattern]])`.
//!
//! `source` is a file, directory, local glob or URL; `table` one of `granules` (default),
//! `dimensions`, `variables`, `attributes`, `chunks` or `errors` (granules that failed);
//! `pattern` a file-name regex or preset (`'swot'`) whose named groups become `granules` columns
//! (default: none). Planning only checks arguments; the scan runs when the plan is built
//! (`TableProvider::scan`, async), never blocking the runtime. Projection pushdown: a query that
//! needs no chunk column (`chunks`, `n_chunks`, `stored_bytes`) runs a metadata-only HDF5 scan
//! that skips chunk indexes. Results are cached per session, source and depth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_inventory::{
    Inventory, NamePattern, add_captures, errors_batch, errors_schema, inventory_in_memory,
};
use granary_io::StoreRegistry;

/// What one scan of a source produced.
#[derive(Debug)]
struct Scanned {
    inventory: Inventory,
    errors: RecordBatch,
}

type Cache = Arc<Mutex<HashMap<(String, bool), Arc<Scanned>>>>;

/// The `hdf5_scan` / `dmrpp_scan` function of one session.
#[derive(Debug)]
pub struct ScanFunction {
    metadata: MetadataRoute,
    registry: Arc<StoreRegistry>,
    concurrency: Option<usize>,
    cache: Cache,
}

impl ScanFunction {
    /// `concurrency`: granules scanned at the same time (`None`: granary-extract's default for
    /// the URLs scanned).
    pub fn new(
        metadata: MetadataRoute,
        registry: Arc<StoreRegistry>,
        concurrency: Option<usize>,
    ) -> Self {
        Self {
            metadata,
            registry,
            concurrency,
            cache: Cache::default(),
        }
    }

    /// What this function has scanned so far: (source, full scan with chunk indexes), sorted.
    pub fn scans(&self) -> Vec<(String, bool)> {
        let mut v: Vec<_> = self
            .cache
            .lock()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn literal(e: &Expr, what: &str) -> DfResult<String> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)), _) => {
            Ok(s.clone())
        }
        _ => plan_err!("{what} must be a string literal, got {e}"),
    }
}

impl TableFunctionImpl for ScanFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.is_empty() || exprs.len() > 3 {
            return plan_err!(
                "expected (source [, table [, pattern]]), got {} argument(s)",
                exprs.len()
            );
        }
        let source = literal(&exprs[0], "source")?;
        let table = match exprs.get(1) {
            Some(e) => literal(e, "table")?,
            None => "granules".to_string(),
        };
        let pattern = match exprs.get(2) {
            Some(e) => Some(
                NamePattern::parse(&literal(e, "pattern")?)
                    .map_err(|e| DataFusionError::Plan(e.to_string()))?,
            ),
            None => None,
        };
        let empty = Inventory::empty().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let schema = match (table.as_str(), &pattern) {
            ("granules", Some(p)) => add_captures(&empty.granules, p)
                .map_err(|e| DataFusionError::Plan(e.to_string()))?
                .schema(),
            ("errors", _) => errors_schema(),
            (t, _) => match empty.tables().iter().find(|(n, _)| *n == t) {
                Some((_, b)) => b.schema(),
                None => {
                    return plan_err!(
                        "unknown table {t:?}: expected granules, dimensions, variables, attributes, chunks or errors"
                    );
                }
            },
        };
        Ok(Arc::new(ScanTable {
            source,
            table,
            pattern,
            schema,
            metadata: self.metadata,
            registry: self.registry.clone(),
            concurrency: self.concurrency,
            cache: self.cache.clone(),
        }))
    }
}

#[derive(Debug)]
struct ScanTable {
    source: String,
    table: String,
    pattern: Option<NamePattern>,
    schema: SchemaRef,
    metadata: MetadataRoute,
    registry: Arc<StoreRegistry>,
    concurrency: Option<usize>,
    cache: Cache,
}

/// Columns whose values need the chunk index.
const CHUNK_COLUMNS: [&str; 2] = ["n_chunks", "stored_bytes"];

impl ScanTable {
    fn needs_chunks(&self, projection: Option<&Vec<usize>>) -> bool {
        match self.table.as_str() {
            "chunks" => true,
            "granules" | "variables" => match projection {
                None => true,
                Some(p) => p
                    .iter()
                    .any(|i| CHUNK_COLUMNS.contains(&self.schema.field(*i).name().as_str())),
            },
            _ => false,
        }
    }

    fn cached(&self, full: bool) -> Option<Arc<Scanned>> {
        let cache = self.cache.lock().ok()?;
        // A full scan answers metadata-only questions too.
        cache
            .get(&(self.source.clone(), true))
            .or_else(|| {
                (!full)
                    .then(|| cache.get(&(self.source.clone(), false)))
                    .flatten()
            })
            .cloned()
    }

    async fn load(&self, full: bool) -> DfResult<Arc<Scanned>> {
        if let Some(s) = self.cached(full) {
            return Ok(s);
        }
        let ex = Extractor::new(
            self.registry.clone(),
            ExtractOptions {
                metadata: self.metadata,
                metadata_only: !full,
                concurrency: self.concurrency,
                ..Default::default()
            },
        );
        let ext = |e: granary_inventory::InventoryError| DataFusionError::External(Box::new(e));
        let scanned = inventory_in_memory(
            &ex,
            std::slice::from_ref(&self.source),
            self.pattern.as_ref(),
            &mut |_, _| {},
        )
        .await
        .map_err(ext)?;
        let scanned = Arc::new(Scanned {
            errors: errors_batch(&scanned.errors).map_err(ext)?,
            inventory: scanned.inventory,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert((self.source.clone(), full), scanned.clone());
        }
        Ok(scanned)
    }
}

#[async_trait]
impl TableProvider for ScanTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
        let scanned = self.load(self.needs_chunks(projection)).await?;
        let inv = &scanned.inventory;
        let batch = match self.table.as_str() {
            "errors" => scanned.errors.clone(),
            "granules" => inv.granules.clone(),
            t => inv
                .tables()
                .iter()
                .find(|(n, _)| *n == t)
                .map(|(_, b)| (*b).clone())
                .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone())),
        };
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}
