//! `granary combine`'s engine: a selection query (its `url` column and one column per concat
//! coordinate) drives granary-refs' combiner, fed by streaming the inventory's `zarr` and
//! `chunks` tables (`docs/combine.md`).

use std::collections::{BTreeMap, HashMap, HashSet};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use datafusion::prelude::SessionContext;
use granary_refs::{
    AttrPolicy, CombineSpec, Combined, Combiner, ConcatDim, Coord, OnDuplicate, SelectedGranule,
};

use granary_extract::Extractor;
use granary_io::ReadScope;

use crate::array_selection::kept_arrays;
use crate::combine_feed::{feed_chunks, feed_zarr, text_column};
use crate::{Access, ArraySelection, SqlError, query};

/// How to combine the selection.
#[derive(Debug, Clone, Default)]
pub struct CombineOptions {
    /// Arrays copied once (checked identical).
    pub identical: Vec<String>,
    pub on_duplicate: OnDuplicate,
    pub attrs: AttrPolicy,
    /// A selection column whose values split the output into one reference set each.
    pub partition_by: Option<String>,
    /// Reads the chunks of arrays copied once, to check that their bytes are equal in every
    /// granule (without it, metadata, chunk sizes and embedded bytes are compared).
    pub reader: Option<Extractor>,
    /// Which arrays to keep (default: all).
    pub arrays: ArraySelection,
    /// Arrays some selected granule cannot reference: refused, or left out and listed.
    pub unreferenceable: granary_core::ArrayPolicy,
}

/// One output reference set; `key` is the partition value (None without partitioning).
#[derive(Debug)]
pub struct Partition {
    pub key: Option<String>,
    pub combined: Combined,
}

fn strings(b: &RecordBatch, name: &str) -> Result<StringArray, SqlError> {
    let col = b
        .column_by_name(name)
        .ok_or_else(|| SqlError::MissingColumn {
            column: name.to_string(),
        })?;
    text_column(col)
}

fn coords_of(b: &RecordBatch, name: &str) -> Result<Vec<Option<Coord>>, SqlError> {
    let col = b
        .column_by_name(name)
        .ok_or_else(|| SqlError::MissingColumn {
            column: name.to_string(),
        })?;
    let t = col.data_type();
    let out = if t.is_signed_integer() {
        let a = cast(col, &DataType::Int64)?;
        let a = a.as_primitive::<Int64Type>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| Coord::Int(a.value(i))))
            .collect()
    } else if t.is_unsigned_integer() {
        let a = cast(col, &DataType::UInt64)?;
        let a = a.as_primitive::<UInt64Type>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| Coord::UInt(a.value(i))))
            .collect()
    } else if t.is_floating() {
        let a = cast(col, &DataType::Float64)?;
        let a = a.as_primitive::<Float64Type>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| Coord::Float(a.value(i))))
            .collect()
    } else if matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    ) {
        time_coords(col, name)?
    } else if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        let a = strings(b, name)?;
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| Coord::Str(a.value(i).to_string())))
            .collect()
    } else {
        return Err(SqlError::CoordinateType {
            column: name.to_string(),
            data_type: t.to_string(),
        });
    };
    Ok(out)
}

/// A TIMESTAMP or DATE column as instants (µs since 1970-01-01T00:00:00Z). A time zone only
/// changes how a value is shown, not the instant; a timestamp without one is taken as UTC.
/// Instants readers cannot decode to `datetime64[ns]` (before 1677-09-21 or after 2262-04-11)
/// are refused.
fn time_coords(col: &ArrayRef, name: &str) -> Result<Vec<Option<Coord>>, SqlError> {
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMicrosecondType};
    use granary_refs::combine::time_units::{MAX_MICROS, MIN_MICROS, iso8601};
    let tz = match col.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let a = cast(col, &DataType::Timestamp(TimeUnit::Microsecond, tz))?;
    let a = a.as_primitive::<TimestampMicrosecondType>();
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                return Ok(None);
            }
            let us = a.value(i);
            if !(MIN_MICROS..=MAX_MICROS).contains(&us) {
                return Err(SqlError::TimeOutOfRange {
                    column: name.to_string(),
                    value: iso8601(us),
                });
            }
            Ok(Some(Coord::Time(us)))
        })
        .collect()
}

/// Runs the selection and returns (partition key, rows) with the concat dimension names.
async fn selection(
    ctx: &SessionContext,
    sql: &str,
    partition_by: Option<&str>,
) -> Result<(Vec<String>, BTreeMap<Option<String>, Vec<SelectedGranule>>), SqlError> {
    let batches = query(ctx, sql, Access::ReadOnly).await?;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => ctx.sql(sql).await?.schema().inner().clone(),
    };
    for column in std::iter::once("url").chain(partition_by) {
        if schema.field_with_name(column).is_err() {
            return Err(SqlError::MissingColumn {
                column: column.to_string(),
            });
        }
    }
    let dims: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != "url" && Some(n.as_str()) != partition_by)
        .collect();
    let mut parts: BTreeMap<Option<String>, Vec<SelectedGranule>> = BTreeMap::new();
    for b in &batches {
        let urls = strings(b, "url")?;
        let keys = partition_by.map(|p| strings(b, p)).transpose()?;
        let cols = dims
            .iter()
            .map(|d| coords_of(b, d))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            if urls.is_null(i) {
                return Err(SqlError::NullUrl { row: i + 1 });
            }
            let url = urls.value(i).to_string();
            let mut coords = Vec::with_capacity(dims.len());
            for (d, col) in dims.iter().zip(&cols) {
                coords.push(col[i].clone().ok_or_else(|| SqlError::NullCoordinate {
                    url: url.clone(),
                    column: d.clone(),
                })?);
            }
            let key = keys
                .as_ref()
                .map(|k| k.is_valid(i).then(|| k.value(i).to_string()));
            let key = match key {
                Some(None) => {
                    return Err(SqlError::NullPartition {
                        url,
                        column: partition_by.unwrap_or_default().to_string(),
                    });
                }
                Some(Some(k)) => Some(k),
                None => None,
            };
            parts
                .entry(key)
                .or_default()
                .push(SelectedGranule { url, coords });
        }
    }
    Ok((dims, parts))
}

/// Combines the granules the selection query returns; one result per partition.
pub async fn combine(
    ctx: &SessionContext,
    selection_sql: &str,
    opts: &CombineOptions,
) -> Result<Vec<Partition>, SqlError> {
    let started = std::time::Instant::now();
    let ms = || started.elapsed().as_secs_f64() * 1e3;
    let (dims, parts) = selection(ctx, selection_sql, opts.partition_by.as_deref()).await?;
    tracing::debug!(
        granules = parts.values().map(Vec::len).sum::<usize>(),
        ms = ms(),
        "combine: selection"
    );
    if parts.is_empty() {
        return Err(SqlError::Refs(granary_refs::CombineError::EmptySelection));
    }
    let existing: HashSet<String> = query(
        ctx,
        "SELECT DISTINCT name FROM dimensions",
        Access::ReadOnly,
    )
    .await?
    .iter()
    .map(|b| strings(b, "name"))
    .collect::<Result<Vec<_>, _>>()?
    .iter()
    .flat_map(|a| a.iter().flatten().map(str::to_string).collect::<Vec<_>>())
    .collect();
    let spec = CombineSpec {
        dims: dims
            .iter()
            .map(|d| ConcatDim {
                name: d.clone(),
                existing: existing.contains(d),
            })
            .collect(),
        identical: opts.identical.clone(),
        on_duplicate: opts.on_duplicate,
        attrs: opts.attrs,
        unreferenceable: opts.unreferenceable,
    };
    let mut keys = Vec::new();
    let mut combiners = Vec::new();
    let mut part_of: HashMap<String, usize> = HashMap::new();
    for (key, rows) in parts {
        for r in &rows {
            part_of.insert(r.url.clone(), combiners.len());
        }
        combiners.push(Combiner::new(spec.clone(), &rows)?);
        keys.push(key);
    }
    let kept = kept_arrays(ctx, &opts.arrays).await?;
    let keep = |path: &str| kept.as_ref().is_none_or(|k| k.contains(path));
    feed_zarr(ctx, &mut combiners, &part_of, &keep).await?;
    tracing::debug!(ms = ms(), "combine: zarr table read");
    let default_scope = ReadScope::default();
    let scope = opts.reader.as_ref().map_or(&default_scope, |r| r.scope());
    feed_chunks(ctx, &mut combiners, &part_of, scope, &keep).await?;
    tracing::debug!(ms = ms(), "combine: chunks table read");
    if let Some(reader) = &opts.reader {
        for c in &mut combiners {
            verify_identical(reader, c).await?;
            crate::coordinate_values::read_existing_coordinate(reader, c).await?;
        }
    }
    let mut out = Vec::new();
    for (key, c) in keys.into_iter().zip(combiners) {
        out.push(Partition {
            key,
            combined: c.finish()?,
        });
    }
    tracing::debug!(ms = ms(), "combine: reference sets built");
    Ok(out)
}

/// Reads the chunks of arrays copied once and compares every granule's bytes with the first's.
async fn verify_identical(reader: &Extractor, c: &Combiner) -> Result<(), SqlError> {
    for (path, per) in c.identical_chunks() {
        let Some(first) = per.first() else { continue };
        let wanted: Vec<(String, u64, u64)> = per
            .iter()
            .flatten()
            .map(|(_, u, o, l)| (u.clone(), *o, *l))
            .collect();
        let bytes: HashMap<(String, u64, u64), Vec<u8>> = reader
            .read_ranges(&wanted)
            .await
            .map_err(|source| SqlError::CompareRead {
                array: path.clone(),
                source: Box::new(source),
            })?
            .into_iter()
            .collect();
        let get = |(_, u, o, l): &(u64, String, u64, u64)| bytes.get(&(u.clone(), *o, *l));
        for (g, chunks) in per.iter().enumerate().skip(1) {
            let differs = chunks.len() != first.len()
                || chunks
                    .iter()
                    .zip(first)
                    .any(|(a, b)| a.0 != b.0 || get(a) != get(b));
            if differs {
                let url = |x: &[(u64, String, u64, u64)]| {
                    x.first().map(|c| c.1.clone()).unwrap_or_default()
                };
                return Err(SqlError::Refs(granary_refs::CombineError::Mismatch {
                    details: format!(
                        "  array {path:?} must be identical in every granule (identical, or it has no concat dimension) but its chunk bytes differ between {} and {} (granule {g} of the selection)",
                        url(first),
                        url(chunks)
                    ),
                }));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Date32Array, TimestampMicrosecondArray};

    use super::*;

    #[test]
    fn time_zones_change_the_display_not_the_instant() {
        let utc = 1_397_304_000_000_000i64; // 2014-04-12T12:00:00Z
        let with_zone: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(utc), None]).with_timezone("+05:00"),
        );
        let got = time_coords(&with_zone, "t").unwrap();
        assert_eq!(got, vec![Some(Coord::Time(utc)), None]);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![-1, 0]));
        let got = time_coords(&dates, "d").unwrap();
        assert_eq!(
            got,
            vec![Some(Coord::Time(-86_400_000_000)), Some(Coord::Time(0))]
        );
    }
}
