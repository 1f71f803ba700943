//! Errors of the SQL layer. DataFusion's and the inventory's errors keep their own types; a
//! selection that cannot drive a combine says which column or row is wrong.

/// Why a query or a combine over the inventory failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Inventory(#[from] granary_inventory::InventoryError),
    #[error("the selection has no column `{column}`")]
    MissingColumn { column: String },
    #[error(
        "selection column `{column}` is {data_type}; coordinates must be integers, floats or text (CAST it)"
    )]
    CoordinateType { column: String, data_type: String },
    #[error("row {row} of the selection has no url")]
    NullUrl { row: usize },
    #[error("{url}: selection column `{column}` is NULL; every granule needs a coordinate")]
    NullCoordinate { url: String, column: String },
    #[error("{url}: partition column `{column}` is NULL")]
    NullPartition { url: String, column: String },
    #[error("cannot read the chunks of array {array:?} to compare them between granules")]
    CompareRead {
        array: String,
        #[source]
        source: Box<granary_extract::ExtractError>,
    },
    #[error(transparent)]
    Refs(#[from] granary_refs::CombineError),
}
