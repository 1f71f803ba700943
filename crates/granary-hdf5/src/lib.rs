//! granary-hdf5: an async HDF5/netCDF-4 metadata scanner built for object storage.
//!
//! Implements the parts of the HDF5 File Format Specification (version 3.0) that netCDF-C 4.x
//! and h5py write by default: superblocks v0-v3, object headers v1/v2 with continuations,
//! symbol-table and link-message groups (compact and dense), compact and dense attributes,
//! datatypes, dataspaces, fill values, compact/contiguous/chunked layouts with the v1 B-tree,
//! single-chunk and implicit indexes, filter pipelines v1/v2, and the global heap.
//!
//! The parser is sans-IO: parse functions read from a [`granary_io::RangeCache`] and report the
//! byte ranges they miss. [`scan`] runs breadth-first passes and fetches all misses of a pass in
//! one batched request (a "wave"), so round trips follow the depth of the file, not the number
//! of variables. Everything not supported is a typed [`Hdf5Error`] naming the object.

mod btree_v1;
mod btree_v2;
mod chunks;
mod cursor;
mod datatype;
mod dense;
mod error;
mod global_heap;
mod groups;
mod index_v4;
#[cfg(feature = "libhdf5")]
pub mod libhdf5;
mod messages;
mod netcdf;
mod object_header;
mod sohm;
mod strings;
mod superblock;
mod values;
mod walk;

use bytes::Bytes;
use granary_core::GranuleManifest;
use granary_io::{ObjectSource, RangeCache, ReadOptions};

pub use error::Hdf5Error;

use crate::cursor::Ctx;
use crate::error::Fail;

/// Scanner settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    pub read: ReadOptions,
    /// Upper bound on sequential waves per file (guards against pathological files).
    pub max_waves: usize,
    /// Metadata only: skip chunk indexes and variable-length string values, so that questions
    /// about dims, dtypes and attributes cost no index reads. Arrays then carry
    /// [`granary_core::ArrayData::Unread`] (compact data is still inline).
    pub metadata_only: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            read: ReadOptions::default(),
            max_waves: 64,
            metadata_only: false,
        }
    }
}

/// Per-file progress of a scan: the parse state that survives between waves.
struct Scan {
    sb: Option<superblock::Superblock>,
    walker: walk::Walker,
}

impl Scan {
    fn new(metadata_only: bool) -> Self {
        Self {
            sb: None,
            walker: walk::Walker::new(metadata_only),
        }
    }

    /// One pass over what the cache holds.
    fn step(&mut self, cache: &RangeCache, url: &str) -> Result<GranuleManifest, Fail> {
        let sb = match self.sb {
            Some(sb) => sb,
            None => {
                let ctx0 = Ctx {
                    cache,
                    so: 8,
                    sl: 8,
                    base: 0,
                };
                let sb = superblock::parse(&ctx0)?;
                self.sb = Some(sb);
                sb
            }
        };
        let ctx = Ctx {
            cache,
            so: sb.so,
            sl: sb.sl,
            base: sb.base,
        };
        self.walker.extension = sb.ext;
        let objects = self.walker.pass(&ctx, sb.root)?;
        netcdf::assemble(url, Some(cache.object_size()), &objects)
    }
}

/// Scans one HDF5 object through its store, in waves of batched range reads.
#[tracing::instrument(skip_all, fields(url = source.url()))]
pub async fn scan(source: &ObjectSource, opts: &ScanOptions) -> Result<GranuleManifest, Hdf5Error> {
    let mut cache = RangeCache::new(source.size(), opts.read);
    let first = opts.read.initial_read.min(source.size()).max(1);
    cache.fetch(source, &[0..first]).await?;
    scan_waves(source, cache, opts).await
}

/// How many bytes `scan` reads first: the initial read, widened like any single-range wave.
pub fn first_read_len(opts: &ScanOptions) -> u64 {
    opts.read
        .initial_read
        .max(opts.read.min_read)
        .max(opts.read.chain_read)
        .max(1)
}

/// Scans one HDF5 object whose first bytes were read when it was opened
/// (`ObjectSource::open_reading` with `first_read_len`): the waves continue from them.
#[tracing::instrument(skip_all, fields(url = source.url()))]
pub async fn scan_from(
    source: &ObjectSource,
    first: Bytes,
    opts: &ScanOptions,
) -> Result<GranuleManifest, Hdf5Error> {
    let mut cache = RangeCache::new(source.size(), opts.read);
    if !first.is_empty() {
        cache.insert(0, first);
    }
    scan_waves(source, cache, opts).await
}

async fn scan_waves(
    source: &ObjectSource,
    mut cache: RangeCache,
    opts: &ScanOptions,
) -> Result<GranuleManifest, Hdf5Error> {
    let url = source.url().to_string();
    let mut scan = Scan::new(opts.metadata_only);
    for _ in 0..opts.max_waves {
        match scan.step(&cache, &url) {
            Ok(m) => return Ok(m),
            Err(Fail::Need(ranges)) => {
                let before = cache.cached_bytes();
                cache.fetch(source, &ranges).await?;
                if cache.cached_bytes() == before {
                    return Err(Fail::Need(ranges).into_error(&url));
                }
            }
            Err(e) => return Err(e.into_error(&url)),
        }
    }
    Err(Hdf5Error::TooManyWaves {
        url,
        limit: opts.max_waves,
    })
}

/// Scans an HDF5 file held in memory (tests, fuzzing, small local files).
pub fn scan_bytes(url: &str, bytes: Bytes) -> Result<GranuleManifest, Hdf5Error> {
    let cache = RangeCache::from_bytes(bytes);
    Scan::new(false)
        .step(&cache, url)
        .map_err(|e| e.into_error(url))
}
