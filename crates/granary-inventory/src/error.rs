//! Errors of the inventory: every variant names the directory, file or pattern involved.

/// Why an inventory could not be built, opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    #[error("inventory {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read or write Parquet")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot list the sources")]
    Source(#[source] granary_extract::ExtractError),
    #[error("invalid file-name pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error(
        "inventory {path} is being written by another process (granary inventory build or granary run); wait for it to finish"
    )]
    Locked { path: String },
    #[error(
        "inventory {path} lists {count} granule(s) more than once (e.g. {example}); run `granary inventory build` (or the pipeline) on it again to repair it"
    )]
    Duplicates {
        path: String,
        count: usize,
        example: String,
    },
    #[error("inventory {path}: the scan stopped")]
    Scan {
        path: String,
        #[source]
        source: crate::scanner::ScanFailure,
    },
    #[error("{path}: background task failed: {reason}")]
    Task { path: String, reason: String },
}
