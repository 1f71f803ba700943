//! The table function `cmr_granules(collection [, start, end [, provider [, cmr_url]]])`:
//! ad-hoc discovery in `granary sql`, the rows of the `cmr_granules` table (docs/cmr.md) for a
//! CMR search. `collection` is a concept id (`C1234-PROVIDER`) or a short name; `start`/`end`
//! are ISO 8601 (empty: open); `cmr_url` defaults to NASA's CMR. `url` is each granule's direct
//! (`s3://`) link; every link is in `related_urls`. The search runs when the plan is built.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use granary_inventory::cmr_table::{cmr_batch, cmr_schema};
use granary_io::cmr::{Access, CmrQuery, search_granules};

/// NASA's CMR.
const CMR: &str = "https://cmr.earthdata.nasa.gov";

/// `cmr_granules(...)`.
#[derive(Debug, Default)]
pub struct CmrFunction;

fn text(e: &Expr, what: &str) -> DfResult<String> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)), _) => {
            Ok(s.clone())
        }
        _ => plan_err!("cmr_granules: {what} must be a string literal, got {e}"),
    }
}

/// Whether `s` looks like a CMR collection concept id (`C` digits `-` provider).
fn is_concept_id(s: &str) -> bool {
    s.strip_prefix('C')
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(digits, provider)| {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !provider.is_empty()
        })
}

impl TableFunctionImpl for CmrFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let e = args.exprs();
        if e.is_empty() || e.len() > 5 || e.len() == 2 {
            return plan_err!(
                "cmr_granules(collection [, start, end [, provider [, cmr_url]]]): got {} argument(s)",
                e.len()
            );
        }
        let collection = text(&e[0], "collection")?;
        let (concept_id, short_name) = if is_concept_id(&collection) {
            (Some(collection), None)
        } else {
            (None, Some(collection))
        };
        let temporal = match (e.get(1), e.get(2)) {
            (Some(a), Some(b)) => Some([text(a, "start")?, text(b, "end")?]),
            _ => None,
        };
        let provider = e.get(3).map(|p| text(p, "provider")).transpose()?;
        let cmr_url = match e.get(4) {
            Some(u) => text(u, "cmr_url")?,
            None => CMR.to_string(),
        };
        let query = CmrQuery {
            cmr_url,
            short_name,
            concept_id,
            provider,
            temporal,
            ..Default::default()
        };
        query
            .check()
            .map_err(|m| DataFusionError::Plan(format!("cmr_granules: {m}")))?;
        Ok(Arc::new(CmrTable { query }))
    }
}

#[derive(Debug)]
struct CmrTable {
    query: CmrQuery,
}

#[async_trait]
impl TableProvider for CmrTable {
    fn schema(&self) -> SchemaRef {
        cmr_schema()
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
        let found = search_granules(&self.query, None)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch = cmr_batch(&found, Access::Direct)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            cmr_schema(),
            projection.cloned(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concept_ids_are_told_from_short_names() {
        assert!(is_concept_id("C2152045877-POCLOUD"));
        assert!(!is_concept_id("SWOT_L2_LR_SSH_2.0"));
        assert!(!is_concept_id("C-POCLOUD"));
    }
}
