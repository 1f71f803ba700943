//! How many granules are extracted at the same time, by default: many for remote objects
//! (latency-bound), a few per core for local files (CPU-bound).

use url::Url;

/// Granules in flight when any of them is remote: enough to hide a request's latency (a
/// granule's scan is at most 4 dependent round trips; docs/benchmarks.md, latency mode).
pub const REMOTE_CONCURRENCY: usize = 64;

/// Granules in flight for local files: local reads are CPU-bound, so a few per core keep the
/// cores busy; more only hold more buffers (on 2 cores, 389 granules: 8 in flight 1.2 s and
/// 75 MB peak, 64 in flight 1.4 s and 230 MB).
pub fn local_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (4 * cores).clamp(4, REMOTE_CONCURRENCY)
}

/// The default number of granules in flight for `urls`: [`local_concurrency`] when every one
/// is a local file, else [`REMOTE_CONCURRENCY`].
pub fn auto_concurrency(urls: &[Url]) -> usize {
    if urls.iter().all(|u| u.scheme() == "file") {
        local_concurrency()
    } else {
        REMOTE_CONCURRENCY
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
        assert!((4..=REMOTE_CONCURRENCY).contains(&local_concurrency()));
        assert_eq!(auto_concurrency(&mixed), REMOTE_CONCURRENCY);
        assert_eq!(
            auto_concurrency(&urls(&["https://host/a.nc"])),
            REMOTE_CONCURRENCY
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
        assert_eq!(auto.concurrency_for(&remote), REMOTE_CONCURRENCY);
    }
}
