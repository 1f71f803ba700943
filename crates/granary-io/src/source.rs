//! One object opened for range reads.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::{IoError, IoStats};

/// An object in a store, with its size, readable by byte ranges.
#[derive(Debug, Clone)]
pub struct ObjectSource {
    store: Arc<dyn ObjectStore>,
    path: Path,
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
            store,
            path,
            url,
            size: meta.size,
            stats: Arc::new(IoStats::default()),
            store_stats: None,
        })
    }

    /// Opens an object whose size is already known (e.g. from a listing).
    pub fn with_size(store: Arc<dyn ObjectStore>, path: Path, url: String, size: u64) -> Self {
        Self {
            store,
            path,
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

    /// Reads several ranges in one wave (the store may issue them in parallel).
    pub async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, IoError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let out = self
            .store
            .get_ranges(&self.path, ranges)
            .await
            .map_err(|source| IoError::Read {
                url: self.url.clone(),
                range: ranges[0].start..ranges[ranges.len() - 1].end,
                source,
            })?;
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
        let waited = started.elapsed();
        self.stats
            .record_timed_wave(ranges.len() as u64, bytes, waited);
        if let Some(s) = &self.store_stats {
            s.record_timed_wave(ranges.len() as u64, bytes, waited);
        }
        Ok(out)
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
