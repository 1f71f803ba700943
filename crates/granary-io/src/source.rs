//! One object opened for range reads: through its object store, or, for a local file, by
//! positioned reads of the file opened once (`local_file.rs`).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

#[cfg(unix)]
use crate::local_file::LocalFile;
use crate::{IoError, IoStats};

/// How an [`ObjectSource`] reads.
#[derive(Debug, Clone)]
enum Backend {
    Store {
        store: Arc<dyn ObjectStore>,
        path: Path,
    },
    #[cfg(unix)]
    File(LocalFile),
}

/// An object in a store, with its size, readable by byte ranges.
#[derive(Debug, Clone)]
pub struct ObjectSource {
    backend: Backend,
    url: String,
    size: u64,
    stats: Arc<IoStats>,
    store_stats: Option<Arc<IoStats>>,
}

impl ObjectSource {
    /// Opens an object, asking the store for its size.
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        url: String,
    ) -> Result<Self, IoError> {
        let meta = store.head(&path).await.map_err(|source| IoError::Head {
            url: url.clone(),
            source,
        })?;
        Ok(Self {
            backend: Backend::Store { store, path },
            url,
            size: meta.size,
            stats: Arc::new(IoStats::default()),
            store_stats: None,
        })
    }

    /// Opens an object by reading its first `len` bytes (`None`: all of it) in one GET, whose
    /// response also gives the object's size: one request where `open` + a first read take two
    /// (a HEAD, then a GET), i.e. one latency less per object over a network. The read is
    /// counted in `stats` (and `store_stats`) as one wave.
    pub async fn open_reading(
        store: Arc<dyn ObjectStore>,
        path: Path,
        url: String,
        len: Option<u64>,
        stats: Arc<IoStats>,
        store_stats: Option<Arc<IoStats>>,
    ) -> Result<(Self, Bytes), IoError> {
        let started = std::time::Instant::now();
        let options = GetOptions {
            range: len.map(|n| GetRange::Bounded(0..n.max(1))),
            ..GetOptions::default()
        };
        let read = async {
            let got = store.get_opts(&path, options).await?;
            let size = got.meta.size;
            Ok::<_, object_store::Error>((size, got.bytes().await?))
        };
        let (size, bytes) = match read.await {
            Ok(r) => r,
            Err(source) => {
                // An empty object has no byte 0 to range over (416): its HEAD tells.
                if len.is_some()
                    && let Ok(empty) = Self::open(store.clone(), path.clone(), url.clone()).await
                    && empty.size == 0
                {
                    let mut empty = empty.with_stats(stats);
                    empty.store_stats = store_stats;
                    return Ok((empty, Bytes::new()));
                }
                return Err(IoError::Read {
                    url,
                    range: 0..len.unwrap_or(0),
                    source,
                });
            }
        };
        let source = Self::opened(
            Backend::Store { store, path },
            url,
            size,
            stats,
            store_stats,
        );
        source.record_wave(1, bytes.len() as u64, started.elapsed());
        Ok((source, bytes))
    }

    fn opened(
        backend: Backend,
        url: String,
        size: u64,
        stats: Arc<IoStats>,
        store_stats: Option<Arc<IoStats>>,
    ) -> Self {
        Self {
            backend,
            url,
            size,
            stats,
            store_stats,
        }
    }

    /// [`open_reading`](Self::open_reading) for a local file at `path` (named `url`): the file
    /// is opened once and read with positioned reads, each wave in one blocking task. Refuses
    /// anything but a regular file.
    #[cfg(unix)]
    pub async fn open_local_reading(
        path: std::path::PathBuf,
        url: String,
        len: Option<u64>,
        stats: Arc<IoStats>,
        store_stats: Option<Arc<IoStats>>,
    ) -> Result<(Self, Bytes), IoError> {
        let started = std::time::Instant::now();
        let (file, size, bytes) = LocalFile::open_reading(path, &url, len).await?;
        let source = Self::opened(Backend::File(file), url, size, stats, store_stats);
        source.record_wave(1, bytes.len() as u64, started.elapsed());
        Ok((source, bytes))
    }

    /// Opens an object whose size is already known (e.g. from a listing).
    pub fn with_size(store: Arc<dyn ObjectStore>, path: Path, url: String, size: u64) -> Self {
        Self {
            backend: Backend::Store { store, path },
            url,
            size,
            stats: Arc::new(IoStats::default()),
            store_stats: None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn stats(&self) -> &Arc<IoStats> {
        &self.stats
    }

    /// Shares an existing counter set (e.g. one per run instead of one per object).
    pub fn with_stats(mut self, stats: Arc<IoStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Also counts this source's waves in `stats` (e.g. per-store totals).
    pub fn with_store_stats(mut self, stats: Arc<IoStats>) -> Self {
        self.store_stats = Some(stats);
        self
    }

    /// Counts one wave in the overall and the per-store counters.
    fn record_wave(&self, requests: u64, bytes: u64, waited: std::time::Duration) {
        self.stats.record_timed_wave(requests, bytes, waited);
        if let Some(s) = &self.store_stats {
            s.record_timed_wave(requests, bytes, waited);
        }
    }

    /// Reads several ranges in one wave (the store may issue them in parallel).
    pub async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, IoError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let out = match &self.backend {
            Backend::Store { store, path } => self.store_ranges(store, path, ranges).await?,
            #[cfg(unix)]
            Backend::File(file) => file.read_ranges(ranges, &self.url).await?,
        };
        for (r, b) in ranges.iter().zip(&out) {
            if (b.len() as u64) < r.end - r.start {
                return Err(IoError::ShortRead {
                    url: self.url.clone(),
                    range: r.clone(),
                    got: b.len() as u64,
                });
            }
        }
        let bytes = out.iter().map(|b| b.len() as u64).sum();
        self.record_wave(ranges.len() as u64, bytes, started.elapsed());
        Ok(out)
    }

    /// One request per range, all in flight together: the ranges are already planned and
    /// coalesced by the cache. (`ObjectStore::get_ranges` would merge ranges up to 1 MiB apart
    /// again; over HTTP/S3 that read 4.8x the planned bytes of a SWOT granule.) A failure names
    /// the range that failed (not a span of the wave's ranges, which are not sorted).
    async fn store_ranges(
        &self,
        store: &Arc<dyn ObjectStore>,
        path: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, IoError> {
        futures::future::try_join_all(ranges.iter().map(|r| async move {
            store
                .get_range(path, r.clone())
                .await
                .map_err(|source| IoError::Read {
                    url: self.url.clone(),
                    range: r.clone(),
                    source,
                })
        }))
        .await
    }

    /// Reads one range.
    pub async fn read_range(&self, range: Range<u64>) -> Result<Bytes, IoError> {
        let mut v = self.read_ranges(std::slice::from_ref(&range)).await?;
        v.pop().ok_or(IoError::ShortRead {
            url: self.url.clone(),
            range,
            got: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    async fn store_with(bytes: &[u8]) -> Arc<dyn ObjectStore> {
        let store = InMemory::new();
        store
            .put(&Path::from("g.nc"), PutPayload::from(bytes.to_vec()))
            .await
            .unwrap();
        Arc::new(store)
    }

    async fn open(
        store: Arc<dyn ObjectStore>,
        len: Option<u64>,
    ) -> (Result<(ObjectSource, Bytes), IoError>, Arc<IoStats>) {
        let stats = Arc::new(IoStats::default());
        let r = ObjectSource::open_reading(
            store,
            Path::from("g.nc"),
            "memory:///g.nc".into(),
            len,
            stats.clone(),
            None,
        )
        .await;
        (r, stats)
    }

    #[tokio::test]
    async fn first_read_gives_the_size_in_one_request() {
        let data: Vec<u8> = (0..=255).collect();
        let (r, stats) = open(store_with(&data).await, Some(100)).await;
        let (source, first) = r.unwrap();
        assert_eq!(source.size(), 256);
        assert_eq!(&first[..], &data[..100]);
        let s = stats.snapshot();
        assert_eq!((s.requests, s.round_trips, s.bytes), (1, 1, 100));
        // Later reads are counted in the same stats.
        assert_eq!(
            &source.read_range(200..256).await.unwrap()[..],
            &data[200..]
        );
        assert_eq!(stats.snapshot().round_trips, 2);
    }

    #[tokio::test]
    async fn a_first_read_past_the_end_or_of_everything_returns_the_object() {
        let data = b"short object".to_vec();
        for len in [Some(1 << 20), None] {
            let (source, first) = open(store_with(&data).await, len).await.0.unwrap();
            assert_eq!(source.size(), data.len() as u64);
            assert_eq!(&first[..], &data[..]);
        }
    }

    #[tokio::test]
    async fn an_empty_object_opens_with_size_zero() {
        let (source, first) = open(store_with(b"").await, Some(4096)).await.0.unwrap();
        assert_eq!((source.size(), first.len()), (0, 0));
    }

    #[tokio::test]
    async fn a_missing_object_is_an_error_naming_it() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let err = open(store, Some(10)).await.0.unwrap_err();
        assert!(err.to_string().contains("memory:///g.nc"), "{err}");
    }
}
