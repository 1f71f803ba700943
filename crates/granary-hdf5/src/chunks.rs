//! Chunk tables of chunked datasets (spec IV.A.2.i and III.A.1): v1 B-tree (layout v1-3),
//! single chunk and implicit index (layout v4). Fixed array, extensible array and v2 B-tree
//! indexes are reported as unsupported, never guessed.

use granary_core::ChunkRef;

use crate::btree_v1;
use crate::cursor::{Ctx, Cur};
use crate::error::{PResult, malformed, unsupported};
use crate::messages::ChunkIndex;

/// Geometry needed to turn index records into chunk references.
pub(crate) struct Geometry<'a> {
    pub shape: &'a [u64],
    pub chunk: &'a [u64],
    pub element_size: u64,
    pub filtered: bool,
}

impl Geometry<'_> {
    fn grid(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(self.chunk)
            .map(|(s, c)| s.div_ceil((*c).max(1)))
            .collect()
    }

    fn chunk_bytes(&self) -> u64 {
        self.chunk
            .iter()
            .product::<u64>()
            .saturating_mul(self.element_size)
    }
}

/// Every allocated chunk of a chunked dataset, sorted by grid index.
pub(crate) fn list(ctx: &Ctx<'_>, index: &ChunkIndex, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    if g.chunk.len() != g.shape.len() || g.chunk.contains(&0) {
        return Err(malformed(
            0,
            format!("chunk shape {:?} does not fit shape {:?}", g.chunk, g.shape),
        ));
    }
    let mut out = match index {
        ChunkIndex::BTreeV1 { addr: None }
        | ChunkIndex::Single { addr: None, .. }
        | ChunkIndex::Implicit { addr: None }
        | ChunkIndex::FixedArray { addr: None, .. }
        | ChunkIndex::ExtensibleArray { addr: None }
        | ChunkIndex::BTreeV2 { addr: None } => Vec::new(),
        ChunkIndex::BTreeV1 { addr: Some(a) } => btree(ctx, *a, g)?,
        ChunkIndex::Single {
            addr: Some(a),
            filtered,
        } => {
            let (size, filter_mask) = filtered.unwrap_or((g.chunk_bytes(), 0));
            vec![ChunkRef {
                index: vec![0; g.shape.len()],
                offset: ctx.base + a,
                size,
                filter_mask,
                url: None,
            }]
        }
        ChunkIndex::Implicit { addr: Some(a) } => implicit(ctx, *a, g)?,
        ChunkIndex::FixedArray { .. } => {
            return Err(unsupported("fixed array chunk index (layout v4)"));
        }
        ChunkIndex::ExtensibleArray { .. } => {
            return Err(unsupported("extensible array chunk index (layout v4)"));
        }
        ChunkIndex::BTreeV2 { .. } => {
            return Err(unsupported("version 2 B-tree chunk index (layout v4)"));
        }
    };
    out.sort_by(|a, b| a.index.cmp(&b.index));
    if out.windows(2).any(|w| w[0].index == w[1].index) {
        return Err(malformed(0, "two chunks at the same grid position"));
    }
    Ok(out)
}

fn btree(ctx: &Ctx<'_>, root: u64, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    let rank = g.shape.len();
    let key_size = 8 + 8 * (rank + 1);
    let grid = g.grid();
    let leaves = btree_v1::leaves(ctx, root, 1, key_size)?;
    let mut out = Vec::with_capacity(leaves.len());
    for e in leaves {
        let mut c = Cur::new(e.key, e.child, *ctx);
        let size = u64::from(c.u32()?);
        let filter_mask = c.u32()?;
        let mut index = Vec::with_capacity(rank);
        for d in 0..rank {
            let off = c.u64()?;
            if off % g.chunk[d] != 0 || off / g.chunk[d] >= grid[d].max(1) {
                return Err(malformed(
                    e.child,
                    format!("chunk offset {off} on axis {d} does not fit the chunk grid"),
                ));
            }
            index.push(off / g.chunk[d]);
        }
        out.push(ChunkRef {
            index,
            offset: ctx.base + e.child,
            size,
            filter_mask,
            url: None,
        });
    }
    Ok(out)
}

fn implicit(ctx: &Ctx<'_>, addr: u64, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    if g.filtered {
        return Err(malformed(addr, "implicit chunk index with filters"));
    }
    let grid = g.grid();
    let n: u64 = grid.iter().product();
    let bytes = g.chunk_bytes();
    if n.saturating_mul(bytes) > ctx.cache.object_size() {
        return Err(malformed(addr, "implicit chunk index larger than the file"));
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut index = vec![0; grid.len()];
        let mut rest = i;
        for d in (0..grid.len()).rev() {
            index[d] = rest % grid[d];
            rest /= grid[d];
        }
        out.push(ChunkRef {
            index,
            offset: ctx.base + addr + i * bytes,
            size: bytes,
            filter_mask: 0,
            url: None,
        });
    }
    Ok(out)
}
