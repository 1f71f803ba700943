//! A sparse byte-range cache with readahead and coalescing, filled in waves (no I/O here).
//!
//! Parsers read through [`RangeCache::get`]; on a miss they report the range they need. The
//! scan collects every miss of one pass and [`RangeCache::plan`]s them once: ranges are widened
//! to `min_read` bytes (readahead), clamped to the object size and merged when closer than
//! `coalesce_gap`. A driver (granary-extract's) reads the planned ranges in one batched request
//! and [`RangeCache::insert`]s them: one plan = one round trip.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

/// Read policy of a [`RangeCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Bytes read from the start of the object in the first wave.
    pub initial_read: u64,
    /// Every miss is widened to at least this many bytes (readahead).
    pub min_read: u64,
    /// Two planned ranges closer than this are merged into one request.
    pub coalesce_gap: u64,
    /// Every miss is also widened this many bytes backwards: HDF5 writers often allocate a
    /// structure's children just before it.
    pub lookbehind: u64,
    /// A wave that needs a single range is one step of a chain of dependent structures (a
    /// header's continuation, a heap's indirect block, ...), where every step costs a round
    /// trip: that range is widened to at least this many bytes, so that the structures the
    /// writer allocated next to it come along (0: off).
    pub chain_read: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            initial_read: 64 * 1024,
            min_read: 16 * 1024,
            coalesce_gap: 32 * 1024,
            lookbehind: 0,
            chain_read: 1024 * 1024,
        }
    }
}

impl ReadOptions {
    /// The policy for local files, where a wave costs a few memory copies, not a round trip:
    /// reads close to what the parser asked for (small readahead, no chain read), so a granule
    /// copies the metadata it needs instead of megabytes around it.
    pub fn local() -> Self {
        Self {
            initial_read: 16 * 1024,
            min_read: 4 * 1024,
            coalesce_gap: 4 * 1024,
            lookbehind: 0,
            chain_read: 0,
        }
    }
}

/// Cached, non-overlapping segments of one object.
#[derive(Debug)]
pub struct RangeCache {
    segments: BTreeMap<u64, Bytes>,
    size: u64,
    opts: ReadOptions,
}

impl RangeCache {
    /// An empty cache for an object of `size` bytes.
    pub fn new(size: u64, opts: ReadOptions) -> Self {
        Self {
            segments: BTreeMap::new(),
            size,
            opts,
        }
    }

    /// A cache holding a whole object already in memory.
    pub fn from_bytes(bytes: Bytes) -> Self {
        let mut c = Self::new(bytes.len() as u64, ReadOptions::default());
        c.insert(0, bytes);
        c
    }

    pub fn object_size(&self) -> u64 {
        self.size
    }

    pub fn options(&self) -> ReadOptions {
        self.opts
    }

    /// The cached bytes `[start, start + len)`, if they are all present in one segment.
    pub fn get(&self, start: u64, len: u64) -> Option<&[u8]> {
        let (seg_start, seg) = self.segments.range(..=start).next_back()?;
        let from = usize::try_from(start - seg_start).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        seg.get(from..to)
    }

    /// Whether `[start, start+len)` is cached.
    pub fn contains(&self, start: u64, len: u64) -> bool {
        self.get(start, len).is_some()
    }

    /// Turns missing ranges into the requests of one wave: cached prefixes skipped, widened to
    /// `min_read` without re-reading cached bytes, clamped to the object, merged when close.
    pub fn plan(&self, needs: &[Range<u64>]) -> Vec<Range<u64>> {
        let missing: Vec<&Range<u64>> = needs
            .iter()
            .filter(|r| {
                r.start < self.size && !self.contains(r.start, r.end.saturating_sub(r.start))
            })
            .collect();
        let min_read = if missing.len() == 1 {
            self.opts.min_read.max(self.opts.chain_read)
        } else {
            self.opts.min_read
        };
        let mut wanted: Vec<Range<u64>> = missing
            .into_iter()
            .map(|r| {
                let behind = r.start.saturating_sub(self.opts.lookbehind);
                let behind = self.cached_end_before(behind, r.start);
                let start = self
                    .cached_end(behind)
                    .unwrap_or(behind)
                    .min(r.end.max(r.start));
                let needed_end = r.end.min(self.size).max(start);
                // Readahead counts from the needed start, not from the look-behind start.
                let widened = r.start.saturating_add(min_read).min(self.size);
                let next_cached = self
                    .segments
                    .range(start + 1..)
                    .next()
                    .map_or(u64::MAX, |(s, _)| *s);
                start..needed_end.max(widened.min(next_cached))
            })
            .filter(|r| r.end > r.start)
            .collect();
        wanted.sort_by_key(|r| r.start);
        let mut out: Vec<Range<u64>> = Vec::with_capacity(wanted.len());
        for r in wanted {
            match out.last_mut() {
                Some(last) if r.start <= last.end.saturating_add(self.opts.coalesce_gap) => {
                    last.end = last.end.max(r.end);
                }
                _ => out.push(r),
            }
        }
        out
    }

    /// The last cached byte boundary in `[from, to)`, so look-behind never re-reads cached bytes.
    fn cached_end_before(&self, from: u64, to: u64) -> u64 {
        self.segments
            .range(..to)
            .next_back()
            .map(|(s, b)| s + b.len() as u64)
            .filter(|end| *end > from && *end <= to)
            .unwrap_or(from)
    }

    /// If `at` lies in a cached segment, the end of that segment.
    fn cached_end(&self, at: u64) -> Option<u64> {
        let (s, b) = self.segments.range(..=at).next_back()?;
        let end = s + b.len() as u64;
        (end > at).then_some(end)
    }

    /// Adds bytes at `start`, merging with overlapping or touching segments.
    pub fn insert(&mut self, start: u64, bytes: Bytes) {
        let end = start + bytes.len() as u64;
        let touching: Vec<u64> = self
            .segments
            .range(..=end)
            .filter(|(s, b)| **s + b.len() as u64 >= start)
            .map(|(s, _)| *s)
            .collect();
        if touching.is_empty() {
            self.segments.insert(start, bytes);
            return;
        }
        // Segments never overlap or touch each other, and each touching one reaches `start`
        // or begins by `end`: in start order the pieces cover [lo, hi) without a gap, so the
        // merged segment is each piece's bytes beyond what is already copied (no zeroing);
        // where the new bytes overlap cached ones, the new ones win.
        let new = bytes.clone();
        let mut pieces: Vec<(u64, Bytes)> = touching
            .iter()
            .filter_map(|s| self.segments.remove(s).map(|b| (*s, b)))
            .collect();
        pieces.push((start, bytes));
        pieces.sort_by_key(|(s, _)| *s);
        let lo = pieces.first().map_or(start, |(s, _)| *s);
        let hi = pieces
            .iter()
            .map(|(s, b)| s + b.len() as u64)
            .max()
            .unwrap_or(end);
        let mut buf = BytesMut::with_capacity((hi - lo) as usize);
        for (s, b) in pieces {
            let have = lo + buf.len() as u64;
            let piece_end = s + b.len() as u64;
            if piece_end > have {
                let skip = have.saturating_sub(s) as usize;
                debug_assert!(s <= have, "cache segments left a gap");
                buf.extend_from_slice(&b[skip..]);
            }
        }
        let at = (start - lo) as usize;
        if let Some(dst) = buf.get_mut(at..at + new.len()) {
            dst.copy_from_slice(&new);
        }
        self.segments.insert(lo, buf.freeze());
    }

    /// Total cached bytes.
    pub fn cached_bytes(&self) -> u64 {
        self.segments.values().map(|b| b.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_segments() {
        let mut c = RangeCache::new(100, ReadOptions::default());
        c.insert(10, Bytes::from_static(&[1, 2, 3]));
        c.insert(12, Bytes::from_static(&[9, 4, 5]));
        assert_eq!(c.get(10, 5), Some(&[1, 2, 9, 4, 5][..]));
        assert_eq!(c.get(9, 2), None);
        c.insert(5, Bytes::from_static(&[0; 5]));
        assert_eq!(c.get(5, 10).map(|s| s.len()), Some(10));
    }

    #[test]
    fn merged_segments_hold_the_object_bytes_whatever_the_insert_order() {
        let object: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        let ranges = [
            (100u64, 50u64),
            (300, 20),
            (140, 170),
            (0, 10),
            (10, 90),
            (1000, 500),
            (1400, 200),
            (900, 100),
            (320, 580),
        ];
        for rot in 0..ranges.len() {
            let mut c = RangeCache::new(object.len() as u64, ReadOptions::default());
            for (o, l) in ranges.iter().cycle().skip(rot).take(ranges.len()) {
                let (o, l) = (*o as usize, *l as usize);
                c.insert(o as u64, Bytes::copy_from_slice(&object[o..o + l]));
            }
            assert_eq!(c.get(0, 1600), Some(&object[..1600]), "rotation {rot}");
            assert_eq!(c.segments.len(), 1);
        }
    }

    #[test]
    fn a_lone_need_is_a_chain_step_and_reads_chain_read_bytes() {
        let opts = ReadOptions {
            initial_read: 10,
            min_read: 10,
            coalesce_gap: 0,
            lookbehind: 0,
            chain_read: 1000,
        };
        let c = RangeCache::new(10_000, opts);
        assert_eq!(c.plan(&[500..510]), vec![500..1500]);
        // Two needs in one wave: ordinary readahead.
        assert_eq!(c.plan(&[500..510, 3000..3010]), vec![500..510, 3000..3010]);
    }

    #[test]
    fn plan_widens_clamps_and_coalesces() {
        let opts = ReadOptions {
            initial_read: 0,
            min_read: 10,
            coalesce_gap: 5,
            lookbehind: 0,
            chain_read: 0,
        };
        let c = RangeCache::new(100, opts);
        let plan = c.plan(&[0..2, 12..13, 40..41, 95..99, 200..210]);
        assert_eq!(plan, vec![0..22, 40..50, 95..100]);
    }

    #[test]
    fn plan_does_not_reread_cached_bytes() {
        let opts = ReadOptions {
            initial_read: 0,
            min_read: 100,
            coalesce_gap: 0,
            lookbehind: 0,
            chain_read: 0,
        };
        let mut c = RangeCache::new(1000, opts);
        c.insert(0, Bytes::from(vec![0u8; 50]));
        c.insert(120, Bytes::from(vec![0u8; 10]));
        // Needed 40..60: the cached prefix is skipped, readahead stops at the next segment.
        assert_eq!(c.plan(&[40..60]), vec![50..120]);
    }

    #[test]
    fn lookbehind_stops_at_cached_bytes() {
        let opts = ReadOptions {
            initial_read: 0,
            min_read: 10,
            coalesce_gap: 0,
            lookbehind: 50,
            chain_read: 0,
        };
        let mut c = RangeCache::new(1000, opts);
        c.insert(0, Bytes::from(vec![0u8; 80]));
        assert_eq!(c.plan(&[100..105]), vec![80..110]);
        // Nothing cached nearby: the full look-behind.
        assert_eq!(c.plan(&[500..505]), vec![450..510]);
    }

    #[test]
    fn plan_skips_cached() {
        let mut c = RangeCache::new(100, ReadOptions::default());
        c.insert(0, Bytes::from(vec![0u8; 50]));
        assert!(c.plan(&[10..20]).is_empty());
    }
}
