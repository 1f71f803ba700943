use std::ops::Range;

/// I/O failures, always naming the object and, for reads, the byte range.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    #[error("cannot parse location {location:?}: {reason}")]
    BadLocation { location: String, reason: String },
    #[error("no object store registered for scheme {scheme:?} (in {url})")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("cannot stat {url}: {source}")]
    Head {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read bytes {}..{} of {url}: {source}", range.start, range.end)]
    Read {
        url: String,
        range: Range<u64>,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot list {url}: {source}")]
    List {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{granule}: refusing to read {target:?}: {reason}")]
    OutsideScope {
        granule: String,
        target: String,
        reason: String,
    },
    #[error("CMR search {url}: {reason}")]
    Cmr { url: String, reason: String },
    #[error("Earthdata credentials from {endpoint}: {reason}")]
    Credentials { endpoint: String, reason: String },
    #[error("cannot open {url}: {source}")]
    OpenFile {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} is not a regular file")]
    NotAFile { url: String },
    #[error("cannot read bytes {}..{} of {url}: {source}", range.start, range.end)]
    ReadFile {
        url: String,
        range: Range<u64>,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: file read task failed: {reason}")]
    Blocking { url: String, reason: String },
    #[error("short read of {url}: asked bytes {}..{}, got {got}", range.start, range.end)]
    ShortRead {
        url: String,
        range: Range<u64>,
        got: u64,
    },
}
