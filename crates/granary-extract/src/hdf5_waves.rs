//! The wave driver of the HDF5 scan: granary-hdf5's sans-IO [`Hdf5Scan`] asks for the planned
//! reads of each breadth-first pass; they are fetched here through the object store in one
//! batched request (one round trip) and handed back, until the manifest is complete.

use bytes::Bytes;
use granary_core::GranuleManifest;
use granary_hdf5::{Hdf5Scan, ScanOptions, Step, first_read_len};
use granary_io::ObjectSource;

use crate::ExtractError;

/// Scans one HDF5 object through its store, in waves of batched range reads.
#[tracing::instrument(skip_all, fields(url = source.url()))]
pub async fn scan(
    source: &ObjectSource,
    opts: &ScanOptions,
) -> Result<GranuleManifest, ExtractError> {
    let first = first_read_len(opts).min(source.size());
    let bytes = if first > 0 {
        source.read_range(0..first).await?
    } else {
        Bytes::new()
    };
    scan_from(source, bytes, opts).await
}

/// Scans one HDF5 object whose first bytes were read when it was opened
/// (`ObjectSource::open_reading` with [`first_read_len`]): the waves continue from them.
#[tracing::instrument(skip_all, fields(url = source.url()))]
pub async fn scan_from(
    source: &ObjectSource,
    first: Bytes,
    opts: &ScanOptions,
) -> Result<GranuleManifest, ExtractError> {
    let mut scan = Hdf5Scan::new(source.url(), source.size(), opts);
    scan.insert(0, first);
    loop {
        match scan.step()? {
            Step::Done(m) => return Ok(m),
            Step::Read(plan) => {
                tracing::trace!(
                    url = source.url(),
                    requests = plan.len(),
                    bytes = plan.iter().map(|r| r.end - r.start).sum::<u64>(),
                    ranges = ?plan,
                    "Fetching metadata wave."
                );
                let data = source.read_ranges(&plan).await?;
                for (r, b) in plan.iter().zip(data) {
                    scan.insert(r.start, b);
                }
            }
        }
    }
}
