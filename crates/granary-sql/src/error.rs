/// Errors of the SQL layer; DataFusion's own errors keep their context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("invalid file-name pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
}
