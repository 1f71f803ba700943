//! Errors of the Icechunk sink, each naming the repository (and the array or URL) involved.

use icechunk::repository::RepositoryError;
use icechunk::session::SessionError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IcechunkError {
    #[error("Icechunk repository {location}: {reason}")]
    Location { location: String, reason: String },
    #[error("virtual chunk container for {url}: {reason}")]
    Container { url: String, reason: String },
    #[error("Icechunk repository {location}: {source}")]
    Repository {
        location: String,
        #[source]
        source: Box<RepositoryError>,
    },
    #[error("Icechunk repository {location}, node {path}: {source}")]
    Session {
        location: String,
        path: String,
        #[source]
        source: Box<SessionError>,
    },
    #[error(
        "Icechunk repository {location}: branch {branch:?} moved while this run wrote (another writer committed first); nothing was committed: run again to commit on top of it"
    )]
    Conflict { location: String, branch: String },
    #[error(
        "Icechunk repository {location}: array {path:?} cannot be written as Zarr v3: {reason}"
    )]
    Unrepresentable {
        location: String,
        path: String,
        reason: String,
    },
    #[error("Icechunk repository {location}: node path {path:?} is not valid: {reason}")]
    Path {
        location: String,
        path: String,
        reason: String,
    },
}
