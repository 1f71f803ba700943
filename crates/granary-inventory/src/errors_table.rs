//! The `errors` table: granules that could not be inventoried, with the stage that failed.
//! Written by builds as Arrow batches and read back as typed [`ErrorRow`]s.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::InventoryError;

/// Schema of the `errors` table.
pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("url", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("array", DataType::Utf8, true),
    ]))
}

/// The longest message an error row keeps.
pub const MAX_MESSAGE_CHARS: usize = 4_096;

/// One failed granule, or one array left out of a granule (`array` set, stage `array`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    pub url: String,
    pub stage: String,
    pub message: String,
    /// The array left out under the per-array policy `skip` (`None`: the granule failed).
    pub array: Option<String>,
}

impl ErrorRow {
    /// The row of a granule whose extraction failed: the failing stage and the whole cause
    /// chain, each cause once.
    /// The message is cut at [`MAX_MESSAGE_CHARS`] (a server may answer an error with a page).
    pub fn from_extract(url: &str, e: &granary_extract::ExtractError) -> Self {
        let mut message = e.to_string();
        if let Some((at, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            let cut = message.len() - at;
            message.truncate(at);
            message.push_str(&format!("… ({cut} more bytes)"));
        }
        Self {
            url: url.to_string(),
            stage: e.stage().to_string(),
            message,
            array: None,
        }
    }
}

/// The error rows as a batch.
pub fn errors_batch(rows: &[ErrorRow]) -> Result<RecordBatch, InventoryError> {
    let (mut u, mut s, mut m, mut a) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for r in rows {
        u.append_value(&r.url);
        s.append_value(&r.stage);
        m.append_value(&r.message);
        a.append_option(r.array.as_deref());
    }
    Ok(RecordBatch::try_new(
        errors_schema(),
        vec![
            Arc::new(u.finish()),
            Arc::new(s.finish()),
            Arc::new(m.finish()),
            Arc::new(a.finish()),
        ],
    )?)
}

/// The rows of an `errors` batch (the inverse of [`errors_batch`]); `file` names the batch's
/// origin in errors.
pub fn error_rows(batch: &RecordBatch, file: &str) -> Result<Vec<ErrorRow>, InventoryError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .filter(|c| c.data_type() == &DataType::Utf8)
            .map(|c| c.as_string::<i32>())
            .ok_or_else(|| InventoryError::Invalid {
                path: file.to_string(),
                reason: format!("errors table without a text column `{name}`"),
            })
    };
    let (u, s, m) = (column("url")?, column("stage")?, column("message")?);
    let a = batch
        .column_by_name("array")
        .filter(|c| c.data_type() == &DataType::Utf8)
        .map(|c| c.as_string::<i32>());
    let text = |a: &arrow::array::StringArray, i: usize| {
        if a.is_valid(i) {
            a.value(i).to_string()
        } else {
            String::new()
        }
    };
    Ok((0..batch.num_rows())
        .map(|i| ErrorRow {
            url: text(u, i),
            stage: text(s, i),
            message: text(m, i),
            array: a.filter(|a| a.is_valid(i)).map(|a| a.value(i).to_string()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_batch() {
        let rows = vec![
            ErrorRow {
                url: "file:///a.nc".into(),
                stage: "hdf5".into(),
                message: "not an HDF5 file".into(),
                array: None,
            },
            ErrorRow {
                url: "s3://b/c.nc".into(),
                stage: "read".into(),
                message: "timeout".into(),
                array: None,
            },
        ];
        let batch = errors_batch(&rows).unwrap();
        assert_eq!(error_rows(&batch, "mem").unwrap(), rows);
    }

    #[test]
    fn a_batch_without_the_columns_is_an_error_naming_the_file() {
        let batch = RecordBatch::new_empty(Arc::new(Schema::new(vec![Field::new(
            "url",
            DataType::Utf8,
            false,
        )])));
        let e = error_rows(&batch, "x/errors/part-1.parquet").unwrap_err();
        assert!(e.to_string().contains("x/errors/part-1.parquet"), "{e}");
    }
}
