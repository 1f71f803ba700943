/// Errors of the SQL layer; DataFusion's own errors keep their context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error("cannot list the sources: {0}")]
    Source(String),
    #[error("inventory {path}: {reason}")]
    Inventory { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot combine: {0}")]
    Combine(String),
    #[error(transparent)]
    Refs(#[from] granary_refs::CombineError),
    #[error("invalid file-name pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
}
