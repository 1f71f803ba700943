//! granary-hdf5: an async HDF5/netCDF-4 metadata scanner built for object storage.
//!
//! Implements the parts of the HDF5 File Format Specification (version 3.0) that netCDF-C 4.x
//! and h5py write by default: superblocks v0-v3, object headers v1/v2 with continuations,
//! symbol-table and link-message groups (compact and dense), compact and dense attributes,
//! datatypes, dataspaces, fill values, compact/contiguous/chunked layouts with the v1 B-tree,
//! single-chunk and implicit indexes, filter pipelines v1/v2, and the global heap.
//!
//! The crate is sans-IO: parse functions read from a [`RangeCache`] and report the byte ranges
//! they miss. An [`Hdf5Scan`] runs breadth-first passes; each pass either finishes the manifest
//! or returns the planned reads of all its misses, which a driver (granary-extract, over object
//! stores) fetches in one batched request (a "wave") and inserts. Round trips therefore follow
//! the depth of the file, not the number of variables. [`scan_bytes`] runs the same passes over
//! a file held in memory. Everything not supported is a typed [`Hdf5Error`] naming the object.

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
mod range_cache;
mod sohm;
mod strings;
mod superblock;
mod values;
mod walk;

use std::ops::Range;

use bytes::Bytes;
use granary_core::GranuleManifest;

pub use error::Hdf5Error;
pub use range_cache::{RangeCache, ReadOptions};

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
    heaps: global_heap::HeapIndex,
}

impl Scan {
    fn new(metadata_only: bool) -> Self {
        Self {
            sb: None,
            walker: walk::Walker::new(metadata_only),
            heaps: global_heap::HeapIndex::default(),
        }
    }

    /// One pass over what the cache holds.
    fn step(&mut self, cache: &RangeCache, url: &str) -> Result<GranuleManifest, Fail> {
        let sb = match self.sb {
            Some(sb) => sb,
            None => {
                let ctx0 = Ctx {
                    cache,
                    heaps: &self.heaps,
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
            heaps: &self.heaps,
            so: sb.so,
            sl: sb.sl,
            base: sb.base,
        };
        self.walker.extension = sb.ext;
        let objects = self.walker.pass(&ctx, sb.root)?;
        let mut m = netcdf::assemble(url, Some(cache.object_size()), objects)?;
        m.skipped = self
            .walker
            .skipped
            .iter()
            .map(|(path, feature)| granary_core::SkippedArray {
                path: path.clone(),
                reason: format!("not supported: {feature}"),
            })
            .collect();
        Ok(m)
    }
}

/// How many bytes a driver reads first: the initial read, widened like any single-range wave.
pub fn first_read_len(opts: &ScanOptions) -> u64 {
    opts.read
        .initial_read
        .max(opts.read.min_read)
        .max(opts.read.chain_read)
        .max(1)
}

/// What a scan needs next.
#[derive(Debug)]
pub enum Step {
    /// The scan is complete.
    Done(GranuleManifest),
    /// Read these ranges (planned: widened, clamped, coalesced) in one wave, insert them with
    /// [`Hdf5Scan::insert`] and step again.
    Read(Vec<Range<u64>>),
}

/// One HDF5 object's scan in progress: the sans-IO state machine a driver feeds with bytes.
pub struct Hdf5Scan {
    scan: Scan,
    cache: RangeCache,
    url: String,
    waves: usize,
    max_waves: usize,
    /// Cached bytes when the last reads were asked for: a wave that adds nothing is an error.
    asked_at: Option<u64>,
}

impl Hdf5Scan {
    /// A scan of the object at `url` of `size` bytes.
    pub fn new(url: &str, size: u64, opts: &ScanOptions) -> Self {
        Self {
            scan: Scan::new(opts.metadata_only),
            cache: RangeCache::new(size, opts.read),
            url: url.to_string(),
            waves: 0,
            max_waves: opts.max_waves,
            asked_at: None,
        }
    }

    /// Bytes of the object starting at `start` (a read the driver made).
    pub fn insert(&mut self, start: u64, bytes: Bytes) {
        if !bytes.is_empty() {
            self.cache.insert(start, bytes);
        }
    }

    /// One pass over what is held: the manifest, or the reads of the next wave.
    pub fn step(&mut self) -> Result<Step, Hdf5Error> {
        match self.scan.step(&self.cache, &self.url) {
            Ok(m) => Ok(Step::Done(m)),
            Err(Fail::Need(ranges)) => {
                let plan = self.cache.plan(&ranges);
                let stuck = self.asked_at == Some(self.cache.cached_bytes());
                if plan.is_empty() || stuck {
                    return Err(Fail::Need(ranges).into_error(&self.url));
                }
                self.waves += 1;
                if self.waves > self.max_waves {
                    return Err(Hdf5Error::TooManyWaves {
                        url: self.url.clone(),
                        limit: self.max_waves,
                    });
                }
                self.asked_at = Some(self.cache.cached_bytes());
                Ok(Step::Read(plan))
            }
            Err(e) => Err(e.into_error(&self.url)),
        }
    }
}

/// Scans an HDF5 file held in memory (tests, fuzzing, small local files).
pub fn scan_bytes(url: &str, bytes: Bytes) -> Result<GranuleManifest, Hdf5Error> {
    let cache = RangeCache::from_bytes(bytes);
    Scan::new(false)
        .step(&cache, url)
        .map_err(|e| e.into_error(url))
}
