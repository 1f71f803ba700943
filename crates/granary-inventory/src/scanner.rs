//! Where a build's granules are scanned: in this process (an [`Extractor`]) or on a cluster
//! (`granary-cluster`). The build lists, compares and commits; a scanner only turns URLs into
//! manifests, or into the error rows of the granules that failed.

use futures::StreamExt;
use futures::stream::BoxStream;
use granary_core::GranuleManifest;
use granary_extract::Extractor;
use url::Url;

use crate::ErrorRow;

/// One granule's outcome: its manifest, or the error row that records why it failed.
pub type Scanned = (Url, Result<GranuleManifest, ErrorRow>);

/// Why a scanner stopped before it scanned every granule (a cluster that became
/// unreachable, a job the cluster gave up on). The parts committed before it stay.
pub type ScanFailure = Box<dyn std::error::Error + Send + Sync>;

/// Turns granule URLs into manifests, in any order, one outcome per URL.
pub trait GranuleScanner: Send + Sync + std::fmt::Debug {
    fn scan(&self, urls: Vec<Url>) -> BoxStream<'static, Result<Scanned, ScanFailure>>;
}

/// The embedded scanner: this process's extractor, `concurrency` granules at a time.
impl GranuleScanner for Extractor {
    fn scan(&self, urls: Vec<Url>) -> BoxStream<'static, Result<Scanned, ScanFailure>> {
        self.extract_many(urls)
            .map(|(url, r)| {
                let r = r.map_err(|e| {
                    tracing::warn!(url = %url, error = %e, "Granule failed; recorded in the errors table.");
                    ErrorRow::from_extract(url.as_str(), &e)
                });
                Ok((url, r))
            })
            .boxed()
    }
}
