//! The `cmr_granules` table: what CMR says about each granule a CMR source found (docs/cmr.md),
//! joinable with `granules` on `url`. A pipeline keeps it in its state directory
//! (`STATE/cmr_granules.parquet`, replaced atomically after each successful search) and merges
//! incremental searches into it: a granule CMR lists again (revised) replaces its row.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
    StructBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use granary_io::cmr::{Access, CmrGranule};

use crate::InventoryError;
use crate::parts::{bad, io, read_file, tmp_path, write_tmp};

/// The file of the table in a state directory.
pub const CMR_TABLE_FILE: &str = "cmr_granules.parquet";

fn link_fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::Utf8, true),
        Field::new("subtype", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
    ])
}

/// Schema of `cmr_granules`.
pub fn cmr_schema() -> SchemaRef {
    let utf8 = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        utf8("url", true),
        utf8("concept_id", false),
        utf8("native_id", false),
        Field::new("revision_id", DataType::Int64, true),
        utf8("revision_date", true),
        utf8("time_start", true),
        utf8("time_end", true),
        utf8("spatial", true),
        Field::new("size", DataType::UInt64, true),
        utf8("checksum", true),
        utf8("checksum_algorithm", true),
        Field::new(
            "related_urls",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(link_fields()),
                true,
            ))),
            true,
        ),
    ]))
}

/// The rows of `granules`, `url` being each one's data link for `access`.
pub fn cmr_batch(granules: &[CmrGranule], access: Access) -> Result<RecordBatch, InventoryError> {
    let s = || StringBuilder::new();
    let (mut url, mut cid, mut nid, mut rdate) = (s(), s(), s(), s());
    let (mut start, mut end, mut spatial, mut sum, mut alg) = (s(), s(), s(), s(), s());
    let mut rid = Int64Builder::new();
    let mut size = UInt64Builder::new();
    let mut links = ListBuilder::new(StructBuilder::from_fields(link_fields(), 0));
    for g in granules {
        url.append_option(g.data_url(access));
        cid.append_value(&g.concept_id);
        nid.append_value(&g.native_id);
        rid.append_option(g.revision_id);
        rdate.append_option(g.revision_date.as_deref());
        start.append_option(g.begin.as_deref());
        end.append_option(g.end.as_deref());
        spatial.append_option(g.spatial.as_deref());
        size.append_option(g.size_bytes);
        sum.append_option(g.checksum.as_deref());
        alg.append_option(g.checksum_algorithm.as_deref());
        let item = links.values();
        for (t, sub, u) in &g.related_urls {
            for (i, v) in [Some(t.as_str()), sub.as_deref(), Some(u.as_str())]
                .into_iter()
                .enumerate()
            {
                if let Some(b) = item.field_builder::<StringBuilder>(i) {
                    b.append_option(v);
                }
            }
            item.append(true);
        }
        links.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(url.finish()),
        Arc::new(cid.finish()),
        Arc::new(nid.finish()),
        Arc::new(rid.finish()),
        Arc::new(rdate.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(spatial.finish()),
        Arc::new(size.finish()),
        Arc::new(sum.finish()),
        Arc::new(alg.finish()),
        Arc::new(links.finish()),
    ];
    Ok(RecordBatch::try_new(cmr_schema(), columns)?)
}

/// The table kept in `state_dir`, if a search wrote one.
pub fn read_cmr_table(state_dir: &Path) -> Result<Option<RecordBatch>, InventoryError> {
    let path = state_dir.join(CMR_TABLE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let batches = read_file(&path)?;
    let schema = cmr_schema();
    if batches
        .iter()
        .any(|b| b.schema().fields() != schema.fields())
    {
        return Err(bad(
            &path,
            "not a cmr_granules table of this granary version",
        ));
    }
    Ok(Some(arrow::compute::concat_batches(&schema, &batches)?))
}

/// Replaces the table in `state_dir` (temporary file, fsync, rename).
pub fn write_cmr_table(state_dir: &Path, batch: &RecordBatch) -> Result<(), InventoryError> {
    write_tmp(state_dir, CMR_TABLE_FILE, batch)?;
    let tmp = tmp_path(state_dir, CMR_TABLE_FILE);
    let path = state_dir.join(CMR_TABLE_FILE);
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}

/// The concept ids of a `cmr_granules` batch.
pub fn concept_ids(batch: &RecordBatch) -> Vec<String> {
    batch
        .column_by_name("concept_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .map(|a| (0..a.len()).map(|i| a.value(i).to_string()).collect())
        .unwrap_or_default()
}

/// `old` with every granule `new` lists again replaced by its new row (by concept id).
pub fn merge_cmr_tables(
    old: &RecordBatch,
    new: &RecordBatch,
) -> Result<RecordBatch, InventoryError> {
    let renewed: std::collections::HashSet<String> = concept_ids(new).into_iter().collect();
    let keep: arrow::array::BooleanArray = concept_ids(old)
        .iter()
        .map(|c| Some(!renewed.contains(c)))
        .collect();
    let kept = arrow::compute::filter_record_batch(old, &keep)?;
    Ok(arrow::compute::concat_batches(&cmr_schema(), [&kept, new])?)
}

/// (data URL, DMR++ link) of every granule of a `cmr_granules` batch that lists a `.dmrpp`
/// link over the scheme of its data URL.
pub fn sidecar_links(batch: &RecordBatch) -> Vec<(String, String)> {
    use arrow::array::{AsArray, ListArray, StructArray};
    let (Some(urls), Some(links)) = (
        batch
            .column_by_name("url")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>()),
        batch
            .column_by_name("related_urls")
            .and_then(|c| c.as_any().downcast_ref::<ListArray>()),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..batch.num_rows() {
        if !urls.is_valid(i) || !links.is_valid(i) {
            continue;
        }
        let data = urls.value(i);
        let scheme = data.split("://").next().unwrap_or_default();
        let items = links.value(i);
        let Some(items) = items.as_any().downcast_ref::<StructArray>() else {
            continue;
        };
        let Some(link_urls) = items.column_by_name("url").map(|c| c.as_string::<i32>()) else {
            continue;
        };
        if let Some(d) = (0..link_urls.len())
            .filter(|j| link_urls.is_valid(*j))
            .map(|j| link_urls.value(j))
            .find(|u| u.ends_with(".dmrpp") && u.starts_with(scheme))
        {
            out.push((data.to_string(), d.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granule(id: &str, url: &str) -> CmrGranule {
        CmrGranule {
            concept_id: id.into(),
            revision_id: Some(1),
            revision_date: None,
            native_id: id.into(),
            begin: None,
            end: None,
            spatial: None,
            size_bytes: Some(3),
            checksum: None,
            checksum_algorithm: None,
            related_urls: vec![("GET DATA".into(), None, url.into())],
        }
    }

    #[test]
    fn a_table_round_trips_and_merges_by_concept_id() {
        let dir = tempfile::tempdir().unwrap();
        let old = cmr_batch(
            &[
                granule("G1", "https://h/1.nc"),
                granule("G2", "https://h/2.nc"),
            ],
            Access::External,
        )
        .unwrap();
        write_cmr_table(dir.path(), &old).unwrap();
        let back = read_cmr_table(dir.path()).unwrap().unwrap();
        assert_eq!(back, old);
        let new = cmr_batch(
            &[
                granule("G2", "https://h/2b.nc"),
                granule("G3", "https://h/3.nc"),
            ],
            Access::External,
        )
        .unwrap();
        let merged = merge_cmr_tables(&back, &new).unwrap();
        assert!(sidecar_links(&merged).is_empty());
        assert_eq!(concept_ids(&merged), ["G1", "G2", "G3"]);
        let urls = merged
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(urls.value(1), "https://h/2b.nc");
    }
}
