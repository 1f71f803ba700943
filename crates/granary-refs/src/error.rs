/// Why a manifest cannot be written as references.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefsError {
    #[error("{url}: array {array:?}: {reason}")]
    Unrepresentable {
        url: String,
        array: String,
        reason: String,
    },
    #[error("cannot serialise references: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
