/// Why a DMR++ document could not be turned into a manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DmrppError {
    #[error("{url}: malformed XML at byte {position}: {message}")]
    Xml {
        url: String,
        position: u64,
        message: String,
    },
    #[error("{url}: invalid DMR++: {message}")]
    Invalid { url: String, message: String },
    #[error("{url}: variable {variable:?}: {message}")]
    Variable {
        url: String,
        variable: String,
        message: String,
    },
    #[error("{url}: variable {variable:?}: not supported: {feature}")]
    Unsupported {
        url: String,
        variable: String,
        feature: String,
    },
}
