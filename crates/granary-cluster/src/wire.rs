//! How scanned granules travel from executors back to the run: one Arrow row per granule,
//! `url`, then either `manifest` (the manifest as tagged MessagePack, exact: integers keep
//! their signedness, floats their bits, bytes stay bytes) or `stage` and `message` (the
//! error row the granule becomes, as an embedded run writes it).

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, AsArray, BinaryBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use granary_core::GranuleManifest;
use granary_inventory::{ErrorRow, Scanned};
use url::Url;

use crate::ClusterError;

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("url", DataType::Utf8, false),
        Field::new("manifest", DataType::Binary, true),
        Field::new("stage", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, true),
    ]))
});

/// The schema of scanned rows.
pub fn scanned_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Rows of scanned granules.
pub fn scanned_batch(rows: &[Scanned]) -> Result<RecordBatch, ClusterError> {
    let mut url = StringBuilder::new();
    let mut manifest = BinaryBuilder::new();
    let mut stage = StringBuilder::new();
    let mut message = StringBuilder::new();
    for (u, r) in rows {
        url.append_value(u.as_str());
        match r {
            Ok(m) => {
                let bytes = rmp_serde::to_vec_named(m).map_err(|e| ClusterError::Wire {
                    url: u.to_string(),
                    reason: e.to_string(),
                })?;
                manifest.append_value(bytes);
                stage.append_null();
                message.append_null();
            }
            Err(e) => {
                manifest.append_null();
                stage.append_value(&e.stage);
                message.append_value(&e.message);
            }
        }
    }
    Ok(RecordBatch::try_new(
        scanned_schema(),
        vec![
            Arc::new(url.finish()),
            Arc::new(manifest.finish()),
            Arc::new(stage.finish()),
            Arc::new(message.finish()),
        ],
    )?)
}

/// The granules of a batch of scanned rows (the inverse of [`scanned_batch`]).
pub fn read_scanned(batch: &RecordBatch) -> Result<Vec<Scanned>, ClusterError> {
    let wrong = |reason: &str| ClusterError::Wire {
        url: String::new(),
        reason: reason.to_string(),
    };
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| wrong(&format!("no text column {name}")))
    };
    let (urls, stages, messages) = (text("url")?, text("stage")?, text("message")?);
    let manifests = batch
        .column_by_name("manifest")
        .and_then(|c| c.as_binary_opt::<i32>())
        .ok_or_else(|| wrong("no binary column manifest"))?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let raw = urls.value(i);
        let bad = |reason: String| ClusterError::Wire {
            url: raw.to_string(),
            reason,
        };
        let url = Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        let r = if manifests.is_valid(i) {
            let m: GranuleManifest =
                rmp_serde::from_slice(manifests.value(i)).map_err(|e| bad(e.to_string()))?;
            Ok(m)
        } else {
            if stages.is_null(i) || messages.is_null(i) {
                return Err(bad("neither a manifest nor an error".to_string()));
            }
            Err(ErrorRow {
                url: raw.to_string(),
                stage: stages.value(i).to_string(),
                message: messages.value(i).to_string(),
                array: None,
            })
        };
        out.push((url, r));
    }
    Ok(out)
}
