//! Errors of cluster runs: each names the scheduler, the job or the granule involved.

use datafusion::error::DataFusionError;

/// Why a cluster run, a scheduler or an executor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error("{url}: not a cluster address (expected df://HOST:PORT)")]
    Address { url: String },
    #[error("cannot reach the scheduler at {url}; start it with `granary cluster scheduler`")]
    Unreachable {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("scheduler {url}: a job of {granules} granule(s) (from {first}) failed")]
    Job {
        url: String,
        granules: usize,
        first: String,
        #[source]
        source: DataFusionError,
    },
    #[error(
        "scheduler {url}: the job returned {got} outcome(s) for {expected} granule(s) (e.g. {example} missing, repeated or not asked for)"
    )]
    Incomplete {
        url: String,
        expected: usize,
        got: usize,
        example: String,
    },
    #[error("granule {url}: the manifest an executor sent cannot be read ({reason})")]
    Wire { url: String, reason: String },
    #[error("the scan plan cannot be encoded or decoded")]
    Recipe(#[source] serde_json::Error),
    #[error("an executor cannot connect the stores of a scan")]
    Stores(#[source] granary_io::IoError),
    #[error("{role} on {address}")]
    Process {
        role: &'static str,
        address: String,
        #[source]
        source: ballista_core::error::BallistaError,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}
