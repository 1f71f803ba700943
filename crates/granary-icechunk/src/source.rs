//! Chunk sources of the Icechunk sink: where each chunk's bytes are (a byte range of a granule,
//! with the granule's ETag as Icechunk's checksum, or inline bytes), their digests for the
//! fingerprints, and chunk-grid coordinates.

use bytes::Bytes;
use icechunk::format::ChunkIndices;
use icechunk::format::manifest::{Checksum, ChunkPayload, VirtualChunkLocation, VirtualChunkRef};
use icechunk::storage::ETag;

use crate::fingerprint;

/// Where a chunk's bytes are: a byte range of a granule, or inline bytes. The payload is made
/// only for chunks that are compared or written (an unchanged block costs no allocation).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Range {
        target: &'a Target,
        offset: u64,
        length: u64,
    },
    Inline(&'a [u8]),
}

impl Source<'_> {
    /// The Icechunk payload.
    pub fn payload(&self) -> ChunkPayload {
        match self {
            Source::Range {
                target,
                offset,
                length,
            } => target.chunk(*offset, *length),
            Source::Inline(b) => ChunkPayload::Inline(Bytes::copy_from_slice(b)),
        }
    }

    /// The digest the fingerprints are made of.
    pub fn digest(&self) -> u64 {
        match self {
            Source::Range {
                target,
                offset,
                length,
            } => fingerprint::range_digest(target.digest, *offset, *length),
            Source::Inline(b) => fingerprint::inline_digest(b),
        }
    }
}

/// (coordinates, digest, source) of every written chunk position of an array.
pub type Chunks<'a> = Vec<(ChunkIndices, u64, Source<'a>)>;

/// Coordinates of C-order linear position `index` in `grid` (a scalar: none).
pub fn coords(grid: &[u64], index: u64) -> ChunkIndices {
    let mut out = vec![0u32; grid.len()];
    let mut rest = index;
    for d in (0..grid.len()).rev() {
        let n = grid[d].max(1);
        out[d] = u32::try_from(rest % n).unwrap_or(u32::MAX);
        rest /= n;
    }
    ChunkIndices(out)
}

/// Where a granule's references point: its location (URL checked once) and checksum (the
/// object's ETag when the inventory saw one).
#[derive(Debug, Clone)]
pub struct Target {
    location: VirtualChunkLocation,
    checksum: Option<Checksum>,
    digest: u64,
}

impl Target {
    /// A weak ETag (`W/"…"`, e.g. from a server that compresses responses) is not used: a
    /// reader sends the checksum as `If-Match`, which compares strongly, so every read would
    /// fail. Such references carry no checksum.
    pub fn new(url: &str, etag: Option<&str>) -> Result<Self, String> {
        let etag = etag.filter(|e| !e.starts_with("W/"));
        Ok(Self {
            location: VirtualChunkLocation::from_absolute_path(url).map_err(|e| e.to_string())?,
            checksum: etag.map(|e| Checksum::ETag(ETag(e.to_string()))),
            digest: fingerprint::target_digest(url, etag),
        })
    }

    pub fn url(&self) -> &str {
        self.location.url()
    }

    pub fn checksum(&self) -> Option<&Checksum> {
        self.checksum.as_ref()
    }

    /// A virtual reference to bytes `offset..offset + length` of this object.
    pub fn chunk(&self, offset: u64, length: u64) -> ChunkPayload {
        ChunkPayload::Virtual(VirtualChunkRef {
            location: self.location.clone(),
            offset,
            length,
            checksum: self.checksum.clone(),
        })
    }
}

/// Every chunk position of `grid` whose first coordinate is `block` (a scalar: the one).
pub(crate) fn positions(grid: &[u32], block: u32) -> Vec<ChunkIndices> {
    let Some((_, rest)) = grid.split_first() else {
        return vec![ChunkIndices(Vec::new())];
    };
    let total: usize = rest.iter().map(|n| *n as usize).product();
    let mut out = Vec::with_capacity(total);
    let mut pos = vec![0u32; rest.len()];
    for _ in 0..total {
        let mut c = Vec::with_capacity(grid.len());
        c.push(block);
        c.extend_from_slice(&pos);
        out.push(ChunkIndices(c));
        for d in (0..pos.len()).rev() {
            pos[d] += 1;
            if pos[d] < rest[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_etags_are_not_checksums() {
        let strong =
            Target::new("https://h/g.nc", Some("\"abc\"")).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(strong.checksum().is_some());
        let weak = Target::new("https://h/g.nc", Some("W/\"abc\""))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(weak.checksum().is_none());
        assert!(Target::new("not a url", None).is_err());
    }

    #[test]
    fn coordinates_and_block_positions() {
        assert_eq!(coords(&[2, 3], 4).0, vec![1, 1]);
        assert_eq!(coords(&[1], 0).0, vec![0]);
        let p = positions(&[3, 2, 2], 1);
        assert_eq!(p.len(), 4);
        assert!(p.iter().all(|c| c.0[0] == 1));
        assert_eq!(positions(&[], 0).len(), 1);
    }
}
