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
    #[error("the SQL text is {bytes} bytes; at most {limit} are accepted")]
    TooLong { bytes: usize, limit: usize },
    #[error("cannot check the SQL")]
    CheckThread(#[source] std::io::Error),
    #[error("expressions nested more than {limit} deep; simplify the query")]
    TooDeep { limit: usize },
    #[error(
        "only queries (SELECT, WITH, VALUES) are allowed here, not `{statement} …`: selections and pipeline transforms read the inventory and write nothing"
    )]
    NotAQuery { statement: String },
    #[error(
        "array {name:?} is not an array of the inventory (see `SELECT DISTINCT path FROM zarr`)"
    )]
    UnknownArray { name: String },
    #[error("the selection has no column `{column}`")]
    MissingColumn { column: String },
    #[error("inventory column `{column}` is {data_type}, not {expected}")]
    ColumnType {
        column: String,
        data_type: String,
        expected: &'static str,
    },
    #[error(
        "selection column `{column}` is {data_type}; coordinates must be integers, floats or text (CAST it)"
    )]
    CoordinateType { column: String, data_type: String },
    #[error(
        "selection column `{column}` holds {value}, outside what readers decode as datetime64[ns] (1677-09-21 to 2262-04-11)"
    )]
    TimeOutOfRange { column: String, value: String },
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
    #[error("the inventory's chunk references leave their granule's store")]
    Href(#[source] granary_io::IoError),
    #[error(transparent)]
    Refs(#[from] granary_refs::CombineError),
}
