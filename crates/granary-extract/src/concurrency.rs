//! How many granules are extracted at the same time, by default: enough remote ones per core
//! to hide the latency without making the client CPU-bound, a few local ones per core (local
//! reads are CPU-bound), and many HEAD requests (they cost no CPU to speak of).

use url::Url;

/// Remote granules in flight per core. Over HTTP at 30 ms per request (docs/benchmarks.md,
/// in-flight sweep) an HDF5 granule waits 4 round trips (120 ms) and costs its client about
/// 8 ms of CPU, so about 16 granules keep one core busy; past that the client is CPU-bound:
/// more in flight only holds more buffers (on 2 cores, 1,000 granules: 32 in flight 6.68 s and
/// 355 MB, 64 in flight 6.57 s and 555 MB).
pub const REMOTE_PER_CORE: usize = 16;

/// The remote default on one core.
pub const REMOTE_MIN: usize = 16;
/// The remote default's ceiling, however many cores (buffers grow with granules in flight).
pub const REMOTE_MAX: usize = 256;

/// Local granules in flight, at most, however many cores.
pub const LOCAL_MAX: usize = 64;

/// HEAD requests in flight (sizes and ETags before a scan): latency only.
pub const HEAD_CONCURRENCY: usize = 64;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Granules in flight when any of them is remote: [`REMOTE_PER_CORE`] per core, within
/// [`REMOTE_MIN`]..=[`REMOTE_MAX`].
pub fn remote_concurrency() -> usize {
    (REMOTE_PER_CORE * cores()).clamp(REMOTE_MIN, REMOTE_MAX)
}

/// Granules in flight for local files: local reads are CPU-bound, so a few per core keep the
/// cores busy; more only hold more buffers (on 2 cores, 389 granules: 8 in flight 1.2 s and
/// 75 MB peak, 64 in flight 1.4 s and 230 MB).
pub fn local_concurrency() -> usize {
    (4 * cores()).clamp(4, LOCAL_MAX)
}

/// The default number of granules in flight for `urls`: [`local_concurrency`] when every one
/// is a local file, else [`remote_concurrency`].
pub fn auto_concurrency(urls: &[Url]) -> usize {
    if urls.iter().all(|u| u.scheme() == "file") {
        local_concurrency()
    } else {
        remote_concurrency()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExtractOptions, Extractor};
    use granary_io::StoreRegistry;
    use std::sync::Arc;

    fn urls(s: &[&str]) -> Vec<Url> {
        s.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn local_files_get_a_few_granules_per_core_remote_ones_many() {
        let local = urls(&["file:///data/a.nc", "file:///data/b.nc"]);
        let mixed = urls(&["file:///data/a.nc", "s3://bucket/b.nc"]);
        assert_eq!(auto_concurrency(&local), local_concurrency());
        assert!((4..=LOCAL_MAX).contains(&local_concurrency()));
        assert_eq!(auto_concurrency(&mixed), remote_concurrency());
        assert_eq!(
            auto_concurrency(&urls(&["https://host/a.nc"])),
            remote_concurrency()
        );
        assert_eq!(
            remote_concurrency(),
            (REMOTE_PER_CORE * cores()).clamp(REMOTE_MIN, REMOTE_MAX)
        );
    }

    #[test]
    fn a_configured_concurrency_wins_and_is_at_least_one() {
        let reg = Arc::new(StoreRegistry::new());
        let remote = urls(&["s3://bucket/b.nc"]);
        let fixed = |n| {
            Extractor::new(
                reg.clone(),
                ExtractOptions {
                    concurrency: Some(n),
                    ..Default::default()
                },
            )
        };
        assert_eq!(fixed(3).concurrency_for(&remote), 3);
        assert_eq!(fixed(0).concurrency_for(&remote), 1);
        let auto = Extractor::new(reg, ExtractOptions::default());
        assert_eq!(auto.concurrency_for(&remote), remote_concurrency());
    }
}
