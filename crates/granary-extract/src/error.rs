use granary_dmrpp::DmrppError;
use granary_hdf5::Hdf5Error;
use granary_io::IoError;

/// Why a granule's manifest could not be extracted. Every variant names the granule or object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Hdf5(#[from] Hdf5Error),
    #[error(transparent)]
    Dmrpp(#[from] DmrppError),
    /// An array that cannot be referenced, under the per-array policy `error`.
    #[error(transparent)]
    Array(#[from] granary_refs::RefsError),
    #[error("no usable DMR++ sidecar for {url}: {source}")]
    NoSidecar {
        url: String,
        #[source]
        source: Box<ExtractError>,
    },
    #[error("{url}: the DMR++ sidecar's references leave the granule's store (array {array:?})")]
    Href {
        url: String,
        array: String,
        #[source]
        source: Box<IoError>,
    },
    #[error("{url}: the DMR++ sidecar does not describe this object (array {array:?}: {reason})")]
    StaleSidecar {
        url: String,
        array: String,
        reason: String,
    },
    #[error("cannot list {input:?}: {reason}")]
    Listing { input: String, reason: String },
    #[error("{url}: extraction task failed: {reason}")]
    Task { url: String, reason: String },
}

impl ExtractError {
    /// The stage that failed, as recorded in the inventory's `errors` table:
    /// `list`, `open`, `read`, `hdf5`, `dmrpp`, `array` or `task`.
    pub fn stage(&self) -> &'static str {
        match self {
            Self::Io(
                IoError::Read { .. } | IoError::ReadFile { .. } | IoError::ShortRead { .. },
            ) => "read",
            Self::Io(IoError::List { .. }) | Self::Listing { .. } => "list",
            Self::Io(_) => "open",
            Self::Hdf5(_) => "hdf5",
            Self::Dmrpp(_) | Self::Href { .. } | Self::StaleSidecar { .. } => "dmrpp",
            Self::NoSidecar { source, .. } => source.stage(),
            Self::Task { .. } => "task",
            Self::Array(_) => "array",
        }
    }
}
