//! The `errors` table: granules that could not be inventoried, with the stage that failed.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::SqlError;

/// Schema of the `errors` table.
pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("url", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
    ]))
}

/// One failed granule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    pub url: String,
    pub stage: String,
    pub message: String,
}

/// The error rows as a batch.
pub fn errors_batch(rows: &[ErrorRow]) -> Result<RecordBatch, SqlError> {
    let (mut u, mut s, mut m) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for r in rows {
        u.append_value(&r.url);
        s.append_value(&r.stage);
        m.append_value(&r.message);
    }
    Ok(RecordBatch::try_new(
        errors_schema(),
        vec![
            Arc::new(u.finish()),
            Arc::new(s.finish()),
            Arc::new(m.finish()),
        ],
    )?)
}
