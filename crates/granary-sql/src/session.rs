//! A DataFusion session with the inventory tables registered, and result formatting.

use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use granary_extract::MetadataRoute;
use granary_inventory::zarr_table::unreferenced_rows;
use granary_inventory::{
    ErrorRow, InMemory, Inventory, InventoryDir, NamePattern, add_captures, errors_batch,
};
use granary_io::StoreRegistry;

use crate::{Access, ScanFunction, SqlError, check_sql};

/// A session with only the table functions `hdf5_scan`, `dmrpp_scan` and `cmr_granules`
/// registered.
pub fn base_session() -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_udtf("cmr_granules", Arc::new(crate::cmr_fn::CmrFunction));
    let registry = Arc::new(StoreRegistry::new());
    ctx.register_udtf(
        "hdf5_scan",
        Arc::new(ScanFunction::new(
            MetadataRoute::Hdf5,
            registry.clone(),
            None,
        )),
    );
    ctx.register_udtf(
        "dmrpp_scan",
        Arc::new(ScanFunction::new(MetadataRoute::Dmrpp, registry, None)),
    );
    ctx
}

fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<(), SqlError> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// A session in which `granules`, `dimensions`, `variables`, `attributes`, `chunks`, `zarr`
/// and `errors` (the arrays the `zarr` table could not map) exist in memory, besides the table
/// functions.
pub fn session(inv: &Inventory) -> Result<SessionContext, SqlError> {
    session_with_errors(inv, &[])
}

/// A session over granules inventoried now: their tables and the `errors` table of those that
/// failed and of the arrays left out.
pub fn in_memory_session(mem: &InMemory) -> Result<SessionContext, SqlError> {
    session_with_errors(&mem.inventory, &mem.errors)
}

fn session_with_errors(inv: &Inventory, failed: &[ErrorRow]) -> Result<SessionContext, SqlError> {
    let ctx = base_session();
    for (name, batch) in inv.tables() {
        register_batch(&ctx, name, batch.clone())?;
    }
    let mut errors = failed.to_vec();
    errors.extend(unreferenced_rows(&inv.zarr, "zarr")?);
    register_batch(&ctx, "errors", errors_batch(&errors)?)?;
    Ok(ctx)
}

/// A session over an inventory directory: `granules` is read into memory (with the captures of
/// `name_pattern`), the other tables and `errors` are Parquet listing tables over the committed
/// files (projection and predicate pushdown by DataFusion).
pub fn session_for_dir(
    dir: &InventoryDir,
    name_pattern: Option<&NamePattern>,
) -> Result<SessionContext, SqlError> {
    let started = std::time::Instant::now();
    let ctx = base_session();
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "session created"
    );
    register_dir(&ctx, dir, name_pattern)?;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "inventory tables registered"
    );
    Ok(ctx)
}

/// Registers an inventory directory's tables in `ctx` (as [`session_for_dir`] does): in a
/// session of granary's own, or one whose queries run on a cluster (`granary sql --cluster`;
/// its executors then read the Parquet parts at the same paths).
pub fn register_dir(
    ctx: &SessionContext,
    dir: &InventoryDir,
    name_pattern: Option<&NamePattern>,
) -> Result<(), SqlError> {
    let empty = Inventory::empty()?;
    let schema = empty.granules.schema();
    let mut granules = concat_batches(&schema, &dir.read_table("granules")?)?;
    refuse_duplicates(dir, &granules)?;
    if let Some(re) = name_pattern {
        granules = add_captures(&granules, re)?;
    }
    register_batch(ctx, "granules", granules)?;
    let others: Vec<(&str, SchemaRef)> = empty
        .tables()
        .iter()
        .filter(|(n, _)| *n != "granules")
        .map(|(n, b)| (*n, b.schema()))
        .collect();
    // `errors`: failed granules and the arrays left out of committed ones, read now.
    register_batch(ctx, "errors", errors_batch(&dir.errors()?)?)?;
    // `cmr_granules`: what CMR said about the granules of a CMR source (docs/cmr.md).
    if let Some(cmr) = granary_inventory::cmr_table::read_cmr_table(dir.root())? {
        register_batch(ctx, "cmr_granules", cmr)?;
    }
    for (name, schema) in others {
        let files = dir.files(name);
        if files.is_empty() {
            register_batch(ctx, name, RecordBatch::new_empty(schema))?;
            continue;
        }
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
            .collect::<Result<Vec<_>, _>>()?;
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet"),
            )
            .with_schema(schema);
        ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(())
}

/// An inventory that lists a granule twice would make every combine fail (or, worse, pick one
/// silently): refused with the command that repairs it.
fn refuse_duplicates(dir: &InventoryDir, granules: &RecordBatch) -> Result<(), SqlError> {
    use datafusion::arrow::array::AsArray;
    let Some(urls) = granules.column_by_name("url") else {
        return Ok(());
    };
    let urls = urls.as_string::<i32>();
    let mut seen = std::collections::HashSet::with_capacity(urls.len());
    let twice: Vec<&str> = urls.iter().flatten().filter(|u| !seen.insert(*u)).collect();
    match twice.first() {
        None => Ok(()),
        Some(example) => Err(granary_inventory::InventoryError::Duplicates {
            path: dir.root().display().to_string(),
            count: twice.len(),
            example: example.to_string(),
        }
        .into()),
    }
}

/// Runs one SQL statement (checked by [`check_sql`] with `access`) and collects its result (at
/// least one batch, so that an empty result still carries its columns).
pub async fn query(
    ctx: &SessionContext,
    sql: &str,
    access: Access,
) -> Result<Vec<RecordBatch>, SqlError> {
    check_sql(sql, access)?;
    let df = ctx.sql(sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let mut batches = df.collect().await?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
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
                    w.write(&nested_as_text(b)?)?;
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

/// CSV has no nested types: list, map and struct columns are written as their display text
/// (`[a, b]`, `{k: v}`).
fn nested_as_text(b: &RecordBatch) -> Result<RecordBatch, SqlError> {
    use datafusion::arrow::array::{ArrayRef, StringBuilder};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    if !b
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(b.clone());
    }
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if !f.data_type().is_nested() {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
            continue;
        }
        let fmt = ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default())?;
        let mut text = StringBuilder::new();
        for i in 0..c.len() {
            if c.is_null(i) {
                text.append_null();
            } else {
                text.append_value(fmt.value(i).to_string());
            }
        }
        fields.push(Field::new(f.name(), DataType::Utf8, true));
        cols.push(Arc::new(text.finish()));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}
